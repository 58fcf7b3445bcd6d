//! Reading the bad-input corpus (`tests/corpus/`, described in its
//! README): the cases of a family, their bodies (data files or generator
//! descriptions), placeholders, a raw HTTP/1.1 client that sends requests
//! exactly as written (no path normalisation, any method, any headers),
//! and what a case expects of an answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One case: `tests/corpus/<family>/<name>.json`.
pub struct Case {
    /// `<family>/<name>`.
    pub id: String,
    /// The folder of the case (data files are looked up there).
    pub dir: PathBuf,
    /// The parsed case file.
    pub spec: Value,
}

/// The corpus folder.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("corpus")
}

/// Every case of `family`, sorted by name. Panics when the folder holds
/// none (a runner that finds zero cases fails).
pub fn cases(family: &str) -> Vec<Case> {
    let dir = corpus_dir().join(family);
    let mut out: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus folder {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let spec: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display()));
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                spec["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{}: a case needs a `description`",
                p.display()
            );
            Case {
                id: format!("{family}/{name}"),
                dir: dir.clone(),
                spec,
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    assert!(
        !out.is_empty(),
        "the corpus family `{family}` has no case in {}",
        dir.display()
    );
    out
}

/// Runs every case with `run`, one after another; prints `ok - id` or
/// `not ok - id: why` per case and panics listing every failure.
pub async fn run_all<F, Fut>(family: &str, mut run: F) -> usize
where
    F: FnMut(Case) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let cases = cases(family);
    let n = cases.len();
    let mut failures = Vec::new();
    for case in cases {
        let id = case.id.clone();
        let outcome = tokio::time::timeout(Duration::from_secs(120), run(case))
            .await
            .unwrap_or_else(|_| Err("no outcome within 120 s (a hang)".into()));
        match outcome {
            Ok(()) => println!("ok - {id}"),
            Err(why) => {
                println!("not ok - {id}: {why}");
                failures.push(format!("{id}: {why}"));
            }
        }
    }
    println!(
        "corpus {family}: {} of {n} cases handled",
        n - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {n} `{family}` cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    n
}

/// Fails unless `code` is documented where its family's codes are: the
/// API's and the emulator's in `core/src/codes.rs` (`"CODE"`), row codes in
/// `core/src/validate/mod.rs`, storage codes in the emulator's README
/// (`` `Code` ``).
pub fn check_documented(code: &str, family: &str) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (file, needle) = match family {
        "api" => ("core/src/codes.rs", format!("\"{code}\"")),
        "csv" => ("core/src/validate/mod.rs", format!("\"{code}\"")),
        "storage" => ("devserver/README.md", format!("`{code}`")),
        other => return Err(format!("no documentation known for the family `{other}`")),
    };
    let text = std::fs::read_to_string(root.join(file)).map_err(|e| format!("{file}: {e}"))?;
    if text.contains(&needle) {
        Ok(())
    } else {
        Err(format!(
            "the expected code `{code}` is not documented in {file}"
        ))
    }
}

/// Placeholders: `{name}` in strings of a case is replaced by `vars[name]`.
pub type Vars = BTreeMap<String, String>;

/// `text` with every `{name}` of `vars` replaced.
pub fn fill(text: &str, vars: &Vars) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// The bytes a body description stands for (see the corpus README):
/// a string (UTF-8 text), an array (the parts one after another), or an
/// object with one of `text`, `file`, `base64`, `hex`, `utf16le`, `json`,
/// or `repeat` with `times`.
pub fn body(dir: &Path, spec: &Value, vars: &Vars) -> Result<Vec<u8>, String> {
    Ok(match spec {
        Value::Null => Vec::new(),
        Value::String(s) => fill(s, vars).into_bytes(),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(body(dir, p, vars)?);
            }
            out
        }
        Value::Object(o) => {
            if let Some(t) = o.get("text").and_then(Value::as_str) {
                fill(t, vars).into_bytes()
            } else if let Some(f) = o.get("file").and_then(Value::as_str) {
                if f.contains('/') || f.contains('\\') || f.starts_with('.') {
                    return Err(format!(
                        "data file `{f}` must be a plain name next to the case"
                    ));
                }
                std::fs::read(dir.join(f)).map_err(|e| format!("data file `{f}`: {e}"))?
            } else if let Some(b) = o.get("base64").and_then(Value::as_str) {
                B64.decode(b).map_err(|e| format!("base64: {e}"))?
            } else if let Some(h) = o.get("hex").and_then(Value::as_str) {
                let h: String = h.split_whitespace().collect();
                (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&h[i..i + 2], 16))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("hex: {e}"))?
            } else if let Some(t) = o.get("utf16le").and_then(Value::as_str) {
                fill(t, vars)
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect()
            } else if let Some(j) = o.get("json") {
                serde_json::to_vec(j).unwrap()
            } else if let Some(r) = o.get("repeat") {
                let times = o
                    .get("times")
                    .and_then(Value::as_u64)
                    .ok_or("`repeat` needs `times`")?;
                let unit = body(dir, r, vars)?;
                unit.repeat(times as usize)
            } else {
                return Err(format!("unknown body description {spec}"));
            }
        }
        other => return Err(format!("unknown body description {other}")),
    })
}

