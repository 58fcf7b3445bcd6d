//! Azure Block Blob, as Azure and Azurite answer it.
//!
//! * A file that fits one part: one **Put Blob** carrying the job's headers
//!   (which include `x-ms-blob-type: BlockBlob`; added if missing).
//! * Otherwise **Put Block** per part (`comp=block&blockid=…`, ids from
//!   import-core, all of one length), `concurrency` at a time, each with the
//!   job's headers; then one **Put Block List** (`comp=blocklist`) naming
//!   every block in order. The block list goes WITHOUT `x-ms-blob-type`:
//!   Azurite treats a block list carrying it as a Put Blob and stores the
//!   XML as the blob.
//! * `x-ms-content-crc64` (CRC-64/NVME, base64 of its little-endian bytes)
//!   on every Put Blob, Put Block and block list when checksums are on;
//!   storage refuses a body that does not match it (400 `Crc64Mismatch`).
//!   Azure verifies it since service version 2019-02-02 (the SAS's `sv`
//!   decides) and Azurite does too; in wasm it is computed several times
//!   faster than MD5 (see docs/design.md).
//! * Re-sending a block id replaces the block, so retrying a part is safe;
//!   acknowledged blocks are recorded so a later session commits them
//!   without sending them again (uncommitted blocks live 7 days).

use import_core::checksum::Crc64;
use import_core::plan::azure_block_list_xml;

use super::hash_lane::HashLane;
use super::progress::Phase;
use super::session::{b64, for_each_part, Check, Committed, Ctx};
use super::transport::{Body, StorageRequest};
use crate::error::ClientError;

/// The blob type header every Put Blob needs.
const BLOB_TYPE: &str = "x-ms-blob-type";

/// `url` with `extra` added to its query.
pub fn with_query(url: &str, extra: &str) -> String {
    let (base, frag) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    match frag {
        Some(f) => format!("{base}{sep}{extra}#{f}"),
        None => format!("{base}{sep}{extra}"),
    }
}

pub(crate) async fn upload(ctx: &Ctx) -> Result<Committed, ClientError> {
    if ctx.plan.is_single_request() {
        return put_blob(ctx).await;
    }
    let plan = &ctx.plan;
    let todo: Vec<u64> = (0..plan.part_count())
        .filter(|&i| !ctx.is_stored(i))
        .collect();
    // With checksums on, one lane hashes the parts ahead of the senders.
    let lane = HashLane::new(ctx, &todo, Check::Crc64);
    let lane = lane.as_ref();
    for_each_part(ctx, todo, lane.map(|l| l.run(ctx)), |i| async move {
        let part = ctx.plan.part(i).expect("index within the plan");
        let id = part.block_id.clone().expect("block plans have block ids");
        let hashed = match lane {
            Some(l) => l.header(i).await,
            None => None,
        };
        // No lane, or it stopped without this part: `part_body` reads it
        // (a stopped upload fails at once with its reason).
        let (body, check) = ctx
            .part_body(part.offset, part.end(), Check::Crc64, hashed)
            .await?;
        let extra: Vec<_> = check.into_iter().collect();
        let req = StorageRequest {
            method: ctx.target.method.clone(),
            url: with_query(&ctx.target.url, &format!("comp=block&blockid={id}")),
            headers: ctx.headers(&extra, &[]),
            body,
        };
        let (_, attempts) = ctx.send(&req, Some((i, part.len))).await?;
        drop(req);
        ctx.part_stored(i, part.len, attempts).await;
        Ok(())
    })
    .await?;

    ctx.tracker.phase(Phase::Commit);
    let xml = azure_block_list_xml(plan);
    let mut extra = vec![("Content-Type", "application/xml; charset=utf-8".to_string())];
    if ctx.checksum {
        let mut crc = Crc64::new();
        crc.update(xml.as_bytes());
        extra.push(("x-ms-content-crc64", b64(&crc.wire())));
    }
    let req = StorageRequest {
        method: ctx.target.method.clone(),
        url: with_query(&ctx.target.url, "comp=blocklist"),
        headers: ctx.headers(&extra, &[BLOB_TYPE]),
        body: Body::Text(xml),
    };
    let (resp, _) = ctx.send(&req, None).await?;
    Ok(Committed {
        etag: resp.header("etag").map(str::to_string),
        storage_md5: None,
    })
}

/// The whole file in one Put Blob.
async fn put_blob(ctx: &Ctx) -> Result<Committed, ClientError> {
    let size = ctx.plan.file_size();
    let (body, check) = ctx.part_body(0, size, Check::Crc64, None).await?;
    let mut extra = Vec::new();
    if !ctx
        .target
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(BLOB_TYPE))
    {
        extra.push((BLOB_TYPE, "BlockBlob".to_string()));
    }
    extra.extend(check);
    let req = StorageRequest {
        method: ctx.target.method.clone(),
        url: ctx.target.url.clone(),
        headers: ctx.headers(&extra, &[]),
        body,
    };
    let (resp, attempts) = ctx.send(&req, Some((0, size))).await?;
    drop(req);
    // Storage verified the CRC64 sent (a mismatch is a 400); the MD5 it
    // reports of the blob is passed on to the caller.
    let storage_md5 = resp.header("content-md5").map(str::to_string);
    ctx.part_stored(0, size, attempts).await;
    Ok(Committed {
        etag: resp.header("etag").map(str::to_string),
        storage_md5,
    })
}
