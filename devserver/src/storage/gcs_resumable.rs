//! A GCS-style resumable upload session (`--storage local-gcs`).
//!
//! The upload URL is the session URI (it carries `upload_id`, signed with
//! the rest); create-job `headers` is `{}`. Every request is a `PUT`:
//!
//! - **Chunk**: `Content-Range: bytes START-END/TOTAL` (or `/*` while the
//!   total is unknown), `Content-Length` = END-START+1. Every chunk except
//!   the last must be a multiple of 256 KiB (else 400 `invalidChunkSize`).
//!   While incomplete the answer is `308` with `Range: bytes=0-N` (the
//!   persisted bytes; no `Range` when none). The chunk that reaches TOTAL
//!   commits the object: `200` with JSON object metadata (`name`, `size` as
//!   a decimal string, `md5Hash` base64, `contentType`, `etag`, …).
//! - **Status query**: an empty `PUT` with `Content-Range: bytes */TOTAL`
//!   (or `bytes */*`): `308` with `Range`, or `200` with the metadata once
//!   complete. A query whose TOTAL equals the persisted size commits (this
//!   is how an empty object is uploaded: `bytes */0`).
//! - **Whole object**: a `PUT` without `Content-Range` sends the whole file
//!   in one request (as GCS allows), so a plain `curl -T` works.
//!
//! Chunks must continue at the persisted offset. A chunk that starts before
//! it (a retry that overlaps bytes already persisted) is accepted: the
//! overlap is skipped, as GCS does. A chunk that starts after it would
//! leave a gap: 400 `invalidRange`, with the persisted `Range` in the
//! response so the client can resume from there. A TOTAL that contradicts
//! an earlier one, or a Content-Length that differs from the range, is 400
//! `invalidRange`. A chunk that fails mid-body leaves the session at its
//! previous offset.
//!
//! The object may not grow past the URL's size bound (the job's declared
//! `fileSize`): a TOTAL above it, or a chunk (or whole-object `PUT`) that
//! reaches past it, is 413 `entityTooLarge` before any byte is read, so a
//! session never holds more than the bound.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::blob_store::{
    guess_content_type, md5_of_file, write_stream, BlobMeta, BlobPath, ReceiveError,
};
use super::errors::StorageError;
use super::{content_length, take_body, Protocol, Storage};

/// Chunk granularity: 256 KiB.
pub const CHUNK_MULTIPLE: u64 = 256 * 1024;

const P: Protocol = Protocol::Gcs;

/// Persisted state of one session.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    /// TOTAL, once a request declared it.
    total: Option<u64>,
    /// `Content-Type` given on the first chunk.
    content_type: Option<String>,
    /// The committed object, once complete.
    finalized: Option<BlobMeta>,
}

/// A parsed `Content-Range` request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes */TOTAL` or `bytes */*`.
    Query {
        /// TOTAL, if given.
        total: Option<u64>,
    },
    /// `bytes START-END/TOTAL` or `bytes START-END/*` (END inclusive).
    Chunk {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
        /// TOTAL, if given.
        total: Option<u64>,
    },
}

/// Parses `bytes START-END/TOTAL`, `bytes START-END/*`, `bytes */TOTAL`,
/// `bytes */*`.
pub fn parse_content_range(v: &str) -> Result<ContentRange, String> {
    let bad = || {
        format!("Content-Range `{v}` is malformed: expected `bytes START-END/TOTAL`, `bytes START-END/*` or `bytes */TOTAL`")
    };
    let rest = v.trim().strip_prefix("bytes").ok_or_else(bad)?.trim_start();
    let (range, total) = rest.split_once('/').ok_or_else(bad)?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().map_err(|_| bad())?),
    };
    if range.trim() == "*" {
        return Ok(ContentRange::Query { total });
    }
    let (s, e) = range.split_once('-').ok_or_else(bad)?;
    let start = s.trim().parse::<u64>().map_err(|_| bad())?;
    let end = e.trim().parse::<u64>().map_err(|_| bad())?;
    if end < start {
        return Err(format!("Content-Range `{v}` ends before it starts"));
    }
    if let Some(t) = total {
        if end >= t {
            return Err(format!("Content-Range `{v}` reaches past the total size"));
        }
    }
    Ok(ContentRange::Chunk { start, end, total })
}

fn invalid_range(msg: impl Into<String>) -> StorageError {
    StorageError::bad_request("invalidRange", msg)
}

fn with_range(mut e: StorageError, offset: u64) -> StorageError {
    if offset > 0 {
        e = e.with_header("range", format!("bytes=0-{}", offset - 1));
    }
    e
}

