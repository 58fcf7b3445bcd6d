//! One HTTP request to storage, through the best transport the runtime has:
//! `XMLHttpRequest` where it exists (pages and workers in browsers), whose
//! upload events give byte-level progress, else `fetch` (Node, Deno,
//! workerd), or a `fetch` the caller supplied.
//!
//! The request itself is made by `js/host.js` (`sendStorage`):
//! it is only calls into XHR and `fetch`, which as JavaScript take a sixth
//! of the package size they take compiled from Rust (event closures,
//! promise plumbing, header handling). It keeps the response headers the
//! drivers read (`retry-after`, `range`, `etag`, `content-md5` and the
//! storages' error codes and request ids).
//!
//! Storage requests carry only the pre-signed URL, the job's `headers` and
//! the protocol's own headers: no `Authorization`, no cookies (`fetch`'s
//! default `same-origin` credentials send none cross-origin, and XHR is used
//! without `withCredentials`).

use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Blob};

use crate::js::describe;
use crate::options::pairs;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// `js/host.js`: one request through XHR or `fetch`.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = sendStorage)]
    fn send_storage(
        method: &str,
        url: &str,
        headers: &Array,
        body: &JsValue,
        signal: &AbortSignal,
        on_bytes: &JsValue,
        use_xhr: bool,
        custom_fetch: &JsValue,
    ) -> Promise;

    /// What `sendStorage` resolves with.
    type StorageAnswer;
    #[wasm_bindgen(method, getter)]
    fn status(this: &StorageAnswer) -> u16;
    /// The kept response headers, `[name, value, …]`.
    #[wasm_bindgen(method, getter)]
    fn headers(this: &StorageAnswer) -> Array;
    #[wasm_bindgen(method, getter)]
    fn body(this: &StorageAnswer) -> Option<String>;

    /// What `sendStorage` rejects with: why, and the runtime's error.
    type StorageFailure;
    #[wasm_bindgen(method, getter)]
    fn reason(this: &StorageFailure) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn cause(this: &StorageFailure) -> JsValue;
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// Bytes already read (a part whose checksum was computed).
    Bytes(Uint8Array),
    /// A `Blob` (slice) the runtime reads as it sends.
    Blob(Blob),
    /// Text (the Azure block list).
    Text(String),
    /// Bytes `[start, end)` of a file source, streamed (a fresh stream
    /// for every attempt).
    Source(JsValue, u64, u64),
}

impl Body {
    fn to_js(&self) -> JsValue {
        match self {
            Body::Bytes(b) => b.clone().into(),
            Body::Blob(b) => b.clone().into(),
            Body::Text(t) => JsValue::from_str(t),
            Body::Source(s, start, end) => {
                super::source::source_stream(s, *start as f64, *end as f64)
            }
        }
    }
}

/// One storage request.
#[derive(Debug, Clone)]
pub(crate) struct StorageRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// What storage answered (small bodies only: errors, GCS metadata).
#[derive(Debug, Clone)]
pub(crate) struct StorageResponse {
    pub status: u16,
    /// The response headers the drivers read, lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl StorageResponse {
    /// A response header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request got no response.
#[derive(Debug, Clone)]
pub(crate) enum SendError {
    /// The request's signal fired (pause or abort).
    Aborted,
    /// Connection failure, CORS refusal, reset: the runtime's words.
    Network(String),
}

/// Byte-level progress of the request body: `(bytes sent)`.
pub(crate) type OnBytes = Rc<dyn Fn(f64)>;

/// How requests are sent.
#[derive(Debug, Clone)]
pub(crate) enum Transport {
    /// `globalThis.fetch`.
    Fetch,
    /// A `fetch` given in the options.
    CustomFetch(Function),
    /// `XMLHttpRequest` (byte-level upload progress).
    Xhr,
}

impl Transport {
    /// XHR when the runtime has it (and `prefer_xhr`), else `fetch`; a
    /// custom `fetch` always wins.
    pub fn choose(custom: Option<Function>, prefer_xhr: bool) -> Transport {
        if let Some(f) = custom {
            return Transport::CustomFetch(f);
        }
        let has_xhr = Reflect::get(&js_sys::global(), &JsValue::from_str("XMLHttpRequest"))
            .map(|v| v.is_function())
            .unwrap_or(false);
        if prefer_xhr && has_xhr {
            Transport::Xhr
        } else {
            Transport::Fetch
        }
    }

    /// `xhr` or `fetch`.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Xhr => "xhr",
            _ => "fetch",
        }
    }

    /// Whether this transport reports progress within a request.
    pub fn has_byte_progress(&self) -> bool {
        matches!(self, Transport::Xhr)
    }

    /// Sends `req`; resolves with any HTTP answer (statuses are the
    /// caller's business).
    pub async fn send(
        &self,
        req: &StorageRequest,
        signal: &AbortSignal,
        on_bytes: Option<OnBytes>,
    ) -> Result<StorageResponse, SendError> {
        if signal.aborted() {
            return Err(SendError::Aborted);
        }
        let headers = Array::new();
        for (k, v) in &req.headers {
            headers.push(&JsValue::from_str(k));
            headers.push(&JsValue::from_str(v));
        }
        // Lives until the request settles (the XHR's upload progress).
        let progress = on_bytes.map(|cb| {
            Closure::<dyn FnMut(JsValue)>::new(move |sent: JsValue| {
                if let Some(sent) = sent.as_f64() {
                    cb(sent);
                }
            })
        });
        let custom = match self {
            Transport::CustomFetch(f) => f.clone().into(),
            _ => JsValue::UNDEFINED,
        };
        let promise = send_storage(
            &req.method,
            &req.url,
            &headers,
            &req.body.to_js(),
            signal,
            progress
                .as_ref()
                .map_or(&JsValue::UNDEFINED, |c| c.as_ref()),
            self.has_byte_progress(),
            &custom,
        );
        let answer = JsFuture::from(promise).await;
        drop(progress);
        match answer {
            Ok(answer) => {
                let answer: StorageAnswer = answer.unchecked_into();
                Ok(StorageResponse {
                    status: answer.status(),
                    headers: pairs(&answer.headers()),
                    body: answer.body().unwrap_or_default(),
                })
            }
            Err(_) if signal.aborted() => Err(SendError::Aborted),
            Err(e) => {
                let failure = e.is_object().then(|| e.unchecked_ref::<StorageFailure>());
                match failure.and_then(|f| f.reason().map(|r| (r, f.cause()))) {
                    Some((mut message, cause)) => {
                        if !cause.is_undefined() {
                            message.push_str(&describe(&cause));
                        }
                        Err(SendError::Network(message))
                    }
                    None => Err(SendError::Network(describe(&e))),
                }
            }
        }
    }
}
