//! `Idempotency-Key` support for the API's POST endpoints: a retried request
//! (same key, same request) gets the original response back instead of being
//! executed twice, so a client can retry a create after a network failure
//! without making a second job.
//!
//! # Behaviour (emulator choices where the documentation is silent)
//!
//! * **Key format:** 1–255 printable ASCII characters (`0x20`–`0x7E`); a UUID
//!   v4 is recommended. Anything else, or the header sent twice, is refused
//!   with 400 `CDP_ETL.VALIDATION.REQUEST_INVALID`. Without the header the
//!   request simply runs.
//! * **Scope:** keys are per workspace *and* per token subject, so two
//!   clients never see each other's responses.
//! * **"Same request"** means the same method, the same path and the same
//!   JSON body *in meaning*: the body is canonicalised (object keys sorted,
//!   whitespace dropped; an empty body counts as `{}`) before it is hashed
//!   (SHA-256). A body that is not JSON is compared byte for byte.
//! * **Replay:** for 24 hours after the first request, the same key with the
//!   same request returns the first response's status and body byte for
//!   byte (so the same `jobId`, and the original body's `correlationId`),
//!   with the header `Idempotency-Replayed: true`. The `x-correlation-id`
//!   header is the new request's.
//! * **Reuse:** the same key with a different request (another body, or
//!   another endpoint) is refused with 409
//!   `CDP_ETL.IDEMPOTENCY.KEY_REUSED`; nothing is executed.
//! * **Only successes are recorded.** An error response (4xx, 5xx) is not
//!   stored, so once the cause is fixed (e.g. the upload finished) the
//!   same key and body may be retried and will run.
//! * **Concurrency:** a second request with a key whose first request is
//!   still running waits for it to finish, then is answered as a retry
//!   (replay if the first succeeded, execution otherwise). It never runs in
//!   parallel with the first.
//! * Records older than 24 hours are ignored and purged by the periodic
//!   sweep ([`crate::jobs::sweep`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use import_core::codes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::Caller;
use crate::db::IdempotencyRecord;
use crate::error::{ApiError, ApiResult};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header marking a replayed response.
pub const REPLAYED_HEADER: &str = "idempotency-replayed";
/// How long a recorded response is replayed.
pub const TTL: chrono::Duration = chrono::Duration::hours(24);
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// Locks of keys whose first request is being served.
#[derive(Debug, Default)]
pub struct InFlight {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl InFlight {
    async fn lock(&self, id: String) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            map.retain(|_, w| w.strong_count() > 0);
            match map.get(&id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(id, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

/// The `Idempotency-Key` of a request: None without the header, 400 when it
/// is malformed.
pub fn key_of(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = |why: &str| {
        ApiError::bad_request(format!(
            "Invalid Idempotency-Key header: {why}. Use 1-{MAX_KEY_LEN} printable ASCII \
             characters, e.g. a UUID v4."
        ))
        .with_details(json!({ "header": "Idempotency-Key" }))
    };
    if values.next().is_some() {
        return Err(bad("the header was sent more than once"));
    }
    let key = value
        .to_str()
        .map_err(|_| bad("it contains non-ASCII bytes"))?;
    if key.is_empty() {
        return Err(bad("it is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(bad(&format!("it is {} characters long", key.len())));
    }
    if !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(bad("it contains control characters"));
    }
    Ok(Some(key.to_string()))
}

/// SHA-256 (hex) of method, path and canonical body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        h.update(b"json:{}");
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                let mut out = String::new();
                canonical(&v, &mut out);
                h.update(b"json:");
                h.update(out.as_bytes());
            }
            Err(_) => {
                h.update(b"raw:");
                h.update(body);
            }
        }
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// Compact JSON with object keys sorted.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn replay(rec: &IdempotencyRecord) -> Response {
    let mut resp = Response::new(Body::from(rec.response.clone()));
    *resp.status_mut() = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    resp
}

/// Runs `run` under the request's `Idempotency-Key` (if any): replays a
/// recorded response, refuses a reused key, or runs and records a success.
///
/// `path` is the API path without the `/public/v1` prefix (e.g.
/// `/import-jobs/imp_…/start`); `body` the raw request body.
pub async fn guard<F, Fut>(
    state: &App,
    caller: &Caller,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
    run: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<Response>>,
{
    let Some(key) = key_of(headers)? else {
        return run().await;
    };
    let hash = request_hash(method, path, body);
    let lock_id = format!("{}\u{0}{}\u{0}{}", caller.workspace, caller.subject, key);
    let _guard = state.db.in_flight.lock(lock_id).await;
    let now = state.now();

    if let Some(rec) = state
        .db
        .get_idempotency(&caller.workspace, &caller.subject, &key)?
    {
        if rec.created_at + TTL > now {
            if rec.request_hash == hash {
                return Ok(replay(&rec));
            }
            return Err(ApiError::conflict(
                codes::IDEMPOTENCY_KEY_REUSED,
                "This Idempotency-Key was already used with a different request (method, path \
                 or body) within the last 24 hours. Use a new key for a new request, or resend \
                 the original request unchanged to get its response again.",
            )
            .with_details(json!({
                "header": "Idempotency-Key",
                "firstUsedAt": crate::clock::rfc3339(rec.created_at),
            })));
        }
    }

    let resp = run().await?;
    if !resp.status().is_success() {
        return Ok(resp);
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(ApiError::internal)?;
    state.db.put_idempotency(
        &caller.workspace,
        &caller.subject,
        &key,
        &IdempotencyRecord {
            request_hash: hash,
            status: parts.status.as_u16(),
            response: bytes.to_vec(),
            created_at: now,
        },
    )?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_key_order_and_whitespace() {
        let a = request_hash("POST", "/import-jobs", br#"{"a":1,"b":[1,{"y":2,"x":1}]}"#);
        let b = request_hash(
            "POST",
            "/import-jobs",
            b"{ \"b\": [1, {\"x\": 1, \"y\": 2}],\n \"a\": 1 }",
        );
        assert_eq!(a, b);
        assert_ne!(a, request_hash("POST", "/import-jobs", br#"{"a":2}"#));
        assert_ne!(
            a,
            request_hash(
                "POST",
                "/import-jobs/x/start",
                br#"{"a":1,"b":[1,{"y":2,"x":1}]}"#
            )
        );
        assert_eq!(
            request_hash("POST", "/s", b""),
            request_hash("POST", "/s", b"{}")
        );
    }

    #[test]
    fn key_format() {
        let mut h = HeaderMap::new();
        assert_eq!(key_of(&h).unwrap(), None);
        h.insert(
            HEADER,
            HeaderValue::from_static("9b2c1f3e-aaaa-4bbb-8ccc-123456789abc"),
        );
        assert!(key_of(&h).unwrap().is_some());
        h.insert(HEADER, HeaderValue::from_str(&"k".repeat(256)).unwrap());
        assert!(key_of(&h).is_err());
        h.insert(HEADER, HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        assert!(key_of(&h).is_err());
        h.insert(HEADER, HeaderValue::from_static("a"));
        h.append(HEADER, HeaderValue::from_static("b"));
        assert!(key_of(&h).is_err());
    }
}
