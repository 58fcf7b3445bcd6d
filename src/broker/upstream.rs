//! The broker's side of the API: the workspace token and the forwarded calls.
//!
//! * A static `token` is used as given. With `oauth`, the broker exchanges
//!   its client credentials at `tokenUrl` (RFC 6749 §4.4, HTTP Basic
//!   authentication) on first need and caches the token until shortly before
//!   it expires (a minute early, or half its lifetime if that is shorter).
//! * Single flight: while one token request is under way, every request that
//!   needs a token awaits that same request (one JS promise shared by all).
//! * A 401 `CDP_ETL.AUTH.TOKEN_EXPIRED` from the API refreshes the token once
//!   (unless another request already did) and retries the call; with both
//!   `token` and `oauth`, the static token is used until it expires.
//! * The token goes only to the API (`Authorization`) and the client secret
//!   only to the token endpoint; neither appears in any answer or message.
//!   No upstream request follows a redirect (`redirect: "manual"`, and a
//!   3xx answer is an upstream failure): a redirect would carry the token
//!   or the client secret to another host.
//! * Failures answer the browser a generic 502; the cause (the upstream
//!   host, the network error, the token endpoint's `error`) is the
//!   refusal's `log`, which the handler writes to the operator's log.

use std::cell::RefCell;

use import_core::broker::Refusal;
use import_core::codes::{self, broker as code};
use js_sys::{Array, Function, Object, Promise};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, RequestRedirect, Response, ResponseType};

use crate::js::describe;
use crate::runtime::now_ms;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch)]
    fn btoa(data: &str) -> Result<String, JsValue>;
}

/// `globalThis.fetch(request)`, looked up at call time (a declared `fetch`
/// import would clash with other crates' declarations of the same import
/// when linked into one module).
fn global_fetch(request: &Request) -> Result<Promise, JsValue> {
    let global = js_sys::global();
    let fetch: Function = js_sys::Reflect::get(&global, &JsValue::from_str("fetch"))?.dyn_into()?;
    Ok(fetch.call1(&global, request)?.unchecked_into())
}

/// OAuth 2.0 client credentials.
#[derive(Clone)]
pub(crate) struct OAuth {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub scope: Option<String>,
}

struct Token {
    value: String,
    /// When to fetch a new one (`INFINITY` for a static token).
    refresh_at_ms: f64,
}

/// The workspace token and the `fetch` that reaches the API.
pub(crate) struct Upstream {
    oauth: Option<OAuth>,
    fetch: Option<Function>,
    current: RefCell<Option<Token>>,
    inflight: RefCell<Option<Promise>>,
}

/// An answer of the API, read whole (API answers are small).
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
    /// Headers passed on to the browser.
    pub headers: Vec<(&'static str, String)>,
}

/// Headers of the API's answers the browser gets.
const PASSED_HEADERS: [&str; 4] = [
    "content-type",
    "x-correlation-id",
    "retry-after",
    "idempotency-replayed",
];

impl Upstream {
    pub fn new(token: Option<String>, oauth: Option<OAuth>, fetch: Option<Function>) -> Self {
        let current = token.map(|value| Token {
            value,
            refresh_at_ms: f64::INFINITY,
        });
        Upstream {
            oauth,
            fetch,
            current: RefCell::new(current),
            inflight: RefCell::new(None),
        }
    }

