//! Upload planning: from a file's size, the storage protocol behind the
//! pre-signed upload URL and the caller's options, the exact list of requests
//! that deliver the file (parts, their byte ranges and Azure block ids), plus
//! the small helpers each protocol's driver needs (the Azure block list, GCS
//! `Content-Range` values) and a compact record of acknowledged parts for
//! resuming after a page reload.
//!
//! Everything here is pure: no I/O, no clock, no randomness. The wasm crate's
//! drivers turn a plan into `Blob.slice()` reads and HTTP requests; the
//! emulator's tests use the same plan to check what a client will send.
//!
//! # Protocols and their limits
//!
//! | protocol | requests | limits enforced here | source |
//! |---|---|---|---|
//! | [`Protocol::AzureBlocks`] | Put Blob (one request) or Put Block × N + Put Block List | ≤ 50,000 blocks per blob; a block ≤ 4000 MiB and Put Blob ≤ 5000 MiB (service version 2019-12-12 or later); block ids valid base64 of ≤ 64 bytes before encoding, all of one length within a blob | Microsoft Learn, "Put Block" and "Understanding block blobs" (learn.microsoft.com/rest/api/storageservices/put-block, …/understanding-block-blobs--append-blobs--and-page-blobs) |
//! | [`Protocol::SinglePut`] | one `PUT` of the whole file | ≤ 5 GiB (5 × 1024³ bytes) | AWS S3 User Guide, "Uploading objects": a single PUT uploads at most 5 GB; larger objects need multipart upload |
//! | [`Protocol::GcsResumable`] | one `PUT`, or chunks with `Content-Range` sent in order | every chunk but the last a multiple of 256 KiB (262,144 bytes) | Google Cloud Storage docs, "Perform resumable uploads" (cloud.google.com/storage/docs/performing-resumable-uploads) |
//!
//! On top of those, every plan keeps to [`MAX_PARTS`] (50,000) parts, so the
//! request count and the resume record ([`PartSet`]) stay bounded for every
//! protocol, and files are limited to [`crate::MAX_FILE_SIZE`] (50 GB, the
//! API's limit) unless [`PlanOptions::max_file_size`] says otherwise.
//!
//! # How a plan is chosen
//!
//! 1. The part size is [`PlanOptions::part_size`], by default
//!    [`default_part_size`]: 8 MiB, or for files over 512 MiB a size that
//!    cuts them into about [`DEFAULT_TARGET_PARTS`] (64) parts, at most
//!    [`DEFAULT_MAX_PART_SIZE`] (32 MiB). For GCS it is rounded up to a
//!    multiple of 256 KiB.
//! 2. If that gives more than 50,000 parts, the part size is raised to the
//!    smallest whole number of MiB that fits ([`UploadPlan::part_size_raised`]
//!    tells the caller it happened).
//! 3. A file no larger than [`PlanOptions::single_request_threshold`]
//!    (default: the part size, i.e. "the file fits in one part") is sent in a
//!    single request: Azure Put Blob rather than blocks, one GCS `PUT`, and
//!    for [`Protocol::SinglePut`] always. A 0-byte file is always one empty
//!    request.
//!
//! ```
//! use import_core::plan::{azure_block_list_xml, PlanOptions, Protocol, UploadPlan};
//!
//! let headers = [("x-ms-blob-type".to_string(), "BlockBlob".to_string())];
//! let protocol = Protocol::detect("https://acct.blob.core.windows.net/c/f.csv?sv=2024-08-04&sig=x", &headers);
//! assert_eq!(protocol, Protocol::AzureBlocks);
//!
//! let plan = UploadPlan::new(20 * 1024 * 1024, protocol, &PlanOptions::default()).unwrap();
//! assert_eq!(plan.part_count(), 3); // 8 MiB + 8 MiB + 4 MiB
//! let last = plan.parts().last().unwrap();
//! assert_eq!((last.offset, last.len), (16 * 1024 * 1024, 4 * 1024 * 1024));
//! assert!(azure_block_list_xml(&plan).ends_with("</Latest></BlockList>"));
//! ```

use std::fmt;
use std::iter::FusedIterator;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::MAX_FILE_SIZE;

/// 1 MiB.
pub const MIB: u64 = 1024 * 1024;
/// Smallest default part size: 8 MiB, for files up to 512 MiB (at 256 MiB,
/// 16 MiB parts were slower than 8 MiB: too few parts to spread over the
/// ones in flight); larger files get larger parts ([`default_part_size`]).
pub const DEFAULT_PART_SIZE: u64 = 8 * MIB;
/// Parts a file over 512 MiB is cut into by default ([`default_part_size`]).
pub const DEFAULT_TARGET_PARTS: u64 = 64;
/// Largest default part size ([`default_part_size`]).
pub const DEFAULT_MAX_PART_SIZE: u64 = 32 * MIB;

