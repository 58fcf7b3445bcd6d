//! The emulator's configuration: command-line flags (see `main.rs`) or, in
//! tests, built directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};

/// A fixed bearer token (`--token TOKEN=SCOPE,SCOPE[@WORKSPACE]`).
#[derive(Debug, Clone, PartialEq)]
pub struct StaticToken {
    /// The token string presented as `Authorization: Bearer <token>`.
    pub token: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Workspace the token belongs to.
    pub workspace: String,
}

/// An OAuth 2.0 client (`--client ID:SECRET=SCOPE,SCOPE[@WORKSPACE]`).
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// Scopes the client may be granted.
    pub scopes: Vec<String>,
    /// Workspace its tokens belong to.
    pub workspace: String,
}

/// Which storage protocol upload URLs speak.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageMode {
    /// Azure Block Blob, served by the emulator (default).
    Local,
    /// S3-style pre-signed single PUT, served by the emulator.
    LocalS3,
    /// GCS-style resumable session, served by the emulator.
    LocalGcs,
    /// Real SAS URLs of an Azurite server at this blob endpoint
    /// (e.g. `http://127.0.0.1:10000/devstoreaccount1`).
    Azurite(String),
}

impl std::str::FromStr for StorageMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(StorageMode::Local),
            "local-s3" => Ok(StorageMode::LocalS3),
            "local-gcs" => Ok(StorageMode::LocalGcs),
            _ => match s.strip_prefix("azurite=") {
                Some(url) if !url.is_empty() => {
                    Ok(StorageMode::Azurite(url.trim_end_matches('/').to_string()))
                }
                _ => Err(format!(
                    "unknown storage mode `{s}`: use local, local-s3, local-gcs or azurite=URL"
                )),
            },
        }
    }
}

/// Per-token rate limit (`--rate-limit N/SECONDS`, e.g. `5/1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length in seconds.
    pub per_secs: u64,
}

impl std::str::FromStr for RateLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (n, per) = s.split_once('/').unwrap_or((s, "1"));
        let requests = n
            .trim()
            .parse()
            .map_err(|_| format!("bad rate limit `{s}`: expected N/SECONDS, e.g. 10/1"))?;
        let per_secs = per
            .trim()
            .trim_end_matches('s')
            .parse()
            .map_err(|_| format!("bad rate limit `{s}`: expected N/SECONDS, e.g. 10/1"))?;
        if requests == 0 || per_secs == 0 {
            return Err(format!(
                "bad rate limit `{s}`: both numbers must be positive"
            ));
        }
        Ok(RateLimit { requests, per_secs })
    }
}

/// Everything the emulator needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind (port 0 picks a free one).
    pub addr: SocketAddr,
    /// Where jobs, blobs, keys and error files live.
    pub data_dir: PathBuf,
    /// Fixed bearer tokens.
    pub tokens: Vec<StaticToken>,
    /// OAuth clients.
    pub clients: Vec<OAuthClient>,
    /// Upload URL protocol.
    pub storage: StorageMode,
    /// Static front end served at `/`.
    pub www: Option<PathBuf>,
    /// npm package served at `/pkg/`.
    pub pkg: Option<PathBuf>,
    /// Extra object schemas (JSON file).
    pub schema: Option<PathBuf>,
    /// Per-token rate limit; none by default.
    pub rate_limit: Option<RateLimit>,
    /// Fault injection spec (`storage:503=10%,reset=5%,delay=200ms@20%;api:500=5%`).
    pub faults: Option<String>,
    /// Seed for fault injection and other randomness in tests.
    pub seed: u64,
    /// Lifetime of OAuth access tokens, seconds.
    pub token_ttl_secs: u64,
    /// Lifetime of upload URLs, seconds.
    pub upload_url_ttl_secs: u64,
    /// Base URL written into upload and error-file URLs; default
    /// `http://<bound address>`.
    pub public_url: Option<String>,
    /// Origins CORS answers besides the loopback ones (`--cors-origin`,
    /// repeatable); see [`crate::exposure`].
    pub cors_origins: Vec<String>,
    /// Source of time.
    pub clock: Arc<dyn Clock>,
    /// Print the start banner (URL, tokens) to stdout.
    pub banner: bool,
    /// Processor workers running started jobs concurrently (`--workers`);
    /// 0 leaves started jobs queued (lifecycle tests use that).
    pub workers: usize,
}

