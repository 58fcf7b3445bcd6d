//! The network of `cargo xtask bench upload --link=…`, besides the plain
//! loopback to Azurite (`local`):
//!
//! * [`Sink`] (`--link=sink`): a discard sink that speaks the Azure block
//!   protocol as a blob endpoint (`http://127.0.0.1:PORT/devstoreaccount1`).
//!   It answers CORS preflights as Azurite does with the emulator's rules,
//!   Put Block, Put Block List, Put Blob, Get Blob Properties (`HEAD`),
//!   Delete Blob, and the two start-up calls the emulator makes in its
//!   `--storage azurite=URL` mode (create the container, set the service's
//!   CORS rules). It throws every body away but counts its bytes: a block's
//!   length is kept per block id (a re-sent id replaces it, as in Azure), a
//!   Put Block List commits the sum of the listed blocks' lengths (an
//!   unknown id is refused as Azure refuses it), and `HEAD` answers the
//!   committed length, so the benchmark's read-back check sees exactly the
//!   bytes that arrived. It checks no signature and no checksum header
//!   (`Content-MD5`, `x-ms-content-crc64` are accepted unread): the sink
//!   measures the client, and hashing would measure the sink. A request
//!   carrying an `Authorization` header is refused (403): no API token may
//!   reach a storage host.
//! * [`Proxy`] (`--link=wan`): a TCP proxy in front of Azurite that models
//!   a long-distance link per connection: each byte, in both directions,
//!   is delivered half a round trip after it entered the link, and each
//!   direction of each connection carries at most `rate` bytes a second
//!   (the ceiling a TCP window puts on one connection: window ÷ round
//!   trip). A new connection costs one round trip before its first byte
//!   moves (the TCP handshake). Connections are independent, so parallel
//!   connections add up, as they do on a real WAN.
//!
//! Both run on a small tokio runtime of their own inside the xtask process
//! and stop when dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What a [`Sink`] or [`Proxy`] saw: evidence of how a method uses the
/// network (connections opened, CORS preflights, requests).
#[derive(Debug, Default)]
pub struct Stats {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// `OPTIONS` requests (CORS preflights); sink only.
    pub preflights: AtomicU64,
    /// Other requests; sink only.
    pub requests: AtomicU64,
}

impl Stats {
    /// `N connections, N preflights, N requests` (the proxy sees no
    /// requests, only connections).
    pub fn summary(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        if get(&self.requests) + get(&self.preflights) == 0 {
            format!("{} connections", get(&self.connections))
        } else {
            format!(
                "{} connections, {} CORS preflights, {} other requests",
                get(&self.connections),
                get(&self.preflights),
                get(&self.requests)
            )
        }
    }
}

/// The account every blob endpoint of the benchmark serves (Azurite's
/// development account: the emulator signs for it).
pub const ACCOUNT: &str = "devstoreaccount1";

/// Bytes read from a socket at a time.
const CHUNK: usize = 64 * 1024;

fn runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting a tokio runtime")
}

// ---------------------------------------------------------------------------
// The WAN proxy

/// The link a [`Proxy`] models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Round-trip time: each direction delays by half of it.
    pub rtt: Duration,
    /// Bytes per second per connection and direction; `None`: unlimited.
    pub rate: Option<f64>,
}

/// Accepts connections on `listener` for as long as `runtime` runs,
/// counting each in `stats` and handling each in its own task (one
/// errored connection ends itself only).
fn serve<F, Fut>(runtime: &Runtime, listener: TcpListener, stats: Arc<Stats>, handle: F)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    runtime.spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            stats.connections.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(handle(conn));
        }
    });
}

/// A TCP proxy to `upstream` that adds the [`Link`]'s delay and rate cap.
pub struct Proxy {
    runtime: Option<Runtime>,
    /// `127.0.0.1:PORT` it listens on.
    pub addr: SocketAddr,
    /// What it saw.
    pub stats: Arc<Stats>,
}

