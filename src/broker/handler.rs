//! One browser request through the broker, in this order:
//!
//! 1. CORS: a request whose `Origin` is neither the broker's own nor one of
//!    `allowedOrigins` (exact match) is refused (403
//!    `BROKER.CORS.ORIGIN_NOT_ALLOWED`); allowed origins get
//!    `Access-Control-Allow-Origin: <that origin>` (never `*`), preflights
//!    (`OPTIONS`) are answered here without authentication.
//! 2. Route: only the Import Jobs and Metadata paths under `basePath`
//!    (404/405 otherwise).
//! 3. Who: the `authorize` hook if given (a grant, or null to fall through;
//!    it gets a copy of the request without its body), else
//!    `Authorization: Bearer <upload ticket>`.
//! 4. Rate limit per subject (429 with `Retry-After`): this instance's
//!    buckets, or the `rateLimiter` option (503 `BROKER.RATE.UNAVAILABLE`
//!    when it fails: refused, not let through).
//! 5. Job handles: the handle in the path must have been issued to this
//!    subject; it is replaced by the job id.
//! 6. Policy on create, mapping and start bodies (read with a byte count, at
//!    most 1 MiB: 413 `BROKER.REQUEST.TOO_LARGE`, with or without a
//!    `Content-Length`); the checked body, re-serialised, is what is sent.
//!    The metadata routes honour the allowed objects: a schema of another
//!    object is 403, and the list keeps only allowed objects.
//! 7. The call to the API with the workspace token (the browser's
//!    `Authorization` is never forwarded; of its headers only
//!    `Idempotency-Key` is, scoped to the subject).
//! 8. The answer: the API's status, envelope and `x-correlation-id`, with
//!    `data.jobId` replaced by the subject's job handle. An authentication
//!    refusal of the broker's own token becomes 502
//!    `BROKER.UPSTREAM.AUTH_FAILED` (the browser cannot fix it, and its
//!    ticket is not at fault). 502 messages are generic: the cause (hosts,
//!    network errors) goes to the operator's log (`console.error`) with
//!    the correlation id the browser got.
//!
//! Every answer carries `X-Content-Type-Options: nosniff` and
//! `Cache-Control: no-store`.

use import_core::broker::{self as rules, Grant, Refusal, Route};
use import_core::codes::{self, broker as code};
use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, ReadableStreamDefaultReader, Request, RequestInit, Response, ResponseInit};

use super::options::{grant_of, Broker, Limiter};
use crate::js::describe;

#[wasm_bindgen]
extern "C" {
    /// The operator's log.
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn log_error(message: &str);
}
use super::upstream::{auth_failed, error_code, Answer};
use crate::runtime::{now_ms, uuid_v4};

/// Headers a browser may send (preflight answer).
const ALLOWED_REQUEST_HEADERS: &str =
    "authorization, content-type, idempotency-key, x-correlation-id";
/// Headers a browser may read.
const EXPOSED_HEADERS: &str = "x-correlation-id, retry-after, idempotency-replayed";
/// How long a browser may cache a preflight answer, seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// Answers `request`. Never rejects: every failure is a `Response`.
pub(crate) async fn handle(b: &Broker, request: JsValue) -> Response {
    let cid = uuid_v4();
    let Ok(req) = request.dyn_into::<Request>() else {
        let r = Refusal::new(
            500,
            code::MISCONFIGURED,
            "The broker's handler must be called with a Request.",
        );
        return refusal_response(&r, &cid, None);
    };
    let (self_origin, path, query) = split_url(&req.url());
    let origin = header(&req, "origin");
    let cors = match origin {
        None => None,
        Some(o) if b.origins.contains(&o) => Some(o),
        Some(o) if o == self_origin => None,
        Some(o) => {
            let r = Refusal::new(
                403,
                code::ORIGIN_NOT_ALLOWED,
                format!("Requests from `{o}` are not allowed by this broker (add the origin to allowedOrigins)."),
            );
            return refusal_response(&r, &cid, None);
        }
    };
    match serve(b, &req, &path, &query).await {
        Ok(resp) => finish(resp, cors.as_deref()),
        Err(r) => refusal_response(&r, &cid, cors.as_deref()),
    }
}