/// The part size used when none is given: [`DEFAULT_PART_SIZE`] (8 MiB)
/// up to 512 MiB; above, the file's size over [`DEFAULT_TARGET_PARTS`]
/// (64) in whole MiB, at most [`DEFAULT_MAX_PART_SIZE`] (32 MiB from 2 GiB
/// on). A 1 GiB file goes in 16 MiB parts.
///
/// Every part costs a fixed overhead besides its bytes: a request and its
/// answer, and from a page to another origin a CORS preflight too (each
/// Put Block's URL differs, so none is cached), about two round trips.
/// Fewer, larger parts pay it fewer times. Measured from headless Chromium
/// with a 1 GiB file from disk, 6 in flight, 8 against 16 MiB parts in
/// turns (`cargo xtask bench upload 1GiB --methods=engine --part=8|16`,
/// three rounds on a busy 2-core machine, medians): over a WAN (40 ms
/// round trip, 16 MiB/s per connection) 67.2 → 69.4 MiB/s, to Azurite on
/// loopback 113.4 → 127.1, to a discard sink 177.8 → 203.3, with the same
/// JS heap and renderer memory (parts are sent as `Blob.slice()` and
/// hashed through a 1 MiB buffer, so a larger part costs no memory in a
/// browser; in Node a file source holds up to `concurrency` parts). At
/// 4 GiB and four in flight, 8 MiB parts gave 58.8 and 71.0 MiB/s, 16 MiB
/// 78.7, 32 MiB 67.9 and 87.3 (two runs, busy machine).
///
/// ```
/// use import_core::plan::{default_part_size, MIB};
/// assert_eq!(default_part_size(100 * MIB), 8 * MIB);
/// assert_eq!(default_part_size(512 * MIB), 8 * MIB);
/// assert_eq!(default_part_size(1024 * MIB), 16 * MIB);
/// assert_eq!(default_part_size(2048 * MIB), 32 * MIB);
/// assert_eq!(default_part_size(50_000_000_000), 32 * MIB);
/// ```
pub fn default_part_size(file_size: u64) -> u64 {
    round_up(file_size.div_ceil(DEFAULT_TARGET_PARTS), MIB)
        .clamp(DEFAULT_PART_SIZE, DEFAULT_MAX_PART_SIZE)
}
/// Default number of parts in flight: 6, the connections a browser opens
/// per host over HTTP/1.1 (Chromium, Firefox and Safari all open 6).
///
/// Measured from headless Chromium with a 1 GiB file from disk, 8 MiB
/// parts (`cargo xtask bench upload 1GiB --concurrency=N`): over a WAN
/// (40 ms round trip, 16 MiB/s per connection) 4 in flight keep 4 of the 6
/// connections busy, so 6 are about 1.47× faster (idle machine, one run
/// per cell: 48.1 → 70.8 MiB/s; 8 in flight 72.3, 12 72.7, as more only
/// queue behind the 6 connections), and near storage and at the client's
/// own limit 6 are no slower than 4 (see docs/performance.md). GCS
/// sessions and single requests still send one at a time; in Node a file
/// source holds at most this many parts in memory.
///
/// ```
/// use import_core::plan::{Protocol, UploadPlan, PlanOptions, DEFAULT_CONCURRENCY, MIB};
/// assert_eq!(DEFAULT_CONCURRENCY, 6);
/// let plan = UploadPlan::new(100 * MIB, Protocol::AzureBlocks, &PlanOptions::default()).unwrap();
/// assert_eq!(plan.concurrency(), 6);
/// let gcs = UploadPlan::new(100 * MIB, Protocol::GcsResumable, &PlanOptions::default()).unwrap();
/// assert_eq!(gcs.concurrency(), 1);
/// ```
pub const DEFAULT_CONCURRENCY: u32 = 6;
/// Most parts in any plan: Azure's 50,000 committed blocks per blob, applied
/// to every protocol.
pub const MAX_PARTS: u64 = 50_000;
/// Largest Azure block (Put Block body), x-ms-version 2019-12-12 or later.
pub const AZURE_MAX_BLOCK_SIZE: u64 = 4000 * MIB;
/// Largest Azure Put Blob body, x-ms-version 2019-12-12 or later.
pub const AZURE_MAX_PUT_BLOB: u64 = 5000 * MIB;
/// Largest Azure block id, in bytes before base64 encoding.
pub const AZURE_MAX_BLOCK_ID_BYTES: usize = 64;
/// Largest S3-style single `PUT`: 5 GiB.
pub const SINGLE_PUT_MAX: u64 = 5 * 1024 * MIB;
/// GCS resumable chunks (all but the last) are multiples of this: 256 KiB.
pub const GCS_CHUNK_MULTIPLE: u64 = 256 * 1024;

/// A raised part size is rounded up to a multiple of this (1 MiB), which is
/// also a multiple of [`GCS_CHUNK_MULTIPLE`].
const RAISE_GRANULARITY: u64 = MIB;
/// Block ids are the base64 of the part index as this many decimal digits:
/// 6 bytes encode to 8 base64 characters with no padding and no `+` or `/`,
/// so they need no percent-encoding in a query string.
const BLOCK_ID_DIGITS: usize = 6;

// ---------------------------------------------------------------------------
// Protocol
// ---------------------------------------------------------------------------

/// How storage behind an upload URL takes a file.
///
/// Serialised (and parsed with [`FromStr`]) as `azure-blocks`, `single-put`,
/// `gcs-resumable`; the parser also accepts `azure`, `s3`, `put` and `gcs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Azure Block Blob: Put Blob for a small file, otherwise Put Block for
    /// each part (any order, in parallel) and one Put Block List.
    AzureBlocks,
    /// One `PUT` of the whole file (S3 pre-signed URLs and anything unknown).
    SinglePut,
    /// A GCS resumable session: chunks with `Content-Range`, strictly in order.
    GcsResumable,
}

