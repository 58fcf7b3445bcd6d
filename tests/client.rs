//! The wasm client against the real emulator, in whichever runtime
//! `wasm-bindgen-test-runner` picks: Node by default, headless Chromium with
//! `WASM_BINDGEN_USE_BROWSER=1`, a dedicated worker with
//! `WASM_BINDGEN_USE_DEDICATED_WORKER=1` (`cargo xtask test` runs all three).
//!
//! Emulator base URLs arrive at compile time:
//! * `IMPORT_EMULATOR_URL`: a plain emulator;
//! * `IMPORT_EMULATOR_URL_FLAKY`: one started with
//!   `--faults 'api:500=25%,reset=10%,streak=3' --seed 7 --token-ttl 2`
//!   (injected API failures, never more than 3 in a row for one call, so
//!   a retry budget of 4 or more always gets through; OAuth tokens that
//!   expire after 2 s);
//! * `IMPORT_EMULATOR_URL_LIMITED`: one started with `--rate-limit 20/1
//!   --token 'burst=cdp:imports:read,cdp:imports:write,cdp:metadata:read'`
//!   (a per-token rate limit and a token of its own for the rate-limit
//!   test, without faults: 429s and faults spend one retry budget, and
//!   their sum is not bounded).
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use common::{api_base, get, get_str, global_fetch, json, ok, set, stringify};
use import_uploader::runtime::{monotonic_ms, sleep};
use import_uploader::{version, ImportClient};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{AbortController, Request, Response, ResponseInit};

/// The fault-injecting emulator (see the module docs).
fn flaky_root() -> String {
    emulator_root(
        "IMPORT_EMULATOR_URL_FLAKY",
        option_env!("IMPORT_EMULATOR_URL_FLAKY"),
    )
}

/// The rate-limited emulator (see the module docs).
fn limited_root() -> String {
    emulator_root(
        "IMPORT_EMULATOR_URL_LIMITED",
        option_env!("IMPORT_EMULATOR_URL_LIMITED"),
    )
}

fn emulator_root(name: &str, url: Option<&str>) -> String {
    let Some(url) = url else {
        panic!(
            "{name} was not set when these tests were compiled; run them with `cargo xtask test`"
        );
    };
    url.trim_end_matches('/').to_string()
}

/// What a test `fetch` saw of one request.
#[derive(Debug, Clone)]
#[allow(dead_code)] // `method` and `url` make failure messages readable.
struct Seen {
    method: String,
    url: String,
    idempotency_key: Option<String>,
    authorization: Option<String>,
    source: Option<String>,
}

/// A `fetch` that records every request, lets a hook answer it (or break
/// it), and otherwise forwards it to the global `fetch`, recording the
/// status it got (`None` for a transport failure).
struct TestFetch {
    seen: Rc<RefCell<Vec<Seen>>>,
    statuses: Rc<RefCell<Vec<Option<u16>>>>,
    closure: Closure<dyn FnMut(Request) -> Promise>,
}

type Hook = Box<dyn FnMut(usize, &Request) -> Option<Promise>>;

impl TestFetch {
    fn new() -> Self {
        Self::with_hook(Box::new(|_, _| None))
    }

    fn with_hook(mut hook: Hook) -> Self {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let statuses = Rc::new(RefCell::new(Vec::new()));
        let (s, st) = (seen.clone(), statuses.clone());
        let closure = Closure::new(move |req: Request| {
            let h = req.headers();
            let header = |n: &str| h.get(n).ok().flatten();
            s.borrow_mut().push(Seen {
                method: req.method(),
                url: req.url(),
                idempotency_key: header("idempotency-key"),
                authorization: header("authorization"),
                source: header("x-request-source"),
            });
            let index = s.borrow().len() - 1;
            if let Some(p) = hook(index, &req) {
                return p;
            }
            let st = st.clone();
            future_to_promise(async move {
                match JsFuture::from(global_fetch(&req)).await {
                    Ok(resp) => {
                        let r: &Response = resp.unchecked_ref();
                        st.borrow_mut().push(Some(r.status()));
                        Ok(resp)
                    }
                    Err(e) => {
                        st.borrow_mut().push(None);
                        Err(e)
                    }
                }
            })
        });
        TestFetch {
            seen,
            statuses,
            closure,
        }
    }

    fn calls(&self) -> usize {
        self.seen.borrow().len()
    }

    /// Options `{ baseUrl, token, fetch }` (more can be set on the result).
    fn options(&self, base_url: &str, token: &str) -> JsValue {
        let options = json(&format!(
            r#"{{"baseUrl": "{base_url}", "token": "{token}"}}"#
        ));
        set(&options, "fetch", self.closure.as_ref());
        options
    }

    fn client(&self, base_url: &str, token: &str) -> ImportClient {
        ImportClient::new(self.options(base_url, token)).expect("valid options")
    }
}