struct Reply {
    status: u16,
    body: Option<String>,
    headers: Vec<(&'static str, String)>,
}

async fn serve(b: &Broker, req: &Request, path: &str, query: &str) -> Result<Reply, Refusal> {
    let not_found = || rules::route("GET", "/").unwrap_err();
    let rel = match path.strip_prefix(b.base_path.as_str()) {
        Some(r) if r.starts_with('/') => r,
        _ => return Err(not_found()),
    };
    let method = req.method().to_ascii_uppercase();
    if method == "OPTIONS" {
        // Preflights pass for every path under the base path, so that a page
        // can read the broker's own 404/405 answers (with their codes).
        let allow = rules::methods_of(rel).unwrap_or("GET, POST");
        return Ok(Reply {
            status: 204,
            body: None,
            headers: vec![
                ("access-control-allow-methods", allow.to_string()),
                (
                    "access-control-allow-headers",
                    ALLOWED_REQUEST_HEADERS.to_string(),
                ),
                ("access-control-max-age", PREFLIGHT_MAX_AGE.to_string()),
            ],
        });
    }
    let route = rules::route(&method, rel)?;
    let grant = authenticate(b, req).await?;
    limit(b, &grant.subject).await?;
    if let Route::Object(name) = &route {
        rules::check_object(&b.policy, &grant, name)?;
    }
    let job_id = match route.handle() {
        Some(h) => rules::open_job_handle(&b.secret, &grant.subject, h)?,
        None => String::new(),
    };
    let body = match &route {
        Route::CreateJob => {
            let raw = body(req).await?;
            let checked = rules::check_create(&b.policy, &grant, raw.as_bytes())?;
            Some(serde_json::to_string(&checked).unwrap_or_default())
        }
        Route::Mapping(_) => {
            let raw = body(req).await?;
            let checked = rules::check_mapping(&b.policy, raw.as_bytes())?;
            Some(serde_json::to_string(&checked).unwrap_or_default())
        }
        Route::Start(_) => rules::check_start(body(req).await?.as_bytes())?,
        _ => None,
    };
    let mut headers = Vec::new();
    if let Some(key) = header(req, "idempotency-key") {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|c| (0x20..0x7f).contains(&c)) {
            return Err(Refusal::new(
                400,
                codes::REQUEST_INVALID,
                "Invalid Idempotency-Key header: use 1-255 printable ASCII characters.",
            )
            .with_details(json!({ "header": "Idempotency-Key" })));
        }
        headers.push((
            "idempotency-key",
            rules::idempotency_key(&b.secret, &grant.subject, &key),
        ));
    }
    let mut url = format!("{}{}", b.api_base, route.upstream_path(&job_id));
    if matches!(route, Route::Objects | Route::Object(_)) && !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    let method = if body.is_some() || matches!(route, Route::Start(_)) {
        "POST"
    } else {
        "GET"
    };
    let answer = b
        .upstream
        .call(method, &url, body.as_deref(), &headers)
        .await?;
    reply(b, &grant, &route, answer)
}

fn reply(b: &Broker, grant: &Grant, route: &Route, answer: Answer) -> Result<Reply, Refusal> {
    let Answer {
        status,
        body,
        headers,
    } = answer;
    if matches!(status, 401 | 403) {
        if let Some(c) = error_code(&body).filter(|c| c.starts_with("CDP_ETL.AUTH.")) {
            let upstream_cid = headers
                .iter()
                .find(|(k, _)| *k == "x-correlation-id")
                .map(|(_, v)| v.clone());
            return Err(
                auth_failed(Some(json!({ "upstreamCorrelationId": upstream_cid }))).with_log(
                    format!("the API refused the workspace token: HTTP {status} {c}"),
                ),
            );
        }
    }
    let body = match route {
        _ if !(200..300).contains(&status) => body,
        Route::Objects => rules::filter_objects(&body, &b.policy, grant).unwrap_or(body),
        Route::Object(_) => body,
        _ => rules::rewrite_job_id(&body, &b.secret, &grant.subject).unwrap_or(body),
    };
    Ok(Reply {
        status,
        body: (!body.is_empty()).then_some(body),
        headers,
    })
}

/// Takes one request of `subject`'s rate limit.
async fn limit(b: &Broker, subject: &str) -> Result<(), Refusal> {
    match &b.limiter {
        Limiter::Memory(l) => l
            .borrow_mut()
            .take(subject, now_ms())
            .map_err(rules::rate_limited),
        Limiter::Custom(l) => {
            let unavailable = |why: String| {
                Refusal::new(
                    503,
                    code::RATE_UNAVAILABLE,
                    "The broker's rate limiter is unavailable; try again shortly.",
                )
                .with_log(format!("rateLimiter.limit failed: {why}"))
            };
            let answer = custom_limit(l, subject)
                .await
                .map_err(|e| unavailable(describe(&e)))?;
            match Reflect::get(&answer, &JsValue::from_str("ok")).map(|v| v.as_bool()) {
                Ok(Some(true)) => Ok(()),
                Ok(Some(false)) => {
                    let wait = Reflect::get(&answer, &JsValue::from_str("retryAfter"))
                        .ok()
                        .and_then(|v| v.as_f64())
                        .filter(|w| w.is_finite())
                        .unwrap_or(1.0);
                    Err(rules::rate_limited(wait.clamp(1.0, 86_400.0).ceil() as u64))
                }
                _ => Err(unavailable(
                    "it must answer { ok: boolean, retryAfter?: number }".into(),
                )),
            }
        }
    }
}

/// `limiter.limit(subject)`, awaited; its answer must be an object.
async fn custom_limit(limiter: &Object, subject: &str) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(limiter, &JsValue::from_str("limit"))?.dyn_into()?;
    let value = f.call1(limiter, &JsValue::from_str(subject))?;
    let answer = JsFuture::from(Promise::resolve(&value)).await?;
    if answer.is_object() {
        Ok(answer)
    } else {
        Err(JsValue::from_str(
            "it must answer { ok: boolean, retryAfter?: number }",
        ))
    }
}

