//! What the drivers share while one upload runs: its context ([`Ctx`]:
//! the plan, the transport, pause and abort, progress, the resume record),
//! sending one storage request with retries, reading and hashing parts,
//! and running parts with bounded concurrency ([`for_each_part`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use import_core::checksum::Crc64;
use import_core::plan::{PartSet, Protocol, UploadPlan};
use import_core::retry::{
    classify_network_error, classify_status, parse_retry_after, RetryDecision, RetryPolicy, Target,
};
use js_sys::{Reflect, Uint8Array};
use md5::{Digest, Md5};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, EventTarget};

use super::control::UploadControl;
use super::progress::Tracker;
use super::resume_store::{Record, ResumeStore};
use super::source::{unreadable, Source};
use super::transport::{self, Body, SendError, StorageRequest, StorageResponse, Transport};
use super::types::{UploadTarget, CHECKSUM_MISMATCH_CODE, EXPIRY_WARNING_CODE};
use crate::error::{ClientError, STORAGE_NETWORK_CODE, UPLOAD_URL_EXPIRED_CODE};
use crate::events::dispatch;
use crate::js::describe;
use crate::runtime::{monotonic_ms, now_ms, random, sleep};

/// Bytes read per step when hashing a large part or file.
pub(crate) const HASH_STEP: u64 = 1024 * 1024;

/// Shared state of one upload run.
pub(crate) struct Ctx {
    pub source: Source,
    pub target: UploadTarget,
    pub plan: UploadPlan,
    pub transport: Transport,
    pub control: UploadControl,
    pub tracker: Rc<Tracker>,
    pub retry: RetryPolicy,
    pub checksum: bool,
    pub events: EventTarget,
    pub requests: Cell<u32>,
    pub retries: Cell<u32>,
    pub warned: Cell<bool>,
    pub started_ms: f64,
    pub store: ResumeStore,
    pub resume_key: String,
    pub record: RefCell<PartSet>,
}

/// How one request ended.
pub(crate) enum Attempt {
    /// A success status (2xx; 308 for GCS).
    Done(StorageResponse),
    /// A retryable failure.
    Retry {
        retry_after: Option<f64>,
        error: ClientError,
    },
    /// Cancelled by `pause()`: send again after `resume()`.
    Paused,
}

/// What the committing request told about the object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Committed {
    pub etag: Option<String>,
    pub storage_md5: Option<String>,
}

impl Ctx {
    /// Fails with kind `expired` when the URL's `expiresAt` has passed (or
    /// will have after `wait_ms`).
    pub fn check_expired(&self, wait_ms: Option<f64>) -> Result<(), ClientError> {
        match self.target.expires_at_ms {
            Some(at) if now_ms() + wait_ms.unwrap_or(0.0) >= at => Err(self.expired_error(None)),
            _ => Ok(()),
        }
    }

    fn past_expiry(&self) -> bool {
        self.target.expires_at_ms.is_some_and(|at| now_ms() >= at)
    }

    pub fn expired_error(&self, status: Option<u16>) -> ClientError {
        let when = self
            .target
            .expires_at_ms
            .map(|ms| {
                js_sys::Date::new(&JsValue::from_f64(ms))
                    .to_iso_string()
                    .as_string()
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        ClientError::Expired {
            code: UPLOAD_URL_EXPIRED_CODE.to_string(),
            status,
            message: if when.is_empty() {
                "The upload URL has expired: create a new job to get a fresh URL, then upload again."
                    .to_string()
            } else {
                format!("The upload URL expired at {when}: create a new job to get a fresh URL, then upload again.")
            },
        }
    }

    /// Emits the `warning` event (once) when `seconds_left` from now ends
    /// past `expiresAt`.
    pub fn warn_if_late(&self, seconds_left: f64) {
        let Some(at) = self.target.expires_at_ms else {
            return;
        };
        if self.warned.get() || !seconds_left.is_finite() {
            return;
        }
        let finish = now_ms() + seconds_left * 1000.0;
        if finish <= at {
            return;
        }
        self.warned.set(true);
        let detail = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&detail, &JsValue::from_str(k), &v);
        };
        set("code", JsValue::from_str(EXPIRY_WARNING_CODE));
        set(
            "message",
            JsValue::from_str(&format!(
                "At the expected rate the upload needs about {} s more, but its URL expires in {} s: it will probably fail with kind `expired`. Upload from a faster connection, or create the job closer to the upload.",
                crate::js::whole_number(seconds_left.ceil()),
                crate::js::whole_number(((at - now_ms()) / 1000.0).max(0.0).floor())
            )),
        );
        set("expiresAt", JsValue::from_f64(at));
        set("projectedFinish", JsValue::from_f64(finish));
        dispatch(&self.events, "warning", &detail);
    }

