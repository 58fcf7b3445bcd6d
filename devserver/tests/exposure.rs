//! Who may reach the emulator from a browser: CORS answers loopback and
//! configured origins only, and a request whose `Host` is not the
//! emulator's (DNS rebinding) is refused.

mod common;

use common::{code, start, start_with};
use serde_json::Value;

/// A preflight of `POST /public/v1/import-jobs` from `origin`: the
/// `Access-Control-Allow-Origin` answered, if any.
async fn preflight(emu: &common::Emu, origin: &str) -> Option<String> {
    let url = format!("http://{}/public/v1/import-jobs", emu.server.addr);
    let r = emu
        .http
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    r.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn cors_answers_loopback_and_configured_origins_only() {
    let emu = start_with(|c| c.cors_origins = vec!["https://app.example.com".into()]).await;
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:8787",
        "http://[::1]:3000",
        "https://app.example.com",
    ] {
        assert_eq!(preflight(&emu, origin).await.as_deref(), Some(origin));
    }
    for origin in [
        "http://evil.example",
        "http://localhost.evil.example:5173",
        "https://app.example.com.evil.example",
        "null",
    ] {
        assert_eq!(preflight(&emu, origin).await, None, "{origin}");
    }
    // A simple GET from a foreign page: answered (the server cannot tell),
    // but without the header that would let the page read it.
    let r = emu
        .http
        .get(emu.api("/metadata/objects"))
        .bearer_auth("dev-read")
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// GET `path` of the bound address with this `Host`: (status, body).
async fn with_host(emu: &common::Emu, path: &str, host: &str) -> (u16, Value) {
    let r = emu
        .http
        .get(format!("http://{}{path}", emu.server.addr))
        .header("host", host)
        .bearer_auth("dev-read")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_foreign_host_is_refused() {
    let emu = start().await;
    let port = emu.server.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (s, b) = with_host(&emu, "/public/v1/metadata/objects", &host).await;
        assert_eq!(s, 200, "{host}: {b}");
    }
    // A rebinding page's name, another port, a storage or OAuth route: all
    // refused, with a code and a message saying what to do.
    for (host, path) in [
        (
            format!("evil.example:{port}"),
            "/public/v1/metadata/objects",
        ),
        (format!("localhost:{}", port.wrapping_add(1)), "/healthz"),
        (format!("evil.example:{port}"), "/storage/jobs/x/file"),
        (format!("evil.example:{port}"), "/oauth/token"),
    ] {
        let (s, b) = with_host(&emu, path, &host).await;
        assert_eq!(
            (s, code(&b)),
            (403, "EMULATOR.HOST.NOT_ALLOWED"),
            "{host}{path}: {b}"
        );
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&host) && msg.contains("--public-url"), "{msg}");
        assert_eq!(b["error"]["details"]["host"], host.as_str());
    }
    // The server is still up.
    assert_eq!(emu.healthz().await, 200);
}

#[tokio::test]
async fn the_public_url_host_is_answered() {
    let emu = start_with(|c| c.public_url = Some("http://emu.example.test:9000".into())).await;
    let (s, b) = with_host(&emu, "/healthz", "emu.example.test:9000").await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = with_host(&emu, "/healthz", "emu.example.test:9001").await;
    assert_eq!(s, 403);
    assert_eq!(
        preflight(&emu, "http://emu.example.test:9000")
            .await
            .as_deref(),
        Some("http://emu.example.test:9000")
    );
}
