//! `--storage azurite=URL`: uploads go to a real Azurite (Azure Storage
//! emulator) blob endpoint instead of the emulator's own storage.
//!
//! The emulator holds the account key and signs, in Rust, the Shared Access
//! Signatures Azure documents:
//!
//! - **Service SAS for one blob** (upload URLs, and the emulator's own reads
//!   and deletes): `sv`, `spr=https,http`, `se`, `sr=b`, `sp`, `sig`, where
//!   `sig` is the base64 HMAC-SHA256, keyed with the decoded account key, of
//!   the string-to-sign of versions 2020-12-06 and later:
//!
//!   ```text
//!   sp \n st \n se \n /blob/{account}/{container}/{blob} \n si \n sip \n spr \n
//!   sv \n sr \n snapshot \n ses \n rscc \n rscd \n rsce \n rscl \n rsct
//!   ```
//!
//!   (empty lines for the fields not used). The blob name is signed decoded
//!   and sent percent-encoded, segment by segment.
//! - **Account SAS** (start-up only: create the container, set CORS):
//!   `accountname \n sp \n ss \n srt \n st \n se \n sip \n spr \n sv \n ses \n`.
//!
//! No request the emulator makes carries the account key or an
//! `Authorization` header, and signatures are never logged.
//!
//! At start-up [`Azurite::connect`] creates the container `imports` when it
//! is missing and sets the blob service's CORS rules (every origin; `PUT`,
//! `GET`, `HEAD`, `OPTIONS`; every request header; every response header
//! exposed), so a page on any origin can upload with the SAS URL. Blobs are
//! named after the landing path: `imports/jobs/imp_…/file`.
//!
//! The URL is Azurite's path-style blob endpoint,
//! `http://127.0.0.1:10000/devstoreaccount1`: the last path segment names
//! the account. The key is Azurite's published development key unless the
//! environment variable `AZURITE_ACCOUNT_KEY` gives another (base64). HTTP
//! proxies from the environment are ignored: Azurite runs next to the
//! emulator.
//!
//! All I/O here is blocking ([`ureq`]): call it from a blocking thread, or
//! through [`blocking`] from async code.

use std::io::Read;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::blob_store::BlobPath;

/// The published key of Azurite's development account `devstoreaccount1`.
pub const DEV_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Environment variable that overrides the account key (base64).
pub const KEY_ENV: &str = "AZURITE_ACCOUNT_KEY";

/// The container uploads land in.
pub const CONTAINER: &str = "imports";

/// The signed storage service version (`sv`) of every SAS; its
/// string-to-sign is the 2020-12-06 one (with the encryption-scope line).
pub const SAS_VERSION: &str = "2022-11-02";

/// Lifetime of the SAS the emulator signs for its own requests (reads,
/// deletes, start-up set-up). A read already streaming is not cut off when
/// it passes.
const INTERNAL_SAS_TTL: chrono::Duration = chrono::Duration::hours(1);

/// A blob SAS permission set, in Azure's canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SasPermission {
    /// `r`: Get Blob, Get Blob Properties (`HEAD`), Get Block List.
    Read,
    /// `cw`: Put Blob, Put Block, Put Block List (uploads).
    CreateWrite,
    /// `d`: Delete Blob.
    Delete,
}

impl SasPermission {
    /// The `sp` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SasPermission::Read => "r",
            SasPermission::CreateWrite => "cw",
            SasPermission::Delete => "d",
        }
    }
}

