//! Per-token rate limit of the API routes (`--rate-limit N/SECONDS`, off by
//! default).
//!
//! # Emulator choice: a token bucket per token
//!
//! The documentation says limits apply per token and publishes no numbers.
//! The emulator keeps one token bucket per presented token (keyed by
//! [`crate::auth::Caller::token_id`], so two OAuth tokens of the same client
//! are limited separately, as "per token" reads). A bucket holds at most `N`
//! requests and refills continuously at `N` per `SECONDS`: a burst of `N`
//! requests passes at once, then one request every `SECONDS / N` seconds.
//! A request finding the bucket empty gets 429 `CDP_ETL.RATE.LIMITED`, the
//! message `Rate limit exceeded. Retry after Ns.` and `Retry-After: N`, where
//! `N` is the whole number of seconds (at least 1) until the bucket holds a
//! request again; `details` carries `limit`, `windowSecs` and
//! `retryAfterSecs`. Refused requests do not consume anything. Time comes
//! from the emulator's clock, so tests move it instead of sleeping. One
//! endpoint class covers every API route; the OAuth token endpoint is not
//! limited.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use import_core::codes;
use serde_json::json;

use crate::config::RateLimit;
use crate::error::ApiError;

/// Buckets kept before full (idle) ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Requests available (fractional while refilling).
    available: f64,
    /// When `available` was computed.
    at: DateTime<Utc>,
}

/// Per-token token buckets.
#[derive(Debug)]
pub struct RateLimiter {
    limit: Option<RateLimit>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter; `None` never limits.
    pub fn new(limit: Option<RateLimit>) -> Self {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> Option<RateLimit> {
        self.limit
    }

    /// Counts one request of `token_id` at `now`: 429
    /// `CDP_ETL.RATE.LIMITED` with `Retry-After` when its bucket is empty.
    pub fn check(&self, token_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let capacity = f64::from(limit.requests);
        let per_sec = capacity / limit.per_secs as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| refill(b, now, capacity, per_sec) < capacity);
        }
        let bucket = buckets.entry(token_id.to_string()).or_insert(Bucket {
            available: capacity,
            at: now,
        });
        let available = refill(bucket, now, capacity, per_sec);
        *bucket = Bucket {
            available,
            at: now.max(bucket.at),
        };
        if available >= 1.0 {
            bucket.available -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - available) / per_sec).ceil().max(1.0) as u64;
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            format!("Rate limit exceeded. Retry after {wait}s."),
        )
        .with_details(json!({
            "limit": limit.requests,
            "windowSecs": limit.per_secs,
            "retryAfterSecs": wait,
        }))
        .with_retry_after(wait))
    }
}

/// Requests available in `b` at `now`.
fn refill(b: &Bucket, now: DateTime<Utc>, capacity: f64, per_sec: f64) -> f64 {
    let elapsed_ms = (now - b.at).num_milliseconds().max(0) as f64;
    (b.available + elapsed_ms / 1000.0 * per_sec).min(capacity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(requests: u32, per_secs: u64) -> RateLimiter {
        RateLimiter::new(Some(RateLimit { requests, per_secs }))
    }

    #[test]
    fn none_never_limits() {
        let l = RateLimiter::new(None);
        let now = Utc::now();
        for _ in 0..1000 {
            l.check("t", now).unwrap();
        }
    }

    #[test]
    fn burst_then_refill() {
        let l = limiter(2, 10);
        let t0 = Utc::now();
        l.check("a", t0).unwrap();
        l.check("a", t0).unwrap();
        let err = l.check("a", t0).unwrap_err();
        assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(err.retry_after, Some(5));
        assert_eq!(err.message, "Rate limit exceeded. Retry after 5s.");
        // Another token has its own bucket.
        l.check("b", t0).unwrap();
        // Refused requests consume nothing: after 5 s one request passes.
        let t1 = t0 + chrono::Duration::seconds(5);
        l.check("a", t1).unwrap();
        assert_eq!(l.check("a", t1).unwrap_err().retry_after, Some(5));
        // Long idle: back to a full burst, never more.
        let t2 = t1 + chrono::Duration::seconds(3600);
        l.check("a", t2).unwrap();
        l.check("a", t2).unwrap();
        assert!(l.check("a", t2).is_err());
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let l = limiter(100, 1);
        let t0 = Utc::now();
        for _ in 0..100 {
            l.check("a", t0).unwrap();
        }
        assert_eq!(l.check("a", t0).unwrap_err().retry_after, Some(1));
    }
}
