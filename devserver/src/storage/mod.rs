//! The emulator's pre-signed storage: the upload URLs the API hands out, and
//! the server behind them at `/storage/{landing path}`.
//!
//! Three protocols, chosen with `--storage`:
//!
//! - `local` (default): Azure Block Blob as Azurite answers it (Put Blob,
//!   Put Block, Put Block List; see [`azure_blocks`]).
//! - `local-s3`: an S3-style pre-signed single `PUT` ([`s3_put`]).
//! - `local-gcs`: a GCS-style resumable upload session ([`gcs_resumable`]).
//! - `azurite=URL`: real SAS URLs of an Azurite blob endpoint ([`azurite`]);
//!   uploads go to Azurite and are read back from it, while error files stay
//!   in the emulator's own storage.
//!
//! Every URL is signed ([`signing`]): it is valid for one landing path, one
//! permission (`w` for uploads, `r` for downloads such as error files) and
//! one mode, until its expiry.
//!
//! An upload URL also carries the job's declared `fileSize` as its size
//! bound (`sz`, signed), and storage holds the blob to it in every mode:
//! a commit of more bytes (Azure Put Blob or Put Block List, the S3 PUT, the
//! GCS chunk that would reach past it) is refused, a single block larger
//! than the bound is refused, and the uncommitted Azure blocks of one blob
//! may hold at most [`STAGED_FACTOR`] times the bound. A refused request's
//! body is read (and discarded) up to [`DRAIN_LIMIT`]; past that the
//! connection is closed. The signature is the only thing that
//! authorises a storage request: the API's bearer token is not needed, and a
//! request that carries an `Authorization` header at all is refused (403),
//! so a client that leaks its token to storage finds out at once.
//!
//! Committed blobs live on disk under `DATA_DIR/blobs/` ([`blob_store`]);
//! the job endpoints ask [`Storage::uploaded_size`], the processor reads
//! uploads with [`Storage::open_blob_reader`] (in every mode) and writes
//! error files with [`Storage::write_path`] / [`Storage::blob_writer`],
//! served back through [`Storage::signed_download_url`].
//!
//! [`readback`] serves a job's committed upload back through the API
//! (`GET /public/v1/import-jobs/{jobId}/upload`, an emulator extension for
//! tests and benchmarks).
//!
//! Fault injection (`--faults storage:…`) happens first, before the request
//! has any effect: a request answered with an injected 503 stores nothing.

pub mod azure_blocks;
pub mod azurite;
pub mod blob_store;
pub mod download;
pub mod errors;
pub mod gcs_resumable;
pub mod readback;
pub mod s3_put;
pub mod signing;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use md5::{Digest, Md5};

use crate::app::AppState;
use crate::config::{Config, StorageMode};
use crate::faults::Injected;
pub use blob_store::{BlobMeta, BlobPath, BlobStore};
pub use errors::StorageError;
use signing::{Permission, SignatureError, Signer};

/// Where and how to upload a file: the `uploadUrl`, `method` and `headers`
/// of the create-job response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UploadTarget {
    /// The pre-signed URL.
    pub url: String,
    /// HTTP method (`PUT` in every mode).
    pub method: String,
    /// Headers the client must merge into its upload requests.
    pub headers: IndexMap<String, String>,
}

/// The wire protocol storage speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Azure Block Blob.
    Azure,
    /// S3 pre-signed single PUT.
    S3,
    /// GCS resumable session.
    Gcs,
}

impl Protocol {
    /// The name signed into URLs.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Azure => "azure",
            Protocol::S3 => "s3",
            Protocol::Gcs => "gcs",
        }
    }

    /// The ETag of content with this MD5, in the service's style.
    pub fn etag(self, md5: &[u8; 16]) -> String {
        match self {
            Protocol::Azure => format!(
                "\"0x{}\"",
                md5[..8]
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect::<String>()
            ),
            Protocol::S3 => format!("\"{}\"", signing::hex(md5)),
            Protocol::Gcs => format!("\"{}\"", B64.encode(md5)),
        }
    }
}

/// The signed storage of one emulator.
#[derive(Debug)]
pub struct Storage {
    protocol: Protocol,
    base_url: String,
    signer: Signer,
    blobs: BlobStore,
    /// `--storage azurite=URL`: where uploads go instead of `blobs`.
    azurite: Option<azurite::Azurite>,
}

