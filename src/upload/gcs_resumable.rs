//! A GCS resumable upload session: the upload URL is the session URI.
//!
//! Chunks go strictly in order, one at a time, each a `PUT` with
//! `Content-Range: bytes START-END/TOTAL` (every chunk but the last a
//! multiple of 256 KiB, as the plan guarantees). Storage answers
//! `308 Resume Incomplete` with `Range: bytes=0-N` (what it persisted,
//! which may be less than was sent) until the chunk that reaches TOTAL
//! commits the object (`200`/`201` with its metadata). A 0-byte file is one
//! `bytes */0` request.
//!
//! After a failed or cancelled chunk, and when resuming, the session is
//! asked where it stands (an empty `PUT` with `bytes */TOTAL`) and the
//! upload continues from the offset it reports: the session is the resume
//! record. GCS takes no per-chunk `Content-MD5`; with checksums on, an MD5
//! of the chunks is kept as they are persisted and compared with the
//! object's `md5Hash` at the end (when this session sent every byte).

use import_core::plan::{parse_gcs_range_header, status_query_range};
use js_sys::Uint8Array;

use super::session::{checksum_mismatch, hash_into, Attempt, Check, Committed, Ctx, Hasher};
use super::transport::{Body, StorageRequest, StorageResponse};
use crate::error::ClientError;

/// Where the session stands.
enum Status {
    /// Persisted this many bytes.
    At(u64),
    /// The object is committed.
    Complete(StorageResponse),
}

pub(crate) async fn upload(ctx: &Ctx, resume: bool) -> Result<Committed, ClientError> {
    let total = ctx.plan.file_size();
    let part_size = ctx.plan.part_size().max(1);
    let mut offset = 0u64;
    let mut hasher = ctx.checksum.then(|| Hasher::new(Check::Md5));
    if resume {
        match query(ctx, total).await? {
            Status::Complete(resp) => return finish(ctx, &resp, None),
            Status::At(n) => offset = n.min(total),
        }
        if offset > 0 {
            hasher = None;
            ctx.tracker.set_persisted(offset, offset / part_size);
        }
    }
    let mut failures = 0u32;
    loop {
        let len = part_size.min(total - offset);
        let end = offset + len;
        let bytes = if len > 0 {
            Some(ctx.read(offset, end).await?)
        } else {
            None
        };
        let range = if len == 0 {
            status_query_range(total)
        } else {
            format!("bytes {}-{}/{}", offset, end - 1, total)
        };
        let req = StorageRequest {
            method: ctx.target.method.clone(),
            url: ctx.target.url.clone(),
            headers: ctx.headers(&[("Content-Range", range)], &[]),
            body: match &bytes {
                Some(b) => Body::Bytes(b.clone()),
                None => Body::Text(String::new()),
            },
        };
        let index = ctx.plan.part_index_at(offset);
        let persisted = match ctx.attempt(&req, Some((index, len))).await? {
            Attempt::Done(resp) if resp.status == 308 => persisted_of(&resp),
            Attempt::Done(resp) => {
                if let (Some(h), Some(b)) = (hasher.as_mut(), &bytes) {
                    hash_prefix(h, b, len);
                }
                ctx.part_event(index, failures + 1, len);
                return finish(ctx, &resp, hasher);
            }
            Attempt::Paused => match query(ctx, total).await? {
                Status::Complete(resp) => return finish(ctx, &resp, None),
                Status::At(n) => n,
            },
            Attempt::Retry { retry_after, error } => {
                failures += 1;
                ctx.backoff(failures, retry_after, error).await?;
                match query(ctx, total).await? {
                    Status::Complete(resp) => return finish(ctx, &resp, None),
                    Status::At(n) => n,
                }
            }
        };
        // Keep the running MD5 only while the session advances through
        // this chunk's bytes.
        if persisted >= offset && persisted <= end {
            if let (Some(h), Some(b)) = (hasher.as_mut(), &bytes) {
                hash_prefix(h, b, persisted - offset);
            }
        } else {
            hasher = None;
        }
        if persisted > offset {
            ctx.part_event(index, failures + 1, persisted - offset);
            failures = 0;
        }
        offset = persisted.min(total);
        ctx.tracker.set_persisted(offset, offset / part_size);
        ctx.rewarn_with_rate();
    }
}

/// Asks the session how much it persisted (`bytes */TOTAL`).
async fn query(ctx: &Ctx, total: u64) -> Result<Status, ClientError> {
    let req = StorageRequest {
        method: ctx.target.method.clone(),
        url: ctx.target.url.clone(),
        headers: ctx.headers(&[("Content-Range", status_query_range(total))], &[]),
        body: Body::Text(String::new()),
    };
    let (resp, _) = ctx.send(&req, None).await?;
    Ok(if resp.status == 308 {
        Status::At(persisted_of(&resp))
    } else {
        Status::Complete(resp)
    })
}

/// The offset a 308 reports: its `Range` (`bytes=0-N` → N+1), 0 without one.
fn persisted_of(resp: &StorageResponse) -> u64 {
    resp.header("range")
        .and_then(parse_gcs_range_header)
        .unwrap_or(0)
}

fn hash_prefix(h: &mut Hasher, bytes: &Uint8Array, n: u64) {
    let n = (n as u32).min(bytes.length());
    if n > 0 {
        hash_into(h, &bytes.subarray(0, n));
    }
}

/// The committed object's metadata; checks `md5Hash` against ours.
fn finish(
    ctx: &Ctx,
    resp: &StorageResponse,
    hasher: Option<Hasher>,
) -> Result<Committed, ClientError> {
    let meta = crate::shape::parse_json(&resp.body).filter(|m| m.is_object());
    let field = |k: &str| meta.as_ref().and_then(|m| crate::shape::get_str(m, k));
    let storage_md5 = field("md5Hash");
    if let (Some(h), Some(theirs)) = (hasher, &storage_md5) {
        let (_, ours) = h.header();
        if &ours != theirs {
            return Err(checksum_mismatch("MD5", &ours, theirs));
        }
    }
    let _ = ctx;
    Ok(Committed {
        etag: resp
            .header("etag")
            .map(str::to_string)
            .or_else(|| field("etag")),
        storage_md5,
    })
}