/// A header given to [`Protocol::detect`]: a `(name, value)` pair or a
/// reference to one, so both `&[(String, String)]` and an
/// `IndexMap<String, String>` (iterated by reference) can be passed.
pub trait HeaderPair {
    /// Header name (compared case-insensitively).
    fn name(&self) -> &str;
    /// Header value.
    fn value(&self) -> &str;
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderPair for (K, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderPair for &(K, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

impl Protocol {
    /// Every protocol, in declaration order.
    pub const ALL: [Protocol; 3] = [
        Protocol::AzureBlocks,
        Protocol::SinglePut,
        Protocol::GcsResumable,
    ];

    /// Guesses the protocol from the upload URL and the `headers` the API
    /// returned with it. The first rule that matches wins:
    ///
    /// 1. the query has an `upload_id` parameter (a GCS resumable session
    ///    URI) → [`GcsResumable`](Protocol::GcsResumable);
    /// 2. the headers carry `x-ms-blob-type: BlockBlob` (what the API returns
    ///    for Azure) → [`AzureBlocks`](Protocol::AzureBlocks);
    /// 3. the query has `X-Amz-Signature`, `X-Amz-Credential` or
    ///    `AWSAccessKeyId` (an S3 pre-signed URL) →
    ///    [`SinglePut`](Protocol::SinglePut);
    /// 4. the host is an Azure blob endpoint (`*.blob.core.windows.net`, or
    ///    another cloud's `*.blob.core.*`), or the URL is Azurite's
    ///    (`/devstoreaccount1/…` path or `devstoreaccount1.` host) →
    ///    `AzureBlocks`;
    /// 5. the query is an Azure SAS: both `sig` and `sv` (the signed service
    ///    version every SAS carries) → `AzureBlocks`. `sig` with only `sp`
    ///    is not enough: other signers (this project's emulator in S3 and GCS
    ///    modes among them) use `sig`/`sp`/`se` too;
    /// 6. the host is `storage.googleapis.com` and the query has
    ///    `uploadType=resumable` → `GcsResumable`;
    /// 7. anything else → `SinglePut`, which every storage accepts for files
    ///    up to its single-request limit.
    ///
    /// Parameter names are compared case-insensitively. A caller that knows
    /// better passes its own [`Protocol`] to [`UploadPlan::new`] instead.
    pub fn detect<I>(url: &str, headers: I) -> Protocol
    where
        I: IntoIterator,
        I::Item: HeaderPair,
    {
        let parts = UrlParts::split(url);
        if parts.has_param("upload_id") {
            return Protocol::GcsResumable;
        }
        if headers.into_iter().any(|h| {
            h.name().trim().eq_ignore_ascii_case("x-ms-blob-type")
                && h.value().trim().eq_ignore_ascii_case("BlockBlob")
        }) {
            return Protocol::AzureBlocks;
        }
        if ["X-Amz-Signature", "X-Amz-Credential", "AWSAccessKeyId"]
            .iter()
            .any(|p| parts.has_param(p))
        {
            return Protocol::SinglePut;
        }
        let host = parts.host.to_ascii_lowercase();
        let first_segment = parts.path.trim_start_matches('/').split('/').next();
        // A plain scan rather than `str::contains`, whose string searcher
        // is ~1.5 KB of the browser build.
        if host
            .as_bytes()
            .windows(".blob.core.".len())
            .any(|w| w == b".blob.core.")
            || host.starts_with("devstoreaccount1.")
            || first_segment == Some("devstoreaccount1")
        {
            return Protocol::AzureBlocks;
        }
        if parts.has_param("sig") && parts.has_param("sv") {
            return Protocol::AzureBlocks;
        }
        if (host == "storage.googleapis.com" || host.ends_with(".storage.googleapis.com"))
            && parts
                .params()
                .any(|(k, v)| k.eq_ignore_ascii_case("uploadType") && v == "resumable")
        {
            return Protocol::GcsResumable;
        }
        Protocol::SinglePut
    }

    /// The protocol's name: `azure-blocks`, `single-put` or `gcs-resumable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::AzureBlocks => "azure-blocks",
            Protocol::SinglePut => "single-put",
            Protocol::GcsResumable => "gcs-resumable",
        }
    }

    /// Largest part (one chunked request's body) the protocol accepts.
    /// GCS documents no chunk limit below the object size.
    pub fn max_part_size(self) -> u64 {
        match self {
            Protocol::AzureBlocks => AZURE_MAX_BLOCK_SIZE,
            Protocol::SinglePut => SINGLE_PUT_MAX,
            Protocol::GcsResumable => u64::MAX,
        }
    }

    /// Largest file the protocol takes in one request.
    pub fn max_single_request(self) -> u64 {
        match self {
            Protocol::AzureBlocks => AZURE_MAX_PUT_BLOB,
            Protocol::SinglePut => SINGLE_PUT_MAX,
            Protocol::GcsResumable => u64::MAX,
        }
    }

    /// Whether parts must be sent one after another (GCS sessions take
    /// chunks only at the persisted offset).
    pub fn is_sequential(self) -> bool {
        matches!(self, Protocol::GcsResumable)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown protocol name given to [`Protocol::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown storage protocol `{0}`: use azure-blocks, single-put or gcs-resumable")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect::<String>()
            .to_ascii_lowercase();
        match norm.as_str() {
            "azureblocks" | "azure" | "azureblob" | "blockblob" => Ok(Protocol::AzureBlocks),
            "singleput" | "s3" | "put" => Ok(Protocol::SinglePut),
            "gcsresumable" | "gcs" => Ok(Protocol::GcsResumable),
            _ => Err(UnknownProtocol(s.to_string())),
        }
    }
}

/// The host, path and query of a URL, split by hand (no URL crate in the
/// core): enough for [`Protocol::detect`].
struct UrlParts<'a> {
    host: &'a str,
    path: &'a str,
    query: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> Self {
        let url = url.trim();
        let url = url.split('#').next().unwrap_or("");
        let (before_query, query) = url.split_once('?').unwrap_or((url, ""));
        // A byte scan for `://` (`split_once` with a string pattern links
        // a two-way searcher into the browser build), and `get` for the
        // slices: every index is next to an ASCII byte.
        let scheme_end = before_query.as_bytes().windows(3).position(|w| w == b"://");
        let (authority, path) = match scheme_end.and_then(|i| before_query.get(i + 3..)) {
            Some(rest) => match rest.find('/') {
                Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("")),
                None => (rest, ""),
            },
            None => ("", before_query),
        };
        let host_port = authority.rsplit('@').next().unwrap_or("");
        let host = if host_port.starts_with('[') {
            host_port
                .split_once(']')
                .map(|(h, _)| h.strip_prefix('[').unwrap_or(h))
                .unwrap_or(host_port)
        } else {
            host_port.split(':').next().unwrap_or("")
        };
        UrlParts { host, path, query }
    }

    fn params(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
    }

    fn has_param(&self, name: &str) -> bool {
        self.params().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

// ---------------------------------------------------------------------------
// Options and errors
// ---------------------------------------------------------------------------

/// What the caller may choose. Every field is optional; `None` takes the
/// default. Deserialises from camelCase JSON (`partSize`, `concurrency`,
/// `singleRequestThreshold`, `maxFileSize`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PlanOptions {
    /// Bytes per part (default [`default_part_size`]: 8 MiB, larger for
    /// files over 512 MiB). Raised when the file would need more
    /// than 50,000 parts; rounded up to a multiple of 256 KiB for GCS;
    /// ignored for [`Protocol::SinglePut`]. Must be at least 1 and at most
    /// the protocol's part limit (4000 MiB for Azure).
    pub part_size: Option<u64>,
    /// Parts in flight at once (default 6, at least 1). The plan lowers it to
    /// 1 for single requests and GCS sessions, and to the part count.
    pub concurrency: Option<u32>,
    /// Files of at most this many bytes go in one request (default: the part
    /// size). Values above the protocol's single-request limit (Azure Put
    /// Blob: 5000 MiB) are lowered to it. `Some(0)` always uses parts (a
    /// 0-byte file is still one empty request).
    pub single_request_threshold: Option<u64>,
    /// Largest file accepted (default [`crate::MAX_FILE_SIZE`], 50 GB: the
    /// API's limit). Raise it only when uploading to your own storage.
    pub max_file_size: Option<u64>,
}

/// Why no plan could be made. [`PlanError::code`] gives a stable code to
/// branch on; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The file is larger than the largest file accepted.
    #[error(
        "the file is {size} bytes ({}), over the {max}-byte ({}) limit for one import file; split it into several files",
        human_bytes(*size),
        human_bytes(*max)
    )]
    FileTooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A single-PUT storage cannot take a file this large in one request.
    #[error(
        "the file is {size} bytes ({}), but this storage takes the whole file in one PUT of at most {max} bytes ({}); use an upload URL backed by block (Azure Block Blob), multipart or resumable storage, or split the file",
        human_bytes(*size),
        human_bytes(*max)
    )]
    SinglePutTooLarge {
        /// The file's size.
        size: u64,
        /// The single-request limit.
        max: u64,
    },
    /// Even the protocol's largest part leaves more than 50,000 parts.
    #[error(
        "the file is {size} bytes ({}): even at the largest part size of {protocol} ({}) it needs more than {} parts",
        human_bytes(*size),
        human_bytes(protocol.max_part_size()),
        MAX_PARTS
    )]
    TooManyParts {
        /// The file's size.
        size: u64,
        /// The protocol.
        protocol: Protocol,
    },
    /// An option is out of range.
    #[error("{option} {reason}")]
    InvalidOption {
        /// The option's camelCase name (`partSize`, `concurrency`).
        option: &'static str,
        /// What is wrong with it and what is allowed.
        reason: String,
    },
}

