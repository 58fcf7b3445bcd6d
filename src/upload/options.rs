//! Upload options and targets as JavaScript passes them: `UploadOptions`
//! objects, the standalone `upload()`'s `url` / `method` / `headers` /
//! `expiresAt`, and a create-job response. Everything is checked before
//! anything is sent; a bad value is an `ImportError` of kind `validation`
//! naming the field.

use import_core::plan::Protocol;
use import_core::retry::RetryPolicy;
use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, EventTarget};

use super::{UploadTarget, DEFAULT_PROGRESS_INTERVAL_MS};
use crate::error::ClientError;

/// How to upload (`UploadOptions` in TypeScript). Every field is optional.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// Overrides [`Protocol::detect`].
    pub protocol: Option<Protocol>,
    /// Bytes per part (default `import_core::plan::default_part_size`: 8 MiB, larger over 1 GiB; raised past 50,000 parts).
    pub part_size: Option<u64>,
    /// Parts in flight (default 4).
    pub concurrency: Option<u32>,
    /// `Content-MD5` on every part where the protocol takes it, and a
    /// whole-object check where storage reports one (default true).
    pub checksum: bool,
    /// Cancels the upload.
    pub signal: Option<AbortSignal>,
    /// Called with every [`Progress`].
    pub on_progress: Option<Function>,
    /// Receives `progress`, `part` and `warning` events (default: a new
    /// `EventTarget`, the handle's `events`).
    pub events: Option<EventTarget>,
    /// Per-request retries.
    pub retry: RetryPolicy,
    /// Names the resume record (default: job id or URL path, plus the
    /// file's name, size and lastModified).
    pub resume_key: Option<String>,
    /// A `{getItem, setItem, removeItem}` store for resume records.
    pub resume_store: Option<JsValue>,
    /// A `fetch` for storage requests instead of the global one (and
    /// instead of XMLHttpRequest).
    pub fetch: Option<Function>,
    /// Minimum milliseconds between byte-level progress reports (100).
    pub progress_interval_ms: f64,
    /// Use XMLHttpRequest where present, for byte-level progress (true).
    pub use_xhr: bool,
    /// Skip parts a previous session recorded as acknowledged.
    pub resume: bool,
}

impl UploadOptions {
    /// The defaults.
    pub fn new() -> Self {
        UploadOptions {
            checksum: true,
            progress_interval_ms: DEFAULT_PROGRESS_INTERVAL_MS,
            use_xhr: true,
            ..Default::default()
        }
    }

    /// Reads a JS `UploadOptions` object (`undefined` gives the defaults).
    pub fn from_js(options: &JsValue) -> Result<UploadOptions, ClientError> {
        let mut o = UploadOptions::new();
        if options.is_undefined() || options.is_null() {
            return Ok(o);
        }
        if !options.is_object() {
            return Err(ClientError::invalid(
                None,
                "Upload options must be an object.",
            ));
        }
        let get = |k: &str| {
            Reflect::get(options, &JsValue::from_str(k))
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_null())
        };
        if let Some(v) = get("protocol") {
            let s = v.as_string().ok_or_else(|| {
                ClientError::invalid(Some("protocol"), "`protocol` must be a string.")
            })?;
            o.protocol = Some(s.parse().map_err(|e: import_core::plan::UnknownProtocol| {
                ClientError::invalid(Some("protocol"), e.to_string())
            })?);
        }
        o.part_size = get("partSize")
            .map(|v| positive_integer(&v, "partSize"))
            .transpose()?;
        o.concurrency = get("concurrency")
            .map(|v| {
                positive_integer(&v, "concurrency").and_then(|n| {
                    u32::try_from(n).map_err(|_| {
                        ClientError::invalid(Some("concurrency"), "`concurrency` is too large.")
                    })
                })
            })
            .transpose()?;
        if let Some(v) = get("checksum") {
            o.checksum = v.as_bool().ok_or_else(|| {
                ClientError::invalid(Some("checksum"), "`checksum` must be a boolean.")
            })?;
        }
        if let Some(v) = get("resume") {
            o.resume = v.as_bool().ok_or_else(|| {
                ClientError::invalid(Some("resume"), "`resume` must be a boolean.")
            })?;
        }
        if let Some(v) = get("useXhr") {
            o.use_xhr = v.as_bool().ok_or_else(|| {
                ClientError::invalid(Some("useXhr"), "`useXhr` must be a boolean.")
            })?;
        }
        if let Some(v) = get("signal") {
            o.signal = Some(v.dyn_into::<AbortSignal>().map_err(|_| {
                ClientError::invalid(Some("signal"), "`signal` must be an AbortSignal.")
            })?);
        }
        o.on_progress = get("onProgress")
            .map(|v| function(v, "onProgress"))
            .transpose()?;
        o.fetch = get("fetch").map(|v| function(v, "fetch")).transpose()?;
        o.events = crate::events::event_target_option(options, "events")
            .map_err(|m| ClientError::invalid(Some("events"), m))?;
        if let Some(v) = get("retry") {
            o.retry =
                crate::client::retry_policy(&v, &crate::shape::RETRY_POLICY).map_err(|m| {
                    ClientError::invalid(Some("retry"), format!("`retry` is invalid: {m}."))
                })?;
            if o.retry.max_attempts == 0 {
                return Err(ClientError::invalid(
                    Some("retry.maxAttempts"),
                    "`retry.maxAttempts` must be at least 1 (1 means no retry).",
                ));
            }
        }
        if let Some(v) = get("resumeKey") {
            o.resume_key = Some(v.as_string().filter(|s| !s.is_empty()).ok_or_else(|| {
                ClientError::invalid(Some("resumeKey"), "`resumeKey` must be a non-empty string.")
            })?);
        }
        if let Some(v) = get("resumeStore") {
            let ok = ["getItem", "setItem", "removeItem"].iter().all(|m| {
                Reflect::get(&v, &JsValue::from_str(m))
                    .map(|f| f.is_function())
                    .unwrap_or(false)
            });
            if !ok {
                return Err(ClientError::invalid(
                    Some("resumeStore"),
                    "`resumeStore` must have getItem(key), setItem(key, value) and removeItem(key) methods (like localStorage).",
                ));
            }
            o.resume_store = Some(v);
        }
        if let Some(v) = get("progressIntervalMs") {
            o.progress_interval_ms = v
                .as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| {
                    ClientError::invalid(
                        Some("progressIntervalMs"),
                        "`progressIntervalMs` must be a number of milliseconds, 0 or more.",
                    )
                })?;
        }
        Ok(o)
    }
}

