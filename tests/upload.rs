//! The upload engine against the real emulator, in every storage mode, in
//! whichever runtime `wasm-bindgen-test-runner` picks (Node by default,
//! headless Chromium with `WASM_BINDGEN_USE_BROWSER=1`, a dedicated worker
//! with `WASM_BINDGEN_USE_DEDICATED_WORKER=1`; `cargo xtask test` runs all
//! three).
//!
//! Emulator URLs arrive at compile time: `IMPORT_EMULATOR_URL` (Azure Block
//! Blob storage), `IMPORT_EMULATOR_URL_S3`, `IMPORT_EMULATOR_URL_GCS`, and
//! `IMPORT_EMULATOR_URL_FAULTS` (Azure storage answering 10 % of requests
//! with 503 and dropping 5 %), `IMPORT_EMULATOR_URL_AZURITE` (real SAS URLs
//! of an Azurite, which checks signatures, `Content-MD5` and block lists
//! itself).
//!
//! Committed bytes are checked three ways: every upload is read back
//! through the emulator's `GET /public/v1/import-jobs/{jobId}/upload`
//! (an emulator extension that streams what storage holds, from Azurite
//! too) and compared with the source Blob by length and SHA-256
//! (`crypto.subtle.digest`); what the emulator reports about the committed
//! object (the MD5 it computed: GCS `md5Hash`, S3 and Put Blob MD5s, and
//! the emulator's Azure ETag, `0x` + the first 8 bytes of that MD5) must
//! match; and `start`, which the API refuses with 409
//! `CDP_ETL.JOB.UPLOAD_INCOMPLETE` unless the committed size equals the
//! declared one, must succeed. A CSV uploaded in many parts is also
//! imported row for row. Every storage request goes through a
//! `fetch` wrapper that fails the test if it carries an `Authorization`
//! header.
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use common::{
    assert_nothing_committed, assert_read_back, blob, get, get_num, get_str, global_fetch, json,
    set, stringify, TOKEN,
};
use import_uploader::upload::upload_js;
use import_uploader::{ImportClient, Upload};
use js_sys::{Array, Function, Promise, Reflect, Uint8Array, JSON};
use md5::{Digest, Md5};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{Blob, Request, RequestInit, Response};

const KIB: usize = 1024;
/// The part size of these tests: the smallest GCS chunk, so "many parts"
/// stays small.
const PART: usize = 256 * KIB;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Azure,
    S3,
    Gcs,
    Faults,
    /// Real SAS URLs of an Azurite.
    Azurite,
}

fn root(mode: Mode) -> String {
    let url = match mode {
        Mode::Azure => option_env!("IMPORT_EMULATOR_URL"),
        Mode::S3 => option_env!("IMPORT_EMULATOR_URL_S3"),
        Mode::Gcs => option_env!("IMPORT_EMULATOR_URL_GCS"),
        Mode::Faults => option_env!("IMPORT_EMULATOR_URL_FAULTS"),
        Mode::Azurite => option_env!("IMPORT_EMULATOR_URL_AZURITE"),
    };
    // A run without the emulators must fail loudly, not skip.
    let Some(url) = url else {
        panic!(
            "the emulator URL for {mode:?} storage was not set when these tests were compiled; \
             run them with `cargo xtask test`"
        );
    };
    url.trim_end_matches('/').to_string()
}

fn api(mode: Mode) -> String {
    format!("{}/public/v1", root(mode))
}