    /// A usable token. `stale`: the token the API just called expired.
    async fn token(&self, stale: Option<&str>) -> Result<String, Refusal> {
        if let Some(t) = self.current.borrow().as_ref() {
            match stale {
                None if now_ms() < t.refresh_at_ms => return Ok(t.value.clone()),
                // Another request refreshed it meanwhile.
                Some(s) if s != t.value => return Ok(t.value.clone()),
                _ => {}
            }
        }
        let Some(oauth) = &self.oauth else {
            return match (self.current.borrow().as_ref(), stale) {
                (Some(t), None) => Ok(t.value.clone()),
                _ => Err(auth_failed(None).with_log(
                    "the API refused the static workspace token as expired, and the broker has no OAuth credentials to get a new one",
                )),
            };
        };
        let existing = self.inflight.borrow().clone();
        let promise = match existing {
            Some(p) => p,
            None => {
                let fut = fetch_token(oauth.clone(), self.fetch.clone());
                let p = wasm_bindgen_futures::future_to_promise(async move {
                    fut.await.map_err(|m| JsValue::from_str(&m))
                });
                *self.inflight.borrow_mut() = Some(p.clone());
                p
            }
        };
        let result = JsFuture::from(promise.clone()).await;
        {
            let mut inflight = self.inflight.borrow_mut();
            if inflight.as_ref().is_some_and(|p| Object::is(p, &promise)) {
                *inflight = None;
            }
        }
        let pair = result.map_err(|e| auth_failed(None).with_log(describe(&e)))?;
        let pair = Array::from(&pair);
        let value = pair.get(0).as_string().unwrap_or_default();
        let refresh_at_ms = pair.get(1).as_f64().unwrap_or(0.0);
        *self.current.borrow_mut() = Some(Token {
            value: value.clone(),
            refresh_at_ms,
        });
        Ok(value)
    }

