//! The emulator's signed storage over real HTTP: each mode's protocol and
//! refusals, signatures and expiry, CORS preflights, reading back what was
//! committed, and fault injection.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::Duration;
use common::{job_upload, start_with, Emu};
use import_devserver::config::StorageMode;
use md5::{Digest, Md5};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATH: &str = "jobs/imp_01TEST/file.csv";
/// The size bound of the upload URLs these tests sign themselves (a job's
/// URL carries its `fileSize`).
const BOUND: u64 = 64 * 1024 * 1024;

fn md5_b64(data: &[u8]) -> String {
    B64.encode(Md5::digest(data))
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// Deterministic test bytes.
fn bytes(n: usize, salt: u8) -> Vec<u8> {
    (0..n)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8 ^ salt)
        .collect()
}

fn upload_url(emu: &Emu, path: &str) -> String {
    let exp = emu.server.state.now() + Duration::hours(1);
    emu.server.state.storage.upload_target(path, exp, BOUND).url
}

fn read_url(emu: &Emu, path: &str) -> String {
    let exp = emu.server.state.now() + Duration::hours(1);
    emu.server.state.storage.signed_download_url(path, exp)
}

fn committed(emu: &Emu, path: &str) -> Option<u64> {
    emu.server.state.storage.uploaded_size(path).unwrap()
}