/// An answer read off the wire.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `(code, message)` of an error answer in any of the styles the
    /// emulator speaks: the API's envelope (`error.code`), GCS's JSON
    /// (`error.errors[0].reason`), Azure's and S3's XML (`<Code>`; Azure's
    /// `x-ms-error-code` must agree).
    pub fn error(&self) -> Result<(String, String), String> {
        let text = self.text();
        if let Ok(v) = serde_json::from_slice::<Value>(&self.body) {
            let e = &v["error"];
            if let Some(c) = e["code"].as_str() {
                if v["success"] != Value::Bool(false) {
                    return Err(format!("an error envelope without success: false: {text}"));
                }
                return Ok((c.to_string(), e["message"].as_str().unwrap_or("").into()));
            }
            if let Some(c) = e["errors"][0]["reason"].as_str() {
                return Ok((c.to_string(), e["message"].as_str().unwrap_or("").into()));
            }
            return Err(format!("a JSON answer without an error code: {text}"));
        }
        let between = |open: &str, close: &str| {
            text.split(open)
                .nth(1)
                .and_then(|s| s.split(close).next())
                .map(str::to_string)
        };
        if let Some(code) = between("<Code>", "</Code>") {
            if let Some(h) = self.header("x-ms-error-code") {
                if h != code {
                    return Err(format!("x-ms-error-code {h} but <Code>{code}</Code>"));
                }
            }
            return Ok((code, between("<Message>", "</Message>").unwrap_or_default()));
        }
        Err(format!(
            "an answer without an error code: {}",
            text.chars().take(300).collect::<String>()
        ))
    }
}