    /// Sends one API call with the workspace token; refreshes the token and
    /// retries once on `TOKEN_EXPIRED`.
    pub async fn call(
        &self,
        method: &str,
        url: &str,
        body: Option<&str>,
        headers: &[(&str, String)],
    ) -> Result<Answer, Refusal> {
        let mut token = self.token(None).await?;
        let mut refreshed = false;
        loop {
            let answer = self.send(method, url, body, headers, &token).await?;
            if answer.status == 401
                && !refreshed
                && self.oauth.is_some()
                && error_code(&answer.body).as_deref() == Some(codes::TOKEN_EXPIRED)
            {
                refreshed = true;
                token = self.token(Some(&token)).await?;
                continue;
            }
            return Ok(answer);
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&str>,
        headers: &[(&str, String)],
        token: &str,
    ) -> Result<Answer, Refusal> {
        let failed = |e: JsValue| unreachable(url, &e);
        let h = Headers::new().map_err(failed)?;
        h.set("authorization", &format!("Bearer {token}"))
            .map_err(failed)?;
        h.set("accept", "application/json").map_err(failed)?;
        if body.is_some() {
            h.set("content-type", "application/json").map_err(failed)?;
        }
        for (k, v) in headers {
            h.set(k, v).map_err(failed)?;
        }
        let response = fetch(self.fetch.as_ref(), method, url, &h, body).await?;
        read(url, response).await
    }
}

/// Sends a request with `fetch` (the configured one or the global one),
/// never following a redirect: a 3xx answer (or an opaque redirect) is an
/// upstream failure.
async fn fetch(
    custom: Option<&Function>,
    method: &str,
    url: &str,
    headers: &Headers,
    body: Option<&str>,
) -> Result<Response, Refusal> {
    let failed = |e: JsValue| unreachable(url, &e);
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(headers);
    init.set_redirect(RequestRedirect::Manual);
    if let Some(b) = body {
        init.set_body(&JsValue::from_str(b));
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(failed)?;
    let promise = match custom {
        Some(f) => Promise::resolve(&f.call1(&JsValue::UNDEFINED, &request).map_err(failed)?),
        None => global_fetch(&request).map_err(failed)?,
    };
    let value = JsFuture::from(promise).await.map_err(failed)?;
    let response = value
        .dyn_into::<Response>()
        .map_err(|_| failed(JsValue::from_str("fetch did not answer a Response")))?;
    let status = response.status();
    if (300..400).contains(&status) || response.type_() == ResponseType::Opaqueredirect {
        // Not followed: the redirect's body is not read either.
        if let Some(b) = response.body() {
            let _ = b.cancel();
        }
        return Err(failed(JsValue::from_str(&format!(
            "it answered a redirect (HTTP {status}), which the broker does not follow"
        ))));
    }
    Ok(response)
}

async fn read(url: &str, response: Response) -> Result<Answer, Refusal> {
    let failed = |e: JsValue| unreachable(url, &e);
    let text = response.text().map_err(failed)?;
    let body = JsFuture::from(text)
        .await
        .map_err(failed)?
        .as_string()
        .unwrap_or_default();
    let h = response.headers();
    let headers = PASSED_HEADERS
        .iter()
        .filter_map(|k| h.get(k).ok().flatten().map(|v| (*k, v)))
        .collect();
    Ok(Answer {
        status: response.status(),
        body,
        headers,
    })
}

/// Exchanges the client credentials for a token: `[token, refreshAtMs]`.
async fn fetch_token(oauth: OAuth, custom: Option<Function>) -> Result<JsValue, String> {
    let failed = |why: String| {
        format!("The broker could not get a workspace token from its OAuth token endpoint: {why}.")
    };
    let basic = btoa(&format!(
        "{}:{}",
        form_encode(&oauth.client_id),
        form_encode(&oauth.client_secret)
    ))
    .map_err(|_| failed("the client id or secret is not Latin-1 text once encoded".into()))?;
    let h = Headers::new().map_err(|e| describe(&e))?;
    h.set("authorization", &format!("Basic {basic}"))
        .map_err(|e| describe(&e))?;
    h.set("content-type", "application/x-www-form-urlencoded")
        .map_err(|e| describe(&e))?;
    h.set("accept", "application/json")
        .map_err(|e| describe(&e))?;
    let mut form = "grant_type=client_credentials".to_string();
    if let Some(scope) = &oauth.scope {
        form.push_str("&scope=");
        form.push_str(&form_encode(scope));
    }
    let started = now_ms();
    let cause = |r: Refusal| failed(r.log.unwrap_or(r.message));
    let response = fetch(custom.as_ref(), "POST", &oauth.token_url, &h, Some(&form))
        .await
        .map_err(cause)?;
    let answer = read(&oauth.token_url, response).await.map_err(cause)?;
    let v: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    if answer.status != 200 {
        // RFC 6749 §5.2 `error` codes name no secret.
        let error = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error code");
        return Err(failed(format!("HTTP {} `{error}`", answer.status)));
    }
    let token = v
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| failed("the answer has no access_token".into()))?;
    let ttl_ms = v
        .get("expires_in")
        .and_then(Value::as_f64)
        .unwrap_or(3600.0)
        * 1000.0;
    let refresh_at = started + ttl_ms - (ttl_ms / 2.0).min(60_000.0);
    let pair = Array::new();
    pair.push(&JsValue::from_str(token));
    pair.push(&JsValue::from_f64(refresh_at));
    Ok(pair.into())
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `error.code` of an API error envelope.
pub(crate) fn error_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    Some(v.get("error")?.get("code")?.as_str()?.to_string())
}

/// A 502 for an upstream that cannot be reached at `url`: a generic
/// message; the host and the cause go to the log.
fn unreachable(url: &str, e: &JsValue) -> Refusal {
    Refusal::new(
        502,
        code::UPSTREAM_UNREACHABLE,
        "The broker could not reach the API. Try again later; if it persists, give the broker's operator this answer's correlation id.",
    )
    .with_log(format!("{} {}: {}", origin_of(url), "unreachable", describe(e)))
}

/// `scheme://host[:port]` of `url` (no path, query or credentials).
fn origin_of(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    &url[..end]
}

/// A 502 for a workspace-token problem (the browser can do nothing about
/// it): a generic message; the cause goes to the log (add it with
/// `with_log`).
pub(crate) fn auth_failed(details: Option<Value>) -> Refusal {
    let mut r = Refusal::new(
        502,
        code::UPSTREAM_AUTH_FAILED,
        "The API refused the broker's own credentials. Your upload ticket is fine; the broker's operator must fix its workspace token or OAuth client (give them this answer's correlation id).",
    );
    r.details = details;
    r
}