fn positive_integer(v: &JsValue, name: &str) -> Result<u64, ClientError> {
    v.as_f64()
        .filter(|n| n.is_finite() && *n >= 1.0 && n.fract() == 0.0 && *n <= 9.007e15)
        .map(|n| n as u64)
        .ok_or_else(|| {
            ClientError::invalid(
                Some(name),
                format!("`{name}` must be a whole number, 1 or more."),
            )
        })
}

fn function(v: JsValue, name: &str) -> Result<Function, ClientError> {
    v.dyn_into::<Function>()
        .map_err(|_| ClientError::invalid(Some(name), format!("`{name}` must be a function.")))
}

/// Builds and checks an [`UploadTarget`] from JS values.
pub(crate) fn target_from_parts(
    url: String,
    method: Option<JsValue>,
    headers: Option<JsValue>,
    expires_at: Option<JsValue>,
) -> Result<UploadTarget, ClientError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ClientError::invalid(
            Some("url"),
            format!(
                "The upload URL must be an absolute http(s) URL, got `{}`.",
                crate::fetch::redact(&url)
            ),
        ));
    }
    let method = match method {
        None => "PUT".to_string(),
        Some(m) => m
            .as_string()
            .filter(|m| m.eq_ignore_ascii_case("PUT"))
            .map(|m| m.to_ascii_uppercase())
            .ok_or_else(|| {
                ClientError::invalid(
                    Some("method"),
                    "Only `PUT` upload URLs are supported (every storage protocol here uploads with PUT).",
                )
            })?,
    };
    let mut hs = Vec::new();
    if let Some(h) = headers {
        let entries = js_sys::Object::entries(h.dyn_ref::<js_sys::Object>().ok_or_else(|| {
            ClientError::invalid(Some("headers"), "`headers` must be an object of strings.")
        })?);
        for e in entries.iter() {
            let pair: js_sys::Array = e.unchecked_into();
            let (k, v) = (pair.get(0).as_string(), pair.get(1).as_string());
            match (k, v) {
                (Some(k), Some(v)) => {
                    if k.eq_ignore_ascii_case("authorization") {
                        return Err(ClientError::invalid(
                            Some("headers"),
                            "`headers` must not carry an Authorization header: storage is authorised by the URL's signature, and a bearer token must never reach it.",
                        ));
                    }
                    hs.push((k, v))
                }
                _ => {
                    return Err(ClientError::invalid(
                        Some("headers"),
                        "`headers` must be an object of strings.",
                    ))
                }
            }
        }
    }
    let expires_at_ms = match expires_at {
        None => None,
        Some(v) => Some(parse_expires_at(&v)?),
    };
    Ok(UploadTarget {
        url,
        method,
        headers: hs,
        expires_at_ms,
    })
}

/// `expiresAt` as an RFC 3339 string, a `Date` or epoch milliseconds.
fn parse_expires_at(v: &JsValue) -> Result<f64, ClientError> {
    let ms = if let Some(s) = v.as_string() {
        js_sys::Date::parse(&s)
    } else if let Some(n) = v.as_f64() {
        n
    } else if let Some(d) = v.dyn_ref::<js_sys::Date>() {
        d.get_time()
    } else {
        f64::NAN
    };
    if ms.is_finite() {
        Ok(ms)
    } else {
        Err(ClientError::invalid(
            Some("expiresAt"),
            "`expiresAt` must be an RFC 3339 date string, a Date or milliseconds since the epoch.",
        ))
    }
}

/// The upload target of a create-job response (`jobId`, `uploadUrl`,
/// `method`, `headers`, `expiresAt`), and its job id.
pub fn target_from_job(job: &JsValue) -> Result<(String, UploadTarget), ClientError> {
    let get = |k: &str| {
        Reflect::get(job, &JsValue::from_str(k))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    let bad = |field: &str| {
        ClientError::invalid(
            Some(field),
            format!("The job must be the createJob() response: its `{field}` is missing."),
        )
    };
    if !job.is_object() {
        return Err(ClientError::invalid(
            Some("job"),
            "The job must be the createJob() response object.",
        ));
    }
    let job_id = get("jobId")
        .and_then(|v| v.as_string())
        .ok_or_else(|| bad("jobId"))?;
    let url = get("uploadUrl")
        .and_then(|v| v.as_string())
        .ok_or_else(|| bad("uploadUrl"))?;
    let target = target_from_parts(url, get("method"), get("headers"), get("expiresAt"))?;
    Ok((job_id, target))
}