/// Sends one request over a fresh TCP connection to `addr`, exactly as
/// given: `target` is the request target (path and query, unnormalised),
/// `headers` in order (a `Host` is added unless given; `Content-Length`
/// too unless `chunked` or given), then reads the answer until the server
/// closes (`Connection: close`).
pub async fn send_raw(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
    chunked: bool,
) -> Result<Answer, String> {
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !has("host") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    head.push_str("Connection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    } else if !has("content-length") && (!body.is_empty() || method != "GET") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut wire = head.into_bytes();
    if chunked {
        for piece in body.chunks(64 * 1024) {
            wire.extend(format!("{:x}\r\n", piece.len()).into_bytes());
            wire.extend_from_slice(piece);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
    } else {
        wire.extend_from_slice(body);
    }
    // Write and read at once: a server may answer (and close) before it
    // has read the whole body; write errors after that are expected.
    let (mut rd, mut wr) = s.split();
    let write = async {
        let _ = wr.write_all(&wire).await;
        let _ = wr.flush().await;
    };
    let read = async {
        let mut out = Vec::new();
        let r = rd.read_to_end(&mut out).await;
        (out, r)
    };
    let ((), (out, r)) = tokio::join!(write, read);
    if out.is_empty() {
        return Err(format!("no answer (connection closed: {r:?})"));
    }
    parse_answer(&out)
}

fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("an answer without a blank line after its headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let is_chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if is_chunked {
        body = dechunk(&body)?;
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunked answer cut short")?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .map_err(|e| format!("chunk size `{size_text}`: {e}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err("a chunk cut short".into());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// A request of a case: `method` (default GET), `target` (with
/// placeholders), `headers` (an object; placeholders in values), `body`
/// (a body description), `chunked` (send the body chunked, without a
/// Content-Length).
pub async fn send_case_request(
    addr: std::net::SocketAddr,
    dir: &Path,
    req: &Value,
    vars: &Vars,
) -> Result<Answer, String> {
    let method = req["method"].as_str().unwrap_or("GET");
    let target = fill(
        req["target"].as_str().ok_or("a request needs a `target`")?,
        vars,
    );
    let mut headers = Vec::new();
    if let Some(h) = req["headers"].as_object() {
        for (k, v) in h {
            let v = v.as_str().ok_or(format!("header `{k}` must be a string"))?;
            headers.push((k.clone(), fill(v, vars)));
        }
    }
    let body = body(dir, &req["body"], vars)?;
    let chunked = req["chunked"].as_bool().unwrap_or(false);
    send_raw(addr, method, &target, &headers, &body, chunked).await
}

/// Checks an answer against a case's `expect`: `status`, `code`,
/// `message` (a fragment, case-insensitive), `details` (every key given
/// must be equal), `headers` (each given header's value). A refusal must
/// carry a code and a message.
pub fn check_answer(a: &Answer, expect: &Value) -> Result<(), String> {
    let want = expect["status"]
        .as_u64()
        .ok_or("`expect` needs a `status`")?;
    let text: String = a.text().chars().take(400).collect();
    if u64::from(a.status) != want {
        return Err(format!("status {} (expected {want}): {text}", a.status));
    }
    if let Some(h) = expect["headers"].as_object() {
        for (k, v) in h {
            let got = a.header(&k.to_ascii_lowercase());
            if got != v.as_str() {
                return Err(format!("header {k}: {got:?} (expected {v})"));
            }
        }
    }
    if a.status < 400 {
        return Ok(());
    }
    let (code, message) = a.error()?;
    if let Some(c) = expect["code"].as_str() {
        if code != c {
            return Err(format!("code {code} (expected {c}): {text}"));
        }
    } else {
        return Err(format!("a refusal case must name its `code` (got {code})"));
    }
    if message.trim().is_empty() {
        return Err(format!("a refusal without a message: {text}"));
    }
    if let Some(m) = expect["message"].as_str() {
        if !message.to_lowercase().contains(&m.to_lowercase()) {
            return Err(format!("message `{message}` lacks `{m}`"));
        }
    }
    if let Some(d) = expect["details"].as_object() {
        let body: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
        for (k, v) in d {
            let got = &body["error"]["details"][k];
            if got != v {
                return Err(format!("details.{k} = {got} (expected {v})"));
            }
        }
    }
    Ok(())
}

/// Every table of a SQLite file, dumped as sorted rows (empty when the
/// file does not exist yet).
pub fn dump_db(path: &Path) -> Vec<String> {
    if !path.exists() {
        return Vec::new();
    }
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut row = Vec::with_capacity(n);
                for i in 0..n {
                    row.push(format!("{:?}", r.get::<_, rusqlite::types::Value>(i)?));
                }
                Ok(format!("{t}: {}", row.join(" | ")))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.push(format!("table {t}: {} rows", rows.len()));
        out.extend(rows);
    }
    out
}

/// Every file under `dir` with its size and a digest of its bytes.
pub fn dump_files(dir: &Path) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.push(format!(
                    "{} {} {:x}",
                    p.strip_prefix(dir).unwrap().display(),
                    bytes.len(),
                    Sha256::digest(&bytes)
                ));
            }
        }
    }
    out.sort();
    out
}

/// The first line that differs between two dumps, for a message.
pub fn first_difference(before: &[String], after: &[String]) -> String {
    for i in 0..before.len().max(after.len()) {
        let (b, a) = (before.get(i), after.get(i));
        if b != a {
            let cut = |s: Option<&String>| {
                s.map(|s| s.chars().take(200).collect::<String>())
                    .unwrap_or_else(|| "<nothing>".into())
            };
            return format!("before: {}; after: {}", cut(b), cut(a));
        }
    }
    String::new()
}
