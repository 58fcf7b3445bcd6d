//! The upload engine: delivers a `Blob` (or `File`) to a pre-signed URL in
//! parts, with bounded concurrency, per-part retry, integrity checksums,
//! pause / resume / abort, resume after a reload, and progress.
//!
//! * The plan (part size, part count, block ids, concurrency) comes from
//!   import-core ([`UploadPlan`]); the protocol is detected from the URL and
//!   headers ([`Protocol::detect`]) unless the caller names one.
//! * Drivers: [`azure_blocks`] (Put Blob, or Put Block × N + Put Block
//!   List), [`single_put`] (one `PUT`, S3 style), [`gcs_resumable`]
//!   (sequential chunks with `Content-Range`); requests go out through
//!   `XMLHttpRequest` where present (byte-level progress) or `fetch`.
//! * [`control`]: pause / resume / abort; [`progress`]: rate, ETA and
//!   events; [`resume_store`]: acknowledged parts kept across reloads;
//!   [`options`]: the JS options, checked before anything is sent.
//! * Only `Blob.slice()` parts are read, each just before it is sent and
//!   dropped once answered, so at most `concurrency` parts are in memory
//!   (without checksums the slices are sent unread).
//! * Retries follow import-core's [`RetryPolicy`] (full jitter,
//!   `Retry-After` as a floor) and [`classify_status`]: 4xx other than
//!   408/429 fail at once; an expired URL fails at once with kind `expired`.
//! * The engine knows no bearer token: storage requests carry the URL, the
//!   job's `headers` and the protocol's own headers only.
//!
//! JavaScript sees `upload(blob, {url, method?, headers?, expiresAt?, …})`,
//! `client.upload(job, blob, options?)` and `client.resumeUpload(job, blob,
//! options?)`, each returning an [`Upload`] handle; Rust callers (the
//! client's `importFile`) use [`upload_to_target`].
//!
//! Files: [`engine`] runs one upload ([`upload_to_target`]); [`session`] is
//! what the drivers share while it runs; [`types`] the public types and
//! constants; [`options`] the JS options; `js_api` the `Upload` handle and
//! the standalone `upload()`. Each file uses its siblings directly; this
//! one only declares and re-exports them.

pub mod azure_blocks;
pub mod control;
pub mod engine;
pub mod gcs_resumable;
mod hash_lane;
mod js_api;
pub mod options;
pub mod progress;
pub mod resume_store;
pub(crate) mod session;
pub mod single_put;
pub mod source;
mod transport;
pub mod types;

pub use control::UploadControl;
pub use engine::upload_to_target;
pub use js_api::{job_resume_key, upload_js, Upload};
pub use options::{target_from_job, UploadOptions};
pub use progress::{Phase, Progress};
pub use source::Source;
pub use types::{
    UploadResult, UploadTarget, ASSUMED_BYTES_PER_SECOND, CHECKSUM_MISMATCH_CODE,
    DEFAULT_PROGRESS_INTERVAL_MS, EXPIRY_WARNING_CODE,
};
