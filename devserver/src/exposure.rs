//! Who may talk to the emulator from a browser: the `Host` check against DNS
//! rebinding and the origins CORS answers.
//!
//! The emulator holds well-known dev tokens (as Azurite has a well-known
//! key), so it must not be reachable by any web page the developer happens
//! to open:
//!
//! * **CORS** answers only loopback origins (`http://localhost:*`,
//!   `http://127.0.0.1:*`, `http://[::1]:*`, any port or none, and the same
//!   with `https`), the origin of `--public-url`, and the origins given with
//!   `--cors-origin ORIGIN` (repeatable, exact match). Another origin gets
//!   no `Access-Control-Allow-Origin`, so its page cannot read an answer.
//! * **`Host`**: a page of another site can still reach `127.0.0.1` by
//!   making its own host name resolve there (DNS rebinding); its requests
//!   then carry that name in `Host`. Requests are answered only when `Host`
//!   is the bound address, `localhost`, `127.0.0.1` or `[::1]` with the
//!   bound port, or the host of `--public-url`; others get 403
//!   [`HOST_NOT_ALLOWED`] in the API's error envelope. (An emulator bound to
//!   `0.0.0.0` for another machine must be given that machine's address
//!   with `--public-url`.)

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;

/// `error.code` of a request refused for its `Host` (403).
pub use import_core::codes::emulator::HOST_NOT_ALLOWED;

/// Host names that are always the local machine.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The hosts and origins one emulator answers.
#[derive(Debug, Clone)]
pub struct Exposure {
    /// Allowed `Host` values, lower case (`host:port`, and `host` alone
    /// where the port is the default one).
    hosts: Vec<String>,
    /// Origins allowed besides the loopback ones, lower case, no trailing `/`.
    origins: Vec<String>,
}

impl Exposure {
    /// The hosts of an emulator bound to `bound`, published at `public_url`
    /// (if any), answering CORS for `cors_origins` besides loopback ones.
    pub fn new(
        bound: SocketAddr,
        public_url: Option<&str>,
        cors_origins: &[String],
    ) -> anyhow::Result<Exposure> {
        let port = bound.port();
        let mut hosts = Vec::new();
        let mut add = |host: String, port: u16, default_port: u16| {
            if port == default_port {
                hosts.push(host.clone());
            }
            hosts.push(format!("{host}:{port}"));
        };
        let ip = match bound {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        add(ip, port, 80);
        for h in LOOPBACK_HOSTS {
            add(h.to_string(), port, 80);
        }
        let mut origins: Vec<String> = Vec::new();
        for o in cors_origins {
            origins.push(parse_origin(o).map_err(anyhow::Error::msg)?);
        }
        if let Some(url) = public_url {
            let uri: Uri = url
                .parse()
                .map_err(|_| anyhow::anyhow!("--public-url `{url}` is not a URL"))?;
            let (Some(scheme), Some(auth)) = (uri.scheme_str(), uri.authority()) else {
                anyhow::bail!(
                    "--public-url `{url}` must be an absolute URL, e.g. http://host:port"
                );
            };
            let default_port = if scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            let host = auth.host().to_ascii_lowercase();
            let public_port = auth.port_u16().unwrap_or(default_port);
            add(host.clone(), public_port, default_port);
            // Browsers leave the scheme's default port out of `Origin`.
            origins.push(if public_port == default_port {
                format!("{scheme}://{host}").to_ascii_lowercase()
            } else {
                format!("{scheme}://{host}:{public_port}").to_ascii_lowercase()
            });
        }
        hosts.sort();
        hosts.dedup();
        Ok(Exposure { hosts, origins })
    }

    /// Whether a request with this `Host` is answered.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().trim_end_matches('.');
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// The `Host` values answered, for messages.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Whether CORS answers a page of this `Origin`.
    pub fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        is_loopback_origin(origin) || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// `http(s)://localhost`, `127.0.0.1` or `[::1]`, with any port or none.
fn is_loopback_origin(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    else {
        return false;
    };
    LOOPBACK_HOSTS.iter().any(|h| match rest.strip_prefix(h) {
        Some("") => true,
        Some(port) => port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        }),
        None => false,
    })
}

