//! Helpers shared by the wasm test suites (`client.rs`, `lifecycle.rs`,
//! `upload.rs`; each says `mod common;`): JS property access, the global
//! `fetch`, the emulator's URL, and reading an upload back to compare it
//! with its source by SHA-256.
//!
//! The read-back uses the emulator's extension
//! `GET /public/v1/import-jobs/{jobId}/upload` (see `devserver/README.md`),
//! which streams the bytes committed for a job in every storage mode
//! (Azure blocks, S3-style, GCS-style, Azurite). Digests come from
//! `crypto.subtle.digest("SHA-256", …)`, the one implementation every
//! runtime of these suites (Node, Chromium page, dedicated worker) has.
#![cfg(target_arch = "wasm32")]
#![allow(dead_code)] // Each suite uses a different subset.

use js_sys::{Function, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, Request, RequestInit, Response};

/// The dev token every test emulator accepts (imports read and write).
pub const TOKEN: &str = "dev-write";

/// `globalThis.fetch(request)`.
pub fn global_fetch(request: &Request) -> Promise {
    let global = js_sys::global();
    let fetch: Function = Reflect::get(&global, &JsValue::from_str("fetch"))
        .expect("globalThis.fetch")
        .dyn_into()
        .expect("fetch is a function");
    fetch
        .call1(&global, request)
        .expect("fetch returns a promise")
        .unchecked_into()
}

/// `{IMPORT_EMULATOR_URL}/public/v1`: the default emulator's API base.
pub fn api_base() -> String {
    // A test run without the emulator must fail loudly, not skip.
    let Some(url) = option_env!("IMPORT_EMULATOR_URL") else {
        panic!(
            "IMPORT_EMULATOR_URL was not set when these tests were compiled; \
             run them with `cargo xtask test`"
        );
    };
    format!("{}/public/v1", url.trim_end_matches('/'))
}

/// Parses test JSON.
pub fn json(text: &str) -> JsValue {
    JSON::parse(text).expect("test JSON parses")
}

/// `obj[key]`, `undefined` when `obj` has no such property (or is not an
/// object).
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key]` when it is a string.
pub fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// `obj[key]`, which must be a number.
pub fn get_num(obj: &JsValue, key: &str) -> f64 {
    get(obj, key)
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is a number in {}", stringify(obj)))
}

/// `obj[key] = value`.
pub fn set(obj: &JsValue, key: &str, value: &JsValue) {
    Reflect::set(obj, &JsValue::from_str(key), value).expect("property set");
}

/// `JSON.stringify(v)`, or its debug form.
pub fn stringify(v: &JsValue) -> String {
    JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| format!("{v:?}"))
}

/// Awaits a promise expected to resolve; panics with the ImportError's
/// fields otherwise.
pub async fn ok(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| {
        panic!(
            "expected success, got {:?} {:?} {:?} {:?}",
            get_str(&e, "kind"),
            get_str(&e, "code"),
            get(&e, "status").as_f64(),
            get_str(&e, "message")
        )
    })
}

/// A Blob of `data`.
pub fn blob(data: &[u8]) -> Blob {
    let parts = js_sys::Array::of1(&Uint8Array::from(data));
    Blob::new_with_u8_array_sequence(&parts).expect("a Blob")
}

/// SHA-256 of `data` by `crypto.subtle.digest`.
pub async fn sha256(data: &Uint8Array) -> Vec<u8> {
    let subtle = get(&get(&js_sys::global(), "crypto"), "subtle");
    let digest: Function = get(&subtle, "digest")
        .dyn_into()
        .expect("crypto.subtle.digest (Web Crypto) in this runtime");
    let p: Promise = digest
        .call2(&subtle, &JsValue::from_str("SHA-256"), data)
        .expect("digest() returns a promise")
        .unchecked_into();
    let buf = JsFuture::from(p).await.expect("SHA-256 digest");
    Uint8Array::new(&buf).to_vec()
}

/// A Blob's bytes.
pub async fn blob_bytes(b: &Blob) -> Uint8Array {
    let buf = JsFuture::from(b.array_buffer())
        .await
        .expect("Blob.arrayBuffer()");
    Uint8Array::new(&buf)
}

/// `GET {api}/import-jobs/{job_id}/upload` with the bearer token: the
/// status and the body's bytes.
pub async fn job_upload(api: &str, job_id: &str) -> (u16, Uint8Array) {
    let init = RequestInit::new();
    init.set_method("GET");
    let headers = web_sys::Headers::new().unwrap();
    headers
        .set("authorization", &format!("Bearer {TOKEN}"))
        .unwrap();
    init.set_headers(&headers);
    let url = format!("{api}/import-jobs/{job_id}/upload");
    let req = Request::new_with_str_and_init(&url, &init).unwrap();
    let resp: Response = JsFuture::from(global_fetch(&req))
        .await
        .expect("the read-back answers")
        .dyn_into()
        .unwrap();
    let buf = JsFuture::from(resp.array_buffer().unwrap())
        .await
        .expect("the read-back body");
    (resp.status(), Uint8Array::new(&buf))
}

/// Downloads what the emulator at `api` holds for `job_id` and asserts it
/// equals `source`: the same length and the same SHA-256, both computed
/// with `crypto.subtle.digest`.
pub async fn assert_read_back(api: &str, job_id: &str, source: &Blob) {
    let (status, got) = job_upload(api, job_id).await;
    assert_eq!(
        status,
        200,
        "reading back the upload of {job_id}: {}",
        String::from_utf8_lossy(&got.to_vec())
    );
    let want = blob_bytes(source).await;
    assert_eq!(
        got.length(),
        want.length(),
        "length of the upload read back ({job_id})"
    );
    assert_eq!(
        hex(&sha256(&got).await),
        hex(&sha256(&want).await),
        "SHA-256 of the {} bytes read back ({job_id})",
        want.length()
    );
}

/// Asserts that nothing is committed for `job_id` (404 in the API's
/// envelope), e.g. after an aborted upload.
pub async fn assert_nothing_committed(api: &str, job_id: &str) {
    let (status, body) = job_upload(api, job_id).await;
    let text = String::from_utf8_lossy(&body.to_vec()).into_owned();
    assert_eq!(status, 404, "nothing committed for {job_id}: {text}");
    assert!(text.contains("CDP_ETL.NOT_FOUND"), "{text}");
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