/// Deterministic pseudo-random bytes (xorshift), different per `seed`.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// An API call with the bearer token; returns (status, parsed body).
async fn api_call(mode: Mode, method: &str, path: &str, body: Option<&str>) -> (u16, JsValue) {
    let init = RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().unwrap();
    headers
        .set("authorization", &format!("Bearer {TOKEN}"))
        .unwrap();
    if let Some(b) = body {
        headers.set("content-type", "application/json").unwrap();
        init.set_body(&JsValue::from_str(b));
    }
    init.set_headers(&headers);
    let req = Request::new_with_str_and_init(&format!("{}{path}", api(mode)), &init).unwrap();
    let resp: Response = JsFuture::from(global_fetch(&req))
        .await
        .expect("the API answers")
        .dyn_into()
        .unwrap();
    let status = resp.status();
    let text = JsFuture::from(resp.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap_or_default();
    (status, JSON::parse(&text).unwrap_or(JsValue::NULL))
}

/// Creates a job for a file of `size` bytes (at least 1, as the API
/// requires) and returns the create response's `data`.
async fn create_job(mode: Mode, size: usize) -> JsValue {
    let body = format!(
        r#"{{"objectName": "profiles", "fileName": "upload-test.csv", "fileSize": {}}}"#,
        size.max(1)
    );
    let (status, resp) = api_call(mode, "POST", "/import-jobs", Some(&body)).await;
    assert_eq!(status, 201, "create job: {}", stringify(&resp));
    get(&resp, "data")
}

/// Sets a mapping and starts the job: the status of `start` and its error
/// code, if any.
async fn start_job(mode: Mode, job: &JsValue) -> (u16, Option<String>) {
    let id = get_str(job, "jobId").unwrap();
    let mapping = r#"{"sourceFields": {"email": "string"}, "fieldMap": {"email": "email"}}"#;
    let (s, b) = api_call(
        mode,
        "POST",
        &format!("/import-jobs/{id}/mapping"),
        Some(mapping),
    )
    .await;
    assert_eq!(s, 200, "mapping: {}", stringify(&b));
    let (s, b) = api_call(
        mode,
        "POST",
        &format!("/import-jobs/{id}/start"),
        Some("{}"),
    )
    .await;
    let code = get(&get(&b, "error"), "code").as_string();
    (s, code)
}

/// Storage requests seen: method, URL, `x-ms-blob-type` header.
type RequestLog = Rc<RefCell<Vec<(String, String, Option<String>)>>>;
/// A `part` event counter and its listener (keep it alive).
type PartCounter = (Rc<Cell<u32>>, Closure<dyn FnMut(JsValue)>);

/// A `fetch` for storage requests that records every request and fails
/// the test if one carries an `Authorization` header.
struct StorageFetch {
    log: RequestLog,
    leaks: Rc<Cell<u32>>,
    closure: Closure<dyn FnMut(Request) -> Promise>,
}

impl StorageFetch {
    fn new() -> Self {
        let log: RequestLog = Rc::default();
        let leaks = Rc::new(Cell::new(0));
        let (l, k) = (log.clone(), leaks.clone());
        let closure = Closure::new(move |req: Request| {
            let h = req.headers();
            if h.get("authorization").ok().flatten().is_some() {
                k.set(k.get() + 1);
            }
            l.borrow_mut().push((
                req.method(),
                req.url(),
                h.get("x-ms-blob-type").ok().flatten(),
            ));
            global_fetch(&req)
        });
        StorageFetch {
            log,
            leaks,
            closure,
        }
    }

    fn function(&self) -> &JsValue {
        self.closure.as_ref()
    }

    fn count(&self) -> usize {
        self.log.borrow().len()
    }

    fn assert_no_token(&self) {
        assert!(self.count() > 0 || self.leaks.get() == 0);
        assert_eq!(
            self.leaks.get(),
            0,
            "an Authorization header reached storage"
        );
    }
}

/// Options for `upload(blob, options)` aimed at `job`'s URL.
fn standalone_options(job: &JsValue, fetch: &StorageFetch, extra: &str) -> JsValue {
    let o = json(extra);
    set(&o, "url", &get(job, "uploadUrl"));
    set(&o, "headers", &get(job, "headers"));
    set(&o, "expiresAt", &get(job, "expiresAt"));
    set(&o, "fetch", fetch.function());
    if get(&o, "partSize").is_undefined() {
        set(&o, "partSize", &JsValue::from_f64(PART as f64));
    }
    if get(&o, "retry").is_undefined() {
        set(
            &o,
            "retry",
            &json(r#"{"maxAttempts": 8, "baseDelayMs": 20, "maxDelayMs": 200}"#),
        );
    }
    o
}

async fn done(upload: &Upload) -> Result<JsValue, JsValue> {
    JsFuture::from(upload.done()).await
}

fn job_id(job: &JsValue) -> String {
    get_str(job, "jobId").expect("a jobId")
}

fn describe_err(e: &JsValue) -> String {
    format!(
        "{:?} {:?} {:?}",
        get_str(e, "kind"),
        get_str(e, "code"),
        get_str(e, "message")
    )
}

/// Checks the committed object's MD5 as the emulator reports it.
fn assert_committed(mode: Mode, result: &JsValue, data: &[u8]) {
    let want = md5(data);
    assert_eq!(get_num(result, "size") as usize, data.len());
    match (mode, get_str(result, "storageMd5")) {
        (_, Some(theirs)) => assert_eq!(theirs, b64(&want), "storage MD5 of {} bytes", data.len()),
        // Azurite's block-list ETag is opaque: the size check of `start`
        // and the import test vouch for those bytes.
        (Mode::Azurite, None) => {}
        (Mode::Azure | Mode::Faults, None) => {
            // Put Block List: the emulator's ETag is 0x + the first 8
            // bytes of the committed blob's MD5.
            let etag = get_str(result, "etag").expect("an ETag");
            let hex: String = want[..8].iter().map(|b| format!("{b:02X}")).collect();
            assert_eq!(etag.trim_matches('"'), format!("0x{hex}"), "Azure ETag");
        }
        (m, None) => panic!("{m:?} storage reported no MD5: {}", stringify(result)),
    }
}

/// Uploads `size` bytes with the standalone engine and checks them.
async fn round_trip(mode: Mode, size: usize, seed: u64) -> JsValue {
    round_trip_with(mode, size, seed, PART).await
}

/// [`round_trip`] asking for parts of `part_size` bytes (the plan may raise
/// it); the plan's part size is the result's `partSize`.
async fn round_trip_with(mode: Mode, size: usize, seed: u64, part_size: usize) -> JsValue {
    let data = bytes(size, seed);
    let source = blob(&data);
    let job = create_job(mode, size).await;
    let fetch = StorageFetch::new();
    let progress: Rc<RefCell<Vec<JsValue>>> = Rc::default();
    let p = progress.clone();
    let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| p.borrow_mut().push(v));
    let opts = standalone_options(&job, &fetch, &format!(r#"{{"partSize": {part_size}}}"#));
    set(&opts, "onProgress", on_progress.as_ref());
    let up = upload_js(source.clone().into(), opts).expect("valid options");
    let result = done(&up)
        .await
        .unwrap_or_else(|e| panic!("{mode:?} upload of {size} B failed: {}", describe_err(&e)));
    fetch.assert_no_token();
    assert_committed(mode, &result, &data);
    assert_read_back(&api(mode), &job_id(&job), &source).await;

    let parts = get_num(&result, "parts") as usize;
    let planned_part = get_num(&result, "partSize") as usize;
    let expected_parts = match mode {
        Mode::S3 => 1,
        _ if size <= planned_part => 1,
        _ => size.div_ceil(planned_part),
    };
    assert_eq!(parts, expected_parts, "parts of {size} B");
    // Requests: one per part, plus the block list for Azure blocks.
    let expected_requests = match mode {
        Mode::Azure | Mode::Azurite if parts > 1 => parts + 1,
        _ => parts,
    };
    if mode == Mode::Faults {
        // Injected 503s and resets add attempts; the engine counts them all.
        assert_eq!(get_num(&result, "requests") as usize, fetch.count());
        assert!(fetch.count() >= expected_requests, "requests for {size} B");
    } else {
        assert_eq!(get_num(&result, "retries"), 0.0, "{mode:?} retries");
        assert_eq!(fetch.count(), expected_requests, "requests for {size} B");
    }
    if matches!(mode, Mode::Azure | Mode::Azurite) && parts > 1 {
        let log = fetch.log.borrow();
        let (_, last_url, last_type) = log.last().unwrap();
        assert!(
            last_url.contains("comp=blocklist"),
            "the block list comes last"
        );
        assert_eq!(last_type, &None, "no x-ms-blob-type on Put Block List");
        assert!(log[..parts]
            .iter()
            .all(|(_, u, t)| u.contains("comp=block&") && t.as_deref() == Some("BlockBlob")));
    }

    let progress = progress.take();
    let last = progress.last().expect("progress reported");
    assert_eq!(get_str(last, "phase").as_deref(), Some("complete"));
    assert_eq!(get_num(last, "loaded") as usize, size);
    assert_eq!(get_num(last, "total") as usize, size);
    assert_eq!(get_num(last, "partsDone") as usize, parts);
    let mut prev = -1.0;
    for p in progress.iter() {
        let done = get_num(p, "partsDone");
        assert!(done >= prev, "partsDone never goes back");
        prev = done;
    }

    if size > 0 {
        assert_eq!(
            start_job(mode, &job).await,
            (200, None),
            "start after {size} B"
        );
    }
    result
}

/// The sizes every mode is tested with: empty, 1 byte, exactly one part,
/// one byte over, and many parts.
const SIZES: [usize; 5] = [0, 1, PART, PART + 1, 5 * PART + 17];

#[wasm_bindgen_test]
async fn azure_blocks_every_size() {
    for (i, size) in SIZES.into_iter().enumerate() {
        let r = round_trip(Mode::Azure, size, i as u64 + 1).await;
        assert_eq!(get_str(&r, "protocol").as_deref(), Some("azure-blocks"));
    }
}

#[wasm_bindgen_test]
async fn azurite_every_size() {
    for (i, size) in SIZES.into_iter().enumerate() {
        let r = round_trip(Mode::Azurite, size, i as u64 + 201).await;
        assert_eq!(get_str(&r, "protocol").as_deref(), Some("azure-blocks"));
    }
}

#[wasm_bindgen_test]
async fn single_put_every_size() {
    for (i, size) in SIZES.into_iter().enumerate() {
        let r = round_trip(Mode::S3, size, i as u64 + 11).await;
        assert_eq!(get_str(&r, "protocol").as_deref(), Some("single-put"));
    }
}

#[wasm_bindgen_test]
async fn gcs_resumable_every_size() {
    for (i, size) in SIZES.into_iter().enumerate() {
        let r = round_trip(Mode::Gcs, size, i as u64 + 21).await;
        assert_eq!(get_str(&r, "protocol").as_deref(), Some("gcs-resumable"));
    }
}

#[wasm_bindgen_test]
async fn faulty_storage_every_size() {
    for (i, size) in SIZES.into_iter().enumerate() {
        let r = round_trip(Mode::Faults, size, i as u64 + 231).await;
        assert_eq!(get_str(&r, "protocol").as_deref(), Some("azure-blocks"));
    }
}

/// A file for which 64-byte parts would be more than 50,000.
const RAISED_SIZE: usize = 50_000 * 64 + 1;

#[wasm_bindgen_test]
async fn a_part_size_too_small_is_raised_in_every_mode() {
    // Asked for 64-byte parts: past 50,000 parts the plan raises the part
    // size to whole MiB; GCS chunks are first rounded up to 256 KiB, which
    // already fits; a single PUT is one request whatever the part size.
    let cases = [
        (Mode::Azure, 1024 * KIB, 4),
        (Mode::Azurite, 1024 * KIB, 4),
        (Mode::Faults, 1024 * KIB, 4),
        (Mode::Gcs, 256 * KIB, RAISED_SIZE.div_ceil(256 * KIB)),
        (Mode::S3, RAISED_SIZE, 1),
    ];
    for (i, (mode, part, parts)) in cases.into_iter().enumerate() {
        let r = round_trip_with(mode, RAISED_SIZE, 301 + i as u64, 64).await;
        assert_eq!(get_num(&r, "partSize") as usize, part, "{mode:?} partSize");
        assert_eq!(get_num(&r, "parts") as usize, parts, "{mode:?} parts");
    }
}

#[wasm_bindgen_test]
async fn many_parts_survive_storage_faults() {
    let mut retries = 0.0;
    // About 75 requests: with 10 % answered 503 (which no runtime hides,
    // unlike a reset connection, which browsers may retry on their own),
    // some are retried in every run.
    for seed in [31u64, 32, 33] {
        let size = 24 * PART + 5;
        let data = bytes(size, seed);
        let job = create_job(Mode::Faults, size).await;
        let fetch = StorageFetch::new();
        let opts = standalone_options(
            &job,
            &fetch,
            r#"{"retry": {"maxAttempts": 10, "baseDelayMs": 20, "maxDelayMs": 200}}"#,
        );
        let source = blob(&data);
        let up = upload_js(source.clone().into(), opts).expect("valid options");
        let result = done(&up)
            .await
            .unwrap_or_else(|e| panic!("upload under faults failed: {}", describe_err(&e)));
        fetch.assert_no_token();
        assert_committed(Mode::Faults, &result, &data);
        assert_read_back(&api(Mode::Faults), &job_id(&job), &source).await;
        assert_eq!(get_num(&result, "requests") as usize, fetch.count());
        retries += get_num(&result, "retries");
        assert_eq!(start_job(Mode::Faults, &job).await, (200, None));
    }
    assert!(retries > 0.0, "the faults emulator caused retries");
}

/// A `{getItem, setItem, removeItem}` store over a JS `Map`.
fn map_store() -> (JsValue, js_sys::Map) {
    let map = js_sys::Map::new();
    let make = Function::new_with_args(
        "m",
        "return { getItem: k => m.has(k) ? m.get(k) : null, setItem: (k, v) => { m.set(k, v); }, removeItem: k => { m.delete(k); } };",
    );
    (make.call1(&JsValue::NULL, &map).unwrap(), map)
}

fn client(mode: Mode) -> ImportClient {
    ImportClient::new(json(&format!(
        r#"{{"baseUrl": "{}", "token": "{TOKEN}"}}"#,
        api(mode)
    )))
    .expect("valid client options")
}

/// Counts `part` events; calls `on_part(count)` after each.
fn on_parts(target: &web_sys::EventTarget, on_part: impl Fn(u32) + 'static) -> PartCounter {
    let n = Rc::new(Cell::new(0));
    let c = n.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        c.set(c.get() + 1);
        on_part(c.get());
    });
    target
        .add_event_listener_with_callback("part", listener.as_ref().unchecked_ref())
        .unwrap();
    (n, listener)
}

async fn pause_ms(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        let set_timeout: Function = get(&js_sys::global(), "setTimeout").unchecked_into();
        set_timeout
            .call2(&JsValue::NULL, &resolve, &JsValue::from(ms))
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

#[wasm_bindgen_test]
async fn abort_mid_upload_commits_nothing() {
    let size = 20 * PART;
    let data = bytes(size, 41);
    let job = create_job(Mode::Azure, size).await;
    let fetch = StorageFetch::new();
    let opts = standalone_options(&job, &fetch, r#"{"concurrency": 2}"#);
    let controller = web_sys::AbortController::new().unwrap();
    set(&opts, "signal", controller.signal().as_ref());
    let up = upload_js(blob(&data).into(), opts).expect("valid options");
    let c = controller.clone();
    let (_, _listener) = on_parts(&up.events(), move |n| {
        if n == 2 {
            c.abort_with_reason(&JsValue::from_str("user cancelled"));
        }
    });
    let err = done(&up).await.expect_err("the upload is aborted");
    assert_eq!(get_str(&err, "name").as_deref(), Some("ImportError"));
    assert_eq!(
        get_str(&err, "kind").as_deref(),
        Some("aborted"),
        "{}",
        describe_err(&err)
    );
    assert_eq!(get_str(&err, "code").as_deref(), Some("ABORTED"));
    assert!(get_str(&err, "message").unwrap().contains("user cancelled"));
    assert!(
        fetch.count() < 20,
        "stopped early ({} requests)",
        fetch.count()
    );
    let requests_at_abort = fetch.count();
    pause_ms(100).await;
    assert_eq!(
        fetch.count(),
        requests_at_abort,
        "nothing is sent after abort"
    );
    fetch.assert_no_token();
    assert_nothing_committed(&api(Mode::Azure), &job_id(&job)).await;
    assert_eq!(
        start_job(Mode::Azure, &job).await,
        (409, Some("CDP_ETL.JOB.UPLOAD_INCOMPLETE".to_string()))
    );
}

#[wasm_bindgen_test]
async fn pause_holds_requests_and_resume_finishes() {
    let size = 12 * PART + 3;
    let data = bytes(size, 51);
    let job = create_job(Mode::Azure, size).await;
    let fetch = StorageFetch::new();
    let opts = standalone_options(&job, &fetch, r#"{"concurrency": 2}"#);
    let up = Rc::new(upload_js(blob(&data).into(), opts).expect("valid options"));
    let u = up.clone();
    let (parts, _listener) = on_parts(&up.events(), move |n| {
        if n == 3 {
            u.pause();
        }
    });
    // Wait until paused, then check nothing moves.
    for _ in 0..200 {
        if up.paused() {
            break;
        }
        pause_ms(5).await;
    }
    assert!(up.paused(), "paused after the third part");
    pause_ms(50).await;
    let (requests, stored) = (fetch.count(), parts.get());
    pause_ms(200).await;
    assert_eq!(fetch.count(), requests, "no request while paused");
    assert_eq!(parts.get(), stored, "no part stored while paused");
    assert!(stored < 13);
    up.resume();
    assert!(!up.paused());
    let result = done(&up)
        .await
        .unwrap_or_else(|e| panic!("resumed upload failed: {}", describe_err(&e)));
    fetch.assert_no_token();
    assert_committed(Mode::Azure, &result, &data);
    assert_read_back(&api(Mode::Azure), &job_id(&job), &blob(&data)).await;
    assert_eq!(start_job(Mode::Azure, &job).await, (200, None));
}

#[wasm_bindgen_test]
async fn resume_in_a_fresh_client_skips_stored_parts() {
    let size = 10 * PART + 9;
    let data = bytes(size, 61);
    let job = create_job(Mode::Azure, size).await;
    let (store, map) = map_store();

    // First session: stopped after 4 stored parts.
    let fetch = StorageFetch::new();
    let opts = json(r#"{"partSize": 262144, "concurrency": 1}"#);
    set(&opts, "resumeStore", &store);
    set(&opts, "fetch", fetch.function());
    let first = Rc::new(
        client(Mode::Azure)
            .upload(job.clone(), blob(&data).into(), Some(opts))
            .unwrap(),
    );
    let f = first.clone();
    let (_, _l) = on_parts(&first.events(), move |n| {
        if n == 4 {
            f.abort(Some(JsValue::from_str("page closed")));
        }
    });
    let err = done(&first).await.expect_err("aborted");
    assert_eq!(get_str(&err, "kind").as_deref(), Some("aborted"));
    assert_eq!(map.size(), 1, "one resume record");

    // Second session: a new client, the same job and file.
    let fetch2 = StorageFetch::new();
    let opts = json(r#"{"partSize": 262144}"#);
    set(&opts, "resumeStore", &store);
    set(&opts, "fetch", fetch2.function());
    let second = client(Mode::Azure)
        .resume_upload(job.clone(), blob(&data).into(), Some(opts))
        .unwrap();
    let result = done(&second)
        .await
        .unwrap_or_else(|e| panic!("resumed upload failed: {}", describe_err(&e)));
    let skipped = get_num(&result, "partsSkipped") as usize;
    assert!(skipped >= 4, "skipped {skipped} parts");
    assert_eq!(get_num(&result, "parts") as usize, 11);
    // Only the missing parts, plus the block list.
    assert_eq!(fetch2.count(), 11 - skipped + 1);
    assert_eq!(get_num(&result, "requests") as usize, fetch2.count());
    fetch.assert_no_token();
    fetch2.assert_no_token();
    assert_committed(Mode::Azure, &result, &data);
    assert_read_back(&api(Mode::Azure), &job_id(&job), &blob(&data)).await;
    assert_eq!(map.size(), 0, "the record is removed once committed");
    assert_eq!(start_job(Mode::Azure, &job).await, (200, None));
}

#[wasm_bindgen_test]
async fn gcs_resume_asks_the_session_where_it_stands() {
    let size = 8 * PART + 100;
    let data = bytes(size, 71);
    let job = create_job(Mode::Gcs, size).await;
    let fetch = StorageFetch::new();
    let opts = json(r#"{"partSize": 262144}"#);
    set(&opts, "fetch", fetch.function());
    let first = Rc::new(
        client(Mode::Gcs)
            .upload(job.clone(), blob(&data).into(), Some(opts))
            .unwrap(),
    );
    let f = first.clone();
    let (_, _l) = on_parts(&first.events(), move |n| {
        if n == 3 {
            f.abort(None);
        }
    });
    let err = done(&first).await.expect_err("aborted");
    assert_eq!(get_str(&err, "kind").as_deref(), Some("aborted"));

    let fetch2 = StorageFetch::new();
    let opts = json(r#"{"partSize": 262144}"#);
    set(&opts, "fetch", fetch2.function());
    let second = client(Mode::Gcs)
        .resume_upload(job.clone(), blob(&data).into(), Some(opts))
        .unwrap();
    let result = done(&second)
        .await
        .unwrap_or_else(|e| panic!("resumed upload failed: {}", describe_err(&e)));
    // One status query, then at most the 6 chunks left after 3 stored.
    assert!(fetch2.count() <= 7, "{} requests", fetch2.count());
    assert!(fetch2.count() >= 2);
    fetch.assert_no_token();
    fetch2.assert_no_token();
    assert_eq!(get_str(&result, "storageMd5"), Some(b64(&md5(&data))));
    assert_read_back(&api(Mode::Gcs), &job_id(&job), &blob(&data)).await;
    assert_eq!(start_job(Mode::Gcs, &job).await, (200, None));
}

#[wasm_bindgen_test]
async fn expired_url_fails_at_once_without_a_request() {
    let job = create_job(Mode::Azure, 1000).await;
    let fetch = StorageFetch::new();
    let opts = standalone_options(&job, &fetch, "{}");
    set(
        &opts,
        "expiresAt",
        &JsValue::from_str("2020-01-01T00:00:00Z"),
    );
    let up = upload_js(blob(&bytes(1000, 81)).into(), opts).unwrap();
    let err = done(&up).await.expect_err("expired");
    assert_eq!(
        get_str(&err, "kind").as_deref(),
        Some("expired"),
        "{}",
        describe_err(&err)
    );
    assert_eq!(get_str(&err, "code").as_deref(), Some("UPLOAD_URL_EXPIRED"));
    assert_eq!(get(&err, "retryable").as_bool(), Some(false));
    assert_eq!(fetch.count(), 0);
}

#[wasm_bindgen_test]
async fn warns_before_starting_when_the_url_expires_first() {
    let size = 8 * PART;
    let file = blob(&bytes(size, 91));
    let job = create_job(Mode::Azure, size).await;
    let fetch = StorageFetch::new();
    let opts = standalone_options(&job, &fetch, "{}");
    // 2 MiB at the assumed 2 MiB/s needs ~1 s; the URL "expires" in 300 ms.
    set(
        &opts,
        "expiresAt",
        &JsValue::from_f64(js_sys::Date::now() + 300.0),
    );
    let events = web_sys::EventTarget::new().unwrap();
    set(&opts, "events", events.as_ref());
    let warnings: Rc<RefCell<Vec<JsValue>>> = Rc::default();
    let w = warnings.clone();
    let requests_then = Rc::new(Cell::new(usize::MAX));
    let log = fetch.log.clone();
    let r = requests_then.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        r.set(log.borrow().len());
        w.borrow_mut().push(get(&e, "detail"));
    });
    events
        .add_event_listener_with_callback("warning", listener.as_ref().unchecked_ref())
        .unwrap();
    let up = upload_js(file.into(), opts).unwrap();
    let outcome = done(&up).await;
    let warnings = warnings.borrow();
    assert_eq!(warnings.len(), 1, "one warning");
    assert_eq!(
        get_str(&warnings[0], "code").as_deref(),
        Some("URL_EXPIRES_BEFORE_FINISH")
    );
    assert_eq!(requests_then.get(), 0, "warned before the first request");
    // Whatever the race, a failure can only be the expiry.
    if let Err(e) = outcome {
        assert_eq!(
            get_str(&e, "kind").as_deref(),
            Some("expired"),
            "{}",
            describe_err(&e)
        );
    }
}

#[wasm_bindgen_test]
async fn a_refused_signature_fails_fast() {
    let job = create_job(Mode::Azure, 3 * PART).await;
    let url = get_str(&job, "uploadUrl").unwrap();
    // Tamper with the signature: storage answers 403 before expiry.
    let tampered = match url.find("sig=") {
        Some(i) => format!("{}sig=AAAA{}", &url[..i], &url[i + 4..]),
        None => panic!("the upload URL carries a signature"),
    };
    let bad_job = job.clone();
    let bad_job: JsValue =
        js_sys::Object::assign(&js_sys::Object::new(), bad_job.unchecked_ref()).into();
    set(&bad_job, "uploadUrl", &JsValue::from_str(&tampered));
    let fetch = StorageFetch::new();
    let opts = standalone_options(&bad_job, &fetch, r#"{"concurrency": 1}"#);
    let up = upload_js(blob(&bytes(3 * PART, 92)).into(), opts).unwrap();
    let err = done(&up).await.expect_err("refused");
    assert_eq!(
        get_str(&err, "kind").as_deref(),
        Some("storage"),
        "{}",
        describe_err(&err)
    );
    assert_eq!(get(&err, "status").as_f64(), Some(403.0));
    assert_eq!(
        get_str(&err, "code").as_deref(),
        Some("AuthenticationFailed")
    );
    assert_eq!(get(&err, "retryable").as_bool(), Some(false));
    let message = get_str(&err, "message").unwrap();
    assert!(
        !message.contains("sig="),
        "no signature in messages: {message}"
    );
    assert_eq!(fetch.count(), 1, "a 403 is not retried");
}

#[wasm_bindgen_test]
fn options_are_checked_before_anything_is_sent() {
    let b = blob(b"x");
    for (opts, field) in [
        (r#"{}"#, "url"),
        (r#"{"url": "ftp://x/y"}"#, "url"),
        (
            r#"{"url": "http://127.0.0.1:1/x", "headers": {"Authorization": "Bearer t"}}"#,
            "headers",
        ),
        (
            r#"{"url": "http://127.0.0.1:1/x", "partSize": 0}"#,
            "partSize",
        ),
        (
            r#"{"url": "http://127.0.0.1:1/x", "protocol": "ftp"}"#,
            "protocol",
        ),
        (
            r#"{"url": "http://127.0.0.1:1/x", "method": "POST"}"#,
            "method",
        ),
        (
            r#"{"url": "http://127.0.0.1:1/x", "expiresAt": "soon"}"#,
            "expiresAt",
        ),
    ] {
        let err = match upload_js(b.clone().into(), json(opts)) {
            Ok(_) => panic!("accepted {opts}"),
            Err(e) => e,
        };
        assert_eq!(
            get_str(&err, "kind").as_deref(),
            Some("validation"),
            "{opts}"
        );
        assert_eq!(get_str(&err, "field").as_deref(), Some(field), "{opts}");
    }
}

#[wasm_bindgen_test]
async fn client_upload_uses_the_job_and_never_the_token() {
    let size = 2 * PART + 1;
    let data = bytes(size, 93);
    let job = create_job(Mode::Azure, size).await;
    let fetch = StorageFetch::new();
    let opts = json(r#"{"partSize": 262144}"#);
    set(&opts, "fetch", fetch.function());
    let up = client(Mode::Azure)
        .upload(job.clone(), blob(&data).into(), Some(opts))
        .unwrap();
    let result = done(&up)
        .await
        .unwrap_or_else(|e| panic!("upload failed: {}", describe_err(&e)));
    assert_eq!(fetch.count(), 4);
    fetch.assert_no_token();
    assert_committed(Mode::Azure, &result, &data);
    assert_read_back(&api(Mode::Azure), &job_id(&job), &blob(&data)).await;
    assert_eq!(start_job(Mode::Azure, &job).await, (200, None));
}

#[wasm_bindgen_test]
async fn the_runtime_transport_uploads_in_every_mode() {
    // No custom fetch: XMLHttpRequest where the runtime has it (pages and
    // workers), else the global fetch.
    let has_xhr = get(&js_sys::global(), "XMLHttpRequest").is_function();
    let modes = [Mode::Azure, Mode::S3, Mode::Gcs, Mode::Azurite];
    for (i, mode) in modes.into_iter().enumerate() {
        for size in [PART + 1, 5 * PART + 17] {
            let data = bytes(size, 100 + i as u64);
            let job = create_job(mode, size).await;
            let progress = Rc::new(Cell::new(0u32));
            let p = progress.clone();
            let on_progress =
                Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| p.set(p.get() + 1));
            let opts = json(r#"{"partSize": 262144, "progressIntervalMs": 0}"#);
            set(&opts, "url", &get(&job, "uploadUrl"));
            set(&opts, "headers", &get(&job, "headers"));
            set(&opts, "onProgress", on_progress.as_ref());
            let up = upload_js(blob(&data).into(), opts).unwrap();
            let result = done(&up)
                .await
                .unwrap_or_else(|e| panic!("{mode:?} upload failed: {}", describe_err(&e)));
            assert_eq!(
                get_str(&result, "transport").as_deref(),
                Some(if has_xhr { "xhr" } else { "fetch" })
            );
            assert_committed(mode, &result, &data);
            assert_read_back(&api(mode), &job_id(&job), &blob(&data)).await;
            assert!(progress.get() as f64 >= get_num(&result, "parts"));
            assert_eq!(start_job(mode, &job).await, (200, None));
        }
    }
}

#[wasm_bindgen_test]
async fn a_refusal_after_expires_at_is_reported_as_expired() {
    let job = create_job(Mode::Azure, 1000).await;
    let url = get_str(&job, "uploadUrl").unwrap();
    let i = url.find("sig=").expect("a signature");
    // Storage refuses this URL (403), and the answer arrives after the
    // `expiresAt` given to the engine: the URL counts as expired.
    let refused = format!("{}sig=AAAA{}", &url[..i], &url[i + 4..]);
    let slow_fetch = Function::new_with_args(
        "req",
        "return new Promise(r => setTimeout(r, 150)).then(() => fetch(req));",
    );
    let opts = json(r#"{"retry": {"maxAttempts": 3, "baseDelayMs": 10}}"#);
    set(&opts, "url", &JsValue::from_str(&refused));
    set(&opts, "headers", &get(&job, "headers"));
    set(&opts, "fetch", slow_fetch.as_ref());
    set(
        &opts,
        "expiresAt",
        &JsValue::from_f64(js_sys::Date::now() + 60.0),
    );
    let up = upload_js(blob(&bytes(1000, 94)).into(), opts).unwrap();
    let err = done(&up).await.expect_err("expired");
    assert_eq!(
        get_str(&err, "kind").as_deref(),
        Some("expired"),
        "{}",
        describe_err(&err)
    );
    assert_eq!(get_str(&err, "code").as_deref(), Some("UPLOAD_URL_EXPIRED"));
    assert_eq!(get(&err, "status").as_f64(), Some(403.0));
}

/// `new File([data], name, { lastModified })`.
fn file(data: &[u8], name: &str, last_modified: f64) -> Blob {
    let ctor: Function = get(&js_sys::global(), "File").unchecked_into();
    let opts = js_sys::Object::new();
    set(&opts, "lastModified", &JsValue::from_f64(last_modified));
    let args = Array::of3(
        &Array::of1(&Uint8Array::from(data)),
        &JsValue::from_str(name),
        &opts,
    );
    Reflect::construct(&ctor, &args)
        .expect("a File")
        .unchecked_into()
}

#[wasm_bindgen_test]
async fn resume_after_reload_uses_the_runtime_store() {
    let global = js_sys::global();
    let has_local_storage = Reflect::has(&global, &JsValue::from_str("localStorage"))
        .unwrap_or(false)
        && get(&global, "localStorage").is_object();
    let expected_store = if has_local_storage {
        "localStorage"
    } else if get(&global, "indexedDB").is_object() {
        "indexedDB"
    } else {
        "memory"
    };
    let size = 9 * PART + 1;
    let data = bytes(size, 95);
    let job = create_job(Mode::Azure, size).await;

    let first = Rc::new(
        client(Mode::Azure)
            .upload(
                job.clone(),
                file(&data, "spring.csv", 1_700_000_000_000.0).into(),
                Some(json(r#"{"partSize": 262144, "concurrency": 1}"#)),
            )
            .unwrap(),
    );
    let f = first.clone();
    let (_, _l) = on_parts(&first.events(), move |n| {
        if n == 5 {
            f.abort(Some(JsValue::from_str("reload")));
        }
    });
    let err = done(&first).await.expect_err("aborted");
    assert_eq!(get_str(&err, "kind").as_deref(), Some("aborted"));

    // "After the reload": a new client, a new File object of the same file.
    let fetch = StorageFetch::new();
    let opts = json(r#"{"partSize": 262144}"#);
    set(&opts, "fetch", fetch.function());
    let second = client(Mode::Azure)
        .resume_upload(
            job.clone(),
            file(&data, "spring.csv", 1_700_000_000_000.0).into(),
            Some(opts),
        )
        .unwrap();
    let result = done(&second)
        .await
        .unwrap_or_else(|e| panic!("resumed upload failed: {}", describe_err(&e)));
    assert_eq!(
        get_str(&result, "resumeStore").as_deref(),
        Some(expected_store)
    );
    let skipped = get_num(&result, "partsSkipped") as usize;
    assert!(skipped >= 5, "skipped {skipped} parts");
    assert_eq!(fetch.count(), 10 - skipped + 1);
    fetch.assert_no_token();
    assert_committed(Mode::Azure, &result, &data);
    assert_read_back(&api(Mode::Azure), &job_id(&job), &blob(&data)).await;
    assert_eq!(start_job(Mode::Azure, &job).await, (200, None));

    // A different file (another lastModified) resumes nothing.
    let job2 = create_job(Mode::Azure, size).await;
    let fetch = StorageFetch::new();
    let opts = json(r#"{"partSize": 262144}"#);
    set(&opts, "fetch", fetch.function());
    let third = client(Mode::Azure)
        .resume_upload(
            job2.clone(),
            file(&data, "spring.csv", 1.0).into(),
            Some(opts),
        )
        .unwrap();
    let result = done(&third).await.expect("a fresh upload");
    assert_eq!(get_num(&result, "partsSkipped"), 0.0);
    assert_eq!(fetch.count(), 10 + 1);
    assert_read_back(&api(Mode::Azure), &job_id(&job2), &blob(&data)).await;
}

/// A profiles CSV of `rows` rows.
fn csv(rows: usize) -> Vec<u8> {
    let mut s = String::from("email,first_name\r\n");
    for i in 0..rows {
        s.push_str(&format!("user{i:06}@example.com,Name {i}\r\n"));
    }
    s.into_bytes()
}

#[wasm_bindgen_test]
async fn a_csv_in_many_parts_is_imported_row_for_row_in_every_mode() {
    let rows = 12_000; // about 400 KB: two 256 KiB parts
    let data = csv(rows);
    for mode in [
        Mode::Azure,
        Mode::S3,
        Mode::Gcs,
        Mode::Faults,
        Mode::Azurite,
    ] {
        let job = create_job(mode, data.len()).await;
        let fetch = StorageFetch::new();
        let source = blob(&data);
        let up = upload_js(
            source.clone().into(),
            standalone_options(&job, &fetch, "{}"),
        )
        .unwrap();
        done(&up)
            .await
            .unwrap_or_else(|e| panic!("{mode:?} upload failed: {}", describe_err(&e)));
        fetch.assert_no_token();
        let id = get_str(&job, "jobId").unwrap();
        assert_read_back(&api(mode), &id, &source).await;
        let mapping = r#"{"sourceFields": {"email": "string", "first_name": "string"},
            "fieldMap": {"email": "email", "first_name": "first_name"}}"#;
        let (s, b) = api_call(
            mode,
            "POST",
            &format!("/import-jobs/{id}/mapping"),
            Some(mapping),
        )
        .await;
        assert_eq!(s, 200, "mapping: {}", stringify(&b));
        let (s, b) = api_call(
            mode,
            "POST",
            &format!("/import-jobs/{id}/start"),
            Some("{}"),
        )
        .await;
        assert_eq!(s, 200, "{mode:?} start: {}", stringify(&b));
        let mut status = JsValue::NULL;
        for _ in 0..400 {
            let (s, b) = api_call(mode, "GET", &format!("/import-jobs/{id}"), None).await;
            assert_eq!(s, 200, "status: {}", stringify(&b));
            status = get(&b, "data");
            if matches!(
                get_str(&status, "state").as_deref(),
                Some("completed" | "failed")
            ) {
                break;
            }
            pause_ms(50).await;
        }
        assert_eq!(
            get_str(&status, "state").as_deref(),
            Some("completed"),
            "{mode:?}: {}",
            stringify(&status)
        );
        assert_eq!(get_num(&status, "readRows") as usize, rows, "{mode:?}");
        assert_eq!(get_num(&status, "validRows") as usize, rows, "{mode:?}");
        assert_eq!(get_num(&status, "invalidRows"), 0.0, "{mode:?}");
    }
}