/// Checks and normalises a `--cors-origin` value: `scheme://host[:port]`,
/// no path (a trailing `/` is dropped), lower case.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let bad = |why: &str| {
        format!("bad --cors-origin `{s}`: {why}; give an origin such as https://app.example.com or http://192.168.1.20:5173")
    };
    let trimmed = s.trim().trim_end_matches('/');
    let (scheme, rest) = trimmed
        .split_once("://")
        .ok_or_else(|| bad("it has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(bad("the scheme must be http or https"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', '*', ' ']) {
        return Err(bad(
            "an origin is a scheme, a host and an optional port, nothing else",
        ));
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// Middleware: refuses requests whose `Host` (or HTTP/2 authority) is not
/// one this emulator answers (DNS rebinding), before anything else runs.
pub async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()));
    if let Some(h) = &host {
        if state.exposure.host_allowed(h) {
            return next.run(req).await;
        }
    }
    let shown: String = host
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(100)
        .collect();
    let allowed = state.exposure.hosts();
    let message = match &host {
        None => "The request has no Host header: address the emulator by its URL.".to_string(),
        Some(_) => format!(
            "Host `{shown}` is not served by this emulator: it answers only requests addressed to {} (a page of another site reaching it through DNS rebinding is refused). To serve it under another name, start it with --public-url http://NAME:PORT.",
            allowed.join(", ")
        ),
    };
    ApiError::new(StatusCode::FORBIDDEN, HOST_NOT_ALLOWED, message)
        .with_details(json!({ "host": shown, "allowedHosts": allowed }))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let e = Exposure::new("127.0.0.1:8787".parse().unwrap(), None, &[]).unwrap();
        for ok in [
            "127.0.0.1:8787",
            "localhost:8787",
            "LocalHost:8787",
            "[::1]:8787",
        ] {
            assert!(e.host_allowed(ok), "{ok} refused");
        }
        for bad in [
            "evil.example:8787",
            "localhost:8788",
            "localhost",
            "127.0.0.1",
            "",
            "127.0.0.1.evil.example:8787",
        ] {
            assert!(!e.host_allowed(bad), "{bad} allowed");
        }
        let e = Exposure::new(
            "0.0.0.0:80".parse().unwrap(),
            Some("https://emu.example.com/"),
            &[],
        )
        .unwrap();
        for ok in [
            "0.0.0.0",
            "localhost",
            "localhost:80",
            "emu.example.com",
            "emu.example.com:443",
        ] {
            assert!(e.host_allowed(ok), "{ok} refused");
        }
        assert!(!e.host_allowed("emu.example.com:80"));
        let o = |v: &str| e.origin_allowed(&HeaderValue::from_str(v).unwrap());
        assert!(o("https://emu.example.com"));
        let e = Exposure::new(
            "127.0.0.1:80".parse().unwrap(),
            Some("http://emu.example.com:80"),
            &[],
        )
        .unwrap();
        assert!(e.origin_allowed(&HeaderValue::from_static("http://emu.example.com")));
        assert!(!e.host_allowed("other.example.com"));
        assert!(Exposure::new("127.0.0.1:1".parse().unwrap(), Some("nope"), &[]).is_err());
    }

    #[test]
    fn origins() {
        let e = Exposure::new(
            "127.0.0.1:8787".parse().unwrap(),
            Some("http://emu.example.com:9000"),
            &["https://App.Example.com/".to_string()],
        )
        .unwrap();
        let ok = |o: &str| e.origin_allowed(&HeaderValue::from_str(o).unwrap());
        for good in [
            "http://localhost:5173",
            "http://127.0.0.1:8787",
            "http://[::1]:3000",
            "http://localhost",
            "https://localhost:8443",
            "https://app.example.com",
            "http://emu.example.com:9000",
        ] {
            assert!(ok(good), "{good} refused");
        }
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example:80",
            "http://localhost:",
            "http://localhost:80/x",
            "null",
            "file://",
            "https://app.example.com.evil.example",
            "http://app.example.com",
        ] {
            assert!(!ok(bad), "{bad} allowed");
        }
    }

    #[test]
    fn origin_flags() {
        assert_eq!(
            parse_origin("HTTPS://App.Example.com/").unwrap(),
            "https://app.example.com"
        );
        for bad in [
            "app.example.com",
            "ftp://x",
            "http://",
            "http://x/path",
            "*",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad} accepted");
        }
    }
}
