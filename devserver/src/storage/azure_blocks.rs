//! Azure Block Blob, as Azurite answers it (`--storage local`, the default).
//!
//! All three calls are `PUT`s to the signed URL and dispatch on `comp`
//! alone:
//!
//! - **Put Blob** (no `comp`): needs `x-ms-blob-type: BlockBlob` (missing →
//!   400 `MissingRequiredHeader`, another type → 400 `InvalidHeaderValue`);
//!   the body becomes the whole blob (≤ 5000 MiB, else 413
//!   `RequestBodyTooLarge`) and any uncommitted blocks are discarded.
//! - **Put Block** (`comp=block&blockid=<base64>`): the id must be valid
//!   base64 of at most 64 bytes (400 `InvalidQueryParameterValue`), and all
//!   ids of a blob, staged or committed, must decode to the same length (400
//!   `InvalidBlobOrBlock`). A block holds ≤ 4000 MiB. Re-sending an id
//!   replaces the block (last write wins), so retrying a part is safe.
//! - **Put Block List** (`comp=blocklist`): XML
//!   `<BlockList><Latest>id</Latest>…</BlockList>` (also `<Committed>` and
//!   `<Uncommitted>`), ≤ 50,000 entries (400 `BlockListTooLong`); the blob
//!   is assembled in list order and replaces the previous one atomically;
//!   an id that was never staged (or committed, for `Latest`/`Committed`) →
//!   400 `InvalidBlockList`; bad XML → 400 `InvalidXmlDocument`. Uncommitted
//!   blocks not in the list are discarded. An `x-ms-blob-type` header on
//!   this call is ignored, as Azure does (Azurite instead treats such a
//!   request as a Put Blob; clients must not send it here).
//!
//! - **Get Block List** (`GET ?comp=blocklist&blocklisttype=…`) needs a
//!   read-signed URL, as on Azure: a write-only upload URL gets 403
//!   `AuthorizationPermissionMismatch`, so a client resuming an upload must
//!   rely on its own record of acknowledged blocks.
//!
//! - **Size bound** (the URL's signed `sz`, the job's `fileSize`; see
//!   [`super`]): a Put Blob body or a single block larger than the bound,
//!   a Put Block that would bring the blob's uncommitted blocks over
//!   [`super::STAGED_FACTOR`] times the bound, and a Put Block List whose
//!   blocks add up to more than the bound are refused with 413
//!   `RequestBodyTooLarge`, from the headers and the block sizes, before
//!   any byte is read or written. A block id listed twice in one Put Block
//!   List is 400 `InvalidBlockList` (a list of one staged block repeated
//!   50,000 times would otherwise commit 50,000 copies of it).
//!
//! Every `PUT` needs `Content-Length` (411 `MissingContentLengthHeader`).
//! A `Content-MD5` header on Put Blob, Put Block or Put Block List is
//! checked against the body (400 `Md5Mismatch`, or `InvalidMd5` when it is
//! not base64 of 16 bytes), and so is an `x-ms-content-crc64` header, the
//! body's CRC-64/NVME as base64 of its 8 little-endian bytes (400
//! `Crc64Mismatch`; 400 `InvalidHeaderValue` when it is not base64 of at
//! least 8 bytes; 400 `BothCrc64AndMd5HeaderPresent` with both headers), as
//! Azure (service version 2019-02-02 and later) and Azurite check them.
//! Success is 201 with `ETag` and `Last-Modified` (Put Blob, Put Block
//! List) and `Content-MD5` of the body received (Put Blob, Put Block), plus
//! `x-ms-content-crc64` of it on a Put Block sent without `Content-MD5`,
//! `x-ms-request-id`, `x-ms-version` and `x-ms-request-server-encrypted:
//! true`.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::Utc;
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::blob_store::{
    guess_content_type, BlobMeta, BlobPath, CommittedBlock, ReceiveError, Received, SparseWriter,
};
use super::errors::StorageError;
use super::signing::hex;
use super::{content_length, content_md5, http_date, take_body, Protocol, Storage, STAGED_FACTOR};