/// Runs blocking I/O from wherever the caller is: inside a multi-threaded
/// tokio runtime through [`tokio::task::block_in_place`] (the worker's other
/// tasks move to another thread meanwhile), elsewhere (a current-thread
/// runtime, a blocking thread, no runtime) directly.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A connection to one Azurite blob endpoint and its account key.
#[derive(Clone)]
pub struct Azurite {
    /// `http://host:port/account`, no trailing slash.
    endpoint: String,
    account: String,
    key: Vec<u8>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Azurite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Azurite")
            .field("endpoint", &self.endpoint)
            .field("account", &self.account)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Azurite {
    /// Parses the endpoint URL, takes the key from `AZURITE_ACCOUNT_KEY` or
    /// the development default, and prepares Azurite (container, CORS).
    /// Fails with an actionable message when Azurite cannot be reached or
    /// refuses the key.
    pub fn connect(url: &str) -> anyhow::Result<Azurite> {
        let key = std::env::var(KEY_ENV).ok().filter(|k| !k.trim().is_empty());
        let az = Azurite::new(url, key.as_deref())?;
        blocking(|| az.prepare())?;
        Ok(az)
    }

    /// Parses the endpoint URL and the key (`None`: the development key)
    /// without contacting Azurite.
    pub fn new(url: &str, key: Option<&str>) -> anyhow::Result<Azurite> {
        let endpoint = url.trim().trim_end_matches('/').to_string();
        let Some(rest) = endpoint.strip_prefix("http://") else {
            if endpoint.starts_with("https://") {
                bail!(
                    "--storage azurite={endpoint}: only http:// endpoints are supported (start Azurite without --cert and use http://)"
                );
            }
            bail!(
                "--storage azurite={endpoint}: expected Azurite's blob endpoint with the account, e.g. azurite=http://127.0.0.1:10000/devstoreaccount1"
            );
        };
        if endpoint.contains(['?', '#']) {
            bail!(
                "--storage azurite={endpoint}: the URL must not carry a query or fragment; give the endpoint only, e.g. http://127.0.0.1:10000/devstoreaccount1"
            );
        }
        let account = match rest.split_once('/') {
            Some((host, path)) if !host.is_empty() && !path.is_empty() && !path.contains('/') => {
                path.to_string()
            }
            _ => bail!(
                "--storage azurite={endpoint}: the URL must be host:port followed by the account name, e.g. http://127.0.0.1:10000/devstoreaccount1"
            ),
        };
        let key_b64 = key.unwrap_or(DEV_ACCOUNT_KEY).trim();
        let key = B64
            .decode(key_b64)
            .ok()
            .filter(|k| !k.is_empty())
            .with_context(|| format!("the Azurite account key ({KEY_ENV}) is not valid base64"))?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .build();
        Ok(Azurite {
            endpoint,
            account,
            key,
            agent: ureq::Agent::new_with_config(config),
        })
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The endpoint (`http://host:port/account`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The blob's URL without a signature.
    pub fn blob_url(&self, path: &BlobPath) -> String {
        format!("{}/{CONTAINER}/{}", self.endpoint, path.url_encoded())
    }

    /// A service SAS URL of the blob at `path` granting `permission` until
    /// `expires_at`, over http or https.
    pub fn sas_url(
        &self,
        path: &BlobPath,
        permission: SasPermission,
        expires_at: DateTime<Utc>,
    ) -> String {
        format!(
            "{}?{}",
            self.blob_url(path),
            self.blob_sas_query(path.as_str(), permission.as_str(), expires_at)
        )
    }

    /// The query string of a service SAS for one blob (`sr=b`).
    fn blob_sas_query(&self, blob: &str, sp: &str, expires_at: DateTime<Utc>) -> String {
        let se = sas_time(expires_at);
        let spr = "https,http";
        let resource = format!("/blob/{}/{CONTAINER}/{blob}", self.account);
        // sp, st, se, canonicalized resource, si, sip, spr, sv, sr,
        // snapshot time, encryption scope, rscc, rscd, rsce, rscl, rsct.
        let string_to_sign = [
            sp,
            "",
            &se,
            &resource,
            "",
            "",
            spr,
            SAS_VERSION,
            "b",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n");
        let sig = self.sign(&string_to_sign);
        format!(
            "sv={SAS_VERSION}&spr={}&se={}&sr=b&sp={sp}&sig={}",
            enc(spr),
            enc(&se),
            enc(&sig)
        )
    }

    /// The query string of an account SAS for the blob service.
    fn account_sas_query(&self, srt: &str, sp: &str, expires_at: DateTime<Utc>) -> String {
        let se = sas_time(expires_at);
        let spr = "https,http";
        // account, sp, ss, srt, st, se, sip, spr, sv, encryption scope, "".
        let string_to_sign = [
            self.account.as_str(),
            sp,
            "b",
            srt,
            "",
            &se,
            "",
            spr,
            SAS_VERSION,
            "",
            "",
        ]
        .join("\n");
        let sig = self.sign(&string_to_sign);
        format!(
            "sv={SAS_VERSION}&ss=b&srt={srt}&sp={sp}&se={}&spr={}&sig={}",
            enc(&se),
            enc(spr),
            enc(&sig)
        )
    }

    fn sign(&self, string_to_sign: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(string_to_sign.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    /// Creates the container when missing and sets the blob service's CORS
    /// rules.
    pub fn prepare(&self) -> anyhow::Result<()> {
        let exp = Utc::now() + INTERNAL_SAS_TTL;
        let url = format!(
            "{}/{CONTAINER}?restype=container&{}",
            self.endpoint,
            self.account_sas_query("c", "wc", exp)
        );
        let resp = self
            .agent
            .put(&url)
            .header("x-ms-version", SAS_VERSION)
            .send_empty()
            .map_err(|e| self.unreachable(e))?;
        match resp.status().as_u16() {
            201 => tracing::info!(container = CONTAINER, "created the Azurite container"),
            409 => {}
            _ => return Err(self.refused("creating the container", resp)),
        }
        let url = format!(
            "{}/?restype=service&comp=properties&{}",
            self.endpoint,
            self.account_sas_query("s", "w", exp)
        );
        let resp = self
            .agent
            .put(&url)
            .header("x-ms-version", SAS_VERSION)
            .header("content-type", "application/xml")
            .send(CORS_PROPERTIES)
            .map_err(|e| self.unreachable(e))?;
        match resp.status().as_u16() {
            202 | 200 => Ok(()),
            _ => Err(self.refused("setting the blob service's CORS rules", resp)),
        }
    }

    /// Size of the committed blob (`Content-Length` of a `HEAD`); `None`
    /// when there is none (uncommitted blocks do not count).
    pub fn blob_size(&self, path: &BlobPath) -> anyhow::Result<Option<u64>> {
        let url = self.sas_url(path, SasPermission::Read, Utc::now() + INTERNAL_SAS_TTL);
        let resp = self
            .agent
            .head(&url)
            .header("x-ms-version", SAS_VERSION)
            .call()
            .map_err(|e| self.unreachable(e))?;
        match resp.status().as_u16() {
            200 => resp
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Some)
                .context("Azurite answered the blob's HEAD without a valid Content-Length"),
            404 => Ok(None),
            _ => Err(self.refused("reading the blob's properties", resp)),
        }
    }

    /// Streams the committed blob (`GET`): the reader pulls from the
    /// connection as it is read, never holding the whole blob. `None` when
    /// there is none.
    pub fn open_reader(&self, path: &BlobPath) -> anyhow::Result<Option<Box<dyn Read + Send>>> {
        let url = self.sas_url(path, SasPermission::Read, Utc::now() + INTERNAL_SAS_TTL);
        let resp = self
            .agent
            .get(&url)
            .header("x-ms-version", SAS_VERSION)
            .call()
            .map_err(|e| self.unreachable(e))?;
        match resp.status().as_u16() {
            200 => Ok(Some(Box::new(resp.into_body().into_reader()))),
            404 => Ok(None),
            _ => Err(self.refused("reading the blob", resp)),
        }
    }

    /// Deletes the blob; a missing blob is not an error.
    pub fn delete(&self, path: &BlobPath) -> anyhow::Result<()> {
        let url = self.sas_url(path, SasPermission::Delete, Utc::now() + INTERNAL_SAS_TTL);
        let resp = self
            .agent
            .delete(&url)
            .header("x-ms-version", SAS_VERSION)
            .call()
            .map_err(|e| self.unreachable(e))?;
        match resp.status().as_u16() {
            202 | 200 | 404 => Ok(()),
            _ => Err(self.refused("deleting the blob", resp)),
        }
    }

    /// A transport error, without the (signed) URL.
    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        let what = match e {
            ureq::Error::Io(e) => e.to_string(),
            ureq::Error::Timeout(t) => format!("timed out ({t})"),
            ureq::Error::ConnectionFailed => "connection failed".to_string(),
            ureq::Error::HostNotFound => "host not found".to_string(),
            other => other.to_string().replace(&self.endpoint, "<endpoint>"),
        };
        let what = strip_query(&what);
        anyhow::anyhow!(
            "Azurite at {} is not reachable: {what}. Start it (e.g. `npx azurite-blob --blobHost 127.0.0.1 --blobPort 10000 --skipApiVersionCheck --loose`) or choose another --storage mode",
            self.endpoint
        )
    }

    /// A refusal by Azurite: status and `x-ms-error-code`.
    fn refused(&self, doing: &str, resp: ureq::http::Response<ureq::Body>) -> anyhow::Error {
        let status = resp.status();
        let code = resp
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        let hint = if status.as_u16() == 403 {
            format!(
                " (does the account key match the account `{}`? Set {KEY_ENV} to its key)",
                self.account
            )
        } else {
            String::new()
        };
        anyhow::anyhow!(
            "Azurite at {} refused {doing}: HTTP {status}, error code {code}{hint}",
            self.endpoint
        )
    }
}

/// The blob service properties set at start-up: CORS only (other properties
/// are left as they are).
const CORS_PROPERTIES: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<StorageServiceProperties><Cors><CorsRule>\
<AllowedOrigins>*</AllowedOrigins>\
<AllowedMethods>PUT,GET,HEAD,OPTIONS</AllowedMethods>\
<MaxAgeInSeconds>600</MaxAgeInSeconds>\
<ExposedHeaders>*</ExposedHeaders>\
<AllowedHeaders>*</AllowedHeaders>\
</CorsRule></Cors></StorageServiceProperties>";

/// A SAS time: ISO 8601 UTC to the second (`2026-11-28T17:00:00Z`).
fn sas_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn enc(s: &str) -> String {
    urlencoding::encode(s).into_owned()
}

/// Drops anything after a `?` in each word, so no signature reaches a log.
fn strip_query(s: &str) -> String {
    s.split(' ')
        .map(|w| w.split_once('?').map(|(a, _)| a).unwrap_or(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Azurite {
        Azurite::new("http://127.0.0.1:10000/devstoreaccount1/", None).unwrap()
    }

    #[test]
    fn parses_the_endpoint_and_account() {
        let az = dev();
        assert_eq!(az.endpoint(), "http://127.0.0.1:10000/devstoreaccount1");
        assert_eq!(az.account(), "devstoreaccount1");
        for bad in [
            "127.0.0.1:10000/devstoreaccount1",
            "https://127.0.0.1:10000/devstoreaccount1",
            "http://127.0.0.1:10000",
            "http://127.0.0.1:10000/a/b",
            "http://127.0.0.1:10000/acct?x=1",
        ] {
            assert!(Azurite::new(bad, None).is_err(), "{bad}");
        }
        let e = Azurite::new("http://h:1/a", Some("not base64!")).unwrap_err();
        assert!(e.to_string().contains(KEY_ENV), "{e}");
    }

    #[test]
    fn signs_the_documented_blob_sas() {
        let az = dev();
        let exp = DateTime::parse_from_rfc3339("2030-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let path = BlobPath::new("jobs/imp_1/file").unwrap();
        let url = az.sas_url(&path, SasPermission::CreateWrite, exp);
        let expected_sts = "cw\n\n2030-01-02T03:04:05Z\n/blob/devstoreaccount1/imports/jobs/imp_1/file\n\n\nhttps,http\n2022-11-02\nb\n\n\n\n\n\n\n";
        let sig = enc(&az.sign(expected_sts));
        assert_eq!(
            url,
            format!(
                "http://127.0.0.1:10000/devstoreaccount1/imports/jobs/imp_1/file?sv=2022-11-02&spr=https%2Chttp&se=2030-01-02T03%3A04%3A05Z&sr=b&sp=cw&sig={sig}"
            )
        );
        // The signature is HMAC-SHA256 under the decoded key, base64.
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&B64.decode(DEV_ACCOUNT_KEY).unwrap()).unwrap();
        mac.update(expected_sts.as_bytes());
        assert_eq!(
            az.sign(expected_sts),
            B64.encode(mac.finalize().into_bytes())
        );
    }

    #[test]
    fn error_text_never_carries_a_query() {
        assert_eq!(
            strip_query("GET http://h/a/b?sig=abc failed"),
            "GET http://h/a/b failed"
        );
    }
}
