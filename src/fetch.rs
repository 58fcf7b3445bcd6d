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

    /// What `apiFetch` resolves with.
    type ApiAnswer;
    #[wasm_bindgen(method, getter)]
    fn status(this: &ApiAnswer) -> u16;
    #[wasm_bindgen(method, getter, js_name = statusText)]
    fn status_text(this: &ApiAnswer) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = correlationId)]
    fn correlation_id(this: &ApiAnswer) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = retryAfter)]
    fn retry_after(this: &ApiAnswer) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn body(this: &ApiAnswer) -> Option<String>;

    /// What a request of `js/host.js` rejects with: a [`Failure`] by name,
    /// and its detail.
    type HostFailure;
    #[wasm_bindgen(method, getter)]
    fn kind(this: &HostFailure) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn detail(this: &HostFailure) -> JsValue;
}

/// Why a request of `js/host.js` failed (its `Failure`'s `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `header`: a header name or value HTTP does not allow (detail: its
    /// name).
    Header,
    /// `token`: the token has characters HTTP does not allow in a header.
    Token,
    /// `url`: no `Request` can be built for the URL (detail: the error).
    Url,
    /// `noResponse`: no response, or a download that broke off (detail:
    /// the error); also anything else thrown.
    NoResponse,
    /// `notResponse`: `fetch` resolved to something that is not a
    /// `Response`.
    NotResponse,
    /// `headers`: the `Headers` object cannot be built (detail: the error).
    Headers,
    /// `aborted`: the signal had fired before the request was sent.
    Aborted,
    /// `notBytes`: a chunk of a download is not bytes (detail: the chunk).
    NotBytes,
}

impl Failure {
    /// The failure `e` names, and its detail (`e` itself when it is not a
    /// failure of `js/host.js`).
    pub(crate) fn of(e: &JsValue) -> (Failure, JsValue) {
        let kind = if e.is_object() {
            e.unchecked_ref::<HostFailure>().kind()
        } else {
            None
        };
        let failure = match kind.as_deref() {
            Some("header") => Failure::Header,
            Some("token") => Failure::Token,
            Some("url") => Failure::Url,
            Some("noResponse") => Failure::NoResponse,
            Some("notResponse") => Failure::NotResponse,
            Some("headers") => Failure::Headers,
            Some("aborted") => Failure::Aborted,
            Some("notBytes") => Failure::NotBytes,
            _ => return (Failure::NoResponse, e.clone()),
        };
        (failure, e.unchecked_ref::<HostFailure>().detail())
    }
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
            match Failure::of(&e) {
                (Failure::Url, detail) => ClientError::invalid(
                    Some("baseUrl"),
                    format!(
                        "Cannot build a request to {}: {}",
                        redact(&req.url),
                        describe(&detail)
                    ),
                ),
                (Failure::Headers, detail) => failure(req.signal, redact(&req.url), &detail),
                (kind, detail) => fetch_error(kind, &detail, req.signal, &what),
            }
        })?;
        let answer: ApiAnswer = answer.unchecked_into();
        Ok(HttpResponse {
            status: answer.status(),
            status_text: answer.status_text().unwrap_or_default(),
            correlation_id: answer.correlation_id(),
            retry_after: answer.retry_after(),
            body: answer.body().unwrap_or_default(),
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
            .map_err(|e| match Failure::of(&e) {
                (Failure::Url, detail) => ClientError::Protocol {
                    status: 200,
                    message: format!(
                        "The API returned a URL that cannot be requested ({}): {}",
                        redact(url),
                        describe(&detail)
                    ),
                    correlation_id: None,
                },
                (kind, detail) => match fetch_error(kind, &detail, signal, &what) {
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

/// The client's error for a [`Failure`] of the request `what` names.
fn fetch_error(
    kind: Failure,
    detail: &JsValue,
    signal: Option<&AbortSignal>,
    what: &dyn Fn() -> String,
) -> ClientError {
    match kind {
        Failure::Header => ClientError::invalid(
            Some("headers"),
            format!(
                "The header `{}` has a name or value not allowed in HTTP.",
                detail.as_string().unwrap_or_default()
            ),
        ),
        Failure::Token => ClientError::invalid(
            Some("token"),
            "The token contains characters not allowed in an HTTP header.",
        ),
        Failure::NotResponse => ClientError::Network {
            message: format!("{}: fetch did not resolve to a Response", what()),
        },
        Failure::Aborted => ClientError::aborted(&signal.map(|s| s.reason()).unwrap_or_default()),
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