/// The `x-ms-version` the emulator answers with.
pub const API_VERSION: &str = "2025-01-05";
/// Largest Put Blob body: 5000 MiB.
pub const MAX_PUT_BLOB: u64 = 5000 * 1024 * 1024;
/// Largest block: 4000 MiB.
pub const MAX_BLOCK: u64 = 4000 * 1024 * 1024;
/// Most blocks in a committed blob.
pub const MAX_BLOCKS: usize = 50_000;
/// Longest block id, decoded.
pub const MAX_BLOCK_ID_LEN: usize = 64;
/// Largest Put Block List body accepted.
pub const MAX_BLOCK_LIST_BODY: u64 = 16 * 1024 * 1024;

const P: Protocol = Protocol::Azure;

/// A `PUT` in Azure mode.
pub async fn put(
    st: &Storage,
    path: &BlobPath,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &mut Option<Body>,
    limit: u64,
) -> Result<Response, StorageError> {
    let comp = query
        .iter()
        .find(|(k, _)| k == "comp")
        .map(|(_, v)| v.as_str());
    let len = content_length(P, headers)?.ok_or_else(|| {
        StorageError::new(
            StatusCode::LENGTH_REQUIRED,
            "MissingContentLengthHeader",
            "The Content-Length header is required: send the body with a known length (no chunked transfer encoding).",
        )
    })?;
    match comp {
        None => put_blob(st, path, headers, len, body, limit).await,
        Some("block") => {
            let id = query
                .iter()
                .find(|(k, _)| k == "blockid")
                .map(|(_, v)| v.as_str());
            put_block(st, path, id, headers, len, body, limit).await
        }
        Some("blocklist") => put_block_list(st, path, headers, len, body, limit).await,
        Some(other) => Err(StorageError::bad_request(
            "InvalidQueryParameterValue",
            format!("comp={other} is not supported: use comp=block or comp=blocklist, or no comp for Put Blob."),
        )),
    }
}

/// Checks the body received against its Content-MD5 and
/// x-ms-content-crc64 headers, where sent.
fn check_digests(headers: &HeaderMap, got: &Received) -> Result<(), StorageError> {
    check_crc64(headers, got)?;
    let want = content_md5(headers, || {
        StorageError::bad_request(
            "InvalidMd5",
            "The Content-MD5 header is not valid: it must be the base64 of a 16-byte MD5 digest.",
        )
    })?;
    match want {
        Some(want) if want != got.md5 => Err(StorageError::bad_request(
            "Md5Mismatch",
            format!(
                "Provided contentMD5 doesn't match: the header says {}, the body received hashes to {}.",
                B64.encode(want),
                got.md5_b64()
            ),
        )),
        _ => Ok(()),
    }
}

/// The `x-ms-content-crc64` header's bytes: None without one; 400
/// `InvalidHeaderValue` when it is not base64 of at least 8 bytes (more
/// than 8 pass here and fail the comparison, as Azure answers them).
fn content_crc64(headers: &HeaderMap) -> Result<Option<Vec<u8>>, StorageError> {
    let Some(v) = headers.get("x-ms-content-crc64") else {
        return Ok(None);
    };
    let raw = v.to_str().unwrap_or("");
    match B64.decode(raw.trim()) {
        Ok(bytes) if bytes.len() >= 8 => Ok(Some(bytes)),
        _ => Err(StorageError::bad_request(
            "InvalidHeaderValue",
            format!("The value for one of the HTTP headers is not in the correct format: x-ms-content-crc64 `{raw}` must be the base64 of the body's 8-byte CRC-64/NVME (least significant byte first)."),
        )
        .with_header("x-ms-invalid-header-name", "x-ms-content-crc64")),
    }
}

/// Checks an `x-ms-content-crc64` header against the body received.
fn check_crc64(headers: &HeaderMap, got: &Received) -> Result<(), StorageError> {
    let ours = got.crc64.to_le_bytes();
    match content_crc64(headers)? {
        Some(want) if want != ours => Err(StorageError::bad_request(
            "Crc64Mismatch",
            format!(
                "The CRC64 value specified in the request did not match with the CRC64 value calculated by the server: the header says {}, the body received has {}.",
                B64.encode(&want),
                B64.encode(ours)
            ),
        )),
        _ => Ok(()),
    }
}

/// Validates the Content-MD5 and x-ms-content-crc64 headers before reading
/// a body: each well-formed, and not both.
fn precheck_digests(headers: &HeaderMap) -> Result<(), StorageError> {
    if headers.contains_key("content-md5") && headers.contains_key("x-ms-content-crc64") {
        return Err(StorageError::bad_request(
            "BothCrc64AndMd5HeaderPresent",
            "Both x-ms-content-crc64 header and Content-MD5 header are present: send one of them.",
        ));
    }
    content_crc64(headers)?;
    content_md5(headers, || {
        StorageError::bad_request(
            "InvalidMd5",
            "The Content-MD5 header is not valid: it must be the base64 of a 16-byte MD5 digest.",
        )
    })
    .map(|_| ())
}