impl Proxy {
    /// Listens on an ephemeral loopback port and forwards every connection
    /// to `upstream` through the modelled link.
    pub fn start(upstream: SocketAddr, link: Link) -> Result<Proxy> {
        let runtime = runtime()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let stats: Arc<Stats> = Arc::default();
        serve(
            &runtime,
            listener,
            stats.clone(),
            move |client| async move {
                let _ = proxy_connection(client, upstream, link).await;
            },
        );
        Ok(Proxy {
            runtime: Some(runtime),
            addr,
            stats,
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn proxy_connection(client: TcpStream, upstream: SocketAddr, link: Link) -> Result<()> {
    client.set_nodelay(true)?;
    // The handshake's round trip.
    tokio::time::sleep(link.rtt).await;
    let server = TcpStream::connect(upstream).await?;
    server.set_nodelay(true)?;
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = tokio::spawn(pipe(cr, sw, link));
    let down = tokio::spawn(pipe(sr, cw, link));
    let _ = up.await;
    let _ = down.await;
    Ok(())
}

/// Moves bytes from `from` to `to` through one direction of the link: a
/// reader stamps each chunk with the moment it entered the link, a writer
/// delivers it once the link's rate has let it through and half the round
/// trip has passed. The queue between them holds about one
/// bandwidth-delay product, so a slow link pushes back on the sender as a
/// TCP window does.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: Link,
) {
    let one_way = link.rtt / 2;
    let capacity = match link.rate {
        Some(rate) => ((rate * one_way.as_secs_f64()) / CHUNK as f64).ceil() as usize + 8,
        None => 64,
    }
    .clamp(8, 4096);
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(capacity);
    let reader = tokio::spawn(async move {
        loop {
            let mut buf = vec![0u8; CHUNK];
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send((Instant::now(), buf)).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut link_free = Instant::now();
    while let Some((arrived, bytes)) = rx.recv().await {
        let deliver = schedule(&mut link_free, arrived, bytes.len(), link);
        if deliver > Instant::now() {
            tokio::time::sleep_until(deliver).await;
        }
        if to.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
    reader.abort();
}

/// When `len` bytes that entered the link at `arrived` come out of it: they
/// are sent once the link is free (`link_free`, moved past them at `rate`)
/// and arrive half a round trip later.
fn schedule(link_free: &mut Instant, arrived: Instant, len: usize, link: Link) -> Instant {
    let start = (*link_free).max(arrived);
    let sent = match link.rate {
        Some(rate) => start + Duration::from_secs_f64(len as f64 / rate),
        None => start,
    };
    *link_free = sent;
    sent + link.rtt / 2
}

// ---------------------------------------------------------------------------
// The discard sink

/// What the sink knows of one blob.
#[derive(Debug, Default)]
struct BlobState {
    /// Staged blocks: id → length.
    staged: HashMap<String, u64>,
    /// Length of the committed blob.
    committed: Option<u64>,
}

type Blobs = Arc<Mutex<HashMap<String, BlobState>>>;

/// A discard sink speaking the Azure block protocol (see the module's
/// documentation).
pub struct Sink {
    runtime: Option<Runtime>,
    /// `127.0.0.1:PORT` it listens on.
    pub addr: SocketAddr,
    /// What it saw.
    pub stats: Arc<Stats>,
}

impl Sink {
    /// Listens on an ephemeral loopback port.
    pub fn start() -> Result<Sink> {
        let runtime = runtime()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let blobs: Blobs = Arc::default();
        let stats: Arc<Stats> = Arc::default();
        let seen = stats.clone();
        serve(&runtime, listener, stats.clone(), move |conn| {
            let blobs = blobs.clone();
            let seen = seen.clone();
            async move {
                let _ = sink_connection(conn, blobs, seen).await;
            }
        });
        Ok(Sink {
            runtime: Some(runtime),
            addr,
            stats,
        })
    }

    /// The blob endpoint: `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn url(&self) -> String {
        format!("http://{}/{ACCOUNT}", self.addr)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The parts of a request head the sink looks at.
#[derive(Debug, Default)]
struct Head {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    content_length: Option<u64>,
    chunked: bool,
    origin: Option<String>,
    request_headers: Option<String>,
    blob_type: Option<String>,
    authorization: bool,
    close: bool,
}

impl Head {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A response of the sink: status, Azure error code, extra headers, body.
struct Answer {
    status: u16,
    error: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// A `HEAD`'s `Content-Length`: the blob's, sent with no body.
    head_length: Option<u64>,
}

impl Answer {
    fn ok(status: u16) -> Answer {
        Answer {
            status,
            error: None,
            headers: Vec::new(),
            body: String::new(),
            head_length: None,
        }
    }

    fn error(status: u16, code: &'static str, message: &str) -> Answer {
        Answer {
            status,
            error: Some(code),
            headers: Vec::new(),
            head_length: None,
            body: format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            ),
        }
    }
}

/// Serves one keep-alive connection.
async fn sink_connection(mut conn: TcpStream, blobs: Blobs, stats: Arc<Stats>) -> Result<()> {
    conn.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        // Read until a whole head is in `buf`.
        let (head, head_len) = loop {
            if let Some(parsed) = parse_head(&buf)? {
                break parsed;
            }
            if buf.len() > 64 * 1024 {
                anyhow::bail!("request head over 64 KiB");
            }
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        buf.drain(..head_len);
        if head.method == "OPTIONS" {
            stats.preflights.fetch_add(1, Ordering::Relaxed);
        } else {
            stats.requests.fetch_add(1, Ordering::Relaxed);
        }
        let answer = if head.authorization {
            // Nothing but the signature authorises a storage request.
            drain_body(&mut conn, &mut buf, &mut chunk, &head, false).await?;
            Answer::error(
                403,
                "AuthenticationFailed",
                "a storage request must not carry an Authorization header",
            )
        } else if head.method == "PUT" && (head.chunked || head.content_length.is_none()) {
            // Azure needs the length up front; the connection cannot be
            // reused after a body of unknown length.
            let a = Answer::error(
                411,
                "MissingContentLengthHeader",
                "Content-Length is required",
            );
            write_answer(&mut conn, &head, a, true).await?;
            return Ok(());
        } else {
            let keep_xml = head.method == "PUT" && head.param("comp") == Some("blocklist");
            let (len, body) = drain_body(&mut conn, &mut buf, &mut chunk, &head, keep_xml).await?;
            answer(&head, len, &body, &blobs)
        };
        write_answer(&mut conn, &head, answer, head.close).await?;
        if head.close {
            return Ok(());
        }
    }
}

/// Parses a request head from the start of `buf`: `None` until it is
/// complete.
fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf).context("malformed request head")? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut head = Head {
        method: req.method.unwrap_or("").to_string(),
        path: path.to_string(),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        close: req.version == Some(0),
        ..Head::default()
    };
    for h in req.headers.iter() {
        let value = String::from_utf8_lossy(h.value).trim().to_string();
        match h.name.to_ascii_lowercase().as_str() {
            "content-length" => {
                head.content_length = Some(value.parse().context("bad Content-Length")?)
            }
            "transfer-encoding" => head.chunked = value.to_ascii_lowercase().contains("chunked"),
            "origin" => head.origin = Some(value),
            "access-control-request-headers" => head.request_headers = Some(value),
            "x-ms-blob-type" => head.blob_type = Some(value),
            "authorization" => head.authorization = true,
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    head.close = true;
                } else if v.contains("keep-alive") {
                    head.close = false;
                }
            }
            _ => {}
        }
    }
    Ok(Some((head, len)))
}

/// Reads the request's body (its `Content-Length`), part of which may
/// already be in `buf`, counting and discarding it; with `keep`, the bytes
/// are returned (a block list's XML). Leaves any following request in
/// `buf`.
async fn drain_body(
    conn: &mut TcpStream,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
    head: &Head,
    keep: bool,
) -> Result<(u64, Vec<u8>)> {
    let total = head.content_length.unwrap_or(0);
    let mut kept = Vec::new();
    let from_buf = (buf.len() as u64).min(total) as usize;
    if keep {
        kept.extend_from_slice(&buf[..from_buf]);
    }
    buf.drain(..from_buf);
    let mut left = total - from_buf as u64;
    while left > 0 {
        let want = (left as usize).min(chunk.len());
        let n = conn.read(&mut chunk[..want]).await?;
        if n == 0 {
            anyhow::bail!("the connection closed mid-body");
        }
        if keep && kept.len() < 4 * 1024 * 1024 {
            kept.extend_from_slice(&chunk[..n]);
        }
        left -= n as u64;
    }
    Ok((total, kept))
}

/// The protocol: what a request does to the blobs and what it answers.
fn answer(head: &Head, len: u64, body: &[u8], blobs: &Blobs) -> Answer {
    let method = head.method.as_str();
    if method == "OPTIONS" {
        // A CORS preflight, answered as Azurite answers it under the
        // emulator's rules (every origin, header and these methods, cached
        // 600 s).
        let mut a = Answer::ok(200);
        a.headers.push((
            "access-control-allow-methods",
            "PUT,GET,HEAD,OPTIONS".into(),
        ));
        if let Some(h) = &head.request_headers {
            a.headers.push(("access-control-allow-headers", h.clone()));
        }
        a.headers.push(("access-control-max-age", "600".into()));
        return a;
    }
    // `/devstoreaccount1/container[/blob…]`.
    let mut segments = head.path.trim_start_matches('/').splitn(3, '/');
    let (account, container, blob) = (segments.next(), segments.next(), segments.next());
    if account != Some(ACCOUNT) {
        return Answer::error(400, "InvalidUri", "unknown account");
    }
    let restype = head.param("restype");
    match (method, container, blob, restype) {
        ("PUT", _, None, Some("service")) => return Answer::ok(202),
        ("PUT", Some(c), None, Some("container")) if !c.is_empty() => return Answer::ok(201),
        _ => {}
    }
    let Some(blob) = blob.filter(|b| !b.is_empty()) else {
        return Answer::error(400, "InvalidUri", "not a blob path");
    };
    let key = format!("{}/{blob}", container.unwrap_or(""));
    let mut blobs = blobs.lock().expect("the sink's blob map");
    match (method, head.param("comp")) {
        ("PUT", Some("block")) => {
            let Some(id) = head.param("blockid").filter(|id| !id.is_empty()) else {
                return Answer::error(400, "InvalidQueryParameterValue", "blockid is missing");
            };
            blobs.entry(key).or_default().staged.insert(decode(id), len);
            Answer::ok(201)
        }
        ("PUT", Some("blocklist")) => {
            let ids = match block_list_ids(body) {
                Ok(ids) => ids,
                Err(e) => return Answer::error(400, "InvalidXmlDocument", &e),
            };
            let state = blobs.entry(key).or_default();
            let mut total = 0u64;
            for id in &ids {
                match state.staged.get(id) {
                    Some(n) => total += n,
                    None => {
                        return Answer::error(
                            400,
                            "InvalidBlockList",
                            "the list names a block that was not staged",
                        )
                    }
                }
            }
            state.staged.clear();
            state.committed = Some(total);
            Answer::ok(201)
        }
        ("PUT", None) => {
            if head.blob_type.as_deref() != Some("BlockBlob") {
                return Answer::error(
                    400,
                    "MissingRequiredHeader",
                    "Put Blob needs x-ms-blob-type: BlockBlob",
                );
            }
            let state = blobs.entry(key).or_default();
            state.staged.clear();
            state.committed = Some(len);
            Answer::ok(201)
        }
        ("HEAD", None) => match blobs.get(&key).and_then(|s| s.committed) {
            Some(n) => {
                let mut a = Answer::ok(200);
                a.headers.push(("x-ms-blob-type", "BlockBlob".into()));
                a.head_length = Some(n);
                a
            }
            None => Answer::error(404, "BlobNotFound", "no committed blob"),
        },
        ("DELETE", None) => {
            blobs.remove(&key);
            Answer::ok(202)
        }
        ("GET", _) => Answer::error(
            501,
            "NotImplemented",
            "the discard sink keeps no bytes to read",
        ),
        _ => Answer::error(400, "UnsupportedHttpVerb", "not part of the block protocol"),
    }
}

/// Percent-decodes a query value (block ids are base64, `+/=` escaped).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The block ids of a Put Block List body, in order (`<Latest>`,
/// `<Committed>`, `<Uncommitted>`: the sink keeps only staged blocks, so
/// all three name one).
fn block_list_ids(xml: &[u8]) -> std::result::Result<Vec<String>, String> {
    let xml = std::str::from_utf8(xml).map_err(|_| "the block list is not UTF-8".to_string())?;
    if !xml.contains("<BlockList>") {
        return Err("the body is not a <BlockList>".into());
    }
    let mut ids = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('>') else { break };
        let tag = &rest[..close];
        rest = &rest[close + 1..];
        if matches!(tag, "Latest" | "Committed" | "Uncommitted") {
            let end = format!("</{tag}>");
            let Some(stop) = rest.find(&end) else {
                return Err(format!("<{tag}> is not closed"));
            };
            ids.push(rest[..stop].trim().to_string());
            rest = &rest[stop + end.len()..];
        }
    }
    Ok(ids)
}

async fn write_answer(conn: &mut TcpStream, head: &Head, a: Answer, close: bool) -> Result<()> {
    let reason = match a.status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        411 => "Length Required",
        _ => "Not Implemented",
    };
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", a.status);
    let length = a.head_length.unwrap_or(a.body.len() as u64);
    out.push_str(&format!("content-length: {length}\r\n"));
    if !a.body.is_empty() {
        out.push_str("content-type: application/xml\r\n");
    }
    if let Some(code) = a.error {
        out.push_str(&format!("x-ms-error-code: {code}\r\n"));
    }
    if let Some(origin) = &head.origin {
        out.push_str(&format!(
            "access-control-allow-origin: {origin}\r\nvary: Origin\r\naccess-control-expose-headers: *\r\n"
        ));
    }
    for (k, v) in &a.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("x-ms-version: 2022-11-02\r\n");
    if close {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    if head.method != "HEAD" {
        out.push_str(&a.body);
    }
    conn.write_all(out.as_bytes()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A loopback server that, per connection, reads `expect` bytes, then
    /// writes `reply` bytes back and closes.
    fn server(expect: usize, reply: usize) -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let mut c = conn.unwrap();
                std::thread::spawn(move || {
                    let mut got = vec![0u8; expect];
                    c.read_exact(&mut got).unwrap();
                    let sum: u64 = got.iter().map(|&b| b as u64).sum();
                    let mut out = sum.to_le_bytes().to_vec();
                    out.resize(reply.max(8), 7);
                    c.write_all(&out).unwrap();
                });
            }
        });
        addr
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Sends `n` bytes through a proxy and reads `reply` bytes back;
    /// returns the seconds it took and the echoed byte sum.
    fn round_trip(link: Link, n: usize, reply: usize) -> (f64, u64, Vec<u8>) {
        let proxy = Proxy::start(server(n, reply), link).unwrap();
        let data = payload(n);
        let t0 = std::time::Instant::now();
        let mut c = std::net::TcpStream::connect(proxy.addr).unwrap();
        c.write_all(&data).unwrap();
        let mut back = vec![0u8; reply.max(8)];
        c.read_exact(&mut back).unwrap();
        let secs = t0.elapsed().as_secs_f64();
        let sum = u64::from_le_bytes(back[..8].try_into().unwrap());
        (secs, sum, back)
    }

    #[test]
    fn proxy_forwards_every_byte_and_adds_the_round_trips() {
        let rtt = Duration::from_millis(120);
        let link = Link { rtt, rate: None };
        let (secs, sum, back) = round_trip(link, 300_000, 200_000);
        assert_eq!(sum, payload(300_000).iter().map(|&b| b as u64).sum::<u64>());
        assert_eq!(back.len(), 200_000);
        assert!(
            back[8..].iter().all(|&b| b == 7),
            "the reply arrived intact"
        );
        // The handshake's round trip, then the bytes out and back.
        assert!(
            secs >= 2.0 * rtt.as_secs_f64(),
            "{secs:.3} s is less than two round trips of {rtt:?}"
        );
    }

    #[test]
    fn proxy_caps_each_direction_at_the_rate() {
        let rate = 4.0 * 1024.0 * 1024.0;
        let link = Link {
            rtt: Duration::ZERO,
            rate: Some(rate),
        };
        // 1 MiB up: at least a quarter of a second at 4 MiB/s.
        let (secs, _, _) = round_trip(link, 1024 * 1024, 8);
        assert!(secs >= 0.25, "1 MiB up took {secs:.3} s at 4 MiB/s");
        // 1 MiB down, likewise.
        let (secs, _, back) = round_trip(link, 8, 1024 * 1024);
        assert_eq!(back.len(), 1024 * 1024);
        assert!(secs >= 0.25, "1 MiB down took {secs:.3} s at 4 MiB/s");
    }

    #[test]
    fn schedule_serialises_at_the_rate_then_delays() {
        let link = Link {
            rtt: Duration::from_millis(40),
            rate: Some(1_000_000.0),
        };
        let t0 = Instant::now();
        let mut free = t0;
        // Two 100 kB chunks arriving together: the second waits for the
        // first to leave.
        let a = schedule(&mut free, t0, 100_000, link);
        let b = schedule(&mut free, t0, 100_000, link);
        assert_eq!(a - t0, Duration::from_millis(120));
        assert_eq!(b - t0, Duration::from_millis(220));
        // A chunk arriving after the link went idle starts at its arrival.
        let late = t0 + Duration::from_secs(1);
        let c = schedule(&mut free, late, 1000, link);
        assert_eq!(c - late, Duration::from_millis(21));
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        )
    }