impl Storage {
    /// Opens the blob store under `config.data_dir` and loads (or creates)
    /// the signing key. `base_url` (`http://host:port`) prefixes every URL.
    /// In azurite mode, also connects to Azurite and prepares it (container,
    /// CORS); fails when it cannot be reached.
    pub fn new(config: &Config, base_url: &str) -> anyhow::Result<Storage> {
        let (protocol, azurite) = match &config.storage {
            StorageMode::Local => (Protocol::Azure, None),
            StorageMode::LocalS3 => (Protocol::S3, None),
            StorageMode::LocalGcs => (Protocol::Gcs, None),
            StorageMode::Azurite(url) => (Protocol::Azure, Some(azurite::Azurite::connect(url)?)),
        };
        Ok(Storage {
            protocol,
            base_url: base_url.trim_end_matches('/').to_string(),
            signer: Signer::load_or_create(&config.data_dir, protocol.name())?,
            blobs: BlobStore::open(&config.data_dir)?,
            azurite,
        })
    }

    /// The Azurite endpoint uploads go to (`--storage azurite=URL`).
    pub fn azurite(&self) -> Option<&azurite::Azurite> {
        self.azurite.as_ref()
    }

    /// The protocol upload URLs speak.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The blob store (the processor and tests may look inside).
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// A pre-signed upload target for `landing_path`, valid until
    /// `expires_at`. `landing_path` is generated by the server and must be a
    /// plain relative path (`jobs/imp_…/file.csv`); storage refuses URLs of
    /// paths with `..` or empty segments. The URL allows at most `max_size`
    /// bytes (the job's `fileSize`) to be committed. In azurite mode: a
    /// service SAS URL of the Azurite blob with permission `cw` (Azurite
    /// knows no size bound).
    pub fn upload_target(
        &self,
        landing_path: &str,
        expires_at: DateTime<Utc>,
        max_size: u64,
    ) -> UploadTarget {
        let upload_id = match self.protocol {
            Protocol::Gcs => uuid::Uuid::new_v4().simple().to_string(),
            _ => String::new(),
        };
        let url = match (&self.azurite, BlobPath::new(landing_path)) {
            (Some(az), Ok(path)) => {
                az.sas_url(&path, azurite::SasPermission::CreateWrite, expires_at)
            }
            _ => self.url(
                landing_path,
                Permission::Write,
                expires_at,
                &upload_id,
                Some(max_size),
            ),
        };
        let mut headers = IndexMap::new();
        if self.protocol == Protocol::Azure {
            headers.insert("x-ms-blob-type".to_string(), "BlockBlob".to_string());
        }
        UploadTarget {
            url,
            method: "PUT".to_string(),
            headers,
        }
    }

    /// A read-only URL (`GET`, `HEAD`) of the blob at `path`, valid until
    /// `expires_at`; used for error files.
    pub fn signed_download_url(&self, path: &str, expires_at: DateTime<Utc>) -> String {
        self.url(path, Permission::Read, expires_at, "", None)
    }

    fn url(
        &self,
        path: &str,
        permission: Permission,
        expires_at: DateTime<Utc>,
        upload_id: &str,
        max_size: Option<u64>,
    ) -> String {
        let encoded = match BlobPath::new(path) {
            Ok(p) => p.url_encoded(),
            Err(e) => {
                tracing::warn!(error = %e, "signing a URL for an invalid landing path");
                urlencoding::encode(path).into_owned()
            }
        };
        format!(
            "{}/storage/{}?{}",
            self.base_url,
            encoded,
            self.signer.query(
                path,
                permission,
                expires_at.timestamp(),
                upload_id,
                max_size
            )
        )
    }