impl PlanError {
    /// A stable code: `FILE_TOO_LARGE`, `SINGLE_PUT_TOO_LARGE`,
    /// `TOO_MANY_PARTS` or `INVALID_OPTION`.
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::FileTooLarge { .. } => "FILE_TOO_LARGE",
            PlanError::SinglePutTooLarge { .. } => "SINGLE_PUT_TOO_LARGE",
            PlanError::TooManyParts { .. } => "TOO_MANY_PARTS",
            PlanError::InvalidOption { .. } => "INVALID_OPTION",
        }
    }
}

/// Bytes for people: `53687091200` → `"50 GiB"`, `4194304000` →
/// `"4000 MiB"`, `1536` → `"1.5 KiB"`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    while unit + 1 < UNITS.len() && n >> (10 * (unit + 1)) > 0 {
        unit += 1;
    }
    if unit == 0 {
        return format!("{n} bytes");
    }
    // An exact figure in this unit or a smaller one (4000 MiB), if short.
    for u in (1..=unit).rev() {
        let scale = 1u64 << (10 * u);
        if n % scale == 0 && n / scale < 10_000 {
            return format!("{} {}", n / scale, UNITS[u]);
        }
    }
    // One decimal of `n as f64 / 2^(10 unit)`, as `{:.1}` would print it
    // (round half to even on the exact value), in integer arithmetic: the
    // client's wasm build then links no float formatter.
    let k = 10 * unit as u32;
    let m = (n as f64) as u128; // what the float holds
    let ten = m * 10;
    let mut tenths = ten >> k;
    let rem = ten & ((1u128 << k) - 1);
    let half = 1u128 << (k - 1);
    if rem > half || (rem == half && tenths % 2 == 1) {
        tenths += 1;
    }
    // At most u64::MAX * 10 / 1024: a u64 (no u128 formatting linked).
    let tenths = tenths as u64;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