    /// Re-checks the projection with the measured rate (after a part).
    pub fn rewarn_with_rate(&self) {
        let rate = self.tracker.rate();
        if rate > 0.0 && monotonic_ms() - self.started_ms > 1000.0 {
            let p = self.tracker.snapshot();
            self.warn_if_late((p.total - p.loaded) as f64 / rate);
        }
    }

    /// The job's headers, plus `extra`, minus `drop` (case-insensitive).
    pub fn headers(&self, extra: &[(&str, String)], drop: &[&str]) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = self
            .target
            .headers
            .iter()
            .filter(|(k, _)| {
                !drop.iter().any(|d| d.eq_ignore_ascii_case(k))
                    && !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(k))
            })
            .cloned()
            .collect();
        h.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        h
    }

    /// `Blob.slice(start, end)` of a Blob source.
    fn slice(blob: &Blob, start: u64, end: u64) -> Result<Blob, ClientError> {
        blob.slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|e| {
                ClientError::invalid(
                    Some("blob"),
                    format!("Cannot slice the file: {}", describe(&e)),
                )
            })
    }

    /// Reads bytes `[start, end)` of the file.
    pub async fn read(&self, start: u64, end: u64) -> Result<Uint8Array, ClientError> {
        let blob = match &self.source {
            Source::Blob(b) => b,
            Source::Reader(r) => return Source::read(r, start, end).await,
        };
        let buf = JsFuture::from(Self::slice(blob, start, end)?.array_buffer())
            .await
            .map_err(|e| unreadable(&e))?;
        Ok(Uint8Array::new(&buf))
    }

    /// The body for bytes `[start, end)`: the Blob slice, or for nothing an
    /// empty byte array (Deno sends an empty Blob chunked, without
    /// `Content-Length`, which storage refuses with 411). A file source's
    /// bytes are streamed where the transport can (`fetch`), else read.
    pub async fn blob_body(&self, start: u64, end: u64) -> Result<Body, ClientError> {
        if start == end {
            return Ok(Body::Bytes(Uint8Array::new_with_length(0)));
        }
        match &self.source {
            Source::Blob(b) => Ok(Body::Blob(Self::slice(b, start, end)?)),
            Source::Reader(r) if !self.transport.has_byte_progress() => {
                Ok(Body::Source(r.clone(), start, end))
            }
            Source::Reader(_) => Ok(Body::Bytes(self.read(start, end).await?)),
        }
    }

    /// A part's body and, with checksums on, its integrity header (the
    /// protocol's [`Check`]): `hashed` when the part was hashed already
    /// (the hash lane), else computed here. A Blob slice is sent either way
    /// (the runtime streams it); a file source's part is read once, hashed,
    /// and those bytes are sent.
    pub async fn part_body(
        &self,
        start: u64,
        end: u64,
        check: Check,
        hashed: Option<(&'static str, String)>,
    ) -> Result<(Body, Option<(&'static str, String)>), ClientError> {
        if let Source::Reader(_) = self.source {
            let bytes = self.read(start, end).await?;
            let header = self.checksum.then(|| {
                let mut h = Hasher::new(check);
                hash_into(&mut h, &bytes);
                h.header()
            });
            return Ok((Body::Bytes(bytes), header));
        }
        if hashed.is_some() || !self.checksum {
            return Ok((self.blob_body(start, end).await?, hashed));
        }
        // Hash the bytes, but send the Blob slice: browsers upload a Blob
        // from the file as it is, while an ArrayBuffer body is copied and
        // sent several times slower (measured in Chromium, see the README's
        // Performance section). A file changed in between fails the
        // storage's check instead of uploading other bytes.
        let header = self.digest_of_range(start, end, check).await?;
        Ok((self.blob_body(start, end).await?, Some(header)))
    }

    /// The integrity header of bytes `[start, end)` of the file, read a
    /// MiB at a time (parts, and single requests too large to hold).
    pub async fn digest_of_range(
        &self,
        start: u64,
        end: u64,
        check: Check,
    ) -> Result<(&'static str, String), ClientError> {
        let mut view = Uint8Array::new_with_length(HASH_STEP as u32);
        self.digest_with(start, end, check, &mut view).await
    }

    /// [`Ctx::digest_of_range`], reading a Blob into `view`'s buffer (a
    /// MiB), which is handed back in `view` for the next range.
    pub async fn digest_with(
        &self,
        start: u64,
        end: u64,
        check: Check,
        view: &mut Uint8Array,
    ) -> Result<(&'static str, String), ClientError> {
        let mut h = Hasher::new(check);
        let reader = match &self.source {
            Source::Blob(b) => byob_reader(&Self::slice(b, start, end)?),
            Source::Reader(_) => JsValue::UNDEFINED,
        };
        if !reader.is_undefined() {
            // One buffer, filled again and again: reading a file through
            // `arrayBuffer()` leaves a new buffer per read for the garbage
            // collector, and Chromium's renderer grew with the file (+173
            // MiB at 256 MiB) before collecting them.
            loop {
                if let Some(e) = self.control.stop_error() {
                    return Err(e);
                }
                let Some(filled) = byob_read(&reader, view).await? else {
                    // Ended without handing the buffer back: a new one.
                    *view = Uint8Array::new_with_length(HASH_STEP as u32);
                    break;
                };
                *view = Uint8Array::new(&filled.buffer());
                if filled.length() == 0 {
                    break;
                }
                hash_into(&mut h, &filled);
            }
            return Ok(h.header());
        }
        let mut at = start;
        while at < end {
            if let Some(e) = self.control.stop_error() {
                return Err(e);
            }
            let to = (at + HASH_STEP).min(end);
            let bytes = self.read(at, to).await?;
            hash_into(&mut h, &bytes);
            at = to;
        }
        Ok(h.header())
    }

    /// Sends `req` once. `part` = (index, length) for progress.
    pub async fn attempt(
        &self,
        req: &StorageRequest,
        part: Option<(u64, u64)>,
    ) -> Result<Attempt, ClientError> {
        self.control.ready().await?;
        self.check_expired(None)?;
        let request_signal = self.control.request_signal();
        let signal = request_signal.signal();
        let on_bytes = match part {
            Some((index, len)) if self.transport.has_byte_progress() && len > 0 => {
                let tracker = self.tracker.clone();
                Some(Rc::new(move |sent: f64| {
                    tracker.part_bytes(index, (sent.max(0.0) as u64).min(len))
                }) as transport::OnBytes)
            }
            _ => None,
        };
        self.requests.set(self.requests.get() + 1);
        let sent = self.transport.send(req, &signal, on_bytes).await;
        let ok_308 = self.plan.protocol() == Protocol::GcsResumable;
        match sent {
            Ok(resp) if (200..300).contains(&resp.status) || (ok_308 && resp.status == 308) => {
                Ok(Attempt::Done(resp))
            }
            Ok(resp) => {
                if let Some((i, _)) = part {
                    self.tracker.part_reset(i);
                }
                let (code, message) = storage_error_details(&resp);
                let expired_hint = resp.status == 403
                    && (code
                        .as_deref()
                        .is_some_and(|c| c.eq_ignore_ascii_case("ExpiredToken"))
                        || message
                            .as_deref()
                            .is_some_and(|m| find(&m.to_ascii_lowercase(), "expired").is_some()));
                let decision = classify_status(
                    resp.status,
                    code.as_deref(),
                    Target::Storage {
                        past_expiry: self.past_expiry() || expired_hint,
                    },
                );
                let error = ClientError::Storage {
                    status: Some(resp.status),
                    code: code
                        .clone()
                        .unwrap_or_else(|| format!("STORAGE_{}", resp.status)),
                    message: format!(
                        "Storage refused {} {}: {} {}{}",
                        req.method,
                        crate::fetch::redact(&req.url),
                        resp.status,
                        code.as_deref().unwrap_or(""),
                        message.map(|m| format!(" ({m})")).unwrap_or_default()
                    ),
                    request_id: resp
                        .header("x-ms-request-id")
                        .or_else(|| resp.header("x-amz-request-id"))
                        .or_else(|| resp.header("x-guploader-uploadid"))
                        .map(str::to_string),
                };
                match decision {
                    RetryDecision::Retry => Ok(Attempt::Retry {
                        retry_after: resp
                            .header("retry-after")
                            .and_then(|v| parse_retry_after(v, now_ms() as u64)),
                        error,
                    }),
                    RetryDecision::Expired => Err(self.expired_error(Some(resp.status))),
                    RetryDecision::Fail | RetryDecision::RefreshToken => Err(error),
                }
            }
            Err(SendError::Aborted) => {
                if let Some((i, _)) = part {
                    self.tracker.part_reset(i);
                }
                match self.control.stop_error() {
                    Some(e) => Err(e),
                    None => Ok(Attempt::Paused),
                }
            }
            Err(SendError::Network(why)) => {
                if let Some((i, _)) = part {
                    self.tracker.part_reset(i);
                }
                match classify_network_error(Target::Storage {
                    past_expiry: self.past_expiry(),
                }) {
                    RetryDecision::Expired => Err(self.expired_error(None)),
                    _ => Ok(Attempt::Retry {
                        retry_after: None,
                        error: ClientError::Storage {
                            status: None,
                            code: STORAGE_NETWORK_CODE.to_string(),
                            message: format!(
                                "{} {} failed without a response: {why}",
                                req.method,
                                crate::fetch::redact(&req.url)
                            ),
                            request_id: None,
                        },
                    }),
                }
            }
        }
    }

    /// Waits before retry number `retry + 1`; fails when the policy is
    /// exhausted or the wait would end past `expiresAt`.
    pub async fn backoff(
        &self,
        failures: u32,
        retry_after: Option<f64>,
        error: ClientError,
    ) -> Result<(), ClientError> {
        if !self.retry.may_retry(failures) {
            return Err(match error {
                ClientError::Storage {
                    status,
                    code,
                    message,
                    request_id,
                } => ClientError::Storage {
                    status,
                    code,
                    message: format!("{message} — gave up after {failures} attempts."),
                    request_id,
                },
                other => other,
            });
        }
        let delay = self.retry.delay_ms(failures - 1, retry_after, random()) as f64;
        self.check_expired(Some(delay))?;
        self.retries.set(self.retries.get() + 1);
        let stop = self.control.stop_signal();
        sleep(delay, Some(&stop)).await.map_err(|_| {
            self.control
                .stop_error()
                .unwrap_or_else(|| ClientError::aborted(&JsValue::UNDEFINED))
        })
    }

    /// Sends `req` until it succeeds, retrying as the policy allows; a pause
    /// does not count as an attempt. Returns the response and the attempts
    /// it took.
    pub async fn send(
        &self,
        req: &StorageRequest,
        part: Option<(u64, u64)>,
    ) -> Result<(StorageResponse, u32), ClientError> {
        let mut failures = 0u32;
        loop {
            match self.attempt(req, part).await? {
                Attempt::Done(resp) => return Ok((resp, failures + 1)),
                Attempt::Paused => continue,
                Attempt::Retry { retry_after, error } => {
                    failures += 1;
                    self.backoff(failures, retry_after, error).await?;
                }
            }
        }
    }

    /// Dispatches the `part` event: `{index, attempts, bytes}`.
    pub fn part_event(&self, index: u64, attempts: u32, bytes: u64) {
        let detail = js_sys::Object::new();
        let _ = Reflect::set(&detail, &"index".into(), &JsValue::from_f64(index as f64));
        let _ = Reflect::set(
            &detail,
            &"attempts".into(),
            &JsValue::from_f64(attempts as f64),
        );
        let _ = Reflect::set(&detail, &"bytes".into(), &JsValue::from_f64(bytes as f64));
        dispatch(&self.events, "part", &detail);
    }

    /// Records part `index` as stored: progress, `part` event, resume
    /// record.
    pub async fn part_stored(&self, index: u64, len: u64, attempts: u32) {
        self.tracker.part_done(index, len);
        self.part_event(index, attempts, len);
        let record = {
            let mut r = self.record.borrow_mut();
            r.insert(index);
            Record {
                protocol: self.plan.protocol(),
                parts: r.clone(),
            }
        };
        self.store.save(&self.resume_key, &record).await;
        self.rewarn_with_rate();
    }

    /// Whether part `index` is already stored (resume).
    pub fn is_stored(&self, index: u64) -> bool {
        self.record.borrow().contains(index)
    }
}

/// Storage reported another digest (`what`: MD5, CRC64) for the object
/// than the one computed from the file.
pub(crate) fn checksum_mismatch(what: &str, ours: &str, theirs: &str) -> ClientError {
    ClientError::Storage {
        status: None,
        code: CHECKSUM_MISMATCH_CODE.to_string(),
        message: format!(
            "Storage reports {what} {theirs} for the uploaded object, but the file's {what} is {ours}: the stored bytes differ from the file (was it changed while uploading?). Upload it again."
        ),
        request_id: None,
    }
}

/// Which integrity check a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// `Content-MD5` (S3's single PUT; GCS's whole-object `md5Hash`).
    Md5,
    /// `x-ms-content-crc64`, CRC-64/NVME (Azure): several times faster to
    /// compute than MD5 in wasm, and verified by Azure and Azurite alike.
    Crc64,
}