    /// Size of the committed blob at `landing_path`; `None` when nothing has
    /// been committed (uncommitted Azure blocks and unfinished GCS sessions
    /// do not count). In azurite mode, a `HEAD` of the Azurite blob (blocking
    /// I/O, safe to call from async handlers: see [`azurite::blocking`]).
    pub fn uploaded_size(&self, landing_path: &str) -> anyhow::Result<Option<u64>> {
        let path = BlobPath::new(landing_path).map_err(anyhow::Error::msg)?;
        if let Some(az) = &self.azurite {
            return azurite::blocking(|| az.blob_size(&path));
        }
        match std::fs::metadata(self.blobs.data_file(&path)) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).context("reading the committed blob's size"),
        }
    }

    /// Opens the uploaded blob at `landing_path` for blocking, streaming
    /// reads in every mode (use it from a blocking thread, e.g. the
    /// processor's `spawn_blocking`): the local file, or in azurite mode a
    /// `GET` of the Azurite blob read from the connection as it goes (never
    /// buffered whole). `None` when nothing has been committed.
    pub fn open_blob_reader(
        &self,
        landing_path: &str,
    ) -> anyhow::Result<Option<Box<dyn std::io::Read + Send>>> {
        if let Some(az) = &self.azurite {
            let path = BlobPath::new(landing_path).map_err(anyhow::Error::msg)?;
            return azurite::blocking(|| az.open_reader(&path));
        }
        Ok(self
            .open_blob_std(landing_path)?
            .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>))
    }

    /// Opens the committed blob of the emulator's own store for async
    /// reading; `None` when nothing has been committed. (In azurite mode
    /// uploads are not in this store: use [`Storage::open_blob_reader`].)
    pub fn open_blob(&self, landing_path: &str) -> anyhow::Result<Option<tokio::fs::File>> {
        Ok(self
            .open_blob_std(landing_path)?
            .map(tokio::fs::File::from_std))
    }

    /// Opens the committed blob of the emulator's own store for blocking
    /// reading (e.g. a CSV reader in `spawn_blocking`); `None` when nothing
    /// has been committed (in azurite mode uploads are not in this store:
    /// use [`Storage::open_blob_reader`]). The file
    /// handle keeps reading the same bytes even if the blob is replaced.
    pub fn open_blob_std(&self, landing_path: &str) -> anyhow::Result<Option<std::fs::File>> {
        let path = BlobPath::new(landing_path).map_err(anyhow::Error::msg)?;
        match std::fs::File::open(self.blobs.data_file(&path)) {
            Ok(f) if f.metadata()?.is_file() => Ok(Some(f)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).context("opening the committed blob"),
        }
    }

    /// Stores a server-generated blob (e.g. an error file) at
    /// `landing_path`, replacing any previous one atomically. Returns its
    /// size.
    pub fn write_path(&self, landing_path: &str, data: &[u8]) -> anyhow::Result<u64> {
        let mut w = self.blob_writer(landing_path)?;
        w.write_all(data)?;
        w.commit()
    }

    /// A writer for a server-generated blob too large to hold in memory
    /// (blocking I/O: use it from `spawn_blocking` or for small writes). The
    /// blob appears, atomically, on [`BlobWriter::commit`]; dropping the
    /// writer without committing discards it.
    pub fn blob_writer(&self, landing_path: &str) -> anyhow::Result<BlobWriter> {
        let path = BlobPath::new(landing_path).map_err(anyhow::Error::msg)?;
        let (tmp, file) = self.blobs.temp_file_std()?;
        Ok(BlobWriter {
            protocol: self.protocol,
            data_file: self.blobs.data_file(&path),
            meta_file: self.blobs.meta_file(&path),
            path,
            tmp,
            out: std::io::BufWriter::new(file),
            md5: Md5::new(),
            len: 0,
        })
    }

    /// Removes the blob at `landing_path` with its properties, uncommitted
    /// blocks and sessions (retention). Missing pieces are not an error. In
    /// azurite mode the Azurite blob is deleted too.
    pub fn remove(&self, landing_path: &str) -> anyhow::Result<()> {
        let path = BlobPath::new(landing_path).map_err(anyhow::Error::msg)?;
        for f in [self.blobs.data_file(&path), self.blobs.meta_file(&path)] {
            match std::fs::remove_file(&f) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", f.display())),
            }
        }
        self.blobs.forget_staged(&path);
        match std::fs::remove_dir_all(self.blobs.staging_dir(&path)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context("removing staged blocks"),
        }
        match &self.azurite {
            Some(az) => azurite::blocking(|| az.delete(&path)),
            None => Ok(()),
        }
    }

    /// Serves one storage request (faults already applied): path, then
    /// signature, then permission checks, then the mode's protocol. A
    /// handler that reads the body takes it out of `body`.
    async fn serve(
        &self,
        req: &axum::http::request::Parts,
        body: &mut Option<Body>,
        now: i64,
    ) -> Result<Response, StorageError> {
        let p = self.protocol;
        let raw = req
            .uri
            .path()
            .strip_prefix("/storage/")
            .unwrap_or_default()
            .to_string();
        let path = BlobPath::from_url(&raw).map_err(|e| {
            let code = match p {
                Protocol::Azure => "InvalidUri",
                Protocol::S3 => "InvalidURI",
                Protocol::Gcs => "invalid",
            };
            StorageError::bad_request(code, format!("Invalid blob path: {e}."))
        })?;
        if req.headers.contains_key(axum::http::header::AUTHORIZATION) {
            let code = match p {
                Protocol::Azure => "AuthenticationFailed",
                Protocol::S3 => "AccessDenied",
                Protocol::Gcs => "AccessDenied",
            };
            return Err(StorageError::new(
                StatusCode::FORBIDDEN,
                code,
                "Storage requests are authorised by the URL's signature alone: remove the Authorization header (the API's bearer token must never be sent to storage).",
            ));
        }
        let query = signing::parse_query(req.uri.query());
        let grant = self
            .signer
            .verify(path.as_str(), &query, now)
            .map_err(|e| signature_error(p, e))?;
        let needed = match req.method {
            Method::PUT => Permission::Write,
            Method::GET | Method::HEAD => Permission::Read,
            ref m => {
                let code = match p {
                    Protocol::Azure => "UnsupportedHttpVerb",
                    Protocol::S3 => "MethodNotAllowed",
                    Protocol::Gcs => "methodNotAllowed",
                };
                return Err(StorageError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    code,
                    format!(
                        "The {m} method is not supported here: upload with PUT, download with GET."
                    ),
                )
                .with_header("allow", "GET, HEAD, PUT"));
            }
        };
        if grant.permission != needed {
            let code = match p {
                Protocol::Azure => "AuthorizationPermissionMismatch",
                Protocol::S3 | Protocol::Gcs => "AccessDenied",
            };
            let msg = match needed {
                Permission::Write => "This URL is signed for reading only (sp=r); it cannot be used to upload.",
                Permission::Read => "This URL is signed for uploading only (sp=w); it cannot be used to read the blob.",
            };
            return Err(StorageError::new(StatusCode::FORBIDDEN, code, msg));
        }
        let head = req.method == Method::HEAD;
        let limit = match (needed, grant.max_size) {
            (Permission::Write, None) => {
                let code = match p {
                    Protocol::Azure => "AuthenticationFailed",
                    Protocol::S3 | Protocol::Gcs => "SignatureDoesNotMatch",
                };
                return Err(StorageError::new(
                    StatusCode::FORBIDDEN,
                    code,
                    "This upload URL carries no size bound (`sz`); it was issued by an older version of the emulator. Create a new job for a fresh upload URL.",
                ));
            }
            (_, limit) => limit.unwrap_or(0),
        };
        match (needed, p) {
            (Permission::Read, Protocol::Azure)
                if query.iter().any(|(k, v)| k == "comp" && v == "blocklist") =>
            {
                azure_blocks::get_block_list(self, &path, &query).await
            }
            (Permission::Read, _) => download::get(self, &path, &req.headers, head).await,
            (Permission::Write, Protocol::Azure) => {
                azure_blocks::put(self, &path, &query, &req.headers, body, limit).await
            }
            (Permission::Write, Protocol::S3) => {
                s3_put::put(self, &path, &query, &req.headers, body, limit).await
            }
            (Permission::Write, Protocol::Gcs) => {
                gcs_resumable::put(self, &path, &grant.upload_id, &req.headers, body, limit).await
            }
        }
    }

    /// The error an injected fault status is answered with.
    fn fault_error(&self, status: u16) -> StorageError {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let (code, message) = match (self.protocol, status.as_u16()) {
            (Protocol::Azure, 503) => (
                "ServerBusy",
                "The server is currently unable to receive requests. Please retry your request.",
            ),
            (Protocol::S3, 503) => ("SlowDown", "Please reduce your request rate."),
            (Protocol::Gcs, 503) => ("backendError", "Backend Error"),
            (Protocol::Azure, 500) | (Protocol::S3, 500) => (
                "InternalError",
                "The server encountered an internal error. Please retry the request.",
            ),
            (Protocol::Gcs, 500) => ("internalError", "Internal Error"),
            (Protocol::Gcs, 429) => ("rateLimitExceeded", "The rate of change requests is too high."),
            (_, 429) => ("TooManyRequests", "Too many requests. Please retry your request."),
            (Protocol::Azure, 408) => ("OperationTimedOut", "The operation could not be completed within the permitted time."),
            (Protocol::S3, 408) => ("RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period."),
            _ => ("InjectedFault", "Injected failure."),
        };
        let mut e = StorageError::new(
            status,
            code,
            format!("{message} (fault injected by --faults)"),
        );
        if matches!(status.as_u16(), 429 | 503) {
            e = e.with_header("retry-after", "1");
        }
        e
    }
}

