//! One HTTP request to storage, through the best transport the runtime has:
//! `XMLHttpRequest` where it exists (pages and workers in browsers), whose
//! upload events give byte-level progress, else `fetch` (Node, Deno,
//! workerd), or a `fetch` the caller supplied.
//!
//! Storage requests carry only the pre-signed URL, the job's `headers` and
//! the protocol's own headers: no `Authorization`, no cookies (`fetch`'s
//! default `same-origin` credentials send none cross-origin, and XHR is used
//! without `withCredentials`).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Blob, Headers, Request, RequestInit, Response, XmlHttpRequest};

use crate::js::describe;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_storage_request(input: &Request) -> Promise;
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
}

impl Body {
    fn to_js(&self) -> JsValue {
        match self {
            Body::Bytes(b) => b.clone().into(),
            Body::Blob(b) => b.clone().into(),
            Body::Text(t) => JsValue::from_str(t),
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

/// Response headers worth keeping.
const KEPT_HEADERS: [&str; 8] = [
    "retry-after",
    "range",
    "etag",
    "content-md5",
    "x-ms-error-code",
    "x-ms-request-id",
    "x-amz-request-id",
    "x-guploader-uploadid",
];

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
        let result = match self {
            Transport::Xhr => send_xhr(req, signal, on_bytes).await,
            Transport::Fetch => send_fetch(req, signal, None).await,
            Transport::CustomFetch(f) => send_fetch(req, signal, Some(f)).await,
        };
        match result {
            Err(_) if signal.aborted() => Err(SendError::Aborted),
            other => other,
        }
    }
}

async fn send_fetch(
    req: &StorageRequest,
    signal: &AbortSignal,
    custom: Option<&Function>,
) -> Result<StorageResponse, SendError> {
    let net = |e: &JsValue| SendError::Network(describe(e));
    let headers = Headers::new().map_err(|e| net(&e))?;
    for (k, v) in &req.headers {
        headers
            .set(k, v)
            .map_err(|e| SendError::Network(format!("header `{k}`: {}", describe(&e))))?;
    }
    let init = RequestInit::new();
    init.set_method(&req.method);
    init.set_headers(&headers);
    init.set_body(&req.body.to_js());
    init.set_signal(Some(signal));
    let request = Request::new_with_str_and_init(&req.url, &init).map_err(|e| net(&e))?;
    let promise = match custom {
        None => fetch_storage_request(&request),
        Some(f) => match f.call1(&JsValue::UNDEFINED, &request) {
            Ok(v) => Promise::resolve(&v),
            Err(e) => return Err(net(&e)),
        },
    };
    let response = JsFuture::from(promise).await.map_err(|e| net(&e))?;
    let response: Response = response
        .dyn_into()
        .map_err(|_| SendError::Network("fetch did not resolve to a Response".to_string()))?;
    let status = response.status();
    let h = response.headers();
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| h.get(name).ok().flatten().map(|v| (name.to_string(), v)))
        .collect();
    let text = response.text().map_err(|e| net(&e))?;
    let body = JsFuture::from(text)
        .await
        .map_err(|e| net(&e))?
        .as_string()
        .unwrap_or_default();
    Ok(StorageResponse {
        status,
        headers,
        body,
    })
}

/// An XHR event handler kept alive while its request runs.
type Listener = Closure<dyn FnMut(JsValue)>;

async fn send_xhr(
    req: &StorageRequest,
    signal: &AbortSignal,
    on_bytes: Option<OnBytes>,
) -> Result<StorageResponse, SendError> {
    let net = |e: &JsValue| SendError::Network(describe(e));
    let xhr = XmlHttpRequest::new().map_err(|e| net(&e))?;
    xhr.open_with_async(&req.method, &req.url, true)
        .map_err(|e| net(&e))?;
    for (k, v) in &req.headers {
        xhr.set_request_header(k, v)
            .map_err(|e| SendError::Network(format!("header `{k}`: {}", describe(&e))))?;
    }
    // Listeners live until the request settles; dropped with this frame.
    let keep: Rc<RefCell<Vec<Listener>>> = Rc::default();
    let xhr2 = xhr.clone();
    let keep2 = keep.clone();
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let mut closures = keep2.borrow_mut();
        let r = resolve.clone();
        let on_load = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            let _ = r.call0(&JsValue::UNDEFINED);
        });
        xhr2.set_onload(Some(on_load.as_ref().unchecked_ref()));
        closures.push(on_load);
        for (name, what) in [
            ("onerror", "the connection failed"),
            ("onabort", "aborted"),
            ("ontimeout", "timed out"),
        ] {
            let rej = reject.clone();
            let c = Closure::<dyn FnMut(JsValue)>::new(move |_| {
                let _ = rej.call1(&JsValue::UNDEFINED, &JsValue::from_str(what));
            });
            let _ = Reflect::set(&xhr2, &JsValue::from_str(name), c.as_ref());
            closures.push(c);
        }
        if let (Some(cb), Ok(upload)) = (on_bytes.clone(), xhr2.upload()) {
            let c = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                if let Some(loaded) = Reflect::get(&e, &JsValue::from_str("loaded"))
                    .ok()
                    .and_then(|v| v.as_f64())
                {
                    cb(loaded);
                }
            });
            upload.set_onprogress(Some(c.as_ref().unchecked_ref()));
            closures.push(c);
        }
    });

    let x = xhr.clone();
    let on_signal = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
        let _ = x.abort();
    });
    let _ = signal.add_event_listener_with_callback("abort", on_signal.as_ref().unchecked_ref());
    let sent = match &req.body {
        Body::Bytes(b) => xhr.send_with_opt_buffer_source(Some(b)),
        Body::Blob(b) => xhr.send_with_opt_blob(Some(b)),
        Body::Text(t) => xhr.send_with_opt_str(Some(t)),
    };
    let outcome = match sent {
        Ok(()) => JsFuture::from(promise).await,
        Err(e) => Err(e),
    };
    // Detach every listener before the closures drop.
    let _ = signal.remove_event_listener_with_callback("abort", on_signal.as_ref().unchecked_ref());
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(None);
    }
    xhr.set_onload(None);
    for name in ["onerror", "onabort", "ontimeout"] {
        let _ = Reflect::set(&xhr, &JsValue::from_str(name), &JsValue::NULL);
    }
    drop(keep);
    drop(on_signal);
    outcome.map_err(|e| SendError::Network(format!("XMLHttpRequest: {}", describe(&e))))?;
    let status = xhr.status().map_err(|e| net(&e))?;
    if status == 0 {
        return Err(SendError::Network(
            "XMLHttpRequest ended without a status (connection or CORS failure)".to_string(),
        ));
    }
    // All the headers the page may read, in one string: asking for a header
    // CORS does not expose (`getResponseHeader`) logs an error in the console.
    let all = xhr.get_all_response_headers().unwrap_or_default();
    let headers = all
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .filter_map(|(name, value)| {
            let name = name.trim().to_ascii_lowercase();
            KEPT_HEADERS
                .contains(&name.as_str())
                .then(|| (name, value.trim().to_string()))
        })
        .collect();
    let body = xhr.response_text().ok().flatten().unwrap_or_default();
    Ok(StorageResponse {
        status,
        headers,
        body,
    })
}