fn receive_error(e: ReceiveError) -> StorageError {
    match e {
        ReceiveError::Body(why) => StorageError::bad_request(
            "InvalidInput",
            format!("The request body ended before Content-Length bytes arrived: {why}."),
        ),
        ReceiveError::TooLarge => StorageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestBodyTooLarge",
            "The request body is larger than allowed.",
        ),
        ReceiveError::Io(e) => StorageError::internal(P, e),
    }
}

fn too_large(what: &str, limit: u64) -> StorageError {
    StorageError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestBodyTooLarge",
        format!(
            "The request body is too large: a {what} holds at most {limit} bytes ({} MiB).",
            limit / (1024 * 1024)
        ),
    )
}

/// 413 for an upload over the URL's size bound (the job's `fileSize`).
fn over_bound(what: String, limit: u64) -> StorageError {
    StorageError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestBodyTooLarge",
        format!(
            "{what}, but this upload URL allows at most {limit} bytes: the fileSize declared when the job was created. Upload the file the job was created for, or create a new job with the file's size."
        ),
    )
}

fn content_type(headers: &HeaderMap, path: &BlobPath) -> String {
    headers
        .get("x-ms-blob-content-type")
        .or_else(|| headers.get(axum::http::header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| guess_content_type(path.as_str()).to_string())
}

fn created(etag: Option<&str>, md5: Option<&str>) -> Response {
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        h.insert(axum::http::header::ETAG, etag);
        if let Ok(v) = HeaderValue::from_str(&http_date(Utc::now())) {
            h.insert(axum::http::header::LAST_MODIFIED, v);
        }
    }
    if let Some(md5) = md5.and_then(|m| HeaderValue::from_str(m).ok()) {
        h.insert("content-md5", md5);
    }
    h.insert(
        "x-ms-request-server-encrypted",
        HeaderValue::from_static("true"),
    );
    resp
}

async fn put_blob(
    st: &Storage,
    path: &BlobPath,
    headers: &HeaderMap,
    len: u64,
    body: &mut Option<Body>,
    limit: u64,
) -> Result<Response, StorageError> {
    match headers.get("x-ms-blob-type").map(|v| v.to_str().unwrap_or("")) {
        None => {
            return Err(StorageError::bad_request(
                "MissingRequiredHeader",
                "An HTTP header that's mandatory for this request is not specified: x-ms-blob-type. Merge the `headers` of the create-job response (x-ms-blob-type: BlockBlob) into the upload request.",
            ))
        }
        Some(t) if t.eq_ignore_ascii_case("BlockBlob") => {}
        Some(t) => {
            return Err(StorageError::bad_request(
                "InvalidHeaderValue",
                format!("x-ms-blob-type `{t}` is not supported here: only BlockBlob uploads are accepted."),
            ))
        }
    }
    if len > MAX_PUT_BLOB {
        return Err(too_large("Put Blob", MAX_PUT_BLOB));
    }
    if len > limit {
        return Err(over_bound(
            format!("The blob would hold {len} bytes"),
            limit,
        ));
    }
    precheck_digests(headers)?;
    let (tmp, got) = st
        .blobs
        .receive(take_body(body), len)
        .await
        .map_err(receive_error)?;
    check_digests(headers, &got)?;
    let meta = BlobMeta {
        size: got.len,
        md5: got.md5_b64(),
        etag: P.etag(&got.md5),
        content_type: content_type(headers, path),
        last_modified: Utc::now(),
        blocks: Vec::new(),
    };
    let _guard = st.blobs.lock(path).await;
    st.blobs
        .commit(path, tmp, &meta)
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    discard_staged(st, path).await;
    Ok(created(Some(&meta.etag), Some(&meta.md5)))
}