/// A server-generated blob being written; see [`Storage::blob_writer`].
#[derive(Debug)]
pub struct BlobWriter {
    protocol: Protocol,
    path: BlobPath,
    data_file: PathBuf,
    meta_file: PathBuf,
    tmp: blob_store::TempFile,
    out: std::io::BufWriter<std::fs::File>,
    md5: Md5,
    len: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.md5.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl BlobWriter {
    /// Makes the written bytes the blob's content (atomically) and returns
    /// its size.
    pub fn commit(self) -> anyhow::Result<u64> {
        let BlobWriter {
            protocol,
            path,
            data_file,
            meta_file,
            tmp,
            out,
            md5,
            len,
        } = self;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        drop(file);
        let md5: [u8; 16] = md5.finalize().into();
        let meta = BlobMeta {
            size: len,
            md5: B64.encode(md5),
            etag: protocol.etag(&md5),
            content_type: blob_store::guess_content_type(path.as_str()).to_string(),
            last_modified: Utc::now(),
            blocks: Vec::new(),
        };
        blob_store::persist_std(tmp, &data_file)?;
        let meta_json = serde_json::to_vec_pretty(&meta)?;
        if let Some(parent) = meta_file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let meta_tmp = meta_file.with_extension("json.tmp");
        std::fs::write(&meta_tmp, meta_json)?;
        std::fs::rename(&meta_tmp, &meta_file)?;
        Ok(len)
    }
}

fn signature_error(p: Protocol, e: SignatureError) -> StorageError {
    match e {
        SignatureError::Missing(param) => {
            let code = match p {
                Protocol::Azure => "AuthenticationFailed",
                Protocol::S3 | Protocol::Gcs => "SignatureDoesNotMatch",
            };
            StorageError::new(
                StatusCode::FORBIDDEN,
                code,
                format!("Server failed to authenticate the request: the URL has no valid `{param}` parameter. Use the URL exactly as the API returned it."),
            )
        }
        SignatureError::Mismatch => {
            let code = match p {
                Protocol::Azure => "AuthenticationFailed",
                Protocol::S3 | Protocol::Gcs => "SignatureDoesNotMatch",
            };
            StorageError::new(
                StatusCode::FORBIDDEN,
                code,
                "Server failed to authenticate the request: the signature does not match the URL's path, permission and expiry. Use the URL exactly as the API returned it.",
            )
        }
        SignatureError::Expired { expired_at } => {
            let code = match p {
                Protocol::Azure => "AuthorizationFailure",
                Protocol::S3 => "AccessDenied",
                Protocol::Gcs => "ExpiredToken",
            };
            let when = DateTime::<Utc>::from_timestamp(expired_at, 0)
                .map(crate::clock::rfc3339)
                .unwrap_or_else(|| expired_at.to_string());
            StorageError::new(
                StatusCode::FORBIDDEN,
                code,
                format!("Request has expired: the URL was valid until {when}. Ask the API for a new URL."),
            )
        }
    }
}

/// The `Content-Length` of a request: `Ok(None)` when absent.
pub(crate) fn content_length(
    p: Protocol,
    headers: &HeaderMap,
) -> Result<Option<u64>, StorageError> {
    match headers.get(axum::http::header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| {
                let code = match p {
                    Protocol::Azure => "InvalidHeaderValue",
                    Protocol::S3 => "InvalidArgument",
                    Protocol::Gcs => "invalid",
                };
                StorageError::bad_request(code, "The Content-Length header is not a number.")
            }),
    }
}

