//! The wasm client against the real emulator, in whichever runtime
//! `wasm-bindgen-test-runner` picks: Node by default, headless Chromium with
//! `WASM_BINDGEN_USE_BROWSER=1`, a dedicated worker with
//! `WASM_BINDGEN_USE_DEDICATED_WORKER=1` (`cargo xtask test` runs all three).
//!
//! The emulator's base URL arrives at compile time in `IMPORT_EMULATOR_URL`
//! (`cargo xtask test` starts an emulator on an ephemeral port and sets it).
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;

use import_uploader::{version, ImportClient};
use js_sys::{Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(input: &web_sys::Request) -> Promise;
}

/// `{emulator}/public/v1`.
fn api_base() -> String {
    // A test run without the emulator must fail loudly, not skip.
    let Some(url) = option_env!("IMPORT_EMULATOR_URL") else {
        panic!(
            "IMPORT_EMULATOR_URL was not set when these tests were compiled; \
             run them with `cargo xtask test`"
        );
    };
    format!("{}/public/v1", url.trim_end_matches('/'))
}

fn json(text: &str) -> JsValue {
    JSON::parse(text).expect("test JSON parses")
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).expect("property read")
}

fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// A `fetch` that counts its calls and forwards them to the global one.
struct CountingFetch {
    calls: Rc<Cell<u32>>,
    closure: Closure<dyn FnMut(web_sys::Request) -> Promise>,
}

impl CountingFetch {
    fn new() -> Self {
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        let closure = Closure::new(move |req: web_sys::Request| {
            c.set(c.get() + 1);
            global_fetch(&req)
        });
        CountingFetch { calls, closure }
    }

    fn client(&self, base_url: &str, token: &str) -> ImportClient {
        let options = json(&format!(
            r#"{{"baseUrl": "{base_url}", "token": "{token}"}}"#
        ));
        Reflect::set(
            &options,
            &"fetch".into(),
            self.closure.as_ref().unchecked_ref(),
        )
        .expect("set fetch");
        ImportClient::new(options).expect("valid options")
    }
}

fn client(token: &str) -> ImportClient {
    ImportClient::new(json(&format!(
        r#"{{"baseUrl": "{}", "token": "{token}"}}"#,
        api_base()
    )))
    .expect("valid options")
}

/// Awaits a promise expected to reject and returns the rejection.
async fn rejection(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => panic!(
            "expected a rejection, got {:?}",
            JSON::stringify(&v).ok().and_then(|s| s.as_string())
        ),
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
        "kind of {:?}",
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
        .expect("token is required");
    assert_eq!(get_str(&err, "field").as_deref(), Some("token"));
}

#[wasm_bindgen_test]
async fn create_job_returns_an_upload_slot() {
    let job = JsFuture::from(client("dev-write").create_job(json(
        r#"{"objectName": "profiles", "fileName": "spring-2026.csv", "fileSize": 1048576}"#,
    )))
    .await
    .unwrap_or_else(|e| {
        panic!(
            "createJob failed: {:?} {:?} {:?}",
            get_str(&e, "code"),
            get(&e, "status").as_f64(),
            get_str(&e, "message")
        )
    });
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
async fn a_rule_violation_is_refused_before_sending() {
    let fetch = CountingFetch::new();
    let c = fetch.client(&api_base(), "dev-write");

    let err = rejection(c.create_job(json(
        r#"{"objectName": "profiles", "fileName": "empty.csv", "fileSize": 0}"#,
    )))
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

    let err = rejection(c.create_job(json(
        r#"{"objectName": "profiles", "fileName": "a.csv", "fileSize": 10, "createList": true}"#,
    )))
    .await;
    assert_import_error(&err, "validation");
    assert_eq!(get_str(&err, "field").as_deref(), Some("listName"));

    assert_eq!(fetch.calls.get(), 0, "nothing was sent");
}

#[wasm_bindgen_test]
async fn a_malformed_request_is_refused_before_sending() {
    let fetch = CountingFetch::new();
    let c = fetch.client(&api_base(), "dev-write");
    // A typo: `listname` would silently drop the list if it were sent.
    let err = rejection(c.create_job(json(
        r#"{"objectName": "profiles", "fileName": "a.csv", "fileSize": 10, "listname": "x"}"#,
    )))
    .await;
    assert_import_error(&err, "validation");
    assert!(
        get_str(&err, "message").is_some_and(|m| m.contains("listname")),
        "the unknown field is named: {:?}",
        get_str(&err, "message")
    );
    let err = rejection(c.create_job(json(
        r#"{"objectName": "profiles", "fileName": "a.csv", "fileSize": "ten"}"#,
    )))
    .await;
    assert_import_error(&err, "validation");
    assert_eq!(fetch.calls.get(), 0, "nothing was sent");
}

#[wasm_bindgen_test]
async fn a_bad_token_is_an_api_error_with_the_auth_code() {
    let fetch = CountingFetch::new();
    let c = fetch.client(&api_base(), "not-a-valid-token");
    let err = rejection(c.create_job(json(
        r#"{"objectName": "profiles", "fileName": "spring-2026.csv", "fileSize": 1048576}"#,
    )))
    .await;
    assert_eq!(fetch.calls.get(), 1, "the request was sent once");
    assert_import_error(&err, "api");
    assert_eq!(get(&err, "status").as_f64(), Some(401.0));
    let code = get_str(&err, "code").unwrap();
    assert!(
        code == "CDP_ETL.AUTH.TOKEN_INVALID" || code == "CDP_ETL.AUTH.UNAUTHORIZED",
        "code {code}"
    );
    assert!(get_str(&err, "correlationId").is_some(), "a correlation id");
    assert_eq!(get(&err, "retryable").as_bool(), Some(false));
}

#[wasm_bindgen_test]
async fn no_server_is_a_retryable_network_error() {
    // Port 9 (discard) on loopback: nothing listens there, and browsers and
    // Node refuse it outright; either way no response arrives.
    let c = ImportClient::new(json(
        r#"{"baseUrl": "http://127.0.0.1:9/public/v1", "token": "dev-write"}"#,
    ))
    .expect("valid options");
    let err = rejection(c.create_job(json(
        r#"{"objectName": "profiles", "fileName": "a.csv", "fileSize": 10}"#,
    )))
    .await;
    assert_import_error(&err, "network");
    assert_eq!(get_str(&err, "code").as_deref(), Some("NETWORK_ERROR"));
    assert!(get(&err, "status").is_null());
    assert_eq!(get(&err, "retryable").as_bool(), Some(true));
}