/// A running digest of one [`Check`].
pub(crate) enum Hasher {
    Md5(Md5),
    Crc64(Crc64),
}

impl Hasher {
    pub fn new(check: Check) -> Self {
        match check {
            Check::Md5 => Hasher::Md5(Md5::new()),
            Check::Crc64 => Hasher::Crc64(Crc64::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Crc64(h) => h.update(bytes),
        }
    }

    /// The request header that carries the digest: name and base64 value.
    pub fn header(self) -> (&'static str, String) {
        match self {
            Hasher::Md5(h) => ("Content-MD5", b64(&h.finalize())),
            Hasher::Crc64(h) => ("x-ms-content-crc64", b64(&h.wire())),
        }
    }
}

/// Feeds a JS byte array to a digest in bounded wasm-side copies.
pub(crate) fn hash_into(h: &mut Hasher, bytes: &Uint8Array) {
    const STEP: u32 = 1024 * 1024;
    let len = bytes.length();
    let mut buf = vec![0u8; STEP.min(len) as usize];
    let mut at = 0u32;
    while at < len {
        let to = (at + STEP).min(len);
        let n = (to - at) as usize;
        bytes.subarray(at, to).copy_to(&mut buf[..n]);
        h.update(&buf[..n]);
        at = to;
    }
}

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// A BYOB ("bring your own buffer") reader of `blob`'s bytes, where the
    /// runtime's `Blob.stream()` is a byte stream (browsers, Deno,
    /// workerd); undefined elsewhere.
    #[wasm_bindgen(js_name = byobReader)]
    fn byob_reader(blob: &Blob) -> JsValue;
    #[wasm_bindgen(js_name = byobRead)]
    fn js_byob_read(reader: &JsValue, view: &Uint8Array) -> js_sys::Promise;
}

