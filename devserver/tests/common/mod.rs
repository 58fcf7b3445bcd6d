//! Shared helpers of the emulator's integration tests: each test starts its
//! own emulator on an ephemeral port with a fresh data directory and talks
//! to it over real HTTP.
#![allow(dead_code)]

pub mod corpus;

use std::sync::Arc;

use import_devserver::clock::OffsetClock;
use import_devserver::config::{all_scopes, StaticToken};
use import_devserver::{processor, Config, Server};
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

/// A running emulator plus what a test needs to talk to it.
pub struct Emu {
    pub server: Server,
    pub url: String,
    pub http: reqwest::Client,
    pub clock: Arc<OffsetClock>,
    pub dir: tempfile::TempDir,
}

/// A config on port 0 with a fresh data dir and a controllable clock.
pub fn test_config() -> (Config, Arc<OffsetClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(OffsetClock::default());
    let mut config = Config::new(dir.path());
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.clock = clock.clone();
    (config, clock, dir)
}

/// Starts an emulator with the default test config, adjusted by `f`.
pub async fn start_with(f: impl FnOnce(&mut Config)) -> Emu {
    let (mut config, clock, dir) = test_config();
    f(&mut config);
    let server = import_devserver::serve(config).await.unwrap();
    let url = server.url.clone();
    Emu {
        server,
        url,
        http: reqwest::Client::new(),
        clock,
        dir,
    }
}

/// Starts an emulator with the default test config.
pub async fn start() -> Emu {
    start_with(|_| {}).await
}

/// [`start_with`], then the processor running (for tests that run whole
/// jobs).
pub async fn start_processing_with(f: impl FnOnce(&mut Config)) -> Emu {
    let emu = start_with(f).await;
    processor::spawn(&emu.server.state).unwrap();
    emu
}

/// A write token of another workspace (`ws_other`) with every scope; a
/// config has it after [`add_other_workspace`].
pub const OTHER: &str = "other-write";

/// Adds the [`OTHER`] token to a config.
pub fn add_other_workspace(c: &mut Config) {
    c.tokens.push(StaticToken {
        token: OTHER.into(),
        scopes: all_scopes(),
        workspace: "ws_other".into(),
    });
}

/// The `error.code` of an error envelope, or `<none>` when the body has none
/// (never equal to a code a test expects).
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

impl Emu {
    /// `{url}/public/v1{path}`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/public/v1{}", self.url, path)
    }

    /// The status of `GET /healthz`.
    pub async fn healthz(&self) -> u16 {
        let r = self
            .http
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }

    /// GET an API path with a bearer token; returns (status, body JSON).
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.api(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POST JSON to an API path with a bearer token; returns (status, body JSON).
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.api(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

// Whole import jobs over HTTP, as a client runs them.

/// Creates a job for `object`, uploads `csv` with one Put Blob and sets the
/// mapping; returns the job id and its landing path.
pub async fn ready_job(
    emu: &Emu,
    token: &str,
    object: &str,
    csv: &[u8],
    mapping: Value,
) -> (String, String) {
    ready_job_with(emu, token, object, csv, mapping, json!({})).await
}

/// [`ready_job`] with extra create options (`createList`, `listName`, …)
/// merged into the create request.
pub async fn ready_job_with(
    emu: &Emu,
    token: &str,
    object: &str,
    csv: &[u8],
    mapping: Value,
    options: Value,
) -> (String, String) {
    let mut create = json!({"objectName": object, "fileName": "data.csv", "fileSize": csv.len()});
    for (k, v) in options.as_object().expect("create options are an object") {
        create[k] = v.clone();
    }
    let (s, b) = emu.post("/import-jobs", token, &create).await;
    assert_eq!(s, 201, "{b}");
    let d = &b["data"];
    let id = d["jobId"].as_str().unwrap().to_string();
    let mut put = emu.http.put(d["uploadUrl"].as_str().unwrap());
    for (k, v) in d["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    let r = put.body(csv.to_vec()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let (s, b) = emu
        .post(&format!("/import-jobs/{id}/mapping"), token, &mapping)
        .await;
    assert_eq!(s, 200, "{b}");
    (id, d["landingPath"].as_str().unwrap().to_string())
}

/// Starts a ready job.
pub async fn start_job(emu: &Emu, token: &str, id: &str) {
    let (s, b) = emu
        .post(&format!("/import-jobs/{id}/start"), token, &json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
}

/// Polls the status until the job is `completed` or `failed`.
pub async fn wait(emu: &Emu, token: &str, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (s, b) = emu.get(&format!("/import-jobs/{id}"), token).await;
        assert_eq!(s, 200, "{b}");
        let state = b["data"]["state"].as_str().unwrap();
        if state == "completed" || state == "failed" {
            return b["data"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job still {state}: {b}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A whole job: returns (job id, final status).
pub async fn run(
    emu: &Emu,
    token: &str,
    object: &str,
    csv: &[u8],
    mapping: Value,
) -> (String, Value) {
    let (id, _) = ready_job(emu, token, object, csv, mapping).await;
    start_job(emu, token, &id).await;
    let status = wait(emu, token, &id).await;
    (id, status)
}

/// `GET …/errors` of a job (with the dev write token).
pub async fn errors(emu: &Emu, id: &str) -> Value {
    let (s, b) = emu
        .get(&format!("/import-jobs/{id}/errors"), "dev-write")
        .await;
    assert_eq!(s, 200, "{b}");
    b["data"].clone()
}

/// Downloads the error file through its signed URL (no bearer token).
pub async fn error_lines(emu: &Emu, id: &str) -> Vec<Value> {
    let e = errors(emu, id).await;
    assert_eq!(e["hasErrors"], true, "{e}");
    let r = emu
        .http
        .get(e["errorFileUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, e["errorCount"].as_u64().unwrap());
    lines
}

/// `GET /public/v1/import-jobs/{id}/upload` (emulator extension):
/// (status, headers, body bytes).
pub async fn job_upload(emu: &Emu, id: &str, token: Option<&str>) -> (u16, HeaderMap, Vec<u8>) {
    let mut rb = emu.http.get(emu.api(&format!("/import-jobs/{id}/upload")));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// Reads the merged records (the test looks inside the emulator's data).
pub fn records(emu: &Emu) -> rusqlite::Connection {
    rusqlite::Connection::open(
        emu.dir
            .path()
            .join(import_devserver::processor::merge::RECORDS_FILE),
    )
    .unwrap()
}
