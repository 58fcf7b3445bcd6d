//! The edge broker (`createBroker`, `mintUploadTicket`) in front of the real
//! emulator: a whole import through it, tickets, job handles, policy,
//! idempotency scoping, the upstream token (OAuth, single-flight refresh,
//! refusals of the broker's own token), routes, CORS, rate limit, options.
//!
//! The broker is called directly with `Request`s (as a Workers runtime
//! would); its upstream `fetch` is the global one, wrapped to count token
//! requests. Runs wherever the wasm suites run (Node, a Chromium page, a
//! dedicated worker); the per-runtime servers and the browser-driven
//! end-to-end tests are the `broker-*` suites. The emulator's URL arrives at
//! compile time in `IMPORT_EMULATOR_URL`.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;

use import_uploader::broker::{create_broker, mint_upload_ticket};
use import_uploader::ImportClient;
use js_sys::{Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{Headers, Request, RequestInit, Response, ResponseInit};

const SECRET: &str = "broker-test-secret-0123456789abcdef";
const BROKER: &str = "https://broker.test/api";

fn emulator() -> String {
    // A test run without the emulator must fail loudly, not skip.
    let Some(url) = option_env!("IMPORT_EMULATOR_URL") else {
        panic!("IMPORT_EMULATOR_URL was not set when these tests were compiled; run them with `cargo xtask test`");
    };
    url.trim_end_matches('/').to_string()
}

fn json(text: &str) -> JsValue {
    JSON::parse(text).expect("test JSON parses")
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).expect("property read")
}

fn set(obj: &JsValue, key: &str, value: &JsValue) {
    Reflect::set(obj, &JsValue::from_str(key), value).expect("property set");
}

fn global_fetch() -> Function {
    Reflect::get(&js_sys::global(), &JsValue::from_str("fetch"))
        .unwrap()
        .dyn_into()
        .unwrap()
}

/// A `fetch` for the broker's upstream calls: the global one, counting
/// token requests; `fake_expired` makes the API answer 401
/// `CDP_ETL.AUTH.TOKEN_EXPIRED` to that exact bearer token (the emulator
/// accepts tokens for a minute past `exp`, too long for a unit test; the
/// `broker-*` suites test real expiry).
struct Upstream {
    fetch: Function,
    token_calls: Rc<Cell<u32>>,
    api_calls: Rc<Cell<u32>>,
    _closure: Closure<dyn FnMut(Request) -> Promise>,
}

fn upstream(fake_expired: Option<&'static str>) -> Upstream {
    let token_calls = Rc::new(Cell::new(0));
    let api_calls = Rc::new(Cell::new(0));
    let (t, a) = (token_calls.clone(), api_calls.clone());
    let closure = Closure::<dyn FnMut(Request) -> Promise>::new(move |req: Request| {
        let auth = req
            .headers()
            .get("authorization")
            .ok()
            .flatten()
            .unwrap_or_default();
        if req.url().ends_with("/oauth/token") {
            t.set(t.get() + 1);
        } else {
            a.set(a.get() + 1);
            if let Some(stale) = fake_expired {
                if auth == format!("Bearer {stale}") {
                    let init = ResponseInit::new();
                    init.set_status(401);
                    let body = r#"{"success":false,"error":{"code":"CDP_ETL.AUTH.TOKEN_EXPIRED","message":"Token expired."}}"#;
                    let resp = Response::new_with_opt_str_and_init(Some(body), &init).unwrap();
                    return Promise::resolve(&JsValue::from(resp));
                }
            }
        }
        global_fetch()
            .call1(&JsValue::UNDEFINED, &req)
            .unwrap()
            .unchecked_into::<Promise>()
    });
    Upstream {
        fetch: closure.as_ref().clone().unchecked_into(),
        token_calls,
        api_calls,
        _closure: closure,
    }
}

/// Broker options: OAuth against the emulator, the given upstream `fetch`,
/// and `extra` JSON merged in.
fn options(up: &Upstream, extra: &str) -> JsValue {
    let emu = emulator();
    let o = json(&format!(
        r#"{{"apiBaseUrl": "{emu}/public/v1", "ticketSecret": "{SECRET}", "basePath": "/api",
            "oauth": {{"tokenUrl": "{emu}/oauth/token", "clientId": "dev-client", "clientSecret": "dev-secret"}}}}"#
    ));
    let extra = json(extra);
    Object::assign(o.unchecked_ref::<Object>(), extra.unchecked_ref::<Object>());
    set(&o, "fetch", &up.fetch);
    o
}