    #[test]
    fn sink_counts_blocks_and_commits_the_listed_ones() {
        let sink = Sink::start().unwrap();
        let blob = format!("{}/imports/jobs/imp_1/file?sv=x&sig=y", sink.url());
        let a = agent();
        // Two blocks, one re-sent with another length (last write wins),
        // and a block never listed.
        for (id, len) in [
            ("AAAA", 1000usize),
            ("AAAB", 500),
            ("AAAA", 700),
            ("AAAC", 9),
        ] {
            let r = a
                .put(&format!("{blob}&comp=block&blockid={}", id))
                .header("content-md5", "not checked")
                .send(&payload(len)[..])
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
        }
        let head = |a: &ureq::Agent| {
            let r = a.head(&blob).call().unwrap();
            (
                r.status().as_u16(),
                r.headers()
                    .get("content-length")
                    .map(|v| v.to_str().unwrap().to_string()),
            )
        };
        assert_eq!(head(&a).0, 404, "nothing committed yet");
        let list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>AAAA</Latest><Latest>AAAB</Latest></BlockList>";
        let r = a.put(&format!("{blob}&comp=blocklist")).send(list).unwrap();
        assert_eq!(r.status().as_u16(), 201);
        assert_eq!(head(&a), (200, Some("1200".to_string())));
        // A list naming a block that was not staged is refused, and the
        // committed blob stays.
        let r = a
            .put(&format!("{blob}&comp=blocklist"))
            .send("<BlockList><Latest>ZZZZ</Latest></BlockList>")
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(
            r.headers().get("x-ms-error-code").unwrap(),
            "InvalidBlockList"
        );
        assert_eq!(head(&a), (200, Some("1200".to_string())));
        // Put Blob replaces it; without its blob type it is refused.
        let r = a.put(&blob).send(&payload(3000)[..]).unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let r = a
            .put(&blob)
            .header("x-ms-blob-type", "BlockBlob")
            .send(&payload(3000)[..])
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        assert_eq!(head(&a), (200, Some("3000".to_string())));
        // Percent-encoded ids are the same ids.
        a.put(&format!("{blob}&comp=block&blockid=QQ%3D%3D"))
            .send(&payload(5)[..])
            .unwrap();
        let r = a
            .put(&format!("{blob}&comp=blocklist"))
            .send("<BlockList><Uncommitted>QQ==</Uncommitted></BlockList>")
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        assert_eq!(head(&a), (200, Some("5".to_string())));
    }

