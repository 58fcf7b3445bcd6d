//! S3-style pre-signed single `PUT` (`--storage local-s3`).
//!
//! One `PUT` of the whole file to the signed URL (create-job `headers` is
//! `{}`). `Content-Length` is required (411 `MissingContentLength`); more
//! than 5 GiB (5,368,709,120 bytes) is refused from the header alone,
//! before any byte is read (400 `EntityTooLarge`, as S3 answers); so is a
//! body over the URL's size bound (the job's declared `fileSize`; 400
//! `EntityTooLarge`, as S3 answers a pre-signed upload over its signed
//! content-length range). A
//! `Content-MD5` header is checked (400 `InvalidDigest` when malformed,
//! `BadDigest` on mismatch). Success is 200 with `ETag: "<hex MD5>"`.
//! Multipart uploads (`?uploads`, `?partNumber=`) are not emulated: 501
//! `NotImplemented`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::Utc;

use super::blob_store::{guess_content_type, BlobMeta, BlobPath, ReceiveError};
use super::errors::StorageError;
use super::{content_length, content_md5, http_date, take_body, Protocol, Storage};

/// Largest single PUT: 5 GiB.
pub const MAX_OBJECT: u64 = 5 * 1024 * 1024 * 1024;

const P: Protocol = Protocol::S3;

/// A `PUT` in S3 mode.
pub async fn put(
    st: &Storage,
    path: &BlobPath,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &mut Option<Body>,
    limit: u64,
) -> Result<Response, StorageError> {
    if query
        .iter()
        .any(|(k, _)| k == "uploads" || k == "uploadId" || k == "partNumber")
    {
        return Err(StorageError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "Multipart uploads are not supported by this storage: send the whole file in one PUT.",
        ));
    }
    let len = content_length(P, headers)?.ok_or_else(|| {
        StorageError::new(
            StatusCode::LENGTH_REQUIRED,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.",
        )
    })?;
    if len > MAX_OBJECT {
        return Err(StorageError::bad_request(
            "EntityTooLarge",
            format!("Your proposed upload ({len} bytes) exceeds the maximum allowed object size of {MAX_OBJECT} bytes (5 GiB) for a single PUT."),
        ));
    }
    if len > limit {
        return Err(StorageError::bad_request(
            "EntityTooLarge",
            format!("Your proposed upload ({len} bytes) exceeds the {limit} bytes this URL allows: the fileSize declared when the job was created. Upload the file the job was created for, or create a new job with the file's size."),
        ));
    }
    let invalid = || {
        StorageError::bad_request(
            "InvalidDigest",
            "The Content-MD5 you specified was invalid: it must be the base64 of a 16-byte MD5 digest.",
        )
    };
    let want = content_md5(headers, invalid)?;
    let (tmp, got) = st.blobs.receive(take_body(body), len).await.map_err(|e| match e {
        ReceiveError::Body(why) => StorageError::bad_request(
            "IncompleteBody",
            format!("You did not provide the number of bytes specified by the Content-Length HTTP header: {why}."),
        ),
        ReceiveError::TooLarge => StorageError::bad_request(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed object size.",
        ),
        ReceiveError::Io(e) => StorageError::internal(P, e),
    })?;
    if let Some(want) = want {
        if want != got.md5 {
            return Err(StorageError::bad_request(
                "BadDigest",
                format!(
                    "The Content-MD5 you specified did not match what we received: the header says {}, the body hashes to {}.",
                    B64.encode(want),
                    got.md5_b64()
                ),
            ));
        }
    }
    let meta = BlobMeta {
        size: got.len,
        md5: got.md5_b64(),
        etag: P.etag(&got.md5),
        content_type: headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| guess_content_type(path.as_str()).to_string()),
        last_modified: Utc::now(),
        blocks: Vec::new(),
    };
    let _guard = st.blobs.lock(path).await;
    st.blobs
        .commit(path, tmp, &meta)
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&meta.etag) {
        h.insert(axum::http::header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(meta.last_modified)) {
        h.insert(axum::http::header::LAST_MODIFIED, v);
    }
    Ok(resp)
}