// ---------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------

/// One request's worth of the file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// 0-based position in the plan (and in the Azure block list).
    pub index: u64,
    /// First byte in the file.
    pub offset: u64,
    /// Bytes in this part (0 only for the empty request of a 0-byte file).
    pub len: u64,
    /// The base64 Azure block id, for Put Block parts only.
    pub block_id: Option<String>,
}

impl Part {
    /// One past the last byte: `offset + len`, the `end` of `Blob.slice()`.
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// The requests that upload one file: see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadPlan {
    file_size: u64,
    protocol: Protocol,
    part_size: u64,
    part_count: u64,
    concurrency: u32,
    single_request: bool,
    part_size_raised: bool,
}

/// Parts needed for `file_size` at `part_size` (1 for an empty file or a
/// single request, whose part size is the file size).
fn count_parts(file_size: u64, part_size: u64) -> u64 {
    if file_size == 0 || part_size == 0 {
        1
    } else {
        file_size.div_ceil(part_size)
    }
}

fn round_up(n: u64, multiple: u64) -> u64 {
    n.div_ceil(multiple).saturating_mul(multiple)
}

impl UploadPlan {
    /// Plans the upload of `file_size` bytes over `protocol`.
    pub fn new(file_size: u64, protocol: Protocol, opts: &PlanOptions) -> Result<Self, PlanError> {
        let max_file = opts.max_file_size.unwrap_or(MAX_FILE_SIZE);
        if file_size > max_file {
            return Err(PlanError::FileTooLarge {
                size: file_size,
                max: max_file,
            });
        }
        let requested = opts
            .part_size
            .unwrap_or_else(|| default_part_size(file_size));
        if requested == 0 {
            return Err(PlanError::InvalidOption {
                option: "partSize",
                reason: "is 0: give a part size of at least 1 byte (default 8 MiB)".into(),
            });
        }
        let concurrency = opts.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            return Err(PlanError::InvalidOption {
                option: "concurrency",
                reason: "is 0: at least one part must be in flight (default 6)".into(),
            });
        }

        if protocol == Protocol::SinglePut {
            if file_size > SINGLE_PUT_MAX {
                return Err(PlanError::SinglePutTooLarge {
                    size: file_size,
                    max: SINGLE_PUT_MAX,
                });
            }
            return Ok(Self::single(file_size, protocol));
        }

        if requested > protocol.max_part_size() {
            return Err(PlanError::InvalidOption {
                option: "partSize",
                reason: format!(
                    "is {requested} bytes ({}), over the largest {protocol} part of {} bytes ({})",
                    human_bytes(requested),
                    protocol.max_part_size(),
                    human_bytes(protocol.max_part_size())
                ),
            });
        }
        let mut part_size = requested;
        if protocol == Protocol::GcsResumable {
            part_size = round_up(part_size, GCS_CHUNK_MULTIPLE);
        }
        let mut raised = false;
        let needed = file_size.div_ceil(MAX_PARTS);
        if part_size < needed {
            part_size = round_up(needed, RAISE_GRANULARITY);
            raised = true;
        }
        if part_size > protocol.max_part_size() {
            return Err(PlanError::TooManyParts {
                size: file_size,
                protocol,
            });
        }

        let threshold = opts
            .single_request_threshold
            .unwrap_or(part_size)
            .min(protocol.max_single_request());
        if file_size == 0 || file_size <= threshold {
            let mut plan = Self::single(file_size, protocol);
            plan.part_size_raised = raised;
            return Ok(plan);
        }

