//! Upload options and targets as JavaScript passes them: `UploadOptions`
//! objects, the standalone `upload()`'s `url` / `method` / `headers` /
//! `expiresAt`, and a create-job response. Everything is checked before
//! anything is sent; a bad value is an `ImportError` of kind `validation`
//! naming the field. The checks are `js/host.js` (`uploadOptions`,
//! `uploadTarget`), but for the protocol's name and the retry policy, which
//! import-core and the wire shapes decide.

use import_core::plan::Protocol;
use import_core::retry::RetryPolicy;
use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, EventTarget};

use super::{UploadTarget, DEFAULT_PROGRESS_INTERVAL_MS};
use crate::error::ClientError;
use crate::js::Checked;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = uploadOptions)]
    fn upload_options(options: &JsValue) -> Array;
    #[wasm_bindgen(js_name = uploadTarget)]
    fn upload_target(options: &JsValue, job: bool) -> Array;
}

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

    /// Reads a JS `UploadOptions` object (`undefined` gives the defaults),
    /// checked by `js/host.js` (`uploadOptions`) but for the protocol's
    /// name and the retry policy.
    pub fn from_js(options: &JsValue) -> Result<UploadOptions, ClientError> {
        let c = Checked::new(upload_options(options));
        c.complaint_before(2)?;
        let protocol = match c.string(0) {
            None => None,
            Some(s) => Some(s.parse().map_err(|e: import_core::plan::UnknownProtocol| {
                ClientError::invalid(Some("protocol"), e.to_string())
            })?),
        };
        c.complaint_before(12)?;
        let retry = c.get(10);
        let retry = if retry.is_undefined() {
            RetryPolicy::default()
        } else {
            let retry =
                crate::client::retry_policy(&retry, &crate::shape::RETRY_POLICY).map_err(|m| {
                    ClientError::invalid(Some("retry"), format!("`retry` is invalid: {m}."))
                })?;
            if retry.max_attempts == 0 {
                return Err(ClientError::invalid(
                    Some("retry.maxAttempts"),
                    "`retry.maxAttempts` must be at least 1 (1 means no retry).",
                ));
            }
            retry
        };
        c.complaint_before(u32::MAX)?;
        Ok(UploadOptions {
            protocol,
            part_size: c.number(1).map(|n| n as u64),
            concurrency: c.number(2).map(|n| n as u32),
            checksum: c.flag(3),
            resume: c.flag(4),
            use_xhr: c.flag(5),
            signal: c.object(6),
            on_progress: c.object(7),
            fetch: c.object(8),
            events: c.object(9),
            retry,
            resume_key: c.string(11),
            resume_store: c.object(12),
            progress_interval_ms: c.number(13).unwrap_or(DEFAULT_PROGRESS_INTERVAL_MS),
        })
    }
}

/// The [`UploadTarget`] of the standalone `upload()`'s options (`url`,
/// `method`, `headers`, `expiresAt`), checked by `js/host.js`.
pub(crate) fn target_from_options(options: &JsValue) -> Result<UploadTarget, ClientError> {
    target_of(&Checked::new(upload_target(options, false)))
}

fn target_of(c: &Checked) -> Result<UploadTarget, ClientError> {
    c.complaint_before(u32::MAX)?;
    Ok(UploadTarget {
        url: c.string(0).unwrap_or_default(),
        method: "PUT".to_string(),
        headers: c.pairs(2),
        expires_at_ms: c.number(3),
    })
}

/// The upload target of a create-job response (`jobId`, `uploadUrl`,
/// `method`, `headers`, `expiresAt`), and its job id.
pub fn target_from_job(job: &JsValue) -> Result<(String, UploadTarget), ClientError> {
    let c = Checked::new(upload_target(job, true));
    let target = target_of(&c)?;
    Ok((c.string(4).unwrap_or_default(), target))
}