fn client(token: &str) -> ImportClient {
    ImportClient::new(json(&format!(
        r#"{{"baseUrl": "{}", "token": "{token}"}}"#,
        api_base()
    )))
    .expect("valid options")
}

/// Small, fast retries for the tests (the defaults wait up to 30 s).
const FAST_RETRY: &str = r#"{"maxAttempts": 10, "baseDelayMs": 10, "maxDelayMs": 100}"#;

/// Awaits a promise expected to reject and returns the rejection.
async fn rejection(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => panic!("expected a rejection, got {}", stringify(&v)),
        Err(e) => e,
    }
}

/// Asserts the `ImportError` shape every failure shares.
fn assert_import_error(err: &JsValue, kind: &str) {
    assert!(err.is_instance_of::<js_sys::Error>(), "an Error instance");
    assert_eq!(get_str(err, "name").as_deref(), Some("ImportError"));
    assert_eq!(
        get_str(err, "kind").as_deref(),
        Some(kind),
        "kind of {:?} {:?}",
        get_str(err, "code"),
        get_str(err, "message")
    );
    assert!(
        get_str(err, "message").is_some_and(|m| !m.is_empty()),
        "a message"
    );
    assert!(
        get_str(err, "code").is_some_and(|c| !c.is_empty()),
        "a code"
    );
    assert!(
        get(err, "retryable").as_bool().is_some(),
        "retryable is a boolean"
    );
}

const CREATE: &str =
    r#"{"objectName": "profiles", "fileName": "spring-2026.csv", "fileSize": 1048576}"#;
const MAPPING: &str = r#"{"sourceFields": {"email": "string", "first_name": "string"},
    "fieldMap": {"email": "email", "first_name": "first_name"}}"#;

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b[14] == b'4'
        && s.chars()
            .enumerate()
            .all(|(i, c)| [8, 13, 18, 23].contains(&i) || c.is_ascii_hexdigit())
}

/// An OAuth access token from `root`'s `/oauth/token` (dev client).
async fn oauth_token(root: &str) -> String {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let headers = web_sys::Headers::new().unwrap();
    headers
        .set("content-type", "application/x-www-form-urlencoded")
        .unwrap();
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(
        "grant_type=client_credentials&client_id=dev-client&client_secret=dev-secret",
    ));
    let req = Request::new_with_str_and_init(&format!("{root}/oauth/token"), &init).unwrap();
    let resp: Response = JsFuture::from(global_fetch(&req))
        .await
        .expect("token endpoint answers")
        .dyn_into()
        .unwrap();
    assert_eq!(resp.status(), 200, "token endpoint status");
    let body = JsFuture::from(resp.json().unwrap()).await.unwrap();
    get_str(&body, "access_token").expect("access_token")
}

// ---------------------------------------------------------------------------
// Options and preflight
// ---------------------------------------------------------------------------