/// Reads back a committed blob through a read-signed URL.
async fn read_back(emu: &Emu, path: &str) -> Vec<u8> {
    let r = emu.http.get(read_url(emu, path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "reading back {path}");
    r.bytes().await.unwrap().to_vec()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

/// (status, headers, body text).
async fn send(rb: reqwest::RequestBuilder) -> (u16, HeaderMap, String) {
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

/// The `<Code>` of an XML error body.
fn xml_code(body: &str) -> &str {
    body.split("<Code>")
        .nth(1)
        .and_then(|s| s.split("</Code>").next())
        .unwrap_or("")
}

fn with(url: &str, extra: &str) -> String {
    format!("{url}&{extra}")
}

fn block_id(n: u32) -> String {
    B64.encode(format!("block-{n:06}"))
}

fn block_list(entries: &[(&str, String)]) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (kind, id) in entries {
        s.push_str(&format!("<{kind}>{id}</{kind}>"));
    }
    s.push_str("</BlockList>");
    s
}

/// Sends raw bytes over TCP and returns everything the server answers
/// until it closes (or 5 s pass).
async fn raw_http(emu: &Emu, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(emu.server.addr)
        .await
        .unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"</Error>") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Path and query of a URL (for raw requests).
fn path_and_query(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

// ---------------------------------------------------------------- Azure

#[tokio::test]
async fn upload_targets_per_mode() {
    let azure = start_with(|_| {}).await;
    let exp = azure.server.state.now() + Duration::hours(1);
    let t = azure.server.state.storage.upload_target(PATH, exp, BOUND);
    assert_eq!(t.method, "PUT");
    assert_eq!(
        t.headers.get("x-ms-blob-type").map(String::as_str),
        Some("BlockBlob")
    );
    assert_eq!(t.headers.len(), 1);
    assert!(
        t.url.starts_with(&format!("{}/storage/{PATH}?", azure.url)),
        "{}",
        t.url
    );
    assert!(t.url.contains(&format!("se={}", exp.timestamp())));
    assert!(t.url.contains("sp=w") && t.url.contains("sig="));
    assert!(t.url.contains(&format!("sz={BOUND}")), "{}", t.url);

    let s3 = start_with(|c| c.storage = StorageMode::LocalS3).await;
    let t = s3.server.state.storage.upload_target(PATH, exp, BOUND);
    assert_eq!((t.method.as_str(), t.headers.len()), ("PUT", 0));

    let gcs = start_with(|c| c.storage = StorageMode::LocalGcs).await;
    let t = gcs.server.state.storage.upload_target(PATH, exp, BOUND);
    assert_eq!((t.method.as_str(), t.headers.len()), ("PUT", 0));
    assert!(t.url.contains("upload_id="), "{}", t.url);
    // Each target is a new session.
    assert_ne!(
        t.url,
        gcs.server.state.storage.upload_target(PATH, exp, BOUND).url
    );

    // Paths with spaces and non-ASCII characters are encoded and round-trip.
    let odd = "jobs/imp_01TEST/spring 2026 ü.csv";
    let url = azure
        .server
        .state
        .storage
        .upload_target(odd, exp, BOUND)
        .url;
    assert!(url.contains("spring%202026%20%C3%BC.csv"), "{url}");
    let (status, _, _) = send(
        azure
            .http
            .put(&url)
            .header("x-ms-blob-type", "BlockBlob")
            .body("a,b\n"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(committed(&azure, odd), Some(4));
}

#[tokio::test]
async fn azure_put_blob_round_trip() {
    let emu = start_with(|_| {}).await;
    let data = bytes(300_000, 1);
    assert_eq!(committed(&emu, PATH), None);
    let (status, h, _) = send(
        emu.http
            .put(upload_url(&emu, PATH))
            .header("x-ms-blob-type", "BlockBlob")
            .header("content-type", "application/octet-stream")
            .header("content-md5", md5_b64(&data))
            .body(data.clone()),
    )
    .await;
    assert_eq!(status, 201);
    assert!(header(&h, "etag").starts_with("\"0x"), "{h:?}");
    assert_eq!(header(&h, "content-md5"), md5_b64(&data));
    assert!(!header(&h, "x-ms-request-id").is_empty());
    assert!(!header(&h, "x-ms-version").is_empty());
    assert_eq!(committed(&emu, PATH), Some(data.len() as u64));
    assert_eq!(sha256(&read_back(&emu, PATH).await), sha256(&data));

    // A second Put Blob replaces the blob.
    let (status, _, _) = send(
        emu.http
            .put(upload_url(&emu, PATH))
            .header("x-ms-blob-type", "BlockBlob")
            .body("short"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(read_back(&emu, PATH).await, b"short");

    // The processor's view.
    let mut f = emu.server.state.storage.open_blob(PATH).unwrap().unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).await.unwrap();
    assert_eq!(s, "short");
    assert!(emu
        .server
        .state
        .storage
        .open_blob("jobs/none/x.csv")
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn azure_put_blob_requires_block_blob_type() {
    let emu = start_with(|_| {}).await;
    let (status, h, body) = send(emu.http.put(upload_url(&emu, PATH)).body("a,b\n")).await;
    assert_eq!(status, 400);
    assert_eq!(header(&h, "x-ms-error-code"), "MissingRequiredHeader");
    assert_eq!(xml_code(&body), "MissingRequiredHeader");
    assert!(body.contains("x-ms-blob-type"), "{body}");

    let (status, h, _) = send(
        emu.http
            .put(upload_url(&emu, PATH))
            .header("x-ms-blob-type", "PageBlob")
            .body("a,b\n"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(header(&h, "x-ms-error-code"), "InvalidHeaderValue");
    assert_eq!(committed(&emu, PATH), None);
}

#[tokio::test]
async fn azure_blocks_commit_in_list_order() {
    let emu = start_with(|_| {}).await;
    let url = upload_url(&emu, PATH);
    let parts = [bytes(70_000, 1), bytes(50_000, 2), bytes(10_000, 3)];
    // Upload out of order, and the middle one twice (the retry replaces it).
    for (i, part) in [
        (2, &parts[2]),
        (0, &parts[0]),
        (1, &bytes(999, 9)),
        (1, &parts[1]),
    ] {
        let (status, h, body) = send(
            emu.http
                .put(with(
                    &url,
                    &format!("comp=block&blockid={}", urlencoding::encode(&block_id(i))),
                ))
                .header("x-ms-blob-type", "BlockBlob")
                .header("content-md5", md5_b64(part))
                .body(part.clone()),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(header(&h, "content-md5"), md5_b64(part));
    }
    // Staged blocks are not a blob yet.
    assert_eq!(committed(&emu, PATH), None);
    // Get Block List needs a read URL; the upload URL may not list.
    let (status, h, _) = send(emu.http.get(with(&url, "comp=blocklist&blocklisttype=all"))).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (403, "AuthorizationPermissionMismatch")
    );
    let (status, _, body) = send(emu.http.get(with(
        &read_url(&emu, PATH),
        "comp=blocklist&blocklisttype=uncommitted",
    )))
    .await;
    assert_eq!(status, 200, "{body}");
    for i in 0..3 {
        assert!(
            body.contains(&format!("<Name>{}</Name>", block_id(i))),
            "{body}"
        );
    }
    assert!(
        body.contains("<Size>50000</Size>"),
        "the retried block replaced the first: {body}"
    );

    let xml = block_list(&[
        ("Latest", block_id(0)),
        ("Latest", block_id(1)),
        ("Uncommitted", block_id(2)),
    ]);
    // x-ms-blob-type on Put Block List is ignored, as Azure does.
    let (status, h, body) = send(
        emu.http
            .put(with(&url, "comp=blocklist"))
            .header("x-ms-blob-type", "BlockBlob")
            .header("content-type", "application/xml")
            .body(xml.clone()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(header(&h, "etag").starts_with("\"0x"));
    let expected = [parts[0].clone(), parts[1].clone(), parts[2].clone()].concat();
    assert_eq!(committed(&emu, PATH), Some(expected.len() as u64));
    assert_eq!(sha256(&read_back(&emu, PATH).await), sha256(&expected));
    let (_, _, body) = send(emu.http.get(with(&read_url(&emu, PATH), "comp=blocklist"))).await;
    let names: Vec<&str> = body
        .split("<Name>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    assert_eq!(names, [block_id(0), block_id(1), block_id(2)]);

    // Committed blocks can be named again; uncommitted ones were discarded.
    let (status, _, body) = send(emu.http.put(with(&url, "comp=blocklist")).body(xml)).await;
    assert_eq!(status, 400, "the staged blocks are gone after the commit");
    assert!(body.contains("InvalidBlockList"), "{body}");
    let (status, _, _) = send(
        emu.http
            .put(with(
                &url,
                &format!("comp=block&blockid={}", urlencoding::encode(&block_id(7))),
            ))
            .body("tail"),
    )
    .await;
    assert_eq!(status, 201);
    let xml = block_list(&[
        ("Committed", block_id(2)),
        ("Latest", block_id(0)),
        ("Latest", block_id(7)),
    ]);
    let (status, _, body) = send(emu.http.put(with(&url, "comp=blocklist")).body(xml)).await;
    assert_eq!(status, 201, "{body}");
    let expected = [parts[2].clone(), parts[0].clone(), b"tail".to_vec()].concat();
    assert_eq!(read_back(&emu, PATH).await, expected);
}

#[tokio::test]
async fn azure_parallel_blocks() {
    let emu = start_with(|_| {}).await;
    let url = upload_url(&emu, PATH);
    let data = bytes(16 * 65_536 + 123, 4);
    let parts: Vec<&[u8]> = data.chunks(65_536).collect();
    let puts = parts.iter().enumerate().map(|(i, part)| {
        emu.http
            .put(with(
                &url,
                &format!(
                    "comp=block&blockid={}",
                    urlencoding::encode(&block_id(i as u32))
                ),
            ))
            .header("x-ms-blob-type", "BlockBlob")
            .header("content-md5", md5_b64(part))
            .body(part.to_vec())
            .send()
    });
    for r in futures_util::future::join_all(puts).await {
        assert_eq!(r.unwrap().status(), 201);
    }
    let ids: Vec<_> = (0..parts.len() as u32)
        .map(|i| ("Latest", block_id(i)))
        .collect();
    let (status, _, body) = send(
        emu.http
            .put(with(&url, "comp=blocklist"))
            .body(block_list(&ids)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(sha256(&read_back(&emu, PATH).await), sha256(&data));
}

#[tokio::test]
async fn azure_block_id_rules() {
    let emu = start_with(|_| {}).await;
    let url = upload_url(&emu, PATH);
    let put_block = |id: String| {
        emu.http
            .put(with(
                &url,
                &format!("comp=block&blockid={}", urlencoding::encode(&id)),
            ))
            .body("abc")
    };
    let (status, _, _) = send(put_block(B64.encode("0001"))).await;
    assert_eq!(status, 201);
    let (status, h, body) = send(put_block(B64.encode("00002"))).await;
    assert_eq!(status, 400);
    assert_eq!(header(&h, "x-ms-error-code"), "InvalidBlobOrBlock");
    assert!(body.contains("same length"), "{body}");
    let (status, h, _) = send(put_block("not base64!".into())).await;
    assert_eq!(status, 400);
    assert_eq!(header(&h, "x-ms-error-code"), "InvalidQueryParameterValue");
    let (status, h, _) = send(put_block(B64.encode([7u8; 65]))).await;
    assert_eq!(status, 400);
    assert_eq!(header(&h, "x-ms-error-code"), "InvalidQueryParameterValue");
    let (status, h, _) = send(emu.http.put(with(&url, "comp=block")).body("abc")).await;
    assert_eq!(status, 400);
    assert_eq!(
        header(&h, "x-ms-error-code"),
        "MissingRequiredQueryParameter"
    );
    let (status, h, _) = send(emu.http.put(with(&url, "comp=appendblock")).body("abc")).await;
    assert_eq!(status, 400);
    assert_eq!(header(&h, "x-ms-error-code"), "InvalidQueryParameterValue");
}

#[tokio::test]
async fn azure_block_list_refusals() {
    let emu = start_with(|_| {}).await;
    let url = upload_url(&emu, PATH);
    let (status, _, _) = send(
        emu.http
            .put(with(
                &url,
                &format!("comp=block&blockid={}", urlencoding::encode(&block_id(1))),
            ))
            .body("abc"),
    )
    .await;
    assert_eq!(status, 201);
    let xml = block_list(&[("Latest", block_id(1)), ("Latest", block_id(2))]);
    let (status, h, body) = send(emu.http.put(with(&url, "comp=blocklist")).body(xml)).await;
    assert_eq!(status, 400);
    assert_eq!(header(&h, "x-ms-error-code"), "InvalidBlockList");
    assert!(body.contains(&block_id(2)), "{body}");
    let xml = block_list(&[("Committed", block_id(1))]);
    let (status, h, _) = send(emu.http.put(with(&url, "comp=blocklist")).body(xml)).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (400, "InvalidBlockList")
    );
    let (status, h, _) = send(
        emu.http
            .put(with(&url, "comp=blocklist"))
            .body("<BlockList><Latest>"),
    )
    .await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (400, "InvalidXmlDocument")
    );
    assert_eq!(committed(&emu, PATH), None);

    // The staged block survived the refusals.
    let xml = block_list(&[("Uncommitted", block_id(1))]);
    let (status, _, _) = send(emu.http.put(with(&url, "comp=blocklist")).body(xml)).await;
    assert_eq!(status, 201);
    assert_eq!(read_back(&emu, PATH).await, b"abc");
}

#[tokio::test]
async fn azure_content_md5_is_verified() {
    let emu = start_with(|_| {}).await;
    let url = upload_url(&emu, PATH);
    let (status, h, body) = send(
        emu.http
            .put(&url)
            .header("x-ms-blob-type", "BlockBlob")
            .header("content-md5", md5_b64(b"something else"))
            .body("a,b\n"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(header(&h, "x-ms-error-code"), "Md5Mismatch");
    assert!(body.contains("Provided contentMD5 doesn't match"), "{body}");
    assert_eq!(committed(&emu, PATH), None);

    let block = with(
        &url,
        &format!("comp=block&blockid={}", urlencoding::encode(&block_id(1))),
    );
    let (status, h, _) = send(
        emu.http
            .put(&block)
            .header("content-md5", md5_b64(b"other"))
            .body("abc"),
    )
    .await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (400, "Md5Mismatch")
    );
    let (status, h, _) = send(
        emu.http
            .put(&block)
            .header("content-md5", "bm90LWEtbWQ1")
            .body("abc"),
    )
    .await;
    assert_eq!((status, header(&h, "x-ms-error-code")), (400, "InvalidMd5"));
    // The refused block was not staged.
    let xml = block_list(&[("Latest", block_id(1))]);
    let (status, _, _) = send(emu.http.put(with(&url, "comp=blocklist")).body(xml)).await;
    assert_eq!(status, 400);
}

fn crc64_b64(data: &[u8]) -> String {
    B64.encode(import_core::checksum::crc64(data).to_le_bytes())
}

#[tokio::test]
async fn azure_content_crc64_is_verified() {
    let emu = start_with(|_| {}).await;
    let url = upload_url(&emu, PATH);
    let put_blob = |crc: &str| {
        emu.http
            .put(&url)
            .header("x-ms-blob-type", "BlockBlob")
            .header("x-ms-content-crc64", crc.to_string())
            .body("123456789")
    };
    // A wrong CRC64: refused, nothing committed.
    let (status, h, body) = send(put_blob(&crc64_b64(b"12345678"))).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (400, "Crc64Mismatch")
    );
    assert!(body.contains("did not match"), "{body}");
    assert_eq!(committed(&emu, PATH), None);
    // Not base64 of 8 bytes: the header's format is refused.
    for bad in ["AAAA", "not base64!", ""] {
        let (status, h, _) = send(put_blob(bad)).await;
        assert_eq!(
            (status, header(&h, "x-ms-error-code")),
            (400, "InvalidHeaderValue"),
            "x-ms-content-crc64 `{bad}`"
        );
    }
    assert_eq!(committed(&emu, PATH), None);
    // The right one (the value Azurite computes for these bytes).
    let (status, h, _) = send(put_blob("iJh5CoYUi64=")).await;
    assert_eq!(status, 201);
    assert_eq!(header(&h, "content-md5"), md5_b64(b"123456789"));
    assert_eq!(read_back(&emu, PATH).await, b"123456789");

    let block = |n: u32| {
        with(
            &url,
            &format!("comp=block&blockid={}", urlencoding::encode(&block_id(n))),
        )
    };
    // Put Block: a wrong CRC64 stages nothing; both checks at once are
    // refused; the right one stages the block and is reported back.
    let (status, h, _) = send(
        emu.http
            .put(block(1))
            .header("x-ms-content-crc64", crc64_b64(b"abd"))
            .body("abc"),
    )
    .await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (400, "Crc64Mismatch")
    );
    let (status, h, _) = send(
        emu.http
            .put(block(1))
            .header("x-ms-content-crc64", crc64_b64(b"abc"))
            .header("content-md5", md5_b64(b"abc"))
            .body("abc"),
    )
    .await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (400, "BothCrc64AndMd5HeaderPresent")
    );
    let xml = block_list(&[("Latest", block_id(1))]);
    let (status, h, _) = send(emu.http.put(with(&url, "comp=blocklist")).body(xml.clone())).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (400, "InvalidBlockList"),
        "a refused block is not staged"
    );
    let (status, h, _) = send(
        emu.http
            .put(block(1))
            .header("x-ms-content-crc64", crc64_b64(b"abc"))
            .body("abc"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(header(&h, "x-ms-content-crc64"), crc64_b64(b"abc"));
    // Put Block List: its body is checked too.
    let (status, h, _) = send(
        emu.http
            .put(with(&url, "comp=blocklist"))
            .header("x-ms-content-crc64", crc64_b64(b"<BlockList/>"))
            .body(xml.clone()),
    )
    .await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (400, "Crc64Mismatch")
    );
    assert_eq!(read_back(&emu, PATH).await, b"123456789");
    let (status, _, _) = send(
        emu.http
            .put(with(&url, "comp=blocklist"))
            .header("x-ms-content-crc64", crc64_b64(xml.as_bytes()))
            .body(xml),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(read_back(&emu, PATH).await, b"abc");
}

#[tokio::test]
async fn azure_requires_content_length() {
    let emu = start_with(|_| {}).await;
    let host = emu.server.addr;
    let req = format!(
        "PUT {} HTTP/1.1\r\nHost: {host}\r\nx-ms-blob-type: BlockBlob\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        path_and_query(&upload_url(&emu, PATH))
    );
    let resp = raw_http(&emu, req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 411"), "{resp}");
    assert!(resp.contains("MissingContentLengthHeader"), "{resp}");
    assert_eq!(committed(&emu, PATH), None);

    // Sizes are checked from the header, before any byte is read.
    let req = format!(
        "PUT {} HTTP/1.1\r\nHost: {host}\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        path_and_query(&upload_url(&emu, PATH)),
        5000u64 * 1024 * 1024 + 1
    );
    let resp = raw_http(&emu, req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(resp.contains("RequestBodyTooLarge"), "{resp}");
}

// ------------------------------------------------------ signatures, auth

#[tokio::test]
async fn signatures_are_checked() {
    let emu = start_with(|_| {}).await;
    let url = upload_url(&emu, PATH);
    let put = |u: String| {
        emu.http
            .put(u)
            .header("x-ms-blob-type", "BlockBlob")
            .body("a,b\n")
    };

    // Tampered signature.
    let (head, sig) = url.split_once("sig=").unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let bad = format!("{head}sig={flipped}{}", &sig[1..]);
    let (status, h, body) = send(put(bad)).await;
    assert_eq!(status, 403);
    assert_eq!(header(&h, "x-ms-error-code"), "AuthenticationFailed");
    assert_eq!(xml_code(&body), "AuthenticationFailed");
    assert!(body.contains("<Message>"), "{body}");

    // Tampered path, expiry, permission.
    let (status, _, _) = send(put(url.replace("imp_01TEST", "imp_01OTHER"))).await;
    assert_eq!(status, 403);
    let exp = emu.server.state.now() + Duration::hours(1);
    let later = url.replace(
        &format!("se={}", exp.timestamp()),
        &format!("se={}", exp.timestamp() + 86_400),
    );
    assert_ne!(later, url);
    let (status, h, _) = send(put(later)).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (403, "AuthenticationFailed")
    );
    let (status, h, _) = send(put(url.replace("sp=w", "sp=r"))).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (403, "AuthenticationFailed")
    );

    // No signature at all, with or without the API's bearer token.
    let bare = url.split('?').next().unwrap().to_string();
    let (status, h, _) = send(put(bare.clone())).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (403, "AuthenticationFailed")
    );
    let (status, h, _) = send(put(bare).bearer_auth("dev-write")).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (403, "AuthenticationFailed")
    );
    // A valid URL plus a bearer token: the token must never reach storage.
    let (status, _, body) = send(put(url.clone()).bearer_auth("dev-write")).await;
    assert_eq!(status, 403);
    assert!(body.contains("Authorization"), "{body}");
    assert_eq!(committed(&emu, PATH), None);

    // A read URL cannot write, a write URL cannot read.
    let (status, h, _) = send(put(read_url(&emu, PATH))).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (403, "AuthorizationPermissionMismatch")
    );
    let (status, h, _) = send(emu.http.get(&url)).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (403, "AuthorizationPermissionMismatch")
    );
    let (status, _, _) = send(emu.http.delete(&url)).await;
    assert_eq!(status, 405);

    // The genuine URL works, then expires.
    let (status, _, _) = send(put(url.clone())).await;
    assert_eq!(status, 201);
    emu.clock.advance(Duration::minutes(61));
    let (status, h, body) = send(put(url)).await;
    assert_eq!(status, 403);
    assert_eq!(header(&h, "x-ms-error-code"), "AuthorizationFailure");
    assert!(body.contains("expired"), "{body}");
    assert_eq!(committed(&emu, PATH), Some(4));
}

#[tokio::test]
async fn paths_cannot_escape_the_blob_root() {
    let emu = start_with(|_| {}).await;
    let host = emu.server.addr;
    let url = upload_url(&emu, PATH);
    let query = url.split_once('?').unwrap().1;
    for evil in ["jobs%2F..%2Fx", "jobs//x", "jobs/a%5Cb", "jobs/%00"] {
        let (status, h, _) =
            send(emu.http.get(format!("{}/storage/{evil}?{query}", emu.url))).await;
        assert_eq!(status, 400, "{evil}");
        assert_eq!(header(&h, "x-ms-error-code"), "InvalidUri", "{evil}");
    }
    // Dot segments, plain or encoded, sent by a client that does not
    // normalise them (reqwest would).
    for evil in [
        "jobs/../../keys/storage-hmac.key",
        "jobs/%2E%2E/%2e%2e/keys/storage-hmac.key",
    ] {
        let req = format!(
            "GET /storage/{evil}?{query} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        let resp = raw_http(&emu, req.as_bytes()).await;
        assert!(resp.starts_with("HTTP/1.1 400"), "{evil}: {resp}");
        assert!(resp.contains("InvalidUri"), "{evil}: {resp}");
    }
}

#[tokio::test]
async fn signing_key_survives_a_restart() {
    let (mut config, _clock, dir) = common::test_config();
    config.storage = StorageMode::LocalS3;
    let server = import_devserver::serve(config.clone()).await.unwrap();
    let exp = server.state.now() + Duration::hours(1);
    let target = server.state.storage.upload_target(PATH, exp, BOUND);
    server.stop().await;
    let key = std::fs::read_to_string(dir.path().join("keys/storage-hmac.key")).unwrap();
    assert_eq!(key.trim().len(), 64);

    let server = import_devserver::serve(config).await.unwrap();
    let url = target.url.replace(
        &target.url[..target.url.find("/storage/").unwrap()],
        &server.url,
    );
    let r = reqwest::Client::new()
        .put(url)
        .body("a,b\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.state.storage.uploaded_size(PATH).unwrap(), Some(4));
    server.stop().await;
}

#[tokio::test]
async fn cors_preflight_and_exposed_headers() {
    let emu = start_with(|_| {}).await;
    let url = upload_url(&emu, PATH);
    let origin = "http://localhost:5173";
    let r = emu
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "x-ms-blob-type,content-md5,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let h = r.headers();
    assert_eq!(header(h, "access-control-allow-origin"), origin);
    assert!(header(h, "access-control-allow-methods").contains("PUT"));
    let allowed = header(h, "access-control-allow-headers").to_ascii_lowercase();
    assert!(
        allowed.contains("x-ms-blob-type") && allowed.contains("content-md5"),
        "{allowed}"
    );

    let r = emu
        .http
        .put(&url)
        .header("origin", origin)
        .header("x-ms-blob-type", "BlockBlob")
        .body("a,b\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(r.headers(), "access-control-allow-origin"), origin);
    let exposed = header(r.headers(), "access-control-expose-headers").to_ascii_lowercase();
    for name in ["etag", "range", "x-ms-request-id", "x-ms-error-code"] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
}

// ------------------------------------------------------- downloads

#[tokio::test]
async fn server_written_files_are_served_by_read_urls() {
    let emu = start_with(|_| {}).await;
    let st = &emu.server.state.storage;
    let errors = "jobs/imp_01TEST/errors.jsonl";
    let line = b"{\"rowNumber\": 2, \"sourceRow\": {\"email\": \"x\"}, \"error\": \"invalid email format\"}\n";
    assert_eq!(st.write_path(errors, line).unwrap(), line.len() as u64);
    let r = emu.http.get(read_url(&emu, errors)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "content-type"), "application/x-ndjson");
    assert_eq!(header(r.headers(), "content-md5"), md5_b64(line));
    assert_eq!(r.bytes().await.unwrap().as_ref(), line);

    // A streamed writer appears only on commit.
    let big = "jobs/imp_01TEST/big.jsonl";
    let mut w = st.blob_writer(big).unwrap();
    for _ in 0..1000 {
        std::io::Write::write_all(&mut w, line).unwrap();
    }
    assert_eq!(committed(&emu, big), None);
    assert_eq!(w.commit().unwrap(), 1000 * line.len() as u64);
    assert_eq!(read_back(&emu, big).await, line.repeat(1000));

    // Ranges and HEAD.
    let r = emu
        .http
        .get(read_url(&emu, errors))
        .header("range", "bytes=1-12")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        header(r.headers(), "content-range"),
        format!("bytes 1-12/{}", line.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &line[1..13]);
    let r = emu.http.head(read_url(&emu, errors)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "content-length"),
        line.len().to_string()
    );

    // Missing blob, and an expired read URL.
    let (status, h, _) = send(emu.http.get(read_url(&emu, "jobs/imp_01TEST/none.jsonl"))).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (404, "BlobNotFound")
    );
    let url = read_url(&emu, errors);
    emu.clock.advance(Duration::hours(2));
    let (status, h, _) = send(emu.http.get(url)).await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (403, "AuthorizationFailure")
    );

    st.remove(errors).unwrap();
    assert_eq!(committed(&emu, errors), None);
}

// ---------------------------------------------------------------- S3

#[tokio::test]
async fn s3_single_put() {
    let emu = start_with(|c| c.storage = StorageMode::LocalS3).await;
    let url = upload_url(&emu, PATH);
    let data = bytes(200_000, 5);
    let (status, h, _) = send(
        emu.http
            .put(&url)
            .header("content-type", "text/csv")
            .header("content-md5", md5_b64(&data))
            .body(data.clone()),
    )
    .await;
    assert_eq!(status, 200);
    let hex: String = Md5::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(header(&h, "etag"), format!("\"{hex}\""));
    assert!(!header(&h, "x-amz-request-id").is_empty());
    assert_eq!(committed(&emu, PATH), Some(data.len() as u64));
    assert_eq!(sha256(&read_back(&emu, PATH).await), sha256(&data));

    let (status, _, body) = send(
        emu.http
            .put(&url)
            .header("content-md5", md5_b64(b"else"))
            .body("a,b\n"),
    )
    .await;
    assert_eq!((status, xml_code(&body)), (400, "BadDigest"));
    assert_eq!(
        committed(&emu, PATH),
        Some(data.len() as u64),
        "a refused PUT changes nothing"
    );

    // S3-style errors for signatures and expiry.
    let (status, _, body) = send(emu.http.put(url.replace("sig=", "sig=x")).body("a")).await;
    assert_eq!((status, xml_code(&body)), (403, "SignatureDoesNotMatch"));
    assert!(body.contains("<RequestId>"), "{body}");
    let (status, _, body) = send(
        emu.http
            .put(url.split('?').next().unwrap())
            .bearer_auth("dev-write")
            .body("a"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    emu.clock.advance(Duration::hours(2));
    let (status, _, body) = send(emu.http.put(&url).body("a")).await;
    assert_eq!((status, xml_code(&body)), (403, "AccessDenied"));
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test]
async fn s3_refuses_more_than_5_gib_from_the_header() {
    let emu = start_with(|c| c.storage = StorageMode::LocalS3).await;
    let host = emu.server.addr;
    let req = format!(
        "PUT {} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        path_and_query(&upload_url(&emu, PATH)),
        5u64 * 1024 * 1024 * 1024 + 1
    );
    let resp = raw_http(&emu, req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("<Code>EntityTooLarge</Code>"), "{resp}");
    assert_eq!(committed(&emu, PATH), None);
}

// ---------------------------------------------------------------- GCS

const KIB256: usize = 256 * 1024;

#[tokio::test]
async fn gcs_resumable_session() {
    let emu = start_with(|c| c.storage = StorageMode::LocalGcs).await;
    let url = upload_url(&emu, PATH);
    let data = bytes(2 * KIB256 + 1000, 7);
    let total = data.len();
    let chunk = |start: usize, end: usize, total: &str| {
        emu.http
            .put(&url)
            .header("content-range", format!("bytes {start}-{end}/{total}"))
            .body(data[start..=end].to_vec())
    };
    let query = |total: &str| {
        emu.http
            .put(&url)
            .header("content-range", format!("bytes */{total}"))
            .header("content-length", "0")
    };

    // Nothing persisted yet: 308 without Range.
    let (status, h, _) = send(query("*")).await;
    assert_eq!(status, 308);
    assert!(h.get("range").is_none());

    let (status, h, _) = send(chunk(0, KIB256 - 1, "*")).await;
    assert_eq!(status, 308);
    assert_eq!(header(&h, "range"), format!("bytes=0-{}", KIB256 - 1));
    assert!(!header(&h, "x-guploader-uploadid").is_empty());
    assert_eq!(committed(&emu, PATH), None);

    // Status query, as a client resuming after a reload does.
    let (status, h, _) = send(query(&total.to_string())).await;
    assert_eq!(status, 308);
    assert_eq!(header(&h, "range"), format!("bytes=0-{}", KIB256 - 1));

    // A gap is refused, with the persisted range to resume from.
    let (status, h, body) = send(chunk(2 * KIB256, total - 1, &total.to_string())).await;
    assert_eq!(status, 400);
    assert_eq!(header(&h, "range"), format!("bytes=0-{}", KIB256 - 1));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], 400);
    assert_eq!(v["error"]["errors"][0]["reason"], "invalidRange");

    // A retry overlapping persisted bytes is accepted (the overlap skipped).
    let (status, h, _) = send(chunk(0, 2 * KIB256 - 1, &total.to_string())).await;
    assert_eq!(status, 308);
    assert_eq!(header(&h, "range"), format!("bytes=0-{}", 2 * KIB256 - 1));

    // A different total than declared before.
    let (status, _, _) = send(query(&(total + 1).to_string())).await;
    assert_eq!(status, 400);

    // The last chunk completes the object.
    let (status, _, body) = send(chunk(2 * KIB256, total - 1, &total.to_string())).await;
    assert_eq!(status, 200, "{body}");
    let obj: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(obj["size"], total.to_string());
    assert_eq!(obj["md5Hash"], md5_b64(&data));
    assert_eq!(obj["name"], PATH);
    assert_eq!(committed(&emu, PATH), Some(total as u64));
    assert_eq!(sha256(&read_back(&emu, PATH).await), sha256(&data));

    // Complete sessions answer queries with the object.
    let (status, _, body) = send(query(&total.to_string())).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"md5Hash\""), "{body}");
}

#[tokio::test]
async fn gcs_chunk_sizes_must_be_multiples_of_256_kib() {
    let emu = start_with(|c| c.storage = StorageMode::LocalGcs).await;
    let url = upload_url(&emu, PATH);
    let data = bytes(KIB256 + 10, 3);
    let (status, _, body) = send(
        emu.http
            .put(&url)
            .header("content-range", format!("bytes 0-{}/*", KIB256 + 4))
            .body(data[..KIB256 + 5].to_vec()),
    )
    .await;
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["errors"][0]["reason"], "invalidChunkSize");
    // Nothing was persisted.
    let (status, h, _) = send(
        emu.http
            .put(&url)
            .header("content-range", "bytes */*")
            .header("content-length", "0"),
    )
    .await;
    assert_eq!(status, 308);
    assert!(h.get("range").is_none());
    // Content-Length must match the range.
    let (status, _, _) = send(
        emu.http
            .put(&url)
            .header("content-range", format!("bytes 0-{}/*", KIB256 - 1))
            .body(data[..100].to_vec()),
    )
    .await;
    assert_eq!(status, 400);
    // A short last chunk is fine.
    let (status, _, _) = send(
        emu.http
            .put(&url)
            .header(
                "content-range",
                format!("bytes 0-{}/{}", data.len() - 1, data.len()),
            )
            .body(data.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(read_back(&emu, PATH).await, data);
}

#[tokio::test]
async fn gcs_whole_object_empty_object_and_errors() {
    let emu = start_with(|c| c.storage = StorageMode::LocalGcs).await;
    // A plain PUT (as `curl -T` sends it) uploads the whole object.
    let (status, _, body) = send(emu.http.put(upload_url(&emu, PATH)).body("a,b\n1,2\n")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(read_back(&emu, PATH).await, b"a,b\n1,2\n");

    let empty = "jobs/imp_01TEST/empty.csv";
    let (status, _, body) = send(
        emu.http
            .put(upload_url(&emu, empty))
            .header("content-range", "bytes */0")
            .header("content-length", "0"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(committed(&emu, empty), Some(0));

    let url = upload_url(&emu, "jobs/imp_01TEST/other.csv");
    let (status, _, body) = send(
        emu.http
            .put(url.replace("upload_id=", "upload_id=x"))
            .body("a"),
    )
    .await;
    assert_eq!(status, 403);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["errors"][0]["reason"], "SignatureDoesNotMatch");
    emu.clock.advance(Duration::hours(2));
    let (status, _, body) = send(emu.http.put(url).body("a")).await;
    assert_eq!(status, 403);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["errors"][0]["reason"], "ExpiredToken");
}

// ---------------------------------------------------------------- faults

async fn status_sequence(seed: u64, n: usize) -> Vec<u16> {
    let emu = start_with(|c| {
        c.faults = Some("storage:503=30%,500=20%".into());
        c.seed = seed;
    })
    .await;
    emu.server.state.storage.write_path(PATH, b"a,b\n").unwrap();
    let url = read_url(&emu, PATH);
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(emu.http.get(&url).send().await.unwrap().status().as_u16());
    }
    out
}

#[tokio::test]
async fn storage_faults_are_reproducible_with_a_seed() {
    let a = status_sequence(42, 40).await;
    let b = status_sequence(42, 40).await;
    assert_eq!(a, b);
    for s in [200, 500, 503] {
        assert!(a.contains(&s), "{s} never seen in {a:?}");
    }
    assert_ne!(a, status_sequence(43, 40).await);
}

#[tokio::test]
async fn an_injected_503_stores_nothing() {
    let emu = start_with(|c| c.faults = Some("storage:503=100%".into())).await;
    let (status, h, body) = send(
        emu.http
            .put(upload_url(&emu, PATH))
            .header("x-ms-blob-type", "BlockBlob")
            .body(bytes(100_000, 1)),
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(header(&h, "x-ms-error-code"), "ServerBusy");
    assert_eq!(header(&h, "retry-after"), "1");
    assert_eq!(xml_code(&body), "ServerBusy");
    assert_eq!(committed(&emu, PATH), None);
}

#[tokio::test]
async fn an_injected_reset_drops_the_connection() {
    let emu = start_with(|c| c.faults = Some("storage:reset=100%".into())).await;
    let r = emu
        .http
        .put(upload_url(&emu, PATH))
        .header("x-ms-blob-type", "BlockBlob")
        .body("a,b\n")
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the client must see a transport error");
    assert_eq!(committed(&emu, PATH), None);
}

#[tokio::test]
async fn injected_delays_and_api_faults() {
    let emu = start_with(|c| c.faults = Some("storage:delay=300ms@100%;api:500=100%".into())).await;
    emu.server.state.storage.write_path(PATH, b"x").unwrap();
    let started = std::time::Instant::now();
    let r = emu.http.get(read_url(&emu, PATH)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));

    let (status, body) = emu.get("/metadata/objects", "dev-write").await;
    assert_eq!(status, 500);
    assert_eq!(body["success"], false);
    assert_eq!(
        body["error"]["code"],
        "CDP_ETL.INTERNAL.UNHANDLED_EXCEPTION"
    );
    // Only the API is affected.
    assert_eq!(emu.healthz().await, 200);

    let emu = start_with(|c| c.faults = Some("api:503=100%".into())).await;
    let r = emu
        .http
        .get(emu.api("/metadata/objects"))
        .bearer_auth("dev-write")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(header(r.headers(), "retry-after"), "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "CDP_ETL.INTERNAL.UNAVAILABLE");

    let emu = start_with(|c| c.faults = Some("api:reset=100%".into())).await;
    let r = emu
        .http
        .get(emu.api("/metadata/objects"))
        .bearer_auth("dev-write")
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(
        failed,
        "an API reset must reach the client as a transport error"
    );
}

#[tokio::test]
async fn bad_fault_specs_stop_the_server_from_starting() {
    let (mut config, _clock, _dir) = common::test_config();
    config.faults = Some("storage:503=150%".into());
    let err = import_devserver::serve(config).await.unwrap_err();
    assert!(err.to_string().contains("outside 0-100%"), "{err}");
}

// ------------------------------------------------- read-back (extension)

/// Creates a job for `size` bytes with `token`; its create response `data`.
async fn create_job(emu: &Emu, token: &str, size: usize) -> serde_json::Value {
    let (s, b) = emu
        .post(
            "/import-jobs",
            token,
            &serde_json::json!({"objectName": "profiles", "fileName": "f.csv", "fileSize": size.max(1)}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b["data"].clone()
}

/// Uploads `data` to the job's URL in one request of the mode's protocol.
async fn put_whole(emu: &Emu, job: &serde_json::Value, data: &[u8]) {
    let mut rb = emu
        .http
        .put(job["uploadUrl"].as_str().unwrap())
        .header("content-length", data.len())
        .body(data.to_vec());
    for (k, v) in job["headers"].as_object().unwrap() {
        rb = rb.header(k.as_str(), v.as_str().unwrap());
    }
    if data.is_empty() && job["uploadUrl"].as_str().unwrap().contains("upload_id=") {
        rb = rb.header("content-range", "bytes */0");
    }
    let (status, _, body) = send(rb).await;
    assert!((200..300).contains(&status), "{status} {body}");
}

#[tokio::test]
async fn a_jobs_committed_upload_reads_back_byte_identical_in_every_mode() {
    for mode in [
        StorageMode::Local,
        StorageMode::LocalS3,
        StorageMode::LocalGcs,
    ] {
        let emu = start_with(|c| {
            c.storage = mode.clone();
            c.tokens.push(import_devserver::config::StaticToken {
                token: "other-read".into(),
                scopes: import_devserver::config::all_scopes(),
                workspace: "ws_other".into(),
            });
        })
        .await;
        // 3 MiB + 1: more than a dozen streamed chunks.
        for size in [0usize, 1, 3 * 1024 * 1024 + 1] {
            let data = bytes(size, 0x5a);
            let job = create_job(&emu, "dev-write", size).await;
            let id = job["jobId"].as_str().unwrap();

            // Nothing committed yet: 404 in the API's envelope.
            let (s, h, body) = job_upload(&emu, id, Some("dev-read")).await;
            assert_eq!(s, 404, "{mode:?}");
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["success"], false);
            assert_eq!(v["error"]["code"], "CDP_ETL.NOT_FOUND");
            assert_eq!(v["error"]["details"]["jobId"], id);
            assert!(!header(&h, "x-correlation-id").is_empty());

            put_whole(&emu, &job, &data).await;
            let (s, h, body) = job_upload(&emu, id, Some("dev-read")).await;
            assert_eq!(s, 200, "{mode:?} {size}");
            assert_eq!(header(&h, "content-length"), size.to_string());
            assert_eq!(header(&h, "content-type"), "application/octet-stream");
            assert_eq!(header(&h, "cache-control"), "no-store");
            assert_eq!(body.len(), size, "{mode:?}");
            assert_eq!(sha256(&body), sha256(&data), "{mode:?} {size} B");
            let r = emu
                .http
                .head(emu.api(&format!("/import-jobs/{id}/upload")))
                .bearer_auth("dev-read")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(header(r.headers(), "content-length"), size.to_string());

            // Authenticated like the API, and scoped to the workspace.
            assert_eq!(job_upload(&emu, id, None).await.0, 401);
            assert_eq!(job_upload(&emu, id, Some("nope")).await.0, 401);
            let (s, _, body) = job_upload(&emu, id, Some("other-read")).await;
            assert_eq!(s, 404);
            assert!(!String::from_utf8_lossy(&body).contains("landingPath"));
        }
        let (s, _, _) = job_upload(&emu, "imp_01NOSUCHJOB0000000000000000", Some("dev-read")).await;
        assert_eq!(s, 404);
        emu.server.stop().await;
    }
}

#[tokio::test]
async fn a_block_list_commit_reads_back_in_list_order() {
    let emu = start_with(|_| {}).await;
    let data = bytes(700_001, 7);
    let job = create_job(&emu, "dev-write", data.len()).await;
    let id = job["jobId"].as_str().unwrap();
    let url = job["uploadUrl"].as_str().unwrap();
    let chunks: Vec<&[u8]> = data.chunks(256 * 1024).collect();
    // Blocks sent last-first; the list puts them in order.
    for (i, c) in chunks.iter().enumerate().rev() {
        let (s, _, b) = send(
            emu.http
                .put(with(
                    url,
                    &format!("comp=block&blockid={}", block_id(i as u32)),
                ))
                .body(c.to_vec()),
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }
    // Uncommitted blocks are not an upload.
    assert_eq!(job_upload(&emu, id, Some("dev-read")).await.0, 404);
    let ids: Vec<(&str, String)> = (0..chunks.len())
        .map(|i| ("Latest", block_id(i as u32)))
        .collect();
    let (s, _, b) = send(
        emu.http
            .put(with(url, "comp=blocklist"))
            .body(block_list(&ids)),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, _, body) = job_upload(&emu, id, Some("dev-read")).await;
    assert_eq!(s, 200);
    assert_eq!(sha256(&body), sha256(&data));
    emu.server.stop().await;
}

// ------------------------------------- the job's fileSize bounds storage

/// Put Block of `data` under id `n` to `url`: (status, x-ms-error-code, body).
async fn put_block(emu: &Emu, url: &str, n: u32, data: &[u8]) -> (u16, String, String) {
    let (status, h, body) = send(
        emu.http
            .put(with(
                url,
                &format!("comp=block&blockid={}", urlencoding::encode(&block_id(n))),
            ))
            .body(data.to_vec()),
    )
    .await;
    (status, header(&h, "x-ms-error-code").to_string(), body)
}

/// Put Block List of `ids` (all `Latest`): (status, x-ms-error-code, body).
async fn put_list(emu: &Emu, url: &str, ids: impl Iterator<Item = u32>) -> (u16, String, String) {
    let entries: Vec<(&str, String)> = ids.map(|n| ("Latest", block_id(n))).collect();
    let (status, h, body) = send(
        emu.http
            .put(with(url, "comp=blocklist"))
            .body(block_list(&entries)),
    )
    .await;
    (status, header(&h, "x-ms-error-code").to_string(), body)
}

/// Files under the blob store's `tmp/` (bodies being received or assembled).
fn temp_files(emu: &Emu) -> usize {
    std::fs::read_dir(emu.dir.path().join("blobs/tmp"))
        .unwrap()
        .count()
}

#[tokio::test]
async fn one_block_listed_many_times_or_blocks_over_the_file_size_are_not_committed() {
    // One 100 MiB block listed 50,000 times would commit about 5 TB; the
    // same rule with 100-byte blocks and a 1,000-byte file.
    let emu = start_with(|_| {}).await;
    let job = create_job(&emu, "dev-write", 1000).await;
    let url = job["uploadUrl"].as_str().unwrap();
    let path = job["landingPath"].as_str().unwrap();
    for n in 0..11 {
        let (status, code, body) = put_block(&emu, url, n, &bytes(100, n as u8)).await;
        assert_eq!(status, 201, "{code} {body}");
    }

    // The same block 50,000 times: refused on its second entry.
    let t = std::time::Instant::now();
    let (status, code, body) = put_list(&emu, url, std::iter::repeat_n(0, 50_000)).await;
    assert_eq!((status, code.as_str()), (400, "InvalidBlockList"), "{body}");
    assert!(body.contains("listed twice (entries 1 and 2)"), "{body}");
    // Two distinct blocks, one repeated later.
    let (status, code, body) = put_list(&emu, url, [0, 1, 0].into_iter()).await;
    assert_eq!((status, code.as_str()), (400, "InvalidBlockList"), "{body}");
    assert!(body.contains("entries 1 and 3"), "{body}");
    // Eleven distinct blocks: 1,100 bytes for a 1,000-byte file.
    let (status, code, body) = put_list(&emu, url, 0..11).await;
    assert_eq!(
        (status, code.as_str()),
        (413, "RequestBodyTooLarge"),
        "{body}"
    );
    assert!(
        body.contains("at most 1000 bytes") && body.contains("fileSize"),
        "{body}"
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    // Nothing was written: no blob, no assembled file left behind.
    assert_eq!(committed(&emu, path), None);
    assert_eq!(temp_files(&emu), 0);

    // Ten of them are the file: committed.
    let (status, code, body) = put_list(&emu, url, 0..10).await;
    assert_eq!(status, 201, "{code} {body}");
    assert_eq!(committed(&emu, path), Some(1000));
}

#[tokio::test]
async fn a_blob_or_block_over_the_file_size_is_refused_from_its_headers() {
    let emu = start_with(|_| {}).await;
    let host = emu.server.addr;
    let job = create_job(&emu, "dev-write", 1000).await;
    let url = job["uploadUrl"].as_str().unwrap();
    let path = job["landingPath"].as_str().unwrap();

    let (status, h, body) = send(
        emu.http
            .put(url)
            .header("x-ms-blob-type", "BlockBlob")
            .body(bytes(1001, 1)),
    )
    .await;
    assert_eq!(
        (status, header(&h, "x-ms-error-code")),
        (413, "RequestBodyTooLarge"),
        "{body}"
    );
    assert!(
        body.contains("1001 bytes") && body.contains("at most 1000 bytes"),
        "{body}"
    );
    let (status, code, body) = put_block(&emu, url, 0, &bytes(1001, 1)).await;
    assert_eq!(
        (status, code.as_str()),
        (413, "RequestBodyTooLarge"),
        "{body}"
    );

    // Refused from Content-Length alone: a 100 MiB Put Blob is answered
    // without its body being sent.
    let req = format!(
        "PUT {} HTTP/1.1\r\nHost: {host}\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: {}\r\n\r\n",
        path_and_query(url),
        100u64 * 1024 * 1024
    );
    let resp = raw_http(&emu, req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    assert_eq!(committed(&emu, path), None);

    // The declared size itself is fine.
    let (status, _, body) = send(
        emu.http
            .put(url)
            .header("x-ms-blob-type", "BlockBlob")
            .body(bytes(1000, 1)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(committed(&emu, path), Some(1000));
}

#[tokio::test]
async fn staged_blocks_are_capped_at_twice_the_file_size() {
    let emu = start_with(|_| {}).await;
    let job = create_job(&emu, "dev-write", 1000).await;
    let url = job["uploadUrl"].as_str().unwrap();
    let path = job["landingPath"].as_str().unwrap();
    // A first attempt, abandoned, and a second under other ids: 2,000 bytes.
    for n in 0..20 {
        let (status, code, body) = put_block(&emu, url, n, &bytes(100, n as u8)).await;
        assert_eq!(status, 201, "block {n}: {code} {body}");
    }
    let (status, code, body) = put_block(&emu, url, 20, &bytes(1, 0)).await;
    assert_eq!(
        (status, code.as_str()),
        (413, "RequestBodyTooLarge"),
        "{body}"
    );
    assert!(
        body.contains("2001 bytes") && body.contains("at most 2000"),
        "{body}"
    );
    // Re-sending a block replaces it: still within the cap.
    let (status, code, body) = put_block(&emu, url, 3, &bytes(100, 33)).await;
    assert_eq!(status, 201, "{code} {body}");
    let (status, code, body) = put_block(&emu, url, 3, &bytes(101, 33)).await;
    assert_eq!(
        (status, code.as_str()),
        (413, "RequestBodyTooLarge"),
        "{body}"
    );
    // Committing discards the blocks left out, which frees the room.
    let (status, code, body) = put_list(&emu, url, 10..20).await;
    assert_eq!(status, 201, "{code} {body}");
    assert_eq!(committed(&emu, path), Some(1000));
    let (status, code, body) = put_block(&emu, url, 30, &bytes(1000, 3)).await;
    assert_eq!(status, 201, "{code} {body}");
}

#[tokio::test]
async fn s3_and_gcs_refuse_uploads_over_the_file_size() {
    let emu = start_with(|c| c.storage = StorageMode::LocalS3).await;
    let job = create_job(&emu, "dev-write", 1000).await;
    let url = job["uploadUrl"].as_str().unwrap();
    let path = job["landingPath"].as_str().unwrap();
    let (status, _, body) = send(emu.http.put(url).body(bytes(1001, 1))).await;
    assert_eq!((status, xml_code(&body)), (400, "EntityTooLarge"), "{body}");
    assert!(
        body.contains("1000 bytes") && body.contains("fileSize"),
        "{body}"
    );
    assert_eq!(committed(&emu, path), None);
    let (status, _, body) = send(emu.http.put(url).body(bytes(1000, 1))).await;
    assert_eq!(status, 200, "{body}");

    let emu = start_with(|c| c.storage = StorageMode::LocalGcs).await;
    let job = create_job(&emu, "dev-write", 1000).await;
    let url = job["uploadUrl"].as_str().unwrap();
    let path = job["landingPath"].as_str().unwrap();
    let reason = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    // The whole object at once, a total over the size, a chunk reaching
    // past it while the total is open, and a status query declaring more.
    for (range, data) in [
        (None, bytes(1001, 1)),
        (Some("bytes 0-262143/300000"), bytes(262_144, 1)),
        (Some("bytes 0-262143/*"), bytes(262_144, 1)),
        (Some("bytes */5000"), Vec::new()),
    ] {
        let mut rb = emu.http.put(url).body(data);
        if let Some(r) = range {
            rb = rb.header("content-range", r);
        }
        let (status, _, body) = send(rb).await;
        assert_eq!(
            (status, reason(&body).as_str()),
            (413, "entityTooLarge"),
            "{range:?}: {body}"
        );
        assert!(body.contains("at most 1000 bytes"), "{body}");
    }
    assert_eq!(committed(&emu, path), None);
    let (status, _, body) = send(
        emu.http
            .put(url)
            .header("content-range", "bytes 0-999/1000")
            .body(bytes(1000, 1)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(committed(&emu, path), Some(1000));
}

#[tokio::test]
async fn a_refused_request_is_answered_without_reading_a_large_body() {
    let emu = start_with(|_| {}).await;
    let host = emu.server.addr;
    let url = upload_url(&emu, PATH);
    let bad = url.replace("sig=", "sig=AAAA");
    // 100 MiB announced, 64 KiB sent: the refusal comes at once, and the
    // connection is closed rather than read to the end.
    let mut req = format!(
        "PUT {} HTTP/1.1\r\nHost: {host}\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: {}\r\n\r\n",
        path_and_query(&bad),
        100u64 * 1024 * 1024
    )
    .into_bytes();
    req.extend_from_slice(&bytes(64 * 1024, 7));
    let t = std::time::Instant::now();
    let resp = raw_http(&emu, &req).await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    assert!(resp.contains("AuthenticationFailed"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(3));

    // A small refused body is read to its end and the connection stays
    // open for the next request.
    let (status, h, _) = send(
        emu.http
            .put(&bad)
            .header("x-ms-blob-type", "BlockBlob")
            .body(bytes(1000, 1)),
    )
    .await;
    assert_eq!(status, 403);
    assert!(h.get("connection").is_none(), "{h:?}");
}
