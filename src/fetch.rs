//! HTTP through the runtime's own `fetch`: the global one (resolved on
//! `globalThis` at call time, so it works in pages, workers, Node, Deno and
//! workerd alike) or one the caller supplied.
//!
//! Two kinds of request go through here:
//! * API calls ([`Fetcher::send`]): bearer token, JSON bodies, responses
//!   read whole (API responses are small: file bytes never pass through
//!   here);
//! * plain GETs of pre-signed URLs ([`Fetcher::get_stream`]): no bearer
//!   token (it must never reach a storage host), the `Response` handed back
//!   unread so its body can be streamed.
//!
//! Both pass the caller's `AbortSignal` to `fetch`, so aborting cancels the
//! request in flight; a fetch rejected because its signal fired is reported
//! as kind `aborted`, any other rejection as a missing response.
//!
//! The requests themselves are made by `js/host.js` (calls into
//! `Headers`, `Request` and `fetch` only, far smaller as JavaScript than as
//! compiled bindings); this module turns its answers and failures into the
//! client's types and errors.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Response};

use crate::error::ClientError;
use crate::js::describe;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// `js/host.js`: an API call, read whole.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = apiFetch)]
    fn api_fetch(
        method: &str,
        url: &str,
        headers: &js_sys::Array,
        token: &str,
        body: Option<&str>,
        signal: Option<&AbortSignal>,
        custom_fetch: &JsValue,
    ) -> Promise;
    /// `js/host.js`: a plain GET, the `Response` unread.
    #[wasm_bindgen(js_name = getFetch)]
    fn get_fetch(url: &str, signal: Option<&AbortSignal>, custom_fetch: &JsValue) -> Promise;
}

/// Which `fetch` to call.
#[derive(Debug, Clone, Default)]
pub(crate) enum Fetcher {
    /// `globalThis.fetch`.
    #[default]
    Global,
    /// A function given in the client options.
    Custom(Function),
}

/// An HTTP response, read whole.
#[derive(Debug, Clone)]
pub(crate) struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Status text (may be empty, e.g. over HTTP/2).
    pub status_text: String,
    /// The `x-correlation-id` header.
    pub correlation_id: Option<String>,
    /// The `Retry-After` header, unparsed.
    pub retry_after: Option<String>,
    /// The body as text.
    pub body: String,
}

/// An API request: method, URL, bearer token, optional JSON body, extra
/// headers, and the signal that cancels it.
#[derive(Clone)]
pub(crate) struct ApiRequest<'a> {
    pub method: &'a str,
    pub url: String,
    pub token: &'a str,
    pub json_body: Option<String>,
    /// Extra headers: the client's `headers` option, then per-call ones
    /// (`Idempotency-Key`). `Authorization` and `Content-Type` are set last
    /// and win.
    pub headers: Vec<(String, String)>,
    pub signal: Option<&'a AbortSignal>,
}

impl std::fmt::Debug for ApiRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token, nor header values (they may carry credentials).
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("url", &redact(&self.url))
            .field("has_body", &self.json_body.is_some())
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// The custom `fetch`, or `undefined` for the global one.
    fn custom(&self) -> JsValue {
        match self {
            Fetcher::Global => JsValue::UNDEFINED,
            Fetcher::Custom(f) => f.clone().into(),
        }
    }

    /// Sends an API request and reads the whole response.
    pub async fn send(&self, req: ApiRequest<'_>) -> Result<HttpResponse, ClientError> {
        let headers = js_sys::Array::new();
        for (name, value) in &req.headers {
            headers.push(&JsValue::from_str(name));
            headers.push(&JsValue::from_str(value));
        }
        let answer = JsFuture::from(api_fetch(
            req.method,
            &req.url,
            &headers,
            req.token,
            req.json_body.as_deref(),
            req.signal,
            &self.custom(),
        ))
        .await
        .map_err(|e| {
            let what = || format!("{} {}", req.method, redact(&req.url));
            match failure_code(&e) {
                (2, detail) => ClientError::invalid(
                    Some("baseUrl"),
                    format!(
                        "Cannot build a request to {}: {}",
                        redact(&req.url),
                        describe(&detail)
                    ),
                ),
                (5, detail) => failure(req.signal, redact(&req.url), &detail),
                (code, detail) => fetch_error(code, &detail, req.signal, &what),
            }
        })?;
        let answer: js_sys::Array = answer.unchecked_into();
        let text = |i: u32| answer.get(i).as_string();
        Ok(HttpResponse {
            status: answer.get(0).as_f64().unwrap_or(0.0) as u16,
            status_text: text(1).unwrap_or_default(),
            correlation_id: text(2),
            retry_after: text(3),
            body: text(4).unwrap_or_default(),
        })
    }

    /// A plain GET of a pre-signed URL: no bearer token, the `Response`
    /// handed back unread. A missing response is reported as a storage
    /// failure (code `STORAGE_NETWORK_ERROR`).
    pub async fn get_stream(
        &self,
        url: &str,
        signal: Option<&AbortSignal>,
    ) -> Result<Response, ClientError> {
        let what = || format!("GET {}", redact(url));
        let response = JsFuture::from(get_fetch(url, signal, &self.custom()))
            .await
            .map_err(|e| match failure_code(&e) {
                (2, detail) => ClientError::Protocol {
                    status: 200,
                    message: format!(
                        "The API returned a URL that cannot be requested ({}): {}",
                        redact(url),
                        describe(&detail)
                    ),
                    correlation_id: None,
                },
                (code, detail) => match fetch_error(code, &detail, signal, &what) {
                    ClientError::Network { message } => ClientError::Storage {
                        status: None,
                        code: crate::error::STORAGE_NETWORK_CODE.to_string(),
                        message,
                        request_id: None,
                    },
                    other => other,
                },
            })?;
        Ok(response.unchecked_into())
    }
}

/// The `[code, detail]` a request of `js/host.js` rejected with
/// (code 3, no response, for anything else thrown).
fn failure_code(e: &JsValue) -> (u32, JsValue) {
    if js_sys::Array::is_array(e) {
        let a: &js_sys::Array = e.unchecked_ref();
        if let Some(code) = a.get(0).as_f64() {
            return (code as u32, a.get(1));
        }
    }
    (3, e.clone())
}

/// The client's error for failure `code` (see `js/host.js`) of the
/// request `what` names.
fn fetch_error(
    code: u32,
    detail: &JsValue,
    signal: Option<&AbortSignal>,
    what: &dyn Fn() -> String,
) -> ClientError {
    match code {
        0 => ClientError::invalid(
            Some("headers"),
            format!(
                "The header `{}` has a name or value not allowed in HTTP.",
                detail.as_string().unwrap_or_default()
            ),
        ),
        1 => ClientError::invalid(
            Some("token"),
            "The token contains characters not allowed in an HTTP header.",
        ),
        4 => ClientError::Network {
            message: format!("{}: fetch did not resolve to a Response", what()),
        },
        6 => ClientError::aborted(&signal.map(|s| s.reason()).unwrap_or_default()),
        _ => failure(signal, &what(), detail),
    }
}

/// A request that got no response: kind `aborted` when its signal fired,
/// else a network failure.
fn failure(signal: Option<&AbortSignal>, what: &str, e: &JsValue) -> ClientError {
    if let Some(s) = signal.filter(|s| s.aborted()) {
        return ClientError::aborted(&s.reason());
    }
    ClientError::Network {
        message: format!("{what} failed without a response: {}", describe(e)),
    }
}

/// The URL without its query string (which may carry signatures).
pub(crate) fn redact(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}
