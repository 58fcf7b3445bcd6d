//! Shared helpers of the emulator's integration tests: each test starts its
//! own emulator on an ephemeral port with a fresh data directory and talks
//! to it over real HTTP.
#![allow(dead_code)]

use std::sync::Arc;

use import_devserver::clock::OffsetClock;
use import_devserver::{Config, Server};
use serde_json::Value;

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

impl Emu {
    /// `{url}/public/v1{path}`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/public/v1{}", self.url, path)
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