/// A `PUT` to a session URI.
pub async fn put(
    st: &Storage,
    path: &BlobPath,
    upload_id: &str,
    headers: &HeaderMap,
    body: &mut Option<Body>,
    limit: u64,
) -> Result<Response, StorageError> {
    if upload_id.is_empty()
        || upload_id.len() > 64
        || !upload_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(StorageError::bad_request(
            "invalid",
            "This URL is not an upload session URI (no valid upload_id): use the uploadUrl exactly as the API returned it.",
        ));
    }
    let len = match content_length(P, headers)? {
        Some(n) => n,
        None if headers.contains_key(axum::http::header::TRANSFER_ENCODING) => {
            return Err(StorageError::new(
                StatusCode::LENGTH_REQUIRED,
                "required",
                "Content-Length is required: send each chunk with a known length.",
            ))
        }
        None => 0,
    };
    let bare_empty = len == 0 && !headers.contains_key(axum::http::header::CONTENT_RANGE);
    let mut range = match headers.get(axum::http::header::CONTENT_RANGE) {
        // Resolved below, once the persisted offset is known.
        None if len == 0 => ContentRange::Query { total: None },
        None => ContentRange::Chunk {
            start: 0,
            end: len - 1,
            total: Some(len),
        },
        Some(v) => parse_content_range(v.to_str().unwrap_or("")).map_err(invalid_range)?,
    };
    let (declared, reach) = match range {
        ContentRange::Query { total } => (total, 0),
        ContentRange::Chunk { end, total, .. } => (total, end + 1),
    };
    let claimed = declared.unwrap_or(0).max(reach);
    if claimed > limit {
        return Err(StorageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "entityTooLarge",
            format!("The upload would hold at least {claimed} bytes, but this session URI allows at most {limit} bytes: the fileSize declared when the job was created. Upload the file the job was created for, or create a new job with the file's size."),
        ));
    }

    let _guard = st.blobs.lock(path).await;
    let dir = st.blobs.staging_dir(path);
    let state_file = dir.join(format!("gcs-{upload_id}.json"));
    let part_file = dir.join(format!("gcs-{upload_id}.part"));
    let mut session: Session = match tokio::fs::read(&state_file).await {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| StorageError::internal(P, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Session::default(),
        Err(e) => return Err(StorageError::internal(P, e)),
    };
    if let Some(meta) = &session.finalized {
        return Ok(object_response(path, meta));
    }
    let offset = match tokio::fs::metadata(&part_file).await {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(StorageError::internal(P, e)),
    };
    if bare_empty && offset == 0 {
        // An empty PUT without Content-Range on a fresh session: an empty
        // object.
        range = ContentRange::Query { total: Some(0) };
    }
    let declared = match range {
        ContentRange::Query { total } | ContentRange::Chunk { total, .. } => total,
    };
    if let (Some(t), Some(known)) = (declared, session.total) {
        if t != known {
            return Err(with_range(
                invalid_range(format!(
                    "The total size {t} differs from the {known} declared earlier in this session."
                )),
                offset,
            ));
        }
    }
    if session.content_type.is_none() {
        session.content_type = headers
            .get("x-upload-content-type")
            .or_else(|| headers.get(axum::http::header::CONTENT_TYPE))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
    }

    let (start, end, total) = match range {
        ContentRange::Query { total } => {
            if len != 0 {
                return Err(invalid_range(
                    "A status query (Content-Range: bytes */TOTAL) must have an empty body.",
                ));
            }
            return match total {
                Some(t) if t < offset => Err(with_range(
                    invalid_range(format!(
                        "The total size {t} is smaller than the {offset} bytes already persisted."
                    )),
                    offset,
                )),
                Some(t) if t == offset => {
                    session.total = Some(t);
                    finalize(st, path, &dir, &part_file, &state_file, session).await
                }
                _ => {
                    if total.is_some() {
                        session.total = total;
                        save(&dir, &state_file, &session).await?;
                    }
                    Ok(incomplete(offset))
                }
            };
        }
        ContentRange::Chunk { start, end, total } => (start, end, total),
    };

    let chunk_len = end - start + 1;
    if len != chunk_len {
        return Err(invalid_range(format!(
            "Content-Length is {len} but Content-Range covers {chunk_len} bytes."
        )));
    }
    let is_final = total == Some(end + 1);
    if !is_final && chunk_len % CHUNK_MULTIPLE != 0 {
        return Err(with_range(
            StorageError::bad_request(
                "invalidChunkSize",
                format!("Invalid request: a chunk other than the last must be a multiple of {CHUNK_MULTIPLE} bytes (256 KiB); this one has {chunk_len}."),
            ),
            offset,
        ));
    }
    if start > offset {
        return Err(with_range(
            invalid_range(format!("The chunk starts at byte {start}, but only {offset} bytes are persisted: resume from byte {offset} (query with Content-Range: bytes */*).")),
            offset,
        ));
    }
    if end < offset {
        // Entirely persisted already (a retried chunk): nothing to do.
        return Ok(incomplete(offset));
    }

    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&part_file)
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    let skip = offset - start;
    if let Err(e) = write_stream(take_body(body), file, chunk_len - skip, skip).await {
        // Back to the last good offset.
        if let Ok(f) = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&part_file)
            .await
        {
            let _ = f.set_len(offset).await;
        }
        return Err(match e {
            ReceiveError::Body(why) => invalid_range(format!(
                "The chunk's body ended before Content-Length bytes arrived: {why}."
            )),
            ReceiveError::TooLarge => {
                invalid_range("The chunk's body is longer than its Content-Range.")
            }
            ReceiveError::Io(e) => StorageError::internal(P, e),
        });
    }
    let new_offset = end + 1;
    if let Some(t) = total {
        session.total = Some(t);
    }
    if is_final {
        finalize(st, path, &dir, &part_file, &state_file, session).await
    } else {
        save(&dir, &state_file, &session).await?;
        Ok(incomplete(new_offset))
    }
}