/// Reads the next bytes into `view`'s buffer (which the stream takes and
/// hands back); the bytes read, none at the end (the buffer handed back),
/// or None at an end that did not hand it back.
async fn byob_read(reader: &JsValue, view: &Uint8Array) -> Result<Option<Uint8Array>, ClientError> {
    let value = JsFuture::from(js_byob_read(reader, view))
        .await
        .map_err(|e| unreadable(&e))?;
    Ok((!value.is_undefined()).then(|| value.unchecked_into()))
}

/// Standard base64 with padding (Content-MD5).
pub(crate) fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The storage's error code and message: Azure `x-ms-error-code` or XML
/// `<Code>`/`<Message>` (Azure, S3), GCS JSON `error.errors[0].reason` and
/// `error.message`.
fn storage_error_details(resp: &StorageResponse) -> (Option<String>, Option<String>) {
    let xml = |tag: &str| {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = find(&resp.body, &open)? + open.len();
        // `get`, not indexing: no panic path (the tags are ASCII).
        let rest = resp.body.get(start..)?;
        Some(rest.get(..find(rest, &close)?)?.trim().to_string())
    };
    // GCS answers JSON: `{"error": {"errors": [{"reason"}], "message"}}`.
    let json = crate::shape::parse_json(&resp.body);
    let error = json.as_ref().map(|j| crate::shape::get(j, "error"));
    let from_json = |key: &str| {
        let error = error.as_ref().filter(|e| e.is_object())?;
        match key {
            "reason" => {
                let errors = crate::shape::get(error, "errors");
                let first = js_sys::Reflect::get_u32(&errors, 0).ok()?;
                crate::shape::get_str(&first, "reason")
            }
            _ => crate::shape::get_str(error, key),
        }
    };
    let code = resp
        .header("x-ms-error-code")
        .map(str::to_string)
        .or_else(|| xml("Code"))
        .or_else(|| from_json("reason"));
    let message = xml("Message").or_else(|| from_json("message")).map(|m| {
        let m = m.lines().next().unwrap_or_default().to_string();
        if m.len() > 300 {
            let cut = m.char_indices().nth(300).map_or(m.len(), |(i, _)| i);
            format!("{}…", m.get(..cut).unwrap_or(&m))
        } else {
            m
        }
    });
    (code, message)
}

