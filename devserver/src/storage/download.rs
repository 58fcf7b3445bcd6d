//! Reading a committed blob through a read-signed URL (`sp=r`): `GET` and
//! `HEAD`, in every mode. Used for error files and by tests to read back
//! what was uploaded.
//!
//! `200` with the bytes, `Content-Length`, `Content-Type`, `ETag`,
//! `Last-Modified`, `Accept-Ranges: bytes` and the mode's own headers
//! (Azure: `x-ms-blob-type: BlockBlob`, `Content-MD5`; GCS: `x-goog-hash`,
//! `x-goog-stored-content-length`). One `Range: bytes=A-B` / `A-` / `-N`
//! gives `206` with `Content-Range`; an unsatisfiable range `416`. A blob
//! that was never committed is `404` (`BlobNotFound`, `NoSuchKey`,
//! `notFound`).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::blob_store::BlobPath;
use super::errors::StorageError;
use super::{http_date, Protocol, Storage};

/// `GET` / `HEAD` of a committed blob.
pub async fn get(
    st: &Storage,
    path: &BlobPath,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, StorageError> {
    let p = st.protocol();
    let io = |e| StorageError::internal(p, e);
    let not_found = || {
        let (code, msg) = match p {
            Protocol::Azure => (
                "BlobNotFound",
                "The specified blob does not exist.".to_string(),
            ),
            Protocol::S3 => ("NoSuchKey", "The specified key does not exist.".to_string()),
            Protocol::Gcs => (
                "notFound",
                format!("No such object: local/{}", path.as_str()),
            ),
        };
        StorageError::new(StatusCode::NOT_FOUND, code, msg)
    };
    let Some(mut file) = st.blobs.open_committed(path).await.map_err(io)? else {
        return Err(not_found());
    };
    let size = file.metadata().await.map_err(io)?.len();
    let meta = st
        .blobs
        .meta(path)
        .await
        .map_err(io)?
        .ok_or_else(not_found)?;

    let range = match headers
        .get(header::RANGE)
        .or_else(|| headers.get("x-ms-range"))
        .and_then(|v| v.to_str().ok())
    {
        None => None,
        Some(r) => match parse_range(r, size) {
            Ok(r) => r,
            Err(()) => {
                let code = match p {
                    Protocol::Azure => "InvalidRange",
                    Protocol::S3 => "InvalidRange",
                    Protocol::Gcs => "requestedRangeNotSatisfiable",
                };
                return Err(StorageError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    code,
                    format!("The range specified is invalid for the current size of the resource ({size} bytes)."),
                )
                .with_header("content-range", format!("bytes */{size}")));
            }
        },
    };
    let (status, start, len) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, size),
    };

    let body = if head {
        Body::empty()
    } else {
        if start > 0 {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(io)?;
        }
        Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
            file.take(len),
            256 * 1024,
        ))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_LENGTH, len.to_string());
    set(header::CONTENT_TYPE, meta.content_type.clone());
    set(header::ETAG, meta.etag.clone());
    set(header::LAST_MODIFIED, http_date(meta.last_modified));
    set(header::ACCEPT_RANGES, "bytes".into());
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        );
    }
    match p {
        Protocol::Azure => {
            set(
                header::HeaderName::from_static("x-ms-blob-type"),
                "BlockBlob".into(),
            );
            if status == StatusCode::OK {
                set(
                    header::HeaderName::from_static("content-md5"),
                    meta.md5.clone(),
                );
            }
        }
        Protocol::S3 => {}
        Protocol::Gcs => {
            set(
                header::HeaderName::from_static("x-goog-hash"),
                format!("md5={}", meta.md5),
            );
            set(
                header::HeaderName::from_static("x-goog-stored-content-length"),
                size.to_string(),
            );
        }
    }
    Ok(resp)
}

/// One byte range of a `size`-byte blob: `Ok(None)` for a header this
/// server ignores (several ranges, other units), `Err` when unsatisfiable.
fn parse_range(v: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1))
        };
        (start, end)
    };
    if start >= size || end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=95-200", 100), Ok(Some((95, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
    }
}