/// A `Content-MD5` header, decoded: `Ok(None)` when absent.
pub(crate) fn content_md5(
    headers: &HeaderMap,
    invalid: impl FnOnce() -> StorageError,
) -> Result<Option<[u8; 16]>, StorageError> {
    let Some(v) = headers.get("content-md5") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| B64.decode(s.trim()).ok())
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .map(Some)
        .ok_or_else(invalid)
}

/// An HTTP date (`Last-Modified`).
pub(crate) fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Handler of every request under `/storage/` (any method): faults, then
/// path, signature and permission checks, then the mode's protocol.
pub async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let storage = &state.storage;
    let protocol = storage.protocol;
    let request_id = uuid::Uuid::new_v4().to_string();
    let resource = req
        .uri()
        .path()
        .strip_prefix("/storage/")
        .unwrap_or_default()
        .to_string();
    let key = crate::faults::request_key(&req);
    let mut resp = match state.faults.storage(key).await {
        Some(Injected::Reset) => return crate::faults::reset_response(),
        Some(Injected::Status(status)) => {
            // Read (and discard) the body first so the client reliably sees
            // the status instead of a broken pipe.
            let len = content_length(protocol, req.headers()).ok().flatten();
            let drained = drain(req.into_body(), len).await;
            let resp = storage
                .fault_error(status)
                .render(protocol, &request_id, &resource);
            close_unless(drained, resp)
        }
        None => {
            let now = state.now().timestamp();
            let (parts, body) = req.into_parts();
            let mut body = Some(body);
            let result = storage.serve(&parts, &mut body, now).await;
            // Answered without reading the body (a refusal, a retried GCS
            // chunk): read it (up to a bound) so a browser sees the answer
            // rather than a reset connection; past the bound, close.
            let drained = match body {
                Some(body) => {
                    let len = content_length(protocol, &parts.headers).ok().flatten();
                    drain(body, len).await
                }
                None => true,
            };
            let resp = match result {
                Ok(r) => r,
                Err(e) => e.render(protocol, &request_id, &resource),
            };
            close_unless(drained, resp)
        }
    };
    let h = resp.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        match protocol {
            Protocol::Azure => {
                h.insert("x-ms-request-id", id);
                h.insert(
                    "x-ms-version",
                    HeaderValue::from_static(azure_blocks::API_VERSION),
                );
            }
            Protocol::S3 => {
                h.insert("x-amz-request-id", id);
            }
            Protocol::Gcs => {
                h.insert("x-guploader-uploadid", id);
            }
        }
    }
    resp
}