/// 308 with the persisted range.
fn incomplete(offset: u64) -> Response {
    let mut resp = StatusCode::PERMANENT_REDIRECT.into_response();
    if offset > 0 {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes=0-{}", offset - 1)) {
            resp.headers_mut().insert(axum::http::header::RANGE, v);
        }
    }
    resp
}

async fn save(
    dir: &std::path::Path,
    state_file: &std::path::Path,
    session: &Session,
) -> Result<(), StorageError> {
    let io = |e| StorageError::internal(P, e);
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let tmp = state_file.with_extension("json.tmp");
    let bytes = serde_json::to_vec(session).map_err(|e| StorageError::internal(P, e))?;
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, state_file).await.map_err(io)
}

async fn finalize(
    st: &Storage,
    path: &BlobPath,
    dir: &std::path::Path,
    part_file: &std::path::Path,
    state_file: &std::path::Path,
    mut session: Session,
) -> Result<Response, StorageError> {
    let io = |e| StorageError::internal(P, e);
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    if tokio::fs::metadata(part_file).await.is_err() {
        tokio::fs::write(part_file, b"").await.map_err(io)?;
    }
    let md5 = md5_of_file(part_file).await.map_err(io)?;
    let size = tokio::fs::metadata(part_file).await.map_err(io)?.len();
    let meta = BlobMeta {
        size,
        md5: B64.encode(md5),
        etag: P.etag(&md5),
        content_type: session
            .content_type
            .clone()
            .unwrap_or_else(|| guess_content_type(path.as_str()).to_string()),
        last_modified: Utc::now(),
        blocks: Vec::new(),
    };
    // Move the session's bytes into a temp file of the store, then commit.
    let (tmp, f) = st.blobs.temp_file().await.map_err(io)?;
    drop(f);
    tokio::fs::rename(part_file, tmp.path()).await.map_err(io)?;
    st.blobs.commit(path, tmp, &meta).await.map_err(io)?;
    session.finalized = Some(meta.clone());
    save(dir, state_file, &session).await?;
    Ok(object_response(path, &meta))
}

/// 200 with the object's metadata, as GCS's JSON API describes an object.
fn object_response(path: &BlobPath, meta: &BlobMeta) -> Response {
    let created = crate::clock::rfc3339(meta.last_modified);
    let generation = meta.last_modified.timestamp_micros().to_string();
    let body = serde_json::json!({
        "kind": "storage#object",
        "id": format!("local/{}/{}", path.as_str(), generation),
        "name": path.as_str(),
        "bucket": "local",
        "generation": generation,
        "contentType": meta.content_type,
        "size": meta.size.to_string(),
        "md5Hash": meta.md5,
        "etag": meta.etag.trim_matches('"'),
        "timeCreated": created,
        "updated": created,
    });
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&meta.etag) {
        resp.headers_mut().insert(axum::http::header::ETAG, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 0-262143/*").unwrap(),
            ContentRange::Chunk {
                start: 0,
                end: 262143,
                total: None
            }
        );
        assert_eq!(
            parse_content_range("bytes 10-19/20").unwrap(),
            ContentRange::Chunk {
                start: 10,
                end: 19,
                total: Some(20)
            }
        );
        assert_eq!(
            parse_content_range("bytes */100").unwrap(),
            ContentRange::Query { total: Some(100) }
        );
        assert_eq!(
            parse_content_range("bytes */*").unwrap(),
            ContentRange::Query { total: None }
        );
        for bad in [
            "",
            "bytes 5-4/*",
            "bytes 0-9/9",
            "items 0-1/2",
            "bytes 0-/*",
            "bytes 0-1",
        ] {
            assert!(parse_content_range(bad).is_err(), "{bad} accepted");
        }
    }
}
