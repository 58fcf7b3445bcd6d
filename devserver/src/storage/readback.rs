//! `GET /public/v1/import-jobs/{jobId}/upload` — an **emulator extension**
//! (the real API has no such endpoint): the bytes committed for a job's
//! upload, so tests and benchmarks can check what storage really holds
//! (e.g. by SHA-256) in every storage mode, Azurite included, without
//! knowing where the mode keeps them.
//!
//! - Authenticated like the API: a bearer token with `cdp:imports:read`;
//!   a job of another workspace is 404, as on every job endpoint.
//! - `200` with the bytes, `Content-Type: application/octet-stream`,
//!   `Content-Length` (the committed size) and `Cache-Control: no-store`.
//!   The body is streamed from the blob as the client reads it (from the
//!   local file, or in azurite mode from a `GET` of the Azurite blob that
//!   the emulator signs itself), never buffered whole.
//! - `404 CDP_ETL.NOT_FOUND` in the API's envelope, with
//!   `details: {jobId, landingPath}`, while nothing is committed
//!   (uncommitted Azure blocks and unfinished GCS sessions do not count).
//!
//! The route sits under `/public/v1`, so `--faults api:…` and the rate
//! limit apply to it like to every API call.

use std::io::Read;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::json;

use super::blob_store::BlobPath;
use super::{azurite, Storage};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::jobs;

/// Bytes per chunk of the streamed body.
const CHUNK: usize = 256 * 1024;
/// Chunks read ahead of a slow client (Azurite mode): bounds the memory a
/// download holds to `CHUNK × (READ_AHEAD + 1)`.
const READ_AHEAD: usize = 4;

/// Handler of `GET /public/v1/import-jobs/{job_id}/upload`.
pub async fn job_upload(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    Path(job_id): Path<String>,
) -> ApiResult<Response> {
    caller.require(jobs::SCOPE_READ)?;
    let job = jobs::load_job(&state, &caller, &job_id)?;
    let opened = if method == Method::HEAD {
        // The size alone: no body is opened (in azurite mode, one HEAD).
        state
            .storage
            .uploaded_size(&job.landing_path)?
            .map(|size| (size, Body::empty()))
    } else {
        state.storage.open_upload(&job.landing_path).await?
    };
    let Some((size, body)) = opened else {
        return Err(ApiError::not_found(format!(
            "Nothing is committed for import job `{job_id}` yet: upload the file to its uploadUrl first."
        ))
        .with_details(json!({ "jobId": job_id, "landingPath": job.landing_path })));
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

impl Storage {
    /// The committed upload at `landing_path` as a streamed body and its
    /// size, in every mode; `None` when nothing is committed.
    pub async fn open_upload(&self, landing_path: &str) -> anyhow::Result<Option<(u64, Body)>> {
        let path = BlobPath::new(landing_path).map_err(anyhow::Error::msg)?;
        if let Some(az) = self.azurite() {
            let az = az.clone();
            let opened = tokio::task::spawn_blocking(move || az.open_sized_reader(&path)).await??;
            return Ok(opened.map(|(size, reader)| (size, stream_blocking(reader))));
        }
        let Some(file) = self.open_blob(landing_path)? else {
            return Ok(None);
        };
        let size = file.metadata().await?.len();
        let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, CHUNK));
        Ok(Some((size, body)))
    }
}

/// A body fed by a blocking reader on a blocking thread, a bounded number
/// of chunks ahead of the client. A read error ends the body with that
/// error (the client sees a broken transfer, never a short "complete" one).
fn stream_blocking(mut reader: Box<dyn Read + Send>) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || loop {
        let mut buf = vec![0u8; CHUNK];
        let item = match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                Ok(Bytes::from(buf))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let failed = item.is_err();
        // The client went away: stop reading.
        if tx.blocking_send(item).is_err() || failed {
            return;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Body::from_stream(stream)
}

impl azurite::Azurite {
    /// Like [`azurite::Azurite::open_reader`], with the blob's size (the
    /// `Content-Length` of the `GET`). Blocking I/O.
    pub fn open_sized_reader(
        &self,
        path: &BlobPath,
    ) -> anyhow::Result<Option<(u64, Box<dyn Read + Send>)>> {
        let Some(size) = self.blob_size(path)? else {
            return Ok(None);
        };
        // HEAD then GET: a blob replaced in between would make the sizes
        // disagree; the reader is capped at, and must reach, `size`.
        let Some(reader) = self.open_reader(path)? else {
            return Ok(None);
        };
        Ok(Some((
            size,
            Box::new(ExactReader {
                inner: reader,
                left: size,
            }),
        )))
    }
}

/// Reads exactly `left` more bytes: an early end is an error.
struct ExactReader {
    inner: Box<dyn Read + Send>,
    left: u64,
}

impl Read for ExactReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let cap = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..cap])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the blob ended {} bytes early", self.left),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