/// Most bytes of an unread body read and discarded before answering
/// without it (a body that ends within them leaves the connection open for
/// the next request; a longer one is cut off: the answer carries
/// `Connection: close`). Enough for the small requests a browser retries;
/// a refused 100 MiB block is not read.
pub const DRAIN_LIMIT: u64 = 1024 * 1024;
/// How long draining may wait for the client's bytes.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// The uncommitted Azure blocks of one blob may hold at most this many
/// times its size bound (the job's `fileSize`): room for a whole upload
/// abandoned under other block ids (a client that restarted with fresh
/// ids) beside the one that commits. Retries of a block reuse its id and
/// replace it, so they do not add up.
pub const STAGED_FACTOR: u64 = 2;

/// Takes the request body for a handler that is about to read it.
pub(crate) fn take_body(body: &mut Option<Body>) -> Body {
    body.take().unwrap_or_else(Body::empty)
}

/// Reads and discards what is left of a body of `len` bytes (the
/// `Content-Length`, if any), up to [`DRAIN_LIMIT`] bytes and
/// [`DRAIN_TIMEOUT`]; true when the body ended within them. A body known to
/// be longer is not read at all (nor is `100 Continue` sent for it).
async fn drain(body: Body, len: Option<u64>) -> bool {
    use futures_util::StreamExt;
    match len {
        Some(0) => return true,
        Some(n) if n > DRAIN_LIMIT => return false,
        _ => {}
    }
    let mut s = body.into_data_stream();
    let read = async {
        let mut n = 0u64;
        while let Some(chunk) = s.next().await {
            let Ok(chunk) = chunk else { return false };
            n += chunk.len() as u64;
            if n > DRAIN_LIMIT {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIMEOUT, read)
        .await
        .unwrap_or(false)
}

/// Marks `resp` `Connection: close` unless the request's body was read to
/// its end (the connection cannot carry another request otherwise).
fn close_unless(drained: bool, mut resp: Response) -> Response {
    if !drained {
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
    }
    resp
}
