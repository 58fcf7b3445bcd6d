//! A whole import through the wasm client against the real emulator:
//! create → upload (a plain `fetch` PUT with the job's headers) → mapping →
//! start → `waitForCompletion` → `errors()` → `errorRows`, and the error
//! rows' streaming under adverse conditions (one-byte chunks, an expired
//! URL, a download that breaks off, an early `break`, an abort).
//!
//! Runs in Node, headless Chromium and a dedicated worker like
//! `tests/client.rs`; the emulator's URL arrives at compile time in
//! `IMPORT_EMULATOR_URL`.
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use common::{api_base, get, get_str, global_fetch, json, ok, set, stringify};
use import_uploader::ImportClient;
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{AbortController, ReadableStream, Request, RequestInit, Response, ResponseInit};

/// The file: five rows, three valid, two rejected (row 2: a malformed
/// e-mail; row 4: points that are not an integer), with non-ASCII text in
/// the rejected rows so that streaming is tested on multi-byte characters.
const CSV: &str = "email,first_name,loyalty_points\n\
ann@example.com,Ann,10\n\
not-an-email,Zoë 東京,20\n\
bob@example.com,Bob,30\n\
cy@example.com,Renée,lots 🚀\n\
dee@example.com,Dee,40\n";

const MAPPING: &str = r#"{"sourceFields": {"email": "string", "first_name": "string", "loyalty_points": "integer"},
    "fieldMap": {"email": "email", "first_name": "first_name", "loyalty_points": "loyalty_points"}}"#;

/// PUTs `body` to the job's upload URL with the job's headers, like a user
/// without the upload engine would.
async fn put_file(job: &JsValue, body: &str) {
    let init = RequestInit::new();
    init.set_method(&get_str(job, "method").unwrap());
    let headers = web_sys::Headers::new().unwrap();
    let h = get(job, "headers");
    for key in Object::keys(h.unchecked_ref::<Object>()).iter() {
        let k = key.as_string().unwrap();
        headers.set(&k, &get_str(&h, &k).unwrap()).unwrap();
    }
    headers.set("content-type", "text/csv").unwrap();
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    let req = Request::new_with_str_and_init(&get_str(job, "uploadUrl").unwrap(), &init).unwrap();
    let resp: Response = JsFuture::from(global_fetch(&req))
        .await
        .expect("upload answered")
        .dyn_into()
        .unwrap();
    assert!(
        (200..300).contains(&resp.status()),
        "upload status {}",
        resp.status()
    );
    // What storage holds is what was sent (SHA-256 of both).
    let id = get_str(job, "jobId").unwrap();
    common::assert_read_back(&api_base(), &id, &common::blob(body.as_bytes())).await;
}