        let part_count = count_parts(file_size, part_size);
        let concurrency = if protocol.is_sequential() {
            1
        } else {
            u64::from(concurrency).min(part_count) as u32
        };
        Ok(UploadPlan {
            file_size,
            protocol,
            part_size,
            part_count,
            concurrency,
            single_request: false,
            part_size_raised: raised,
        })
    }

    fn single(file_size: u64, protocol: Protocol) -> Self {
        UploadPlan {
            file_size,
            protocol,
            part_size: file_size,
            part_count: 1,
            concurrency: 1,
            single_request: true,
            part_size_raised: false,
        }
    }

    /// The file's size in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// The protocol the plan is for.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Length of every part but the last (which may be shorter); for a
    /// single-request plan, the file size.
    pub fn part_size(&self) -> u64 {
        self.part_size
    }

    /// Number of parts (requests carrying file bytes), at least 1.
    pub fn part_count(&self) -> u64 {
        self.part_count
    }

    /// Parts to keep in flight at once.
    pub fn concurrency(&self) -> u32 {
        self.concurrency
    }

    /// Whether the whole file goes in one request (Azure Put Blob, one GCS
    /// `PUT`, or the single PUT), with no block list to commit.
    pub fn is_single_request(&self) -> bool {
        self.single_request
    }

    /// Whether the requested part size was raised to keep within
    /// [`MAX_PARTS`].
    pub fn part_size_raised(&self) -> bool {
        self.part_size_raised
    }

    /// Whether the parts are Azure blocks (and a block list must commit them).
    pub fn uses_blocks(&self) -> bool {
        self.protocol == Protocol::AzureBlocks && !self.single_request
    }

    /// Part `index`, or `None` past the end.
    pub fn part(&self, index: u64) -> Option<Part> {
        if index >= self.part_count {
            return None;
        }
        let offset = index * self.part_size;
        let len = self.part_size.min(self.file_size - offset);
        Some(Part {
            index,
            offset,
            len,
            block_id: self.uses_blocks().then(|| block_id(index)),
        })
    }

    /// The part holding byte `offset` (the last part for `offset` at or past
    /// the end).
    pub fn part_index_at(&self, offset: u64) -> u64 {
        if self.part_size == 0 {
            return 0;
        }
        (offset / self.part_size).min(self.part_count - 1)
    }

    /// Every part, in order, computed as it is iterated (nothing is
    /// allocated but each part's block id).
    pub fn parts(&self) -> Parts<'_> {
        Parts {
            plan: self,
            next: 0,
            end: self.part_count,
            from: 0,
        }
    }

    /// The parts that cover `[offset, file_size)`, for resuming a sequential
    /// (GCS) session at the offset the server persisted: the first one is
    /// the rest of the part holding `offset`, trimmed to start there; when
    /// `offset` is a multiple of 256 KiB, so is that first chunk. Empty when
    /// `offset` is at or past the end (except that a 0-byte file's one empty
    /// part is returned for offset 0). Not for Azure blocks, whose parts must
    /// keep their boundaries.
    pub fn parts_from(&self, offset: u64) -> Parts<'_> {
        let (next, end) = if self.file_size == 0 && offset == 0 {
            (0, 1)
        } else if offset >= self.file_size {
            (self.part_count, self.part_count)
        } else {
            (self.part_index_at(offset), self.part_count)
        };
        Parts {
            plan: self,
            next,
            end,
            from: offset,
        }
    }
}

/// Iterator over a plan's parts ([`UploadPlan::parts`],
/// [`UploadPlan::parts_from`]).
#[derive(Debug, Clone)]
pub struct Parts<'a> {
    plan: &'a UploadPlan,
    next: u64,
    end: u64,
    from: u64,
}

impl Parts<'_> {
    fn make(&self, index: u64) -> Part {
        let mut part = self
            .plan
            .part(index)
            .expect("index is below the part count");
        if part.offset < self.from {
            let skip = self.from - part.offset;
            part.offset += skip;
            part.len -= skip;
        }
        part
    }
}

impl Iterator for Parts<'_> {
    type Item = Part;

    fn next(&mut self) -> Option<Part> {
        if self.next >= self.end {
            return None;
        }
        let part = self.make(self.next);
        self.next += 1;
        Some(part)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.end - self.next) as usize;
        (n, Some(n))
    }

    fn nth(&mut self, n: usize) -> Option<Part> {
        self.next = self.next.saturating_add(n as u64).min(self.end);
        self.next()
    }
}

impl DoubleEndedIterator for Parts<'_> {
    fn next_back(&mut self) -> Option<Part> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        Some(self.make(self.end))
    }
}

impl ExactSizeIterator for Parts<'_> {}
impl FusedIterator for Parts<'_> {}

// ---------------------------------------------------------------------------
// Azure
// ---------------------------------------------------------------------------

/// The Azure block id of part `index`: the standard base64 of the index as
/// six zero-padded decimal digits (`0` → `MDAwMDAw`). Every id of every plan
/// has the same length (8 characters, 6 bytes before encoding), as Azure
/// requires of all blocks of one blob, including blocks left uncommitted by
/// an earlier attempt with another part size; and the ids contain no `+`,
/// `/` or `=`, so they go into the `blockid` query parameter unescaped.
pub fn block_id(index: u64) -> String {
    debug_assert!(index < 10u64.pow(BLOCK_ID_DIGITS as u32));
    let raw = format!("{index:0width$}", width = BLOCK_ID_DIGITS);
    debug_assert!(raw.len() <= AZURE_MAX_BLOCK_ID_BYTES);
    base64::encode(raw.as_bytes(), base64::STANDARD, true)
}

/// The body of Put Block List: every block of the plan as `<Latest>`, in
/// order. Empty (`<BlockList></BlockList>`) for a plan without blocks
/// ([`UploadPlan::uses_blocks`] is false), which must not be sent: such a
/// plan is committed by its single Put Blob.
pub fn azure_block_list_xml(plan: &UploadPlan) -> String {
    const HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
    const TAIL: &str = "</BlockList>";
    let per_block = "<Latest></Latest>".len() + 8;
    let mut xml =
        String::with_capacity(HEAD.len() + TAIL.len() + per_block * plan.part_count() as usize);
    xml.push_str(HEAD);
    if plan.uses_blocks() {
        for part in plan.parts() {
            if let Some(id) = part.block_id {
                xml.push_str("<Latest>");
                xml.push_str(&id);
                xml.push_str("</Latest>");
            }
        }
    }
    xml.push_str(TAIL);
    xml
}

// ---------------------------------------------------------------------------
// GCS
// ---------------------------------------------------------------------------

/// The `Content-Range` of a GCS chunk: `bytes START-END/TOTAL` (END
/// inclusive); for an empty part (a 0-byte file) the status query form
/// `bytes */TOTAL`, which commits an empty object.
pub fn content_range(part: &Part, total: u64) -> String {
    if part.len == 0 {
        status_query_range(total)
    } else {
        format!("bytes {}-{}/{}", part.offset, part.end() - 1, total)
    }
}