/// Where `needle` first occurs in `haystack` (a plain scan: the short
/// texts searched here need no more, and `str::find` with a string pattern
/// links a two-way searcher of ~1.5 KB).
fn find(haystack: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

/// Runs `work` over the parts still to send, `concurrency` at a time; the
/// first failure stops the others. `lane`, when given, runs beside them
/// (the [`HashLane`](super::hash_lane::HashLane) hashing parts ahead) and
/// is dropped once they have all ended.
pub(crate) async fn for_each_part<F, Fut, L>(
    ctx: &Ctx,
    indexes: Vec<u64>,
    lane: Option<L>,
    work: F,
) -> Result<(), ClientError>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
    L: std::future::Future<Output = ()>,
{
    let queue = RefCell::new(indexes.into_iter());
    let workers = (0..ctx.plan.concurrency().max(1)).map(|_| async {
        loop {
            if ctx.control.is_stopped() {
                return;
            }
            let next = queue.borrow_mut().next();
            let Some(i) = next else { return };
            if let Err(e) = work(i).await {
                ctx.control.fail(e);
                return;
            }
        }
    });
    let mut workers = JoinAll(workers.map(Box::pin).map(Some).collect());
    let mut lane = lane.map(Box::pin);
    std::future::poll_fn(|cx| {
        if let Some(l) = &mut lane {
            if l.as_mut().poll(cx).is_ready() {
                lane = None;
            }
        }
        std::future::Future::poll(std::pin::Pin::new(&mut workers), cx)
    })
    .await;
    match ctx.control.stop_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs futures side by side until all have finished (the workers of
/// [`for_each_part`]). Every wake polls each unfinished one again: with a
/// handful of workers that costs nothing, and it is a few dozen bytes where
/// `futures-util`'s `join_all` brought its task queue machinery (~1 KB
/// gzip).
struct JoinAll<F>(Vec<Option<std::pin::Pin<Box<F>>>>);

impl<F: std::future::Future<Output = ()>> std::future::Future for JoinAll<F> {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut pending = false;
        for slot in self.0.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    }
}
