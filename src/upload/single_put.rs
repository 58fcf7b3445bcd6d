//! One `PUT` of the whole file (S3-style pre-signed URLs, and any storage
//! whose protocol is not recognised), up to 5 GiB.
//!
//! The `Blob` itself is the body, so the runtime streams it from disk and
//! never holds the file in memory; a file source is streamed with `fetch`
//! (a `ReadableStream` and an explicit `Content-Length`; Node's `fetch`
//! keeps what a streamed body sent until the request ends, nodejs/undici
//! issue 4058, so there a single PUT costs memory up to the file's size,
//! where block and resumable uploads hold a few parts). With checksums on, its MD5 is computed
//! first by reading the file a few MiB at a time, and sent as `Content-MD5`
//! (S3 refuses a body that does not match); an S3 `ETag` that is a plain
//! MD5 is checked against it too.

use super::session::{b64, checksum_mismatch, Check, Committed, Ctx};
use super::transport::{Body, StorageRequest};
use crate::error::ClientError;

pub(crate) async fn upload(ctx: &Ctx) -> Result<Committed, ClientError> {
    let size = ctx.plan.file_size();
    let md5 = if ctx.checksum {
        Some(ctx.digest_of_range(0, size, Check::Md5).await?.1)
    } else {
        None
    };
    let mut extra = Vec::new();
    if let Some(m) = &md5 {
        extra.push(("Content-MD5", m.clone()));
    }
    let body = ctx.blob_body(0, size).await?;
    if let Body::Source(..) = body {
        // A streamed body has no length of its own; storage needs it.
        extra.push(("Content-Length", size.to_string()));
    }
    let req = StorageRequest {
        method: ctx.target.method.clone(),
        url: ctx.target.url.clone(),
        headers: ctx.headers(&extra, &[]),
        body,
    };
    let (resp, attempts) = ctx.send(&req, Some((0, size))).await?;
    let etag = resp.header("etag").map(str::to_string);
    // An S3 ETag of a single PUT (without KMS) is the hex MD5 of the object.
    let storage_md5 = etag.as_deref().and_then(hex_md5_to_b64);
    if let (Some(ours), Some(theirs)) = (&md5, &storage_md5) {
        if ours != theirs {
            return Err(checksum_mismatch("MD5", ours, theirs));
        }
    }
    ctx.part_stored(0, size, attempts).await;
    Ok(Committed { etag, storage_md5 })
}

/// `"9e107d9d372bb6826bd81d3542a419d6"` → base64 of those 16 bytes.
fn hex_md5_to_b64(etag: &str) -> Option<String> {
    let mut hex = etag.trim();
    while let Some(rest) = hex.strip_prefix("W/") {
        hex = rest;
    }
    let hex = hex.trim_matches('"');
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or(""), 16).unwrap_or(0))
        .collect();
    Some(b64(&bytes))
}