fn broker(opts: JsValue) -> Function {
    create_broker(opts).unwrap_or_else(|e| panic!("createBroker: {}", describe(&e)))
}

fn describe(e: &JsValue) -> String {
    get(e, "message")
        .as_string()
        .unwrap_or_else(|| format!("{e:?}"))
}

fn ticket(subject: &str, extra: &str) -> String {
    let claims = json(&format!(r#"{{"subject": "{subject}"{extra}}}"#));
    mint_upload_ticket(JsValue::from_str(SECRET), claims).expect("ticket")
}

/// A request to the broker: `method path` under its base, with a ticket
/// (if any), a JSON body (if any) and extra headers.
fn request(
    method: &str,
    path: &str,
    ticket: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Request {
    let init = RequestInit::new();
    init.set_method(method);
    let h = Headers::new().unwrap();
    if let Some(t) = ticket {
        h.set("authorization", &format!("Bearer {t}")).unwrap();
    }
    if body.is_some() {
        h.set("content-type", "application/json").unwrap();
    }
    for (k, v) in headers {
        h.set(k, v).unwrap();
    }
    init.set_headers(&h);
    if let Some(b) = body {
        init.set_body(&JsValue::from_str(b));
    }
    Request::new_with_str_and_init(&format!("{BROKER}{path}"), &init).unwrap()
}

struct Answer {
    status: u16,
    headers: Headers,
    text: String,
    body: JsValue,
}

async fn call(b: &Function, req: Request) -> Answer {
    let p: Promise = b
        .call1(&JsValue::UNDEFINED, &req)
        .expect("handler returns")
        .unchecked_into();
    let resp: Response = JsFuture::from(p)
        .await
        .expect("the handler never rejects")
        .dyn_into()
        .unwrap();
    let text = JsFuture::from(resp.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap_or_default();
    let body = if text.is_empty() {
        JsValue::NULL
    } else {
        JSON::parse(&text).unwrap_or(JsValue::NULL)
    };
    Answer {
        status: resp.status(),
        headers: resp.headers(),
        text,
        body,
    }
}

/// `GET /metadata/objects` through the broker.
async fn objects(b: &Function, ticket: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    call(
        b,
        request("GET", "/metadata/objects", ticket, None, headers),
    )
    .await
}

/// `POST path` through the broker.
async fn post(
    b: &Function,
    path: &str,
    ticket: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    call(b, request("POST", path, ticket, body, headers)).await
}

/// Asserts a refusal's status and `error.code`.
fn expect(a: &Answer, status: u16, want: &str) {
    assert_eq!((a.status, code(a).as_str()), (status, want), "{}", a.text);
}

fn code(a: &Answer) -> String {
    get(&get(&a.body, "error"), "code")
        .as_string()
        .unwrap_or_default()
}

fn data(a: &Answer) -> JsValue {
    get(&a.body, "data")
}

const CREATE: &str = r#"{"objectName": "profiles", "fileName": "b.csv", "fileSize": 10}"#;

async fn create(b: &Function, ticket: &str) -> String {
    let a = call(
        b,
        request("POST", "/import-jobs", Some(ticket), Some(CREATE), &[]),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    get(&data(&a), "jobId").as_string().unwrap()
}

#[wasm_bindgen_test]
async fn a_whole_import_runs_through_the_broker() {
    let up = upstream(None);
    let b = broker(options(&up, "{}"));
    // The client's fetch sends broker URLs to the handler, everything else
    // (the pre-signed storage URL) to the network, as a page would.
    let handler = b.clone();
    let routed = Closure::<dyn FnMut(Request) -> Promise>::new(move |req: Request| {
        if req.url().starts_with(BROKER) {
            assert!(req
                .headers()
                .get("authorization")
                .unwrap()
                .unwrap()
                .starts_with("Bearer ey"));
            handler
                .call1(&JsValue::UNDEFINED, &req)
                .unwrap()
                .unchecked_into()
        } else {
            assert_eq!(
                req.headers().get("authorization").unwrap(),
                None,
                "no Authorization to storage"
            );
            global_fetch()
                .call1(&JsValue::UNDEFINED, &req)
                .unwrap()
                .unchecked_into()
        }
    });
    let opts = json(&format!(
        r#"{{"baseUrl": "{BROKER}", "token": "{}"}}"#,
        ticket("alice", "")
    ));
    set(&opts, "fetch", routed.as_ref());
    let client = ImportClient::new(opts).unwrap();
    let csv = "email,first_name\nann@example.com,Ann\nnot-an-email,Bad\nbob@example.com,Bob\n";
    let file =
        web_sys::Blob::new_with_str_sequence(&js_sys::Array::of1(&JsValue::from_str(csv))).unwrap();
    let import = json(
        r#"{"objectName": "profiles", "fileName": "people.csv",
            "mapping": {"sourceFields": {"email": "string", "first_name": "string"},
                        "fieldMap": {"email": "email", "first_name": "first_name"}},
            "pollStartMs": 20, "pollCapMs": 100}"#,
    );
    let status = JsFuture::from(client.import_file(file.into(), import))
        .await
        .unwrap_or_else(|e| panic!("importFile: {:?} {}", get(&e, "code"), describe(&e)));
    assert_eq!(
        get(&status, "state").as_string().as_deref(),
        Some("completed")
    );
    assert_eq!(get(&status, "validRows").as_f64(), Some(2.0));
    assert_eq!(get(&status, "invalidRows").as_f64(), Some(1.0));
    // The job id the page sees is a handle.
    let handle = get(&status, "jobId").as_string().unwrap();
    assert!(
        handle.starts_with("imp_") && handle.contains('.'),
        "{handle}"
    );
    // One token request for the whole import.
    assert_eq!(up.token_calls.get(), 1);
}

/// A ticket signed with `secret`, issued `ago` seconds ago for `ttl` seconds.
fn minted(secret: &str, ago: u64, ttl: u64) -> String {
    let grant = import_core::broker::Grant {
        subject: "a".into(),
        ..Default::default()
    };
    let now = (js_sys::Date::now() / 1000.0) as u64;
    import_core::broker::mint_ticket(secret, &grant, ttl, now - ago).unwrap()
}

#[wasm_bindgen_test]
async fn tickets_are_required_and_checked() {
    let up = upstream(None);
    let b = broker(options(&up, "{}"));
    let cases: Vec<(Option<String>, u16, &str)> = vec![
        (None, 401, "BROKER.TICKET.MISSING"),
        (Some("not-a-ticket".into()), 401, "BROKER.TICKET.INVALID"),
        (
            Some(minted("another-secret-0123456789abcdefghij", 0, 600)),
            401,
            "BROKER.TICKET.INVALID",
        ),
        (Some(minted(SECRET, 120, 60)), 401, "BROKER.TICKET.EXPIRED"),
    ];
    for (t, status, want) in cases {
        let a = objects(&b, t.as_deref(), &[]).await;
        assert_eq!((a.status, code(&a).as_str()), (status, want), "{}", a.text);
        assert!(a.headers.get("x-correlation-id").unwrap().is_some());
    }
    // A Basic header is not a ticket.
    let a = objects(&b, None, &[("authorization", "Basic Zm9vOmJhcg==")]).await;
    assert_eq!(code(&a), "BROKER.TICKET.MISSING");
    // Refused requests never reached the API.
    assert_eq!(up.api_calls.get(), 0);
    let a = objects(&b, Some(&ticket("a", "")), &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
}

#[wasm_bindgen_test]
async fn a_job_answers_only_its_subject() {
    let up = upstream(None);
    let b = broker(options(&up, "{}"));
    let (alice, bob) = (ticket("alice", ""), ticket("bob", ""));
    let handle = create(&b, &alice).await;
    let a = call(
        &b,
        request(
            "GET",
            &format!("/import-jobs/{handle}"),
            Some(&alice),
            None,
            &[],
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(get(&data(&a), "jobId").as_string().as_ref(), Some(&handle));
    let raw = handle.split('.').next().unwrap().to_string();
    for (t, path) in [
        (&bob, format!("/import-jobs/{handle}")),
        (&bob, format!("/import-jobs/{handle}/errors")),
        (&bob, format!("/import-jobs/{handle}/start")),
        (&alice, format!("/import-jobs/{raw}")),
        (&alice, format!("/import-jobs/{raw}.AAAAAAAAAAAAAAAAAAAAAA")),
    ] {
        let method = if path.ends_with("start") {
            "POST"
        } else {
            "GET"
        };
        let a = call(&b, request(method, &path, Some(t), None, &[])).await;
        assert_eq!(
            (a.status, code(&a).as_str()),
            (403, "BROKER.JOB.FORBIDDEN"),
            "{path}: {}",
            a.text
        );
    }
    // The API's own answers pass through with their envelope and codes.
    let a = post(
        &b,
        &format!("/import-jobs/{handle}/start"),
        Some(&alice),
        None,
        &[],
    )
    .await;
    expect(&a, 409, "CDP_ETL.JOB.STATE_CONFLICT");
    assert!(a.headers.get("x-correlation-id").unwrap().is_some());
}

#[wasm_bindgen_test]
async fn the_policy_is_enforced() {
    let up = upstream(None);
    let b = broker(options(
        &up,
        r#"{"policy": {"objects": ["profiles"], "maxFileSize": 1000}}"#,
    ));
    let t = ticket("alice", r#", "maxFileSize": 100"#);
    let create_req = |body: &str| request("POST", "/import-jobs", Some(&t), Some(body), &[]);
    let cases = [
        (
            r#"{"objectName": "orders", "fileName": "o.csv", "fileSize": 10}"#,
            403,
            "BROKER.POLICY.OBJECT_NOT_ALLOWED",
        ),
        (
            r#"{"objectName": "profiles", "fileName": "p.csv", "fileSize": 101}"#,
            413,
            "BROKER.POLICY.FILE_TOO_LARGE",
        ),
        (
            r#"{"objectName": "profiles", "fileName": "p.csv", "fileSize": 10, "createList": true, "listName": "x"}"#,
            403,
            "BROKER.POLICY.OPTION_NOT_ALLOWED",
        ),
        (
            r#"{"objectName": "profiles", "fileName": "p.csv", "fileSize": 10, "autoProfileAfterImport": true}"#,
            403,
            "BROKER.POLICY.OPTION_NOT_ALLOWED",
        ),
        (
            r#"{"objectName": "profiles", "objectName": "orders"}"#,
            400,
            "CDP_ETL.VALIDATION.REQUEST_INVALID",
        ),
        (r#"[]"#, 400, "CDP_ETL.VALIDATION.REQUEST_INVALID"),
    ];
    for (body, status, want) in cases {
        let a = call(&b, create_req(body)).await;
        assert_eq!(
            (a.status, code(&a).as_str()),
            (status, want),
            "{body}: {}",
            a.text
        );
    }
    assert_eq!(up.api_calls.get(), 0, "refused bodies never reach the API");
    // Missing required fields are the API's to refuse, with its own rule.
    let a = call(
        &b,
        create_req(r#"{"objectName": "profiles", "fileSize": 10}"#),
    )
    .await;
    expect(&a, 400, "CDP_ETL.VALIDATION.REQUEST_INVALID");
    assert_eq!(up.api_calls.get(), 1);
    // Mapping: `custom` is refused by default.
    let handle = create(&b, &t).await;
    let mapping = |mode: &str| {
        format!(
            r#"{{"sourceFields": {{"email": "string"}}, "fieldMap": {{"email": "email"}}, "importMode": "{mode}"}}"#
        )
    };
    let path = format!("/import-jobs/{handle}/mapping");
    let a = post(&b, &path, Some(&t), Some(&mapping("custom")), &[]).await;
    expect(&a, 403, "BROKER.POLICY.IMPORT_MODE_NOT_ALLOWED");
    let a = post(&b, &path, Some(&t), Some(&mapping("strict")), &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
}

#[wasm_bindgen_test]
async fn idempotency_keys_do_not_cross_subjects() {
    let up = upstream(None);
    let b = broker(options(&up, "{}"));
    let (alice, bob) = (ticket("alice", ""), ticket("bob", ""));
    let key = [("idempotency-key", "same-key-for-both")];
    let a1 = post(&b, "/import-jobs", Some(&alice), Some(CREATE), &key).await;
    let a2 = post(&b, "/import-jobs", Some(&alice), Some(CREATE), &key).await;
    let b1 = post(&b, "/import-jobs", Some(&bob), Some(CREATE), &key).await;
    let id = |a: &Answer| {
        get(&data(a), "jobId")
            .as_string()
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(id(&a1), id(&a2), "a retry by the same subject is replayed");
    assert_eq!(
        a2.headers.get("idempotency-replayed").unwrap().as_deref(),
        Some("true")
    );
    assert_ne!(id(&a1), id(&b1), "another subject's key is another key");
    let a = post(
        &b,
        "/import-jobs",
        Some(&alice),
        Some(CREATE),
        &[("idempotency-key", &"k".repeat(256))],
    )
    .await;
    assert_eq!(
        (a.status, code(&a).as_str()),
        (400, "CDP_ETL.VALIDATION.REQUEST_INVALID")
    );
}

#[wasm_bindgen_test]
async fn an_expired_workspace_token_is_refreshed_once_for_concurrent_calls() {
    let up = upstream(Some("stale-workspace-token"));
    let b = broker(options(&up, r#"{"token": "stale-workspace-token"}"#));
    let t = ticket("alice", "");
    let calls: Vec<_> = (0..5).map(|_| objects(&b, Some(&t), &[])).collect();
    for a in futures_join(calls).await {
        assert_eq!(a.status, 200, "{}", a.text);
        assert!(!a.text.contains("stale-workspace-token") && !a.text.contains("dev-secret"));
    }
    assert_eq!(
        up.token_calls.get(),
        1,
        "one token request for five concurrent calls"
    );
    // 5 refused with the stale token + 5 retried.
    assert_eq!(up.api_calls.get(), 10);
    let a = objects(&b, Some(&t), &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        (up.token_calls.get(), up.api_calls.get()),
        (1, 11),
        "the new token is cached"
    );
}

async fn futures_join<F: std::future::Future<Output = Answer>>(fs: Vec<F>) -> Vec<Answer> {
    futures_util::future::join_all(fs).await
}

#[wasm_bindgen_test]
async fn a_refused_workspace_token_is_the_brokers_problem() {
    let up = upstream(None);
    let emu = emulator();
    let opts = json(&format!(
        r#"{{"apiBaseUrl": "{emu}/public/v1", "ticketSecret": "{SECRET}", "basePath": "/api", "token": "wrong-workspace-token"}}"#
    ));
    set(&opts, "fetch", &up.fetch);
    let b = broker(opts);
    let a = objects(&b, Some(&ticket("a", "")), &[]).await;
    expect(&a, 502, "BROKER.UPSTREAM.AUTH_FAILED");
    assert!(!a.text.contains("wrong-workspace-token"), "{}", a.text);
    // Wrong OAuth credentials: the same, without the secret in the answer.
    let b = broker(options(
        &up,
        &format!(
            r#"{{"oauth": {{"tokenUrl": "{emu}/oauth/token", "clientId": "dev-client", "clientSecret": "not-the-secret"}}}}"#
        ),
    ));
    let a = objects(&b, Some(&ticket("a", "")), &[]).await;
    expect(&a, 502, "BROKER.UPSTREAM.AUTH_FAILED");
    // A generic message: the token endpoint's `error` goes to the log.
    assert!(
        !a.text.contains("invalid_client") && !a.text.contains("not-the-secret"),
        "{}",
        a.text
    );
    // An API that cannot be reached.
    let opts = json(&format!(
        r#"{{"apiBaseUrl": "http://127.0.0.1:9/public/v1", "ticketSecret": "{SECRET}", "token": "t"}}"#
    ));
    let b = broker(opts);
    let req = Request::new_with_str("https://broker.test/metadata/objects").unwrap();
    req.headers()
        .set("authorization", &format!("Bearer {}", ticket("a", "")))
        .unwrap();
    let a = call(&b, req).await;
    expect(&a, 502, "BROKER.UPSTREAM.UNREACHABLE");
}

#[wasm_bindgen_test]
async fn routes_preflights_and_origins() {
    let up = upstream(None);
    let b = broker(options(&up, r#"{"allowedOrigins": ["https://app.test"]}"#));
    let t = ticket("a", "");
    for (method, path, status, want) in [
        ("GET", "/lists", 404, "BROKER.ROUTE.NOT_FOUND"),
        ("POST", "/oauth/token", 404, "BROKER.ROUTE.NOT_FOUND"),
        (
            "GET",
            "/import-jobs",
            405,
            "BROKER.ROUTE.METHOD_NOT_ALLOWED",
        ),
        (
            "DELETE",
            "/import-jobs/x",
            405,
            "BROKER.ROUTE.METHOD_NOT_ALLOWED",
        ),
    ] {
        let a = call(&b, request(method, path, Some(&t), None, &[])).await;
        assert_eq!(
            (a.status, code(&a).as_str()),
            (status, want),
            "{method} {path}"
        );
    }
    // Outside basePath.
    let a = call(
        &b,
        Request::new_with_str("https://broker.test/import-jobs").unwrap(),
    )
    .await;
    assert_eq!(code(&a), "BROKER.ROUTE.NOT_FOUND");

    // Browsers do not let a page set `Origin`; where the runtime keeps it
    // (Node, Deno, workerd), the origin rules are checked here, and the
    // broker-* suites check them from a real page.
    let probe = request(
        "OPTIONS",
        "/import-jobs",
        None,
        None,
        &[("origin", "https://app.test")],
    );
    if probe.headers().get("origin").unwrap().is_some() {
        let a = call(&b, probe).await;
        assert_eq!(a.status, 204);
        assert_eq!(
            a.headers
                .get("access-control-allow-origin")
                .unwrap()
                .as_deref(),
            Some("https://app.test")
        );
        assert_eq!(
            a.headers
                .get("access-control-allow-methods")
                .unwrap()
                .as_deref(),
            Some("POST")
        );
        assert!(a
            .headers
            .get("access-control-allow-headers")
            .unwrap()
            .unwrap()
            .contains("idempotency-key"));
        let a = objects(&b, Some(&t), &[("origin", "https://app.test")]).await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.headers
                .get("access-control-allow-origin")
                .unwrap()
                .as_deref(),
            Some("https://app.test")
        );
        assert!(a
            .headers
            .get("access-control-expose-headers")
            .unwrap()
            .unwrap()
            .contains("x-correlation-id"));
        for origin in [
            "https://evil.test",
            "https://app.test.evil.test",
            "http://app.test",
        ] {
            let a = objects(&b, Some(&t), &[("origin", origin)]).await;
            assert_eq!(
                (a.status, code(&a).as_str()),
                (403, "BROKER.CORS.ORIGIN_NOT_ALLOWED"),
                "{origin}"
            );
            assert_eq!(a.headers.get("access-control-allow-origin").unwrap(), None);
        }
        // Same origin as the broker itself.
        let a = objects(&b, Some(&t), &[("origin", "https://broker.test")]).await;
        assert_eq!(a.status, 200);
    } else {
        let a = call(&b, probe).await;
        assert_eq!(a.status, 204);
        assert_eq!(a.headers.get("access-control-allow-origin").unwrap(), None);
    }
}

#[wasm_bindgen_test]
async fn the_rate_limit_is_per_subject() {
    let up = upstream(None);
    let b = broker(options(
        &up,
        r#"{"policy": {"rateLimit": {"requests": 2, "perSeconds": 60}}}"#,
    ));
    let (alice, bob) = (ticket("alice", ""), ticket("bob", ""));
    for _ in 0..2 {
        assert_eq!(objects(&b, Some(&alice), &[]).await.status, 200);
    }
    let a = objects(&b, Some(&alice), &[]).await;
    assert_eq!((a.status, code(&a).as_str()), (429, "BROKER.RATE.LIMITED"));
    assert_eq!(a.headers.get("retry-after").unwrap().as_deref(), Some("30"));
    assert_eq!(objects(&b, Some(&bob), &[]).await.status, 200);
}

#[wasm_bindgen_test]
async fn an_authorize_hook_replaces_tickets() {
    let up = upstream(None);
    let opts = options(&up, "{}");
    // The app's own session check: a cookie-like header names the user.
    let hook = Closure::<dyn FnMut(Request) -> JsValue>::new(|req: Request| {
        match req.headers().get("x-session").unwrap() {
            Some(user) => json(&format!(
                r#"{{"subject": "{user}", "objects": ["orders"]}}"#
            )),
            None => JsValue::NULL,
        }
    });
    set(&opts, "authorize", hook.as_ref());
    let b = broker(opts);
    let a = post(
        &b,
        "/import-jobs",
        None,
        Some(CREATE),
        &[("x-session", "carol")],
    )
    .await;
    assert_eq!(
        code(&a),
        "BROKER.POLICY.OBJECT_NOT_ALLOWED",
        "the grant narrows: {}",
        a.text
    );
    let orders = r#"{"objectName": "orders", "fileName": "o.csv", "fileSize": 10}"#;
    let a = post(
        &b,
        "/import-jobs",
        None,
        Some(orders),
        &[("x-session", "carol")],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    // null: the ticket decides.
    let a = objects(&b, None, &[]).await;
    assert_eq!(code(&a), "BROKER.TICKET.MISSING");
    let a = objects(&b, Some(&ticket("dan", "")), &[]).await;
    assert_eq!(a.status, 200);
}

#[wasm_bindgen_test]
fn options_and_claims_are_checked() {
    let bad = [
        (r#"{}"#, "apiBaseUrl is required"),
        (
            r#"{"apiBaseUrl": "ftp://x", "ticketSecret": "0123456789abcdef0123456789abcdef", "token": "t"}"#,
            "http(s) URL",
        ),
        (
            r#"{"apiBaseUrl": "http://x", "ticketSecret": "short", "token": "t"}"#,
            "at least 32",
        ),
        (
            r#"{"apiBaseUrl": "http://x", "ticketSecret": "0123456789abcdef0123456789abcdef"}"#,
            "token",
        ),
        (
            r#"{"apiBaseUrl": "http://x", "ticketSecret": "0123456789abcdef0123456789abcdef", "token": "t", "allowedOrigins": ["*"]}"#,
            "wildcard",
        ),
        (
            r#"{"apiBaseUrl": "http://x", "ticketSecret": "0123456789abcdef0123456789abcdef", "token": "t", "allowedOrigins": ["https://a.test/"]}"#,
            "not an origin",
        ),
        (
            r#"{"apiBaseUrl": "http://x", "ticketSecret": "0123456789abcdef0123456789abcdef", "token": "t", "oauth": {"tokenUrl": "http://x/t"}}"#,
            "oauth.clientId",
        ),
        (
            r#"{"apiBaseUrl": "http://x", "ticketSecret": "0123456789abcdef0123456789abcdef", "token": "t", "policy": {"maxFileSize": -1}}"#,
            "maxFileSize",
        ),
        (
            r#"{"apiBaseUrl": "http://x", "ticketSecret": "0123456789abcdef0123456789abcdef", "token": "t", "basePath": "api"}"#,
            "basePath",
        ),
        (
            r#"{"apiBaseUrl": "http://u:p@x", "ticketSecret": "0123456789abcdef0123456789abcdef", "token": "t"}"#,
            "credentials",
        ),
        (
            r#"{"apiBaseUrl": "http://x", "ticketSecret": "0123456789abcdef0123456789abcdef", "token": "t", "ticketAudience": ""}"#,
            "ticketAudience",
        ),
    ];
    for (opts, want) in bad {
        let e = create_broker(json(opts))
            .err()
            .unwrap_or_else(|| panic!("accepted {opts}"));
        assert!(e.is_instance_of::<js_sys::TypeError>());
        assert!(describe(&e).contains(want), "{opts}: {}", describe(&e));
    }
    for (claims, want) in [
        (r#"{}"#, "subject is required"),
        (r#"{"subject": ""}"#, "subject must be"),
        (r#"{"subject": "a", "ttlSeconds": 0}"#, "ttlSeconds"),
        (r#"{"subject": "a", "ttlSeconds": 1.5}"#, "ttlSeconds"),
        (r#"{"subject": "a", "objects": "profiles"}"#, "objects"),
    ] {
        let e = mint_upload_ticket(JsValue::from_str(SECRET), json(claims)).unwrap_err();
        assert!(describe(&e).contains(want), "{claims}: {}", describe(&e));
    }
    let e =
        mint_upload_ticket(JsValue::from_str("short"), json(r#"{"subject": "a"}"#)).unwrap_err();
    assert!(describe(&e).contains("at least 32"));
}