/// Runs a job on `CSV` to completion through `c`; returns its id and final
/// status.
async fn completed_job(c: &ImportClient) -> (String, JsValue) {
    let size = CSV.len();
    let job = ok(c.create_job(
        json(&format!(
            r#"{{"objectName": "profiles", "fileName": "lifecycle.csv", "fileSize": {size}}}"#
        )),
        JsValue::UNDEFINED,
    ))
    .await;
    let id = get_str(&job, "jobId").unwrap();
    put_file(&job, CSV).await;
    ok(c.set_mapping(id.clone(), json(MAPPING), JsValue::UNDEFINED)).await;
    let started = ok(c.start(id.clone(), JsValue::UNDEFINED, JsValue::UNDEFINED)).await;
    assert_eq!(get_str(&started, "status").as_deref(), Some("started"));
    assert_eq!(get_str(&started, "jobId").as_ref(), Some(&id));
    let status =
        ok(c.wait_for_completion(id.clone(), json(r#"{"pollStartMs": 20, "pollCapMs": 100}"#)))
            .await;
    (id, status)
}

/// Drains an `errorRows` iterator through its JS protocol
/// (`[Symbol.asyncIterator]()` then `next()` until `done`).
async fn collect(rows: JsValue) -> Result<Vec<JsValue>, JsValue> {
    let iter_fn: Function = Reflect::get(&rows, &js_sys::Symbol::async_iterator())?
        .dyn_into()
        .expect("errorRows is async iterable");
    let iter = iter_fn.call0(&rows)?;
    let next: Function = get(&iter, "next").dyn_into().unwrap();
    let mut out = Vec::new();
    loop {
        let r = JsFuture::from(next.call0(&iter)?.unchecked_into::<Promise>()).await?;
        if get(&r, "done").as_bool() == Some(true) {
            assert!(get(&r, "value").is_undefined());
            return Ok(out);
        }
        out.push(get(&r, "value"));
    }
}

/// `(rowNumber, first_name, code)` of each row.
fn summary(rows: &[JsValue]) -> Vec<(u64, String, String)> {
    rows.iter()
        .map(|r| {
            (
                get(r, "rowNumber").as_f64().unwrap() as u64,
                get_str(&get(r, "sourceRow"), "first_name").unwrap_or_default(),
                get_str(r, "code").unwrap_or_default(),
            )
        })
        .collect()
}

fn expected_rows() -> Vec<(u64, String, String)> {
    vec![
        (2, "Zoë 東京".into(), "VALIDATION_TYPE_MISMATCH".into()),
        (4, "Renée".into(), "VALIDATION_TYPE_MISMATCH".into()),
    ]
}

/// Whether `req` is an API call (as opposed to the error file download).
fn is_api(req: &Request) -> bool {
    req.url().contains("/public/v1/")
}

/// A client whose `fetch` lets `hook` answer error-file downloads (call
/// index among downloads, request); API calls go to the emulator.
struct Hooked {
    client: ImportClient,
    api_calls: Rc<RefCell<Vec<(String, String)>>>,
    downloads: Rc<Cell<usize>>,
    _closure: Closure<dyn FnMut(Request) -> Promise>,
}

fn hooked(mut hook: impl FnMut(usize, Request) -> Promise + 'static) -> Hooked {
    let api_calls = Rc::new(RefCell::new(Vec::new()));
    let downloads = Rc::new(Cell::new(0));
    let (a, d) = (api_calls.clone(), downloads.clone());
    let closure = Closure::new(move |req: Request| {
        if is_api(&req) {
            a.borrow_mut().push((req.method(), req.url()));
            return global_fetch(&req);
        }
        assert!(
            req.headers().get("authorization").unwrap().is_none(),
            "no bearer token on the error file download"
        );
        let i = d.get();
        d.set(i + 1);
        hook(i, req)
    });
    let options = json(&format!(
        r#"{{"baseUrl": "{}", "token": "dev-write"}}"#,
        api_base()
    ));
    set(&options, "fetch", closure.as_ref());
    set(
        &options,
        "retry",
        &json(r#"{"maxAttempts": 4, "baseDelayMs": 5, "maxDelayMs": 20}"#),
    );
    Hooked {
        client: ImportClient::new(options).unwrap(),
        api_calls,
        downloads,
        _closure: closure,
    }
}

impl Hooked {
    fn errors_calls(&self) -> usize {
        self.api_calls
            .borrow()
            .iter()
            .filter(|(m, u)| m == "GET" && u.ends_with("/errors"))
            .count()
    }
}

/// The real error file's bytes.
async fn real_bytes(req: &Request) -> Vec<u8> {
    let resp: Response = JsFuture::from(global_fetch(req))
        .await
        .unwrap()
        .dyn_into()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let buf = JsFuture::from(resp.array_buffer().unwrap()).await.unwrap();
    Uint8Array::new(&buf).to_vec()
}

/// A `Response` whose body delivers `chunks` one by one, then ends, or
/// fails with a network-style error when `fail_at_end`.
fn chunked_response(chunks: Vec<Vec<u8>>, fail_at_end: bool) -> Response {
    let source = Object::new();
    let start = Closure::once_into_js(move |controller: JsValue| {
        let enqueue: Function = get(&controller, "enqueue").dyn_into().unwrap();
        for c in &chunks {
            let arr = Uint8Array::from(c.as_slice());
            enqueue.call1(&controller, &arr).unwrap();
        }
        if fail_at_end {
            let error: Function = get(&controller, "error").dyn_into().unwrap();
            let e: JsValue = js_sys::TypeError::new("simulated: connection reset").into();
            error.call1(&controller, &e).unwrap();
        } else {
            let close: Function = get(&controller, "close").dyn_into().unwrap();
            close.call0(&controller).unwrap();
        }
    });
    set(&source, "start", &start);
    let stream = ReadableStream::new_with_underlying_source(&source).unwrap();
    Response::new_with_opt_readable_stream(Some(&stream)).unwrap()
}

// ---------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_job_runs_to_completion_and_its_rejected_rows_stream() {
    let c = ImportClient::new(json(&format!(
        r#"{{"baseUrl": "{}", "token": "dev-write"}}"#,
        api_base()
    )))
    .unwrap();
    let size = CSV.len();
    let job = ok(c.create_job(
        json(&format!(
            r#"{{"objectName": "profiles", "fileName": "lifecycle.csv", "fileSize": {size}}}"#
        )),
        JsValue::UNDEFINED,
    ))
    .await;
    let id = get_str(&job, "jobId").unwrap();
    put_file(&job, CSV).await;
    ok(c.set_mapping(id.clone(), json(MAPPING), JsValue::UNDEFINED)).await;
    ok(c.start(id.clone(), json("{}"), JsValue::UNDEFINED)).await;

    // Every status read reaches both onStatus and the `status` event.
    let by_callback = Rc::new(RefCell::new(Vec::<String>::new()));
    let cb = by_callback.clone();
    let on_status = Closure::<dyn FnMut(JsValue)>::new(move |st: JsValue| {
        cb.borrow_mut().push(get_str(&st, "state").unwrap());
    });
    let by_event = Rc::new(RefCell::new(Vec::<String>::new()));
    let ev = by_event.clone();
    let listener =
        Closure::<dyn FnMut(web_sys::CustomEvent)>::new(move |e: web_sys::CustomEvent| {
            assert_eq!(e.type_(), "status");
            ev.borrow_mut().push(get_str(&e.detail(), "state").unwrap());
        });
    let events = import_uploader::events::new_event_target();
    events
        .add_event_listener_with_callback("status", listener.as_ref().unchecked_ref())
        .unwrap();
    let opts = json(r#"{"pollStartMs": 20, "pollCapMs": 100}"#);
    set(&opts, "onStatus", on_status.as_ref());
    set(&opts, "events", &events);
    let status = ok(c.wait_for_completion(id.clone(), opts)).await;

    assert_eq!(
        get_str(&status, "state").as_deref(),
        Some("completed"),
        "{}",
        stringify(&status)
    );
    assert_eq!(get(&status, "readRows").as_f64(), Some(5.0));
    assert_eq!(get(&status, "validRows").as_f64(), Some(3.0));
    assert_eq!(get(&status, "invalidRows").as_f64(), Some(2.0));
    assert_eq!(
        get(&get(&status, "errorSummary"), "VALIDATION_TYPE_MISMATCH").as_f64(),
        Some(2.0),
        "{}",
        stringify(&status)
    );
    let states = by_callback.borrow().clone();
    assert!(!states.is_empty());
    assert_eq!(states.last().map(String::as_str), Some("completed"));
    assert_eq!(*by_event.borrow(), states, "events mirror the callback");
    assert!(
        states
            .iter()
            .all(|s| s == "ready" || s == "running" || s == "completed"),
        "{states:?}"
    );

    let errors = ok(c.errors(id.clone(), JsValue::UNDEFINED)).await;
    assert_eq!(get(&errors, "hasErrors").as_bool(), Some(true));
    assert_eq!(get(&errors, "errorCount").as_f64(), Some(2.0));
    assert!(get_str(&errors, "errorFileUrl").is_some());
    assert!(get_str(&errors, "expiresAt").is_some());

    let rows = collect(c.error_rows(id.clone(), JsValue::UNDEFINED).unwrap())
        .await
        .unwrap();
    assert_eq!(summary(&rows), expected_rows());
    let first = &rows[0];
    assert_eq!(
        get_str(&get(first, "sourceRow"), "email").as_deref(),
        Some("not-an-email")
    );
    assert!(get_str(first, "error").is_some_and(|e| !e.is_empty()));
}

#[wasm_bindgen_test]
async fn error_rows_are_decoded_across_one_byte_chunks() {
    let h = hooked(|_, req| {
        future_to_promise(async move {
            let bytes = real_bytes(&req).await;
            let chunks = bytes.iter().map(|b| vec![*b]).collect();
            Ok(chunked_response(chunks, false).into())
        })
    });
    let (id, status) = completed_job(&h.client).await;
    assert_eq!(get(&status, "invalidRows").as_f64(), Some(2.0));
    let rows = collect(h.client.error_rows(id, JsValue::UNDEFINED).unwrap())
        .await
        .unwrap();
    assert_eq!(summary(&rows), expected_rows());
    assert_eq!(h.downloads.get(), 1);
}

#[wasm_bindgen_test]
async fn an_expired_error_file_url_is_fetched_again() {
    // The first download is refused as storage refuses an expired URL.
    let h = hooked(|i, req| {
        if i == 0 {
            let init = ResponseInit::new();
            init.set_status(403);
            let r =
                Response::new_with_opt_str_and_init(Some("AuthenticationFailed"), &init).unwrap();
            return Promise::resolve(&JsValue::from(r));
        }
        global_fetch(&req)
    });
    let (id, _) = completed_job(&h.client).await;
    let rows = collect(h.client.error_rows(id, JsValue::UNDEFINED).unwrap())
        .await
        .unwrap();
    assert_eq!(summary(&rows), expected_rows());
    assert_eq!(h.downloads.get(), 2);
    assert_eq!(h.errors_calls(), 2, "errors() was asked for a fresh URL");
}

#[wasm_bindgen_test]
async fn a_url_refused_again_after_a_refresh_is_reported_as_expired() {
    let h = hooked(|_, _| {
        let init = ResponseInit::new();
        init.set_status(403);
        Promise::resolve(&JsValue::from(
            Response::new_with_opt_str_and_init(None, &init).unwrap(),
        ))
    });
    let (id, _) = completed_job(&h.client).await;
    let err = collect(h.client.error_rows(id, JsValue::UNDEFINED).unwrap())
        .await
        .expect_err("refused twice");
    assert_eq!(get_str(&err, "name").as_deref(), Some("ImportError"));
    assert_eq!(get_str(&err, "kind").as_deref(), Some("expired"));
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("ERROR_FILE_URL_EXPIRED")
    );
    assert_eq!(get(&err, "status").as_f64(), Some(403.0));
    assert_eq!(h.downloads.get(), 2, "one refresh, not a loop");
}

#[wasm_bindgen_test]
async fn a_broken_download_resumes_after_the_last_row_delivered() {
    // The first download delivers the first row and half of the second, then
    // breaks off; the second is whole.
    let h = hooked(|i, req| {
        future_to_promise(async move {
            let bytes = real_bytes(&req).await;
            if i > 0 {
                return Ok(chunked_response(vec![bytes], false).into());
            }
            let first_newline = bytes.iter().position(|&b| b == b'\n').unwrap();
            let cut = first_newline + 1 + (bytes.len() - first_newline) / 2;
            Ok(chunked_response(vec![bytes[..cut].to_vec()], true).into())
        })
    });
    let (id, _) = completed_job(&h.client).await;
    let rows = collect(h.client.error_rows(id, JsValue::UNDEFINED).unwrap())
        .await
        .unwrap();
    assert_eq!(
        summary(&rows),
        expected_rows(),
        "each row exactly once, in order"
    );
    assert_eq!(h.downloads.get(), 2);
    assert_eq!(
        h.errors_calls(),
        1,
        "the URL was still valid: no new one asked"
    );
}

#[wasm_bindgen_test]
async fn iteration_can_stop_early_or_be_aborted_and_no_errors_means_no_rows() {
    let c = ImportClient::new(json(&format!(
        r#"{{"baseUrl": "{}", "token": "dev-write"}}"#,
        api_base()
    )))
    .unwrap();
    let (id, _) = completed_job(&c).await;

    // `return()` (what `break` calls) ends the iteration.
    let rows = c.error_rows(id.clone(), JsValue::UNDEFINED).unwrap();
    let call = |name: &str| -> Promise {
        let f: Function = get(&rows, name).dyn_into().unwrap();
        f.call0(&rows).unwrap().unchecked_into()
    };
    let first = JsFuture::from(call("next")).await.unwrap();
    assert_eq!(get(&get(&first, "value"), "rowNumber").as_f64(), Some(2.0));
    let r = JsFuture::from(call("return")).await.unwrap();
    assert_eq!(get(&r, "done").as_bool(), Some(true));
    let after = JsFuture::from(call("next")).await.unwrap();
    assert_eq!(get(&after, "done").as_bool(), Some(true));

    // An aborted signal rejects with kind `aborted`.
    let controller = AbortController::new().unwrap();
    controller.abort();
    let opts = Object::new();
    set(&opts, "signal", &controller.signal());
    let err = collect(c.error_rows(id, opts.into()).unwrap())
        .await
        .expect_err("aborted");
    assert_eq!(get_str(&err, "kind").as_deref(), Some("aborted"));

    // A job without rejected rows yields nothing.
    let job = ok(c.create_job(
        json(r#"{"objectName": "profiles", "fileName": "clean.csv", "fileSize": 10}"#),
        JsValue::UNDEFINED,
    ))
    .await;
    let rows = collect(
        c.error_rows(get_str(&job, "jobId").unwrap(), JsValue::UNDEFINED)
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(rows.is_empty());
}

fn csv_blob() -> web_sys::Blob {
    let parts = js_sys::Array::of1(&JsValue::from_str(CSV));
    web_sys::Blob::new_with_str_sequence(&parts).unwrap()
}

#[wasm_bindgen_test]
async fn import_file_runs_the_whole_lifecycle_in_one_call() {
    let c = ImportClient::new(json(&format!(
        r#"{{"baseUrl": "{}", "token": "dev-write"}}"#,
        api_base()
    )))
    .unwrap();
    let seen = Rc::new(RefCell::new(Vec::<String>::new()));
    let s = seen.clone();
    let listener =
        Closure::<dyn FnMut(web_sys::CustomEvent)>::new(move |e: web_sys::CustomEvent| {
            s.borrow_mut().push(e.type_());
        });
    let events = import_uploader::events::new_event_target();
    for name in ["job", "progress", "status"] {
        events
            .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
            .unwrap();
    }
    let progress = Rc::new(Cell::new(0u32));
    let p = progress.clone();
    let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |_| p.set(p.get() + 1));
    let statuses = Rc::new(Cell::new(0u32));
    let st = statuses.clone();
    let on_status = Closure::<dyn FnMut(JsValue)>::new(move |_| st.set(st.get() + 1));

    let opts = json(&format!(
        r#"{{"objectName": "profiles", "fileName": "one-call.csv", "mapping": {MAPPING},
            "createOptions": {{"autoProfileAfterImport": false}},
            "poll": {{"pollStartMs": 20, "pollCapMs": 100}}}}"#
    ));
    set(&opts, "events", &events);
    set(&opts, "onProgress", on_progress.as_ref());
    set(&opts, "onStatus", on_status.as_ref());
    let status = ok(c.import_file(csv_blob().into(), opts)).await;
    assert_eq!(
        get_str(&status, "state").as_deref(),
        Some("completed"),
        "{}",
        stringify(&status)
    );
    assert_eq!(get(&status, "readRows").as_f64(), Some(5.0));
    assert_eq!(get(&status, "invalidRows").as_f64(), Some(2.0));
    let id = get_str(&status, "jobId").expect("jobId");
    common::assert_read_back(&api_base(), &id, &csv_blob()).await;
    assert!(progress.get() >= 1, "upload progress reported");
    assert!(statuses.get() >= 1, "statuses reported");
    let seen = seen.borrow().clone();
    assert_eq!(seen.first().map(String::as_str), Some("job"));
    assert!(seen.iter().any(|e| e == "progress"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("status"));
    let rows = collect(c.error_rows(id, JsValue::UNDEFINED).unwrap())
        .await
        .unwrap();
    assert_eq!(summary(&rows), expected_rows());
}

#[wasm_bindgen_test]
async fn import_file_checks_everything_before_sending() {
    let h = hooked(|_, req| global_fetch(&req));
    // A mapping that breaks a rule: nothing is created.
    let err = JsFuture::from(h.client.import_file(
        csv_blob().into(),
        json(
            r#"{"objectName": "profiles", "fileName": "x.csv",
                 "mapping": {"sourceFields": {"email": "string"}, "fieldMap": {"mail": "email"}}}"#,
        ),
    ))
    .await
    .expect_err("refused");
    assert_eq!(get_str(&err, "kind").as_deref(), Some("validation"));
    assert!(get(&err, "jobId").is_undefined(), "no job was created");
    // A Blob has no name: fileName is required.
    let err = JsFuture::from(h.client.import_file(
        csv_blob().into(),
        json(&format!(
            r#"{{"objectName": "profiles", "mapping": {MAPPING}}}"#
        )),
    ))
    .await
    .expect_err("refused");
    assert_eq!(get_str(&err, "field").as_deref(), Some("fileName"));
    assert!(h.api_calls.borrow().is_empty(), "nothing was sent");

    // A failure after the create names the job: here the upload is aborted.
    let controller = AbortController::new().unwrap();
    let opts = json(&format!(
        r#"{{"objectName": "profiles", "fileName": "x.csv", "mapping": {MAPPING}}}"#
    ));
    set(&opts, "signal", &controller.signal());
    let ctl = controller.clone();
    let on_job = Closure::<dyn FnMut(JsValue)>::new(move |_| ctl.abort());
    let events = import_uploader::events::new_event_target();
    events
        .add_event_listener_with_callback("job", on_job.as_ref().unchecked_ref())
        .unwrap();
    set(&opts, "events", &events);
    let err = JsFuture::from(h.client.import_file(csv_blob().into(), opts))
        .await
        .expect_err("aborted");
    assert_eq!(get_str(&err, "kind").as_deref(), Some("aborted"));
    let id = get_str(&err, "jobId").unwrap_or_default();
    assert!(id.starts_with("imp_"), "the created job is named");
    common::assert_nothing_committed(&api_base(), &id).await;
}

#[wasm_bindgen_test]
async fn a_start_whose_answer_was_lost_is_replayed_not_refused() {
    // The first start reaches the API (the job starts) but its answer is
    // lost; the retry carries the same Idempotency-Key and gets the first
    // answer back instead of a 409 (the job is no longer `ready`).
    let keys = Rc::new(RefCell::new(Vec::<Option<String>>::new()));
    let k = keys.clone();
    let closure = Closure::<dyn FnMut(Request) -> Promise>::new(move |req: Request| {
        if !req.url().ends_with("/start") {
            return global_fetch(&req);
        }
        k.borrow_mut()
            .push(req.headers().get("idempotency-key").unwrap());
        let first = k.borrow().len() == 1;
        future_to_promise(async move {
            let resp = JsFuture::from(global_fetch(&req)).await?;
            if first {
                let r: &Response = resp.unchecked_ref();
                assert_eq!(r.status(), 200, "the first start went through");
                return Err(js_sys::TypeError::new("simulated: connection reset").into());
            }
            Ok(resp)
        })
    });
    let options = json(&format!(
        r#"{{"baseUrl": "{}", "token": "dev-write", "retry": {{"baseDelayMs": 5}}}}"#,
        api_base()
    ));
    set(&options, "fetch", closure.as_ref());
    let c = ImportClient::new(options).unwrap();
    let (id, status) = completed_job(&c).await;
    assert_eq!(get_str(&status, "state").as_deref(), Some("completed"));
    let keys = keys.borrow();
    assert_eq!(keys.len(), 2, "one retry");
    assert!(keys[0].is_some());
    assert_eq!(keys[0], keys[1], "the retry reused the key");
    assert!(id.starts_with("imp_"));
}
