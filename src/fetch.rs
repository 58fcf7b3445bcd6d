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

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, Request, RequestInit, Response};

use crate::error::ClientError;
use crate::js::describe;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` of whatever runtime this runs in.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_request(input: &Request) -> Promise;
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
    /// Sends `req` and reads the whole response. Only a missing response is
    /// an error here (kind `network`, or `aborted` when `req.signal` fired);
    /// statuses are the caller's business.
    pub async fn send(&self, req: ApiRequest<'_>) -> Result<HttpResponse, ClientError> {
        let request = build_request(&req)?;
        let what = || format!("{} {}", req.method, redact(&req.url));
        let response = self.fetch(&request, req.signal, &what).await?;
        let status = response.status();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let correlation_id = header("x-correlation-id");
        let retry_after = header("retry-after");
        let text = response
            .text()
            .map_err(|e| failure(req.signal, &what(), &e))?;
        let body = JsFuture::from(text)
            .await
            .map_err(|e| failure(req.signal, &what(), &e))?
            .as_string()
            .unwrap_or_default();
        Ok(HttpResponse {
            status,
            status_text: response.status_text(),
            correlation_id,
            retry_after,
            body,
        })
    }

    /// `GET url` without any credentials, for pre-signed URLs. Resolves with
    /// the unread `Response` whatever its status. A missing response is
    /// kind `storage` (code `STORAGE_NETWORK_ERROR`), or `aborted`.
    pub async fn get_stream(
        &self,
        url: &str,
        signal: Option<&AbortSignal>,
    ) -> Result<Response, ClientError> {
        let init = RequestInit::new();
        init.set_method("GET");
        if let Some(signal) = signal {
            init.set_signal(Some(signal));
        }
        let request =
            Request::new_with_str_and_init(url, &init).map_err(|e| ClientError::Protocol {
                status: 200,
                message: format!(
                    "The API returned a URL that cannot be requested ({}): {}",
                    redact(url),
                    describe(&e)
                ),
                correlation_id: None,
            })?;
        let what = || format!("GET {}", redact(url));
        self.fetch(&request, signal, &what)
            .await
            .map_err(|e| match e {
                ClientError::Network { message } => ClientError::Storage {
                    status: None,
                    code: crate::error::STORAGE_NETWORK_CODE.to_string(),
                    message,
                    request_id: None,
                },
                other => other,
            })
    }

    /// Calls `fetch(request)` and waits for the `Response`.
    async fn fetch(
        &self,
        request: &Request,
        signal: Option<&AbortSignal>,
        what: &dyn Fn() -> String,
    ) -> Result<Response, ClientError> {
        if let Some(s) = signal.filter(|s| s.aborted()) {
            return Err(ClientError::aborted(&s.reason()));
        }
        let promise = match self {
            Fetcher::Global => fetch_with_request(request),
            Fetcher::Custom(f) => match f.call1(&JsValue::UNDEFINED, request) {
                Ok(v) => Promise::resolve(&v),
                Err(e) => return Err(failure(signal, &what(), &e)),
            },
        };
        let response = JsFuture::from(promise)
            .await
            .map_err(|e| failure(signal, &what(), &e))?;
        response.dyn_into().map_err(|_| ClientError::Network {
            message: format!("{}: fetch did not resolve to a Response", what()),
        })
    }
}

fn build_request(req: &ApiRequest<'_>) -> Result<Request, ClientError> {
    let headers = Headers::new().map_err(|e| failure(req.signal, redact(&req.url), &e))?;
    for (name, value) in &req.headers {
        headers.set(name, value).map_err(|_| {
            ClientError::invalid(
                Some("headers"),
                format!("The header `{name}` has a name or value not allowed in HTTP."),
            )
        })?;
    }
    headers
        .set("Authorization", &format!("Bearer {}", req.token))
        .map_err(|_| {
            ClientError::invalid(
                Some("token"),
                "The token contains characters not allowed in an HTTP header.",
            )
        })?;
    if !req
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
    {
        let _ = headers.set("Accept", "application/json");
    }
    let init = RequestInit::new();
    init.set_method(req.method);
    if let Some(body) = &req.json_body {
        let _ = headers.set("Content-Type", "application/json");
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
    if let Some(signal) = req.signal {
        init.set_signal(Some(signal));
    }
    Request::new_with_str_and_init(&req.url, &init).map_err(|e| {
        ClientError::invalid(
            Some("baseUrl"),
            format!(
                "Cannot build a request to {}: {}",
                redact(&req.url),
                describe(&e)
            ),
        )
    })
}

/// A rejected `fetch` (or body read): `aborted` when the signal fired,
/// otherwise `network`.
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