    #[test]
    fn sink_answers_preflights_and_refuses_tokens() {
        let sink = Sink::start().unwrap();
        let blob = format!("{}/imports/b?sig=y", sink.url());
        let a = agent();
        let r = a
            .options(&format!("{blob}&comp=block&blockid=AA"))
            .header("origin", "http://127.0.0.1:1234")
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "content-md5,x-ms-blob-type",
            )
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            h("access-control-allow-origin").as_deref(),
            Some("http://127.0.0.1:1234")
        );
        assert_eq!(
            h("access-control-allow-headers").as_deref(),
            Some("content-md5,x-ms-blob-type")
        );
        assert!(h("access-control-allow-methods").unwrap().contains("PUT"));
        let r = a
            .put(&blob)
            .header("x-ms-blob-type", "BlockBlob")
            .header("authorization", "Bearer dev-write")
            .send(&payload(10)[..])
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
        let r = a.head(&blob).call().unwrap();
        assert_eq!(
            r.status().as_u16(),
            404,
            "the refused upload committed nothing"
        );
    }

    #[test]
    fn sink_refuses_a_body_without_length_and_stays_up() {
        let sink = Sink::start().unwrap();
        let mut c = std::net::TcpStream::connect(sink.addr).unwrap();
        c.write_all(
            b"PUT /devstoreaccount1/imports/b HTTP/1.1\r\nhost: x\r\nx-ms-blob-type: BlockBlob\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        )
        .unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert!(got.starts_with("HTTP/1.1 411"), "{got}");
        assert!(got.contains("MissingContentLengthHeader"), "{got}");
        // The sink still answers.
        let r = agent()
            .put(&format!("{}/imports/b", sink.url()))
            .header("x-ms-blob-type", "BlockBlob")
            .send(&payload(4)[..])
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
}