/// Refuses a block of `len` bytes with id `key` (hex) when the blob's
/// uncommitted blocks would then hold more than [`STAGED_FACTOR`] times
/// `limit` (the block it replaces does not count). Call it under the blob's
/// lock.
async fn check_staged(
    st: &Storage,
    path: &BlobPath,
    key: &str,
    len: u64,
    limit: u64,
) -> Result<u64, StorageError> {
    let staged = st
        .blobs
        .staged_bytes(path)
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    let replaced =
        match tokio::fs::metadata(st.blobs.staging_dir(path).join(format!("block-{key}"))).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(StorageError::internal(P, e)),
        };
    let after = staged - replaced.min(staged) + len;
    let cap = limit.saturating_mul(STAGED_FACTOR);
    if after > cap {
        return Err(StorageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestBodyTooLarge",
            format!(
                "This block would bring the blob's uncommitted blocks to {after} bytes; at most {cap} may be staged ({STAGED_FACTOR} times the job's fileSize of {limit} bytes). Commit the blocks with Put Block List (blocks not in the list are discarded), or re-send a block under the same id to replace it."
            ),
        ));
    }
    Ok(after)
}

/// Decodes a block id: base64 of 1–64 bytes.
fn decode_block_id(id: &str) -> Result<Vec<u8>, String> {
    let bytes = B64
        .decode(id)
        .map_err(|_| format!("block id `{id}` is not valid base64"))?;
    if bytes.is_empty() || bytes.len() > MAX_BLOCK_ID_LEN {
        return Err(format!(
            "block id `{id}` decodes to {} bytes; it must be 1 to {MAX_BLOCK_ID_LEN} bytes",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// The decoded id length already used by the blob's staged or committed
/// blocks, if any.
async fn existing_id_len(st: &Storage, path: &BlobPath) -> Result<Option<usize>, StorageError> {
    let staging = st.blobs.staging_dir(path);
    match tokio::fs::read_to_string(staging.join("block-id-length")).await {
        Ok(s) => {
            if let Ok(n) = s.trim().parse() {
                return Ok(Some(n));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StorageError::internal(P, e)),
    }
    let meta = st
        .blobs
        .meta(path)
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    Ok(meta.and_then(|m| m.blocks.first().map(|b| b.id.len() / 2)))
}

fn unequal_ids(id: &str, have: usize, got: usize) -> StorageError {
    StorageError::bad_request(
        "InvalidBlobOrBlock",
        format!(
            "The specified blob or block content is invalid: block id `{id}` decodes to {got} bytes, but this blob's other block ids decode to {have}; all block ids of a blob must have the same length."
        ),
    )
}

async fn put_block(
    st: &Storage,
    path: &BlobPath,
    id: Option<&str>,
    headers: &HeaderMap,
    len: u64,
    body: &mut Option<Body>,
    limit: u64,
) -> Result<Response, StorageError> {
    let id = id.filter(|s| !s.is_empty()).ok_or_else(|| {
        StorageError::bad_request(
            "MissingRequiredQueryParameter",
            "A query parameter that's mandatory for this request is not specified: blockid.",
        )
    })?;
    let raw = decode_block_id(id)
        .map_err(|e| StorageError::bad_request("InvalidQueryParameterValue", format!("{e}.")))?;
    if len > MAX_BLOCK {
        return Err(too_large("block", MAX_BLOCK));
    }
    if len > limit {
        return Err(over_bound(format!("This block is {len} bytes"), limit));
    }
    precheck_digests(headers)?;
    let key = hex(&raw);
    // Refuse an unequal id, or a block over the staging bound, before
    // reading the body; both are checked again under the lock below, where
    // they count.
    if let Some(have) = existing_id_len(st, path).await? {
        if have != raw.len() {
            return Err(unequal_ids(id, have, raw.len()));
        }
    }
    {
        let _guard = st.blobs.lock(path).await;
        check_staged(st, path, &key, len, limit).await?;
    }
    let (tmp, got) = st
        .blobs
        .receive(take_body(body), len)
        .await
        .map_err(receive_error)?;
    check_digests(headers, &got)?;
    let _guard = st.blobs.lock(path).await;
    let staged_after = check_staged(st, path, &key, got.len, limit).await?;
    let staging = st.blobs.staging_dir(path);
    match existing_id_len(st, path).await? {
        Some(have) if have != raw.len() => return Err(unequal_ids(id, have, raw.len())),
        Some(_) => {}
        None => {
            tokio::fs::create_dir_all(&staging)
                .await
                .map_err(|e| StorageError::internal(P, e))?;
            tokio::fs::write(staging.join("block-id-length"), raw.len().to_string())
                .await
                .map_err(|e| StorageError::internal(P, e))?;
        }
    }
    st.blobs
        .persist(tmp, &staging.join(format!("block-{key}")))
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    st.blobs.set_staged_bytes(path, staged_after);
    let mut resp = created(None, Some(&got.md5_b64()));
    if !headers.contains_key("content-md5") {
        // Azure reports the block's CRC64 when the request had no MD5.
        if let Ok(v) = HeaderValue::from_str(&B64.encode(got.crc64.to_le_bytes())) {
            resp.headers_mut().insert("x-ms-content-crc64", v);
        }
    }
    Ok(resp)
}

/// Which list a Put Block List entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// `<Latest>`: uncommitted if staged, else committed.
    Latest,
    /// `<Committed>`.
    Committed,
    /// `<Uncommitted>`.
    Uncommitted,
}

/// Parses a `<BlockList>` document into (kind, base64 id) entries.
pub fn parse_block_list(xml: &str) -> Result<Vec<(BlockKind, String)>, String> {
    let mut s = xml.trim_start_matches('\u{feff}').trim();
    if s.starts_with("<?xml") {
        let end = s.find("?>").ok_or("unterminated XML declaration")?;
        s = s[end + 2..].trim();
    }
    let inner = s
        .strip_prefix("<BlockList>")
        .and_then(|r| r.trim_end().strip_suffix("</BlockList>"))
        .ok_or("the document must be a single <BlockList> element")?;
    let mut rest = inner.trim();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let open_end = rest
            .strip_prefix('<')
            .and_then(|r| r.find('>'))
            .ok_or_else(|| format!("expected an element at `{}`", preview(rest)))?;
        let name = &rest[1..open_end + 1];
        let kind = match name {
            "Latest" => BlockKind::Latest,
            "Committed" => BlockKind::Committed,
            "Uncommitted" => BlockKind::Uncommitted,
            _ => {
                return Err(format!(
                    "unexpected element <{name}>: use Latest, Committed or Uncommitted"
                ))
            }
        };
        let after = &rest[open_end + 2..];
        let close = format!("</{name}>");
        let end = after
            .find(&close)
            .ok_or_else(|| format!("<{name}> is not closed"))?;
        let id = after[..end].trim();
        if id.contains('<') {
            return Err(format!("<{name}> must contain only a block id"));
        }
        out.push((kind, unescape(id)));
        rest = after[end + close.len()..].trim_start();
    }
    Ok(out)
}

fn preview(s: &str) -> String {
    s.chars().take(30).collect()
}

fn unescape(s: &str) -> String {
    s.replace("&#43;", "+")
        .replace("&#x2B;", "+")
        .replace("&#47;", "/")
        .replace("&#61;", "=")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Where an entry's bytes come from.
enum Source {
    Staged(std::path::PathBuf, u64),
    Committed { offset: u64, size: u64 },
}

async fn put_block_list(
    st: &Storage,
    path: &BlobPath,
    headers: &HeaderMap,
    len: u64,
    body: &mut Option<Body>,
    limit: u64,
) -> Result<Response, StorageError> {
    if len > MAX_BLOCK_LIST_BODY {
        return Err(too_large("block list", MAX_BLOCK_LIST_BODY));
    }
    precheck_digests(headers)?;
    let bytes = http_body_util::BodyExt::collect(http_body_util::Limited::new(
        take_body(body),
        len as usize,
    ))
    .await
    .map_err(|e| {
        StorageError::bad_request(
            "InvalidInput",
            format!("The block list body could not be read: {e}."),
        )
    })?
    .to_bytes();
    let got = Received {
        len: bytes.len() as u64,
        md5: Md5::digest(&bytes).into(),
        crc64: import_core::checksum::crc64(&bytes),
    };
    check_digests(headers, &got)?;
    let invalid_xml = |why: String| {
        StorageError::bad_request(
            "InvalidXmlDocument",
            format!("XML specified is not syntactically valid: {why}. Send <?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>id</Latest>…</BlockList>."),
        )
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid_xml("not UTF-8".into()))?;
    let entries = parse_block_list(text).map_err(invalid_xml)?;
    if entries.len() > MAX_BLOCKS {
        return Err(StorageError::bad_request(
            "BlockListTooLong",
            format!(
                "The block list has {} entries; a blob holds at most {MAX_BLOCKS} blocks.",
                entries.len()
            ),
        ));
    }

    let _guard = st.blobs.lock(path).await;
    let staging = st.blobs.staging_dir(path);
    let old = st
        .blobs
        .meta(path)
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    let mut committed: HashMap<String, (u64, u64)> = HashMap::new();
    if let Some(old) = &old {
        let mut offset = 0;
        for b in &old.blocks {
            committed.entry(b.id.clone()).or_insert((offset, b.size));
            offset += b.size;
        }
    }
    let mut sources = Vec::with_capacity(entries.len());
    let mut new_blocks = Vec::with_capacity(entries.len());
    let mut total = 0u64;
    let mut listed: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    for (n, (kind, id)) in entries.iter().enumerate() {
        let invalid = |why: &str| {
            StorageError::bad_request(
                "InvalidBlockList",
                format!("The specified block list is invalid: block id `{id}` ({kind:?}) {why}. Put Block every id before Put Block List."),
            )
        };
        let raw =
            decode_block_id(id).map_err(|_| invalid("is not valid base64 of 1 to 64 bytes"))?;
        let key = hex(&raw);
        if let Some(first) = listed.insert(key.clone(), n + 1) {
            return Err(StorageError::bad_request(
                "InvalidBlockList",
                format!(
                    "The specified block list is invalid: block id `{id}` is listed twice (entries {first} and {}). List each block once, in the order the file's parts go.",
                    n + 1
                ),
            ));
        }
        let staged = staging.join(format!("block-{key}"));
        let staged_len = match tokio::fs::metadata(&staged).await {
            Ok(m) => Some(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(StorageError::internal(P, e)),
        };
        let source = match (kind, staged_len, committed.get(&key)) {
            (BlockKind::Latest | BlockKind::Uncommitted, Some(n), _) => Source::Staged(staged, n),
            (BlockKind::Latest | BlockKind::Committed, _, Some(&(offset, size))) => {
                Source::Committed { offset, size }
            }
            (BlockKind::Uncommitted, None, _) => {
                return Err(invalid("is not among the uncommitted blocks"))
            }
            (BlockKind::Committed, _, None) => {
                return Err(invalid("is not among the committed blocks"))
            }
            (BlockKind::Latest, None, None) => return Err(invalid("was never uploaded")),
        };
        let size = match &source {
            Source::Staged(_, n) => *n,
            Source::Committed { size, .. } => *size,
        };
        total += size;
        if total > limit {
            return Err(over_bound(
                format!(
                    "The listed blocks add up to more than {limit} bytes (at least {total} by entry {})",
                    n + 1
                ),
                limit,
            ));
        }
        new_blocks.push(CommittedBlock { id: key, size });
        sources.push(source);
    }

    // Assemble in list order.
    let (tmp, file) = st
        .blobs
        .temp_file()
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    let mut out = SparseWriter::new(file);
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    let old_data = st.blobs.data_file(path);
    for source in &sources {
        let (mut reader, mut left) = match source {
            Source::Staged(p, n) => (
                tokio::fs::File::open(p)
                    .await
                    .map_err(|e| StorageError::internal(P, e))?,
                *n,
            ),
            Source::Committed { offset, size } => {
                let mut f = tokio::fs::File::open(&old_data)
                    .await
                    .map_err(|e| StorageError::internal(P, e))?;
                f.seek(std::io::SeekFrom::Start(*offset))
                    .await
                    .map_err(|e| StorageError::internal(P, e))?;
                (f, *size)
            }
        };
        while left > 0 {
            let want = (left as usize).min(buf.len());
            let n = reader
                .read(&mut buf[..want])
                .await
                .map_err(|e| StorageError::internal(P, e))?;
            if n == 0 {
                return Err(StorageError::internal(
                    P,
                    "a stored block is shorter than recorded",
                ));
            }
            md5.update(&buf[..n]);
            out.write(&buf[..n])
                .await
                .map_err(|e| StorageError::internal(P, e))?;
            left -= n as u64;
        }
    }
    out.finish()
        .await
        .map_err(|e| StorageError::internal(P, e))?;

    let md5: [u8; 16] = md5.finalize().into();
    let meta = BlobMeta {
        size: total,
        md5: B64.encode(md5),
        etag: P.etag(&md5),
        content_type: content_type(headers, path),
        last_modified: Utc::now(),
        blocks: new_blocks,
    };
    st.blobs
        .commit(path, tmp, &meta)
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    discard_staged(st, path).await;
    Ok(created(Some(&meta.etag), None))
}

/// Get Block List (`GET ?comp=blocklist[&blocklisttype=committed|uncommitted|all]`),
/// which needs a read-signed URL (as on Azure, a write-only URL gets 403):
/// `<BlockList><CommittedBlocks><Block><Name>id</Name><Size>n</Size></Block>…
/// </CommittedBlocks><UncommittedBlocks>…</UncommittedBlocks></BlockList>`.
/// Ids are given back as standard base64 of their decoded bytes.
pub async fn get_block_list(
    st: &Storage,
    path: &BlobPath,
    query: &[(String, String)],
) -> Result<Response, StorageError> {
    let which = query
        .iter()
        .find(|(k, _)| k == "blocklisttype")
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_else(|| "committed".into());
    let (committed, uncommitted) = match which.as_str() {
        "committed" => (true, false),
        "uncommitted" => (false, true),
        "all" => (true, true),
        other => {
            return Err(StorageError::bad_request(
                "InvalidQueryParameterValue",
                format!("blocklisttype={other} is not valid: use committed, uncommitted or all."),
            ))
        }
    };
    let _guard = st.blobs.lock(path).await;
    let meta = st
        .blobs
        .meta(path)
        .await
        .map_err(|e| StorageError::internal(P, e))?;
    let mut staged = Vec::new();
    if let Ok(mut dir) = tokio::fs::read_dir(st.blobs.staging_dir(path)).await {
        while let Ok(Some(entry)) = dir.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_prefix("block-").and_then(decode_hex) {
                let size = entry.metadata().await.map(|m| m.len()).unwrap_or(0);
                staged.push((id, size));
            }
        }
    }
    if meta.is_none() && staged.is_empty() {
        return Err(StorageError::new(
            StatusCode::NOT_FOUND,
            "BlobNotFound",
            "The specified blob does not exist.",
        ));
    }
    staged.sort();
    let block = |id: &[u8], size: u64| {
        format!(
            "<Block><Name>{}</Name><Size>{size}</Size></Block>",
            B64.encode(id)
        )
    };
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    if committed {
        xml.push_str("<CommittedBlocks>");
        for b in meta.iter().flat_map(|m| m.blocks.iter()) {
            xml.push_str(&block(&decode_hex(&b.id).unwrap_or_default(), b.size));
        }
        xml.push_str("</CommittedBlocks>");
    }
    if uncommitted {
        xml.push_str("<UncommittedBlocks>");
        for (id, size) in &staged {
            xml.push_str(&block(id, *size));
        }
        xml.push_str("</UncommittedBlocks>");
    }
    xml.push_str("</BlockList>");
    let mut resp = (StatusCode::OK, xml).into_response();
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if let Some(m) = &meta {
        if let Ok(v) = HeaderValue::from_str(&m.etag) {
            h.insert(axum::http::header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&m.size.to_string()) {
            h.insert("x-ms-blob-content-length", v);
        }
    }
    Ok(resp)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Drops a blob's uncommitted blocks (after a commit, as Azure does).
async fn discard_staged(st: &Storage, path: &BlobPath) {
    let staging = st.blobs.staging_dir(path);
    let Ok(mut dir) = tokio::fs::read_dir(&staging).await else {
        return;
    };
    while let Ok(Some(entry)) = dir.next_entry().await {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("block-") {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
    let _ = tokio::fs::remove_file(staging.join("block-id-length")).await;
    let _ = tokio::fs::remove_dir(&staging).await;
    st.blobs.forget_staged(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_lists() {
        let l = parse_block_list(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList>\n  <Latest>AAA=</Latest><Committed>AAE=</Committed>\n<Uncommitted>AAI=</Uncommitted></BlockList>\n",
        )
        .unwrap();
        assert_eq!(
            l,
            vec![
                (BlockKind::Latest, "AAA=".to_string()),
                (BlockKind::Committed, "AAE=".to_string()),
                (BlockKind::Uncommitted, "AAI=".to_string()),
            ]
        );
        assert_eq!(parse_block_list("<BlockList></BlockList>").unwrap(), vec![]);
        for bad in [
            "",
            "<BlockList>",
            "<BlockList><Latest>a</BlockList>",
            "<BlockList><Foo>a</Foo></BlockList>",
            "<List><Latest>a</Latest></List>",
        ] {
            assert!(parse_block_list(bad).is_err(), "{bad} accepted");
        }
    }
}