/// The `Content-Range` of a GCS status query (an empty `PUT` asking how much
/// the session has persisted): `bytes */TOTAL`.
pub fn status_query_range(total: u64) -> String {
    format!("bytes */{total}")
}

/// Reads the `Range` header of a GCS `308 Resume Incomplete` answer
/// (`bytes=0-262143`) and returns the next offset to send (`262144`).
/// `None` when the value is malformed or does not start at 0. A 308 with no
/// `Range` header at all means nothing is persisted: resume at 0.
pub fn parse_gcs_range_header(value: &str) -> Option<u64> {
    let value = value.trim();
    let (unit, range) = value.split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (start, end) = range.trim().split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (start, end) = (start.trim(), end.trim());
    if !digits(start) || !digits(end) {
        return None;
    }
    let start: u64 = start.parse().ok()?;
    let end: u64 = end.parse().ok()?;
    if start != 0 {
        return None;
    }
    end.checked_add(1)
}

// ---------------------------------------------------------------------------
// Resume record
// ---------------------------------------------------------------------------

/// The parts storage has acknowledged, for resuming an upload after a
/// reload. Tied to the plan's file size and part size: a record made for
/// another plan [does not match](PartSet::matches) and resumes nothing.
///
/// Serialised with [`Display`](fmt::Display) / [`FromStr`] as
/// `1:FILE_SIZE:PART_SIZE:BODY`, where BODY is the shorter of
/// `r:` + comma-separated index ranges (`r:0-4999,5001`) and
/// `b:` + a bitmap (bit `i % 8` of byte `i / 8` is part `i`) in base64url
/// without padding. The string is at most about 8.4 KB for 50,000 parts and
/// a few dozen bytes for the usual "a prefix plus a few" shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSet {
    file_size: u64,
    part_size: u64,
    part_count: u64,
    bits: Vec<u8>,
    acked: u64,
}

/// A resume record ([`PartSet`]) that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the saved upload progress is unreadable ({reason}); the upload starts over")]
pub struct PartSetParseError {
    /// What is wrong.
    pub reason: String,
}

impl PartSetParseError {
    fn new(reason: impl Into<String>) -> Self {
        PartSetParseError {
            reason: reason.into(),
        }
    }
}

impl PartSet {
    /// An empty record for `plan`.
    pub fn new(plan: &UploadPlan) -> Self {
        Self::empty(plan.file_size, plan.part_size)
    }

    fn empty(file_size: u64, part_size: u64) -> Self {
        let part_count = count_parts(file_size, part_size);
        PartSet {
            file_size,
            part_size,
            part_count,
            bits: vec![0; part_count.div_ceil(8) as usize],
            acked: 0,
        }
    }

    /// Whether the record was made for this plan (same file size and part
    /// size).
    pub fn matches(&self, plan: &UploadPlan) -> bool {
        self.file_size == plan.file_size && self.part_size == plan.part_size
    }

    /// Number of parts the record covers.
    pub fn part_count(&self) -> u64 {
        self.part_count
    }

    /// Marks part `index` acknowledged; `true` if it was not yet. Indexes
    /// past the end are ignored (`false`).
    pub fn insert(&mut self, index: u64) -> bool {
        if index >= self.part_count {
            return false;
        }
        let (byte, mask) = ((index / 8) as usize, 1u8 << (index % 8));
        if self.bits[byte] & mask != 0 {
            return false;
        }
        self.bits[byte] |= mask;
        self.acked += 1;
        true
    }

    /// Whether part `index` is acknowledged.
    pub fn contains(&self, index: u64) -> bool {
        index < self.part_count && self.bits[(index / 8) as usize] & (1u8 << (index % 8)) != 0
    }

    /// Number of acknowledged parts.
    pub fn len(&self) -> u64 {
        self.acked
    }

    /// Whether no part is acknowledged.
    pub fn is_empty(&self) -> bool {
        self.acked == 0
    }

    /// Whether every part is acknowledged.
    pub fn is_complete(&self) -> bool {
        self.acked == self.part_count
    }

    /// Acknowledged part indexes, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.part_count).filter(move |&i| self.contains(i))
    }

    /// Bytes of `plan` already acknowledged (0 if the record does not
    /// match the plan), for progress after a resume.
    pub fn acked_bytes(&self, plan: &UploadPlan) -> u64 {
        if !self.matches(plan) {
            return 0;
        }
        let mut bytes = self.acked * self.part_size;
        if self.file_size > 0 && self.contains(self.part_count - 1) {
            // The last part may be short.
            bytes -= self.part_count * self.part_size - self.file_size;
        }
        bytes
    }

    /// The parts of `plan` still to send, in order: all of them when the
    /// record does not match the plan.
    pub fn remaining<'a>(&'a self, plan: &'a UploadPlan) -> impl Iterator<Item = Part> + 'a {
        let matches = self.matches(plan);
        plan.parts()
            .filter(move |p| !(matches && self.contains(p.index)))
    }

    fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for i in self.iter() {
            match out.last_mut() {
                Some((_, end)) if *end + 1 == i => *end = i,
                _ => out.push((i, i)),
            }
        }
        out
    }
}