/// Default workspace of the dev tokens and dev client.
pub const DEV_WORKSPACE: &str = "ws_dev";

impl Config {
    /// Defaults: 127.0.0.1:8787, dev tokens `dev-write` and `dev-read`, dev
    /// OAuth client `dev-client` / `dev-secret`, local Azure-style storage.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            addr: "127.0.0.1:8787".parse().unwrap(),
            data_dir: data_dir.into(),
            tokens: default_tokens(),
            clients: vec![OAuthClient {
                client_id: "dev-client".into(),
                client_secret: "dev-secret".into(),
                scopes: all_scopes(),
                workspace: DEV_WORKSPACE.into(),
            }],
            storage: StorageMode::Local,
            www: None,
            pkg: None,
            schema: None,
            rate_limit: None,
            faults: None,
            seed: 0,
            token_ttl_secs: 3600,
            upload_url_ttl_secs: 24 * 3600,
            public_url: None,
            cors_origins: Vec::new(),
            clock: Arc::new(SystemClock),
            banner: false,
            workers: 4,
        }
    }
}

/// Every scope the emulator knows.
pub fn all_scopes() -> Vec<String> {
    [
        "cdp:imports:write",
        "cdp:imports:read",
        "cdp:metadata:read",
        "cdp:lists:read",
        "cdp:lists:write",
        "cdp:audiences:preview",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `dev-write` (imports write+read, metadata read, lists read+write,
/// audiences preview) and `dev-read` (the read scopes), workspace `ws_dev`.
pub fn default_tokens() -> Vec<StaticToken> {
    vec![
        StaticToken {
            token: "dev-write".into(),
            scopes: all_scopes(),
            workspace: DEV_WORKSPACE.into(),
        },
        StaticToken {
            token: "dev-read".into(),
            scopes: ["cdp:imports:read", "cdp:metadata:read", "cdp:lists:read"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            workspace: DEV_WORKSPACE.into(),
        },
    ]
}

/// Parses `TOKEN=SCOPE,SCOPE[@WORKSPACE]`.
pub fn parse_token_flag(s: &str) -> Result<StaticToken, String> {
    let (token, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("bad --token `{s}`: expected TOKEN=SCOPE,SCOPE[@WORKSPACE]"))?;
    let (scopes, workspace) = match rest.rsplit_once('@') {
        Some((scopes, ws)) => (scopes, ws.to_string()),
        None => (rest, DEV_WORKSPACE.to_string()),
    };
    if token.is_empty() || workspace.is_empty() {
        return Err(format!("bad --token `{s}`: empty token or workspace"));
    }
    Ok(StaticToken {
        token: token.to_string(),
        scopes: split_scopes(scopes),
        workspace,
    })
}

/// Parses `ID:SECRET=SCOPE,SCOPE[@WORKSPACE]`.
pub fn parse_client_flag(s: &str) -> Result<OAuthClient, String> {
    let bad = || format!("bad --client `{s}`: expected ID:SECRET=SCOPE,SCOPE[@WORKSPACE]");
    let (cred, rest) = s.split_once('=').ok_or_else(bad)?;
    let (id, secret) = cred.split_once(':').ok_or_else(bad)?;
    let (scopes, workspace) = match rest.rsplit_once('@') {
        Some((scopes, ws)) => (scopes, ws.to_string()),
        None => (rest, DEV_WORKSPACE.to_string()),
    };
    if id.is_empty() || secret.is_empty() || workspace.is_empty() {
        return Err(bad());
    }
    Ok(OAuthClient {
        client_id: id.into(),
        client_secret: secret.into(),
        scopes: split_scopes(scopes),
        workspace,
    })
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split([',', ' '])
        .filter(|p| !p.is_empty())
        .map(|p| p.to_string())
        .collect()
}
