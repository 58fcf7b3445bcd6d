//! HTTP through the runtime's own `fetch`: the global one (resolved on
//! `globalThis` at call time, so it works in pages, workers, Node, Deno and
//! workerd alike) or one the caller supplied. Bodies are JSON text; the
//! response is read whole (API responses are small: file bytes never pass
//! through here).

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

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
    /// The body as text.
    pub body: String,
}

/// An API request: method, URL, bearer token, optional JSON body.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest<'a> {
    pub method: &'a str,
    pub url: String,
    pub token: &'a str,
    pub json_body: Option<String>,
}

impl Fetcher {
    /// Sends `req` and reads the whole response. Only a missing response is
    /// an error here; statuses are the caller's business.
    pub async fn send(&self, req: ApiRequest<'_>) -> Result<HttpResponse, ClientError> {
        let request = build_request(&req)?;
        let promise = match self {
            Fetcher::Global => fetch_with_request(&request),
            Fetcher::Custom(f) => match f.call1(&JsValue::UNDEFINED, &request) {
                Ok(v) => Promise::resolve(&v),
                Err(e) => return Err(network(&req, &e)),
            },
        };
        let response = JsFuture::from(promise)
            .await
            .map_err(|e| network(&req, &e))?;
        let response: Response = response.dyn_into().map_err(|_| ClientError::Network {
            message: format!(
                "{} {}: fetch did not resolve to a Response",
                req.method,
                redact(&req.url)
            ),
        })?;
        let status = response.status();
        let correlation_id = response.headers().get("x-correlation-id").ok().flatten();
        let text = response.text().map_err(|e| network(&req, &e))?;
        let body = JsFuture::from(text)
            .await
            .map_err(|e| network(&req, &e))?
            .as_string()
            .unwrap_or_default();
        Ok(HttpResponse {
            status,
            status_text: response.status_text(),
            correlation_id,
            body,
        })
    }
}

fn build_request(req: &ApiRequest<'_>) -> Result<Request, ClientError> {
    let headers = Headers::new().map_err(|e| network(req, &e))?;
    let invalid_token = |_| {
        ClientError::invalid(
            Some("token"),
            "The token contains characters not allowed in an HTTP header.",
        )
    };
    headers
        .set("Authorization", &format!("Bearer {}", req.token))
        .map_err(invalid_token)?;
    headers
        .set("Accept", "application/json")
        .map_err(|e| network(req, &e))?;
    let init = RequestInit::new();
    init.set_method(req.method);
    if let Some(body) = &req.json_body {
        headers
            .set("Content-Type", "application/json")
            .map_err(|e| network(req, &e))?;
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
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

fn network(req: &ApiRequest<'_>, e: &JsValue) -> ClientError {
    ClientError::Network {
        message: format!(
            "{} {} failed without a response: {}",
            req.method,
            redact(&req.url),
            describe(e)
        ),
    }
}

/// The URL without its query string (which may carry signatures).
pub(crate) fn redact(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}