impl fmt::Display for PartSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ranges = String::new();
        for (n, (a, b)) in self.ranges().into_iter().enumerate() {
            if n > 0 {
                ranges.push(',');
            }
            if a == b {
                ranges.push_str(&a.to_string());
            } else {
                ranges.push_str(&format!("{a}-{b}"));
            }
        }
        let bitmap_len = (self.bits.len() * 4).div_ceil(3);
        write!(f, "1:{}:{}:", self.file_size, self.part_size)?;
        if ranges.len() <= bitmap_len {
            write!(f, "r:{ranges}")
        } else {
            write!(
                f,
                "b:{}",
                base64::encode(&self.bits, base64::URL_SAFE, false)
            )
        }
    }
}

impl FromStr for PartSet {
    type Err = PartSetParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = s.trim().splitn(5, ':');
        let mut next = |what: &str| {
            fields
                .next()
                .ok_or_else(|| PartSetParseError::new(format!("missing {what}")))
        };
        let version = next("version")?;
        if version != "1" {
            return Err(PartSetParseError::new(format!(
                "version `{version}` is not supported"
            )));
        }
        let number = |v: &str, what: &str| {
            v.parse::<u64>()
                .map_err(|_| PartSetParseError::new(format!("{what} `{v}` is not a number")))
        };
        let file_size = number(next("file size")?, "file size")?;
        let part_size = number(next("part size")?, "part size")?;
        if part_size == 0 && file_size != 0 {
            return Err(PartSetParseError::new("part size is 0"));
        }
        if count_parts(file_size, part_size) > MAX_PARTS {
            return Err(PartSetParseError::new(format!(
                "more than {MAX_PARTS} parts"
            )));
        }
        let kind = next("body kind")?;
        let body = next("body")?;
        let mut set = PartSet::empty(file_size, part_size);
        match kind {
            "r" => {
                let mut last: Option<u64> = None;
                for item in body.split(',').filter(|x| !x.is_empty()) {
                    let (a, b) = match item.split_once('-') {
                        Some((a, b)) => (number(a, "index")?, number(b, "index")?),
                        None => {
                            let a = number(item, "index")?;
                            (a, a)
                        }
                    };
                    if a > b || b >= set.part_count || last.is_some_and(|l| a <= l) {
                        return Err(PartSetParseError::new(format!(
                            "range `{item}` is out of order or past part {}",
                            set.part_count - 1
                        )));
                    }
                    for i in a..=b {
                        set.insert(i);
                    }
                    last = Some(b);
                }
            }
            "b" => {
                let bits = base64::decode(body, base64::URL_SAFE)
                    .ok_or_else(|| PartSetParseError::new("bitmap is not base64url"))?;
                if bits.len() != set.bits.len() {
                    return Err(PartSetParseError::new(format!(
                        "bitmap has {} bytes, expected {}",
                        bits.len(),
                        set.bits.len()
                    )));
                }
                let spare = (set.bits.len() as u64) * 8 - set.part_count;
                if spare > 0 && bits.last().is_some_and(|&b| b >> (8 - spare) != 0) {
                    return Err(PartSetParseError::new("bitmap marks parts past the end"));
                }
                set.acked = bits.iter().map(|b| u64::from(b.count_ones())).sum();
                set.bits = bits;
            }
            other => {
                return Err(PartSetParseError::new(format!(
                    "body kind `{other}` is not `r` or `b`"
                )))
            }
        }
        Ok(set)
    }
}

impl PartSet {
    /// Parses a record written by [`to_string`](ToString::to_string).
    pub fn parse(s: &str) -> Result<Self, PartSetParseError> {
        s.parse()
    }
}

// ---------------------------------------------------------------------------
// base64, by hand (block ids and resume records need only this much)
// ---------------------------------------------------------------------------

mod base64 {
    pub const STANDARD: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pub const URL_SAFE: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..4 {
                if i < chars {
                    out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else if pad {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Decodes unpadded (or padded) base64 in `alphabet`; `None` on any
    /// character outside it or an impossible length.
    pub fn decode(text: &str, alphabet: &[u8; 64]) -> Option<Vec<u8>> {
        let text = text.trim_end_matches('=');
        if text.len() % 4 == 1 {
            return None;
        }
        let mut out = Vec::with_capacity(text.len() * 3 / 4);
        let mut acc = 0u32;
        let mut nbits = 0;
        for c in text.bytes() {
            let v = alphabet.iter().position(|&a| a == c)? as u32;
            acc = (acc << 6) | v;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                out.push((acc >> nbits) as u8);
                acc &= (1 << nbits) - 1;
            }
        }
        // Leftover bits must be zero (canonical encoding).
        if acc != 0 {
            return None;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    /// The integer rounding matches `{:.1}` of the float it replaced.
    #[test]
    fn human_bytes_rounds_as_the_float_formatter() {
        let float = |n: u64| {
            let mut unit = 0;
            while unit + 1 < 6 && n >> (10 * (unit + 1)) > 0 {
                unit += 1;
            }
            (
                unit,
                format!("{:.1}", n as f64 / (1u64 << (10 * unit)) as f64),
            )
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut samples = vec![1536, 2560, 3584, 1024 + 51, 1024 + 52, u64::MAX, 1 << 63];
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push(x >> (x % 64));
            // Exact ties of one decimal (x.x5 in binary) in every unit.
            samples.push(((i + 1) << (10 * (i % 5 + 1))) / 20);
        }
        for n in samples {
            let (unit, expected) = float(n);
            let got = human_bytes(n);
            if unit == 0 || got.split(' ').next().is_some_and(|g| !g.contains('.')) {
                continue; // exact figures are printed without a decimal
            }
            assert_eq!(got.split(' ').next().unwrap(), expected, "{n}");
        }
    }
}