async fn authenticate(b: &Broker, req: &Request) -> Result<Grant, Refusal> {
    if let Some(f) = &b.authorize {
        let hook_failed = |why: String| {
            Refusal::new(
                500,
                code::MISCONFIGURED,
                format!("The broker's authorize hook failed: {why}."),
            )
        };
        // The hook gets the method, URL and headers (who is asking is in
        // them: cookies, Authorization) but no body: a copy of the body
        // would be read by nobody but the hook, without the broker's size
        // limit.
        let init = RequestInit::new();
        init.set_method(&req.method());
        init.set_headers(&req.headers());
        let copy = Request::new_with_str_and_init(&req.url(), &init)
            .map_err(|_| hook_failed("the request could not be copied".into()))?;
        let value = f
            .call1(&JsValue::UNDEFINED, &copy)
            .map_err(|_| hook_failed("it threw".into()))?;
        let value = JsFuture::from(Promise::resolve(&value))
            .await
            .map_err(|_| hook_failed("its promise rejected".into()))?;
        if value.is_object() {
            return grant_of(&value)
                .map_err(|e| hook_failed(format!("it returned an invalid grant ({e})")));
        }
        if !value.is_null() && !value.is_undefined() {
            return Err(hook_failed(
                "it must return a grant object, null or undefined".into(),
            ));
        }
    }
    let auth = header(req, "authorization").ok_or_else(|| {
        Refusal::new(
            401,
            code::TICKET_MISSING,
            "No upload ticket: send `Authorization: Bearer <ticket>` with a ticket from the app.",
        )
    })?;
    let ticket = auth
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Refusal::new(
                401,
                code::TICKET_MISSING,
                "The Authorization header must be `Bearer <ticket>` with a ticket from the app.",
            )
        })?;
    let now = (now_ms() / 1000.0).floor() as u64;
    rules::verify_ticket_for(&b.secret, &b.audience, ticket, now)
}

/// The request body, at most [`rules::MAX_BODY`] bytes: counted as it is
/// read, so a body without `Content-Length` (chunked) is cancelled at the
/// limit rather than buffered whole.
async fn body(req: &Request) -> Result<String, Refusal> {
    if let Some(len) = header(req, "content-length").and_then(|l| l.parse::<u64>().ok()) {
        if len > rules::MAX_BODY as u64 {
            return Err(rules::body_too_large());
        }
    }
    let unreadable = |e: JsValue| {
        Refusal::new(
            400,
            codes::REQUEST_INVALID,
            "The request body could not be read.",
        )
        .with_log(format!("reading a request body failed: {}", describe(&e)))
    };
    let Some(stream) = req.body() else {
        return Ok(String::new());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(unreadable)?;
        if Reflect::get(&chunk, &JsValue::from_str("done"))
            .map_err(unreadable)?
            .is_truthy()
        {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &JsValue::from_str("value"))
            .map_err(unreadable)?
            .dyn_into()
            .map_err(unreadable)?;
        if bytes.len() + value.length() as usize > rules::MAX_BODY {
            // Stop reading: the rest is never pulled.
            let _ = reader.cancel();
            return Err(rules::body_too_large());
        }
        let at = bytes.len();
        bytes.resize(at + value.length() as usize, 0);
        value.copy_to(&mut bytes[at..]);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// `(origin, path, query)` of an absolute URL.
fn split_url(url: &str) -> (String, String, String) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    let origin = url[..path_start].to_string();
    let rest = &url[path_start..];
    let rest = rest.split('#').next().unwrap_or("");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if path.is_empty() { "/" } else { path };
    (origin, path.to_string(), query.to_string())
}

fn refusal_response(r: &Refusal, cid: &str, cors: Option<&str>) -> Response {
    if let Some(cause) = &r.log {
        log_error(&format!(
            "import-uploader broker: {} {} (correlation id {cid}): {cause}",
            r.status, r.code
        ));
    }
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("x-correlation-id", cid.to_string()),
    ];
    if let Some(s) = r.retry_after {
        headers.push(("retry-after", s.to_string()));
    }
    if r.status == 405 {
        if let Some(allow) = r.details.as_ref().and_then(|d| d["allow"].as_str()) {
            headers.push(("allow", allow.to_string()));
        }
    }
    finish(
        Reply {
            status: r.status,
            body: Some(r.envelope(cid)),
            headers,
        },
        cors,
    )
}

fn finish(reply: Reply, cors: Option<&str>) -> Response {
    let h = Headers::new().expect("Headers");
    for (k, v) in &reply.headers {
        let _ = h.set(k, v);
    }
    if let Some(o) = cors {
        let _ = h.set("access-control-allow-origin", o);
        let _ = h.set("access-control-expose-headers", EXPOSED_HEADERS);
        let _ = h.append("vary", "Origin");
    }
    let _ = h.set("cache-control", "no-store");
    let _ = h.set("x-content-type-options", "nosniff");
    let init = ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&h);
    Response::new_with_opt_str_and_init(reply.body.as_deref(), &init)
        .unwrap_or_else(|_| Response::new().expect("Response"))
}