#[wasm_bindgen_test]
fn version_is_the_crate_version() {
    assert_eq!(version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
fn missing_options_are_refused_with_the_field_named() {
    let err = ImportClient::new(json(r#"{"token": "dev-write"}"#))
        .err()
        .expect("baseUrl is required");
    assert_import_error(&err, "validation");
    assert_eq!(get_str(&err, "field").as_deref(), Some("baseUrl"));

    let err = ImportClient::new(json(r#"{"baseUrl": "ftp://example.test", "token": "t"}"#))
        .err()
        .expect("baseUrl must be http(s)");
    assert_eq!(get_str(&err, "field").as_deref(), Some("baseUrl"));

    let err = ImportClient::new(json(r#"{"baseUrl": "http://127.0.0.1:1/public/v1"}"#))
        .err()
        .expect("token or getToken is required");
    assert_eq!(get_str(&err, "field").as_deref(), Some("token"));

    let err = ImportClient::new(json(
        r#"{"baseUrl": "http://127.0.0.1:1/public/v1", "getToken": "dev-write"}"#,
    ))
    .err()
    .expect("getToken must be a function");
    assert_eq!(get_str(&err, "field").as_deref(), Some("getToken"));

    let err = ImportClient::new(json(
        r#"{"baseUrl": "http://127.0.0.1:1/public/v1", "token": "t", "retry": {"maxAttempts": 0}}"#,
    ))
    .err()
    .expect("at least one attempt");
    assert_eq!(get_str(&err, "field").as_deref(), Some("retry.maxAttempts"));

    let err = ImportClient::new(json(
        r#"{"baseUrl": "http://127.0.0.1:1/public/v1", "token": "t", "retry": {"maxAttempt": 3}}"#,
    ))
    .err()
    .expect("a typo in retry is refused");
    assert_eq!(get_str(&err, "field").as_deref(), Some("retry"));

    let err = ImportClient::new(json(
        r#"{"baseUrl": "http://127.0.0.1:1/public/v1", "token": "t", "headers": {"x-n": 1}}"#,
    ))
    .err()
    .expect("header values are strings");
    assert_eq!(get_str(&err, "field").as_deref(), Some("headers"));

    // getToken alone is enough.
    let options = json(r#"{"baseUrl": "http://127.0.0.1:1/public/v1"}"#);
    let f = Closure::<dyn FnMut() -> JsValue>::new(|| JsValue::from_str("dev-write"));
    set(&options, "getToken", f.as_ref());
    assert!(ImportClient::new(options).is_ok());
}

#[wasm_bindgen_test]
async fn a_rule_violation_is_refused_before_sending() {
    let fetch = TestFetch::new();
    let c = fetch.client(&api_base(), "dev-write");

    let err = rejection(c.create_job(
        json(r#"{"objectName": "profiles", "fileName": "empty.csv", "fileSize": 0}"#),
        JsValue::UNDEFINED,
    ))
    .await;
    assert_import_error(&err, "validation");
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("CDP_ETL.VALIDATION.REQUEST_INVALID")
    );
    assert_eq!(get_str(&err, "field").as_deref(), Some("fileSize"));
    assert!(get_str(&err, "rule").is_some(), "the broken rule is named");
    assert!(get(&err, "status").is_null());
    assert_eq!(get(&err, "retryable").as_bool(), Some(false));

    let err = rejection(c.create_job(
        json(r#"{"objectName": "profiles", "fileName": "a.csv", "fileSize": 10, "createList": true}"#),
        JsValue::UNDEFINED,
    ))
    .await;
    assert_import_error(&err, "validation");
    assert_eq!(get_str(&err, "field").as_deref(), Some("listName"));

    // The mapping rules too: a column mapped but not declared.
    let err = rejection(c.set_mapping(
        "imp_01HXYZ".into(),
        json(r#"{"sourceFields": {"email": "string"}, "fieldMap": {"mail": "email"}}"#),
        JsValue::UNDEFINED,
    ))
    .await;
    assert_import_error(&err, "validation");
    assert!(get_str(&err, "rule").is_some(), "the broken rule is named");

    let err = rejection(c.set_mapping(
        "imp_01HXYZ".into(),
        json(r#"{"sourceFields": {"email": "string"}, "fieldMap": {"email": "email"}, "importMode": "lenient"}"#),
        JsValue::UNDEFINED,
    ))
    .await;
    assert_import_error(&err, "validation");
    assert_eq!(get_str(&err, "field").as_deref(), Some("importMode"));

    assert_eq!(fetch.calls(), 0, "nothing was sent");
}

#[wasm_bindgen_test]
async fn a_malformed_request_is_refused_before_sending() {
    let fetch = TestFetch::new();
    let c = fetch.client(&api_base(), "dev-write");
    // A typo: `listname` would silently drop the list if it were sent.
    let err = rejection(c.create_job(
        json(r#"{"objectName": "profiles", "fileName": "a.csv", "fileSize": 10, "listname": "x"}"#),
        JsValue::UNDEFINED,
    ))
    .await;
    assert_import_error(&err, "validation");
    assert!(
        get_str(&err, "message").is_some_and(|m| m.contains("listname")),
        "the unknown field is named: {:?}",
        get_str(&err, "message")
    );
    let err = rejection(c.create_job(
        json(r#"{"objectName": "profiles", "fileName": "a.csv", "fileSize": "ten"}"#),
        JsValue::UNDEFINED,
    ))
    .await;
    assert_import_error(&err, "validation");
    let err = rejection(c.create_job(json(CREATE), json(r#"{"idempotencyKey": ""}"#))).await;
    assert_import_error(&err, "validation");
    assert_eq!(get_str(&err, "field").as_deref(), Some("idempotencyKey"));
    let err = rejection(c.status(String::new(), JsValue::UNDEFINED)).await;
    assert_eq!(get_str(&err, "field").as_deref(), Some("jobId"));
    assert_eq!(fetch.calls(), 0, "nothing was sent");
}

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn create_job_returns_an_upload_slot() {
    let job = ok(client("dev-write").create_job(json(CREATE), JsValue::UNDEFINED)).await;
    let job_id = get_str(&job, "jobId").expect("jobId");
    assert!(job_id.starts_with("imp_"), "jobId {job_id}");
    let upload_url = get_str(&job, "uploadUrl").expect("uploadUrl");
    assert!(
        upload_url.starts_with("http"),
        "uploadUrl {}",
        upload_url.split('?').next().unwrap_or("")
    );
    assert!(get_str(&job, "expiresAt").is_some(), "expiresAt");
    assert_eq!(get_str(&job, "method").as_deref(), Some("PUT"));
    // `headers` is a plain object (not a Map), as the spec prints it.
    let headers = get(&job, "headers");
    assert!(headers.is_object() && !headers.is_instance_of::<js_sys::Map>());
    assert!(get_str(&job, "requestedBy").is_some(), "requestedBy");
}

#[wasm_bindgen_test]
async fn every_job_endpoint_answers_through_the_client() {
    let c = client("dev-write");
    let job = ok(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    let id = get_str(&job, "jobId").unwrap();

    let st = ok(c.status(id.clone(), JsValue::UNDEFINED)).await;
    assert_eq!(get_str(&st, "state").as_deref(), Some("pending"));
    assert_eq!(get(&st, "readRows").as_f64(), Some(0.0));
    assert!(get(&st, "errorSummary").is_null());

    let e = ok(c.errors(id.clone(), JsValue::UNDEFINED)).await;
    assert_eq!(get(&e, "hasErrors").as_bool(), Some(false));
    assert!(get(&e, "errorFileUrl").is_undefined());

    let m = ok(c.set_mapping(id.clone(), json(MAPPING), JsValue::UNDEFINED)).await;
    assert_eq!(get(&m, "ok").as_bool(), Some(true));
    let st = ok(c.status(id.clone(), JsValue::UNDEFINED)).await;
    assert_eq!(get_str(&st, "state").as_deref(), Some("ready"));

    // Saving a template returns its id (an emulator extension).
    let job2 = ok(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    let mut mapping: serde_json::Value = serde_json::from_str(MAPPING).unwrap();
    mapping["saveAsTemplate"] = serde_json::json!({"name": "client test template"});
    let m = ok(c.set_mapping(
        get_str(&job2, "jobId").unwrap(),
        json(&mapping.to_string()),
        JsValue::UNDEFINED,
    ))
    .await;
    assert!(get_str(&m, "templateId").is_some(), "{}", stringify(&m));

    let err =
        rejection(c.status("imp_01J00000000000000000000000".into(), JsValue::UNDEFINED)).await;
    assert_import_error(&err, "api");
    assert_eq!(get(&err, "status").as_f64(), Some(404.0));
    assert_eq!(get_str(&err, "code").as_deref(), Some("CDP_ETL.NOT_FOUND"));
}

#[wasm_bindgen_test]
async fn a_state_conflict_is_reported_not_retried() {
    let fetch = TestFetch::new();
    let c = fetch.client(&api_base(), "dev-write");
    let job = ok(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    let id = get_str(&job, "jobId").unwrap();

    // Start before the mapping: 409 STATE_CONFLICT.
    let before = fetch.calls();
    let err = rejection(c.start(id.clone(), JsValue::UNDEFINED, JsValue::UNDEFINED)).await;
    assert_import_error(&err, "api");
    assert_eq!(get(&err, "status").as_f64(), Some(409.0));
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("CDP_ETL.JOB.STATE_CONFLICT")
    );
    assert_eq!(get(&err, "retryable").as_bool(), Some(false));
    assert!(get(&err, "details").is_object(), "details are passed on");
    assert_eq!(fetch.calls() - before, 1, "a 409 is not retried");

    // Start after the mapping but without the upload: 409 UPLOAD_INCOMPLETE.
    ok(c.set_mapping(id.clone(), json(MAPPING), JsValue::UNDEFINED)).await;
    let before = fetch.calls();
    let err = rejection(c.start(id.clone(), json("{}"), JsValue::UNDEFINED)).await;
    assert_eq!(get(&err, "status").as_f64(), Some(409.0));
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("CDP_ETL.JOB.UPLOAD_INCOMPLETE")
    );
    assert_eq!(fetch.calls() - before, 1, "a 409 is not retried");
}

#[wasm_bindgen_test]
async fn metadata_endpoints_list_objects_and_schemas() {
    let c = client("dev-write");
    let list = ok(c.list_objects(JsValue::UNDEFINED)).await;
    let items: js_sys::Array = get(&list, "items").dyn_into().expect("items is an array");
    let names: Vec<String> = items
        .iter()
        .filter_map(|i| get_str(&i, "objectName"))
        .collect();
    assert!(names.iter().any(|n| n == "profiles"), "{names:?}");
    assert!(names.iter().any(|n| n == "orders"), "{names:?}");
    let profiles = items
        .iter()
        .find(|i| get_str(i, "objectName").as_deref() == Some("profiles"))
        .unwrap();
    assert_eq!(
        get(&get(&profiles, "ingestion"), "fileImport").as_bool(),
        Some(true)
    );

    let schema = ok(c.object_schema("profiles".into(), JsValue::UNDEFINED)).await;
    assert_eq!(get_str(&schema, "objectName").as_deref(), Some("profiles"));
    assert_eq!(stringify(&get(&schema, "identityKeys")), r#"["email"]"#);
    let fields: js_sys::Array = get(&schema, "fields").dyn_into().unwrap();
    assert!(fields
        .iter()
        .any(|f| get_str(&f, "name").as_deref() == Some("email")
            && get_str(&f, "type").as_deref() == Some("email")));

    let err = rejection(c.object_schema("no_such_object".into(), JsValue::UNDEFINED)).await;
    assert_import_error(&err, "api");
    assert_eq!(get(&err, "status").as_f64(), Some(404.0));
}

#[wasm_bindgen_test]
async fn a_bad_token_is_an_api_error_with_the_auth_code() {
    let fetch = TestFetch::new();
    let c = fetch.client(&api_base(), "not-a-valid-token");
    let err = rejection(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    assert_eq!(fetch.calls(), 1, "the request was sent once");
    assert_import_error(&err, "api");
    assert_eq!(get(&err, "status").as_f64(), Some(401.0));
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("CDP_ETL.AUTH.TOKEN_INVALID")
    );
    assert!(get_str(&err, "correlationId").is_some(), "a correlation id");
    assert_eq!(get(&err, "retryable").as_bool(), Some(false));
}

#[wasm_bindgen_test]
async fn no_server_is_a_retryable_network_error_after_the_retries() {
    // Port 9 (discard) on loopback: nothing listens there, and browsers and
    // Node refuse it outright; either way no response arrives.
    let fetch = TestFetch::new();
    let options = fetch.options("http://127.0.0.1:9/public/v1", "dev-write");
    set(
        &options,
        "retry",
        &json(r#"{"maxAttempts": 3, "baseDelayMs": 5}"#),
    );
    let c = ImportClient::new(options).unwrap();
    let err = rejection(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    assert_import_error(&err, "network");
    assert_eq!(get_str(&err, "code").as_deref(), Some("NETWORK_ERROR"));
    assert!(get(&err, "status").is_null());
    assert_eq!(get(&err, "retryable").as_bool(), Some(true));
    assert!(
        get_str(&err, "message").is_some_and(|m| m.contains("3 attempts")),
        "{:?}",
        get_str(&err, "message")
    );
    assert_eq!(fetch.calls(), 3, "maxAttempts requests");
}

// ---------------------------------------------------------------------------
// Headers and idempotency
// ---------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn create_sends_a_fresh_idempotency_key_and_the_extra_headers() {
    let fetch = TestFetch::new();
    let options = fetch.options(&api_base(), "dev-write");
    set(
        &options,
        "headers",
        &json(r#"{"x-request-source": "client-tests"}"#),
    );
    let c = ImportClient::new(options).unwrap();
    let a = ok(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    let b = ok(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    ok(c.status(get_str(&a, "jobId").unwrap(), JsValue::UNDEFINED)).await;
    assert_ne!(get_str(&a, "jobId"), get_str(&b, "jobId"), "two jobs");
    let seen = fetch.seen.borrow();
    assert_eq!(seen.len(), 3);
    let (k1, k2) = (
        seen[0].idempotency_key.clone().expect("a key"),
        seen[1].idempotency_key.clone().expect("a key"),
    );
    assert!(is_uuid_v4(&k1), "{k1}");
    assert_ne!(k1, k2, "one key per createJob");
    assert_eq!(seen[2].idempotency_key, None, "GETs carry no key");
    assert!(seen
        .iter()
        .all(|s| s.source.as_deref() == Some("client-tests")));
    assert!(seen
        .iter()
        .all(|s| s.authorization.as_deref() == Some("Bearer dev-write")));
}

#[wasm_bindgen_test]
async fn a_create_whose_answer_was_lost_is_replayed_not_duplicated() {
    // The first request reaches the API (which creates the job) but its
    // answer is lost on the way back; the retry must get the same job.
    let first_job: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
    let fj = first_job.clone();
    let fetch = TestFetch::with_hook(Box::new(move |i, req| {
        if i != 0 {
            return None;
        }
        let fj = fj.clone();
        let req = Clone::clone(req);
        Some(future_to_promise(async move {
            let resp: Response = JsFuture::from(global_fetch(&req)).await?.dyn_into()?;
            let body = JsFuture::from(resp.json()?).await?;
            *fj.borrow_mut() = get_str(&get(&body, "data"), "jobId");
            Err(js_sys::TypeError::new("simulated: connection reset after the request").into())
        }))
    }));
    let options = fetch.options(&api_base(), "dev-write");
    set(&options, "retry", &json(FAST_RETRY));
    let c = ImportClient::new(options).unwrap();
    let job = ok(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    let created = first_job
        .borrow()
        .clone()
        .expect("the first attempt created a job");
    assert_eq!(
        get_str(&job, "jobId"),
        Some(created),
        "the retry replayed it"
    );
    let seen = fetch.seen.borrow();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].idempotency_key.is_some());
    assert_eq!(seen[0].idempotency_key, seen[1].idempotency_key, "same key");
}

#[wasm_bindgen_test]
async fn a_caller_idempotency_key_replays_and_refuses_reuse() {
    let fetch = TestFetch::new();
    let c = fetch.client(&api_base(), "dev-write");
    let key = import_uploader::runtime::uuid_v4();
    let opts = json(&format!(r#"{{"idempotencyKey": "{key}"}}"#));
    let a = ok(c.create_job(json(CREATE), opts.clone())).await;
    let b = ok(c.create_job(json(CREATE), opts.clone())).await;
    assert_eq!(get_str(&a, "jobId"), get_str(&b, "jobId"), "replayed");
    assert!(fetch
        .seen
        .borrow()
        .iter()
        .all(|s| s.idempotency_key.as_deref() == Some(key.as_str())));

    let before = fetch.calls();
    let other = r#"{"objectName": "profiles", "fileName": "other.csv", "fileSize": 5}"#;
    let err = rejection(c.create_job(json(other), opts)).await;
    assert_import_error(&err, "api");
    assert_eq!(get(&err, "status").as_f64(), Some(409.0));
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("CDP_ETL.IDEMPOTENCY.KEY_REUSED")
    );
    assert_eq!(fetch.calls() - before, 1, "not retried");
}

// ---------------------------------------------------------------------------
// Retries against the fault-injecting emulator
// ---------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn calls_succeed_through_injected_failures() {
    let fetch = TestFetch::new();
    let options = fetch.options(&format!("{}/public/v1", flaky_root()), "dev-write");
    set(&options, "retry", &json(FAST_RETRY));
    let c = ImportClient::new(options).unwrap();
    let mut ids = Vec::new();
    for _ in 0..8 {
        let job = ok(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
        ids.push(get_str(&job, "jobId").unwrap());
    }
    for id in &ids {
        let st = ok(c.status(id.clone(), JsValue::UNDEFINED)).await;
        assert_eq!(get_str(&st, "jobId").as_ref(), Some(id));
        assert_eq!(get_str(&st, "state").as_deref(), Some("pending"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "eight distinct jobs");
    let statuses = fetch.statuses.borrow();
    let failed = statuses
        .iter()
        .filter(|s| **s != Some(200) && **s != Some(201))
        .count();
    assert!(failed > 0, "faults struck: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| matches!(s, None | Some(200) | Some(201) | Some(500) | Some(429))),
        "only injected failures: {statuses:?}"
    );
    assert_eq!(statuses.len() - failed, 16, "one success per call");
    // Retried creates reuse their key: at most 8 distinct keys.
    let mut keys: Vec<String> = fetch
        .seen
        .borrow()
        .iter()
        .filter_map(|s| s.idempotency_key.clone())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 8);
}

#[wasm_bindgen_test]
async fn a_rate_limited_burst_waits_for_retry_after() {
    // The limited emulator allows 20 requests per second per token; `burst`
    // is used by this test only.
    let fetch = TestFetch::new();
    let options = fetch.options(&format!("{}/public/v1", limited_root()), "burst");
    set(&options, "retry", &json(FAST_RETRY));
    let c = ImportClient::new(options).unwrap();
    // Let the bucket refill from any earlier run.
    sleep(1100.0, None).await.unwrap();
    let t0 = monotonic_ms();
    // 60 at once: 20 pass, 40 are limited; those wait Retry-After (1 s) and
    // come back together, 20 pass; the last 20 pass a second later. Three
    // attempts at most each, within the budget of 10.
    let calls: Vec<JsFuture> = (0..60)
        .map(|_| JsFuture::from(c.list_objects(JsValue::UNDEFINED)))
        .collect();
    for call in calls {
        let list = call
            .await
            .unwrap_or_else(|e| panic!("{:?} {:?}", get_str(&e, "code"), get_str(&e, "message")));
        assert!(get(&list, "items").is_instance_of::<js_sys::Array>());
    }
    let elapsed = monotonic_ms() - t0;
    let statuses = fetch.statuses.borrow();
    let limited = statuses.iter().filter(|s| **s == Some(429)).count();
    // About 40 + 20; the bucket refills a little while the burst arrives.
    assert!(limited >= 30, "the burst was limited: {statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, Some(200) | Some(429))),
        "only passes and limits: {statuses:?}"
    );
    assert!(
        elapsed >= 1000.0,
        "429s were retried no sooner than Retry-After (1 s): {elapsed} ms"
    );
}

#[wasm_bindgen_test]
async fn an_expired_token_is_refreshed_once_through_get_token() {
    let root = flaky_root();
    // Tokens of the flaky emulator live 2 s.
    let stale = oauth_token(&root).await;
    sleep(2100.0, None).await.unwrap();

    let calls = Rc::new(Cell::new(0u32));
    let (c2, root2) = (calls.clone(), root.clone());
    let get_token = Closure::<dyn FnMut() -> JsValue>::new(move || {
        c2.set(c2.get() + 1);
        if c2.get() == 1 {
            JsValue::from_str(&stale)
        } else {
            let root = root2.clone();
            future_to_promise(async move { Ok(JsValue::from_str(&oauth_token(&root).await)) })
                .into()
        }
    });
    let fetch = TestFetch::new();
    let options = json(&format!(r#"{{"baseUrl": "{root}/public/v1"}}"#));
    set(&options, "fetch", fetch.closure.as_ref());
    set(&options, "getToken", get_token.as_ref());
    set(&options, "retry", &json(FAST_RETRY));
    let c = ImportClient::new(options).unwrap();
    let job = ok(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    assert!(get_str(&job, "jobId").is_some());
    assert_eq!(
        calls.get(),
        2,
        "getToken: once at first use, once to refresh"
    );
    assert!(
        fetch.statuses.borrow().contains(&Some(401)),
        "the stale token was refused first: {:?}",
        fetch.statuses.borrow()
    );
    let seen = fetch.seen.borrow();
    let auth: Vec<_> = seen.iter().map(|s| s.authorization.clone()).collect();
    assert!(
        auth.windows(2).any(|w| w[0] != w[1]),
        "a new token was sent"
    );
}

#[wasm_bindgen_test]
async fn a_token_that_stays_expired_is_reported_after_one_refresh() {
    let root = flaky_root();
    let stale = oauth_token(&root).await;
    sleep(2100.0, None).await.unwrap();
    let calls = Rc::new(Cell::new(0u32));
    let c2 = calls.clone();
    let get_token = Closure::<dyn FnMut() -> JsValue>::new(move || {
        c2.set(c2.get() + 1);
        JsValue::from_str(&stale)
    });
    let options = json(&format!(r#"{{"baseUrl": "{root}/public/v1"}}"#));
    set(&options, "getToken", get_token.as_ref());
    set(&options, "retry", &json(FAST_RETRY));
    let c = ImportClient::new(options).unwrap();
    let err = rejection(c.list_objects(JsValue::UNDEFINED)).await;
    assert_import_error(&err, "api");
    assert_eq!(get(&err, "status").as_f64(), Some(401.0));
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("CDP_ETL.AUTH.TOKEN_EXPIRED")
    );
    assert_eq!(calls.get(), 2, "refreshed once, not in a loop");
}

#[wasm_bindgen_test]
async fn an_invalid_token_is_not_refreshed_and_a_failing_get_token_is_reported() {
    // TOKEN_INVALID (an unknown token) is not a reason to ask for another.
    let calls = Rc::new(Cell::new(0u32));
    let c2 = calls.clone();
    let get_token = Closure::<dyn FnMut() -> JsValue>::new(move || {
        c2.set(c2.get() + 1);
        JsValue::from_str("not-a-valid-token")
    });
    let options = json(&format!(r#"{{"baseUrl": "{}"}}"#, api_base()));
    set(&options, "getToken", get_token.as_ref());
    let c = ImportClient::new(options).unwrap();
    let err = rejection(c.list_objects(JsValue::UNDEFINED)).await;
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("CDP_ETL.AUTH.TOKEN_INVALID")
    );
    assert_eq!(calls.get(), 1);

    // A getToken that rejects: reported, nothing sent.
    let fetch = TestFetch::new();
    let failing = Closure::<dyn FnMut() -> JsValue>::new(|| {
        Promise::reject(&js_sys::Error::new("vault unreachable").into()).into()
    });
    let options = json(&format!(r#"{{"baseUrl": "{}"}}"#, api_base()));
    set(&options, "getToken", failing.as_ref());
    set(&options, "fetch", fetch.closure.as_ref());
    let c = ImportClient::new(options).unwrap();
    let err = rejection(c.list_objects(JsValue::UNDEFINED)).await;
    assert_import_error(&err, "validation");
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("TOKEN_PROVIDER_FAILED")
    );
    assert!(get_str(&err, "message")
        .unwrap()
        .contains("vault unreachable"));
    assert_eq!(fetch.calls(), 0);
}

// ---------------------------------------------------------------------------
// Abort
// ---------------------------------------------------------------------------

fn signal_opts(controller: &AbortController) -> JsValue {
    let o = js_sys::Object::new();
    set(&o, "signal", &controller.signal());
    o.into()
}

#[wasm_bindgen_test]
async fn abort_cancels_a_request_in_flight() {
    let controller = Rc::new(AbortController::new().unwrap());
    let ctl = controller.clone();
    // The request is handed to the real fetch, then the signal fires while
    // it is on the wire.
    let fetch = TestFetch::with_hook(Box::new(move |_, req| {
        let p = global_fetch(req);
        ctl.abort();
        Some(p)
    }));
    let c = fetch.client(&api_base(), "dev-write");
    let err = rejection(c.create_job(json(CREATE), signal_opts(&controller))).await;
    assert_import_error(&err, "aborted");
    assert_eq!(get_str(&err, "code").as_deref(), Some("ABORTED"));
    assert_eq!(get(&err, "retryable").as_bool(), Some(false));
    assert_eq!(fetch.calls(), 1, "an aborted request is not retried");

    // An already-aborted signal sends nothing.
    let err = rejection(c.list_objects(signal_opts(&controller))).await;
    assert_import_error(&err, "aborted");
    assert_eq!(fetch.calls(), 1);
}

#[wasm_bindgen_test]
async fn abort_cancels_the_wait_before_a_retry() {
    // Always 503 with Retry-After: 30: the client would sleep 30 s.
    let fetch = TestFetch::with_hook(Box::new(|_, _| {
        let init = ResponseInit::new();
        init.set_status(503);
        let headers = web_sys::Headers::new().unwrap();
        headers.set("retry-after", "30").unwrap();
        headers.set("content-type", "application/json").unwrap();
        init.set_headers(&headers);
        let body =
            r#"{"success":false,"error":{"code":"CDP_ETL.INTERNAL.UNAVAILABLE","message":"down"}}"#;
        Some(Promise::resolve(&JsValue::from(
            Response::new_with_opt_str_and_init(Some(body), &init).unwrap(),
        )))
    }));
    let c = fetch.client(&api_base(), "dev-write");
    let controller = AbortController::new().unwrap();
    let p = c.status(
        "imp_01J00000000000000000000000".into(),
        signal_opts(&controller),
    );
    sleep(150.0, None).await.unwrap();
    let t0 = monotonic_ms();
    controller.abort();
    let err = rejection(p).await;
    assert_import_error(&err, "aborted");
    assert!(monotonic_ms() - t0 < 2000.0, "the sleep was cut short");
    assert_eq!(fetch.calls(), 1);
}

// ---------------------------------------------------------------------------
// waitForCompletion (the whole lifecycle is in tests/lifecycle.rs)
// ---------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn wait_for_completion_reports_statuses_until_cancelled() {
    let c = client("dev-write");
    let job = ok(c.create_job(json(CREATE), JsValue::UNDEFINED)).await;
    let id = get_str(&job, "jobId").unwrap();

    let seen = Rc::new(RefCell::new(Vec::<String>::new()));
    let s2 = seen.clone();
    let on_status = Closure::<dyn FnMut(JsValue)>::new(move |st: JsValue| {
        s2.borrow_mut()
            .push(get_str(&st, "state").unwrap_or_default());
    });
    let events = import_uploader::events::new_event_target();
    let event_count = Rc::new(Cell::new(0u32));
    let e2 = event_count.clone();
    let listener =
        Closure::<dyn FnMut(web_sys::CustomEvent)>::new(move |ev: web_sys::CustomEvent| {
            assert_eq!(get_str(&ev.detail(), "state").as_deref(), Some("pending"));
            e2.set(e2.get() + 1);
        });
    events
        .add_event_listener_with_callback("status", listener.as_ref().unchecked_ref())
        .unwrap();

    let controller = AbortController::new().unwrap();
    let opts = signal_opts(&controller);
    set(&opts, "pollStartMs", &JsValue::from_f64(20.0));
    set(&opts, "pollCapMs", &JsValue::from_f64(40.0));
    set(&opts, "onStatus", on_status.as_ref());
    set(&opts, "events", &events);
    let p = c.wait_for_completion(id, opts);
    sleep(300.0, None).await.unwrap();
    controller.abort();
    let err = rejection(p).await;
    assert_import_error(&err, "aborted");
    let n = seen.borrow().len();
    assert!(n >= 3, "polled repeatedly: {n}");
    assert!(seen.borrow().iter().all(|s| s == "pending"));
    assert_eq!(event_count.get() as usize, n, "one event per status");
}

#[wasm_bindgen_test]
async fn wait_options_are_checked() {
    let c = client("dev-write");
    let err = rejection(c.wait_for_completion(
        "imp_01J00000000000000000000000".into(),
        json(r#"{"pollStartMs": 5000, "pollCapMs": 100}"#),
    ))
    .await;
    assert_import_error(&err, "validation");
    assert_eq!(get_str(&err, "field").as_deref(), Some("pollCapMs"));
    let err = rejection(c.wait_for_completion(
        "imp_01J00000000000000000000000".into(),
        json(r#"{"events": {}}"#),
    ))
    .await;
    assert_eq!(get_str(&err, "field").as_deref(), Some("events"));
    // A job that does not exist: the 404 ends the wait.
    let err = rejection(
        c.wait_for_completion("imp_01J00000000000000000000000".into(), JsValue::UNDEFINED),
    )
    .await;
    assert_eq!(get(&err, "status").as_f64(), Some(404.0));
}
