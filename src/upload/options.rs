//! Upload options and targets as JavaScript passes them: `UploadOptions`
//! objects, the standalone `upload()`'s `url` / `method` / `headers` /
//! `expiresAt`, and a create-job response. Everything is checked before
//! anything is sent; a bad value is an `ImportError` of kind `validation`
//! naming the field. They are read as [`crate::options`] describes: the
//! checks are `js/host.js` (`uploadOptions`, `uploadTarget`), but for the
//! protocol's name and the retry policy, which import-core and the wire
//! shapes decide.

use import_core::plan::Protocol;
use import_core::retry::RetryPolicy;
use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, EventTarget};

use super::types::{UploadTarget, DEFAULT_PROGRESS_INTERVAL_MS};
use crate::error::ClientError;
use crate::options::{pairs, retry_policy, Checked};
use crate::shape;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// `UploadOptions`, checked by `uploadOptions`.
    #[wasm_bindgen(extends = Checked)]
    type UploadOptionsJs;
    #[wasm_bindgen(js_name = uploadOptions)]
    fn upload_options(options: &JsValue) -> UploadOptionsJs;
    #[wasm_bindgen(method, getter)]
    fn protocol(this: &UploadOptionsJs) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = partSize)]
    fn part_size(this: &UploadOptionsJs) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    fn concurrency(this: &UploadOptionsJs) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    fn checksum(this: &UploadOptionsJs) -> bool;
    #[wasm_bindgen(method, getter)]
    fn resume(this: &UploadOptionsJs) -> bool;
    #[wasm_bindgen(method, getter, js_name = useXhr)]
    fn use_xhr(this: &UploadOptionsJs) -> bool;
    #[wasm_bindgen(method, getter)]
    fn signal(this: &UploadOptionsJs) -> Option<AbortSignal>;
    #[wasm_bindgen(method, getter, js_name = onProgress)]
    fn on_progress(this: &UploadOptionsJs) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    fn fetch(this: &UploadOptionsJs) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    fn events(this: &UploadOptionsJs) -> Option<EventTarget>;
    #[wasm_bindgen(method, getter)]
    fn retry(this: &UploadOptionsJs) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = resumeKey)]
    fn resume_key(this: &UploadOptionsJs) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = resumeStore)]
    fn resume_store(this: &UploadOptionsJs) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = progressIntervalMs)]
    fn progress_interval_ms(this: &UploadOptionsJs) -> Option<f64>;

    /// The upload target (of the standalone `upload()`'s options or of a
    /// createJob() response), checked by `uploadTarget`.
    #[wasm_bindgen(extends = Checked)]
    type UploadTargetJs;
    #[wasm_bindgen(js_name = uploadTarget)]
    fn upload_target(options: &JsValue, job: bool) -> UploadTargetJs;
    #[wasm_bindgen(method, getter)]
    fn url(this: &UploadTargetJs) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &UploadTargetJs) -> Array;
    #[wasm_bindgen(method, getter, js_name = expiresAt)]
    fn expires_at(this: &UploadTargetJs) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = jobId)]
    fn job_id(this: &UploadTargetJs) -> Option<String>;
}

/// How to upload (`UploadOptions` in TypeScript). Every field is optional.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// Overrides [`Protocol::detect`].
    pub protocol: Option<Protocol>,
    /// Bytes per part (default `import_core::plan::default_part_size`: 8 MiB, larger over 512 MiB; raised past 50,000 parts).
    pub part_size: Option<u64>,
    /// Parts in flight (default 6).
    pub concurrency: Option<u32>,
    /// An integrity check storage verifies on every request that takes one
    /// (`x-ms-content-crc64` on Azure, `Content-MD5` on an S3 single PUT),
    /// and a whole-object MD5 check where storage reports one (default
    /// true).
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

    /// Reads a JS `UploadOptions` object (`undefined` gives the defaults);
    /// the protocol's name and the retry policy are checked here.
    pub fn from_js(options: &JsValue) -> Result<UploadOptions, ClientError> {
        let c = upload_options(options);
        c.complaint_before(2)?;
        let protocol = match c.protocol() {
            None => None,
            Some(s) => Some(s.parse().map_err(|e: import_core::plan::UnknownProtocol| {
                ClientError::invalid(Some("protocol"), e.to_string())
            })?),
        };
        c.complaint_before(12)?;
        let retry = c.retry();
        let retry = if retry.is_undefined() {
            RetryPolicy::default()
        } else {
            let retry = retry_policy(&retry, &shape::RETRY_POLICY).map_err(|m| {
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
        c.ok()?;
        let resume_store = c.resume_store();
        Ok(UploadOptions {
            protocol,
            part_size: c.part_size().map(|n| n as u64),
            concurrency: c.concurrency().map(|n| n as u32),
            checksum: c.checksum(),
            resume: c.resume(),
            use_xhr: c.use_xhr(),
            signal: c.signal(),
            on_progress: c.on_progress(),
            fetch: c.fetch(),
            events: c.events(),
            retry,
            resume_key: c.resume_key(),
            resume_store: (!resume_store.is_undefined()).then_some(resume_store),
            progress_interval_ms: c
                .progress_interval_ms()
                .unwrap_or(DEFAULT_PROGRESS_INTERVAL_MS),
        })
    }
}

/// The [`UploadTarget`] of the standalone `upload()`'s options (`url`,
/// `method`, `headers`, `expiresAt`).
pub(crate) fn target_from_options(options: &JsValue) -> Result<UploadTarget, ClientError> {
    target_of(&upload_target(options, false))
}

fn target_of(c: &UploadTargetJs) -> Result<UploadTarget, ClientError> {
    c.ok()?;
    Ok(UploadTarget {
        url: c.url().unwrap_or_default(),
        method: "PUT".to_string(),
        headers: pairs(&c.headers()),
        expires_at_ms: c.expires_at(),
    })
}

/// The upload target of a create-job response (`jobId`, `uploadUrl`,
/// `method`, `headers`, `expiresAt`), and its job id.
pub fn target_from_job(job: &JsValue) -> Result<(String, UploadTarget), ClientError> {
    let c = upload_target(job, true);
    let target = target_of(&c)?;
    Ok((c.job_id().unwrap_or_default(), target))
}
