//! Authentication over real HTTP: the OAuth 2.0 client-credentials endpoint,
//! RS256 JWT verification (every 401 and 403 case), dev tokens, key
//! persistence across restarts, the per-token rate limit and the
//! correlation id.

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::{start, start_with, test_config, Emu};
use import_devserver::config::{OAuthClient, RateLimit, StaticToken};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{json, Value};

const FORM: &str = "application/x-www-form-urlencoded";

/// POSTs a raw body to `/oauth/token`; returns (status, headers, JSON body).
async fn token_request(
    emu: &Emu,
    content_type: &str,
    body: &str,
    basic: Option<(&str, &str)>,
) -> (u16, HeaderMap, Value) {
    let mut req = emu
        .http
        .post(format!("{}/oauth/token", emu.url))
        .header(CONTENT_TYPE, content_type)
        .body(body.to_string());
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

/// A client-credentials token of the dev client (HTTP Basic).
async fn dev_client_token(emu: &Emu) -> String {
    let (status, _, body) = token_request(
        emu,
        FORM,
        "grant_type=client_credentials",
        Some(("dev-client", "dev-secret")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// GET an API path with an arbitrary Authorization header (or none).
async fn get_with_auth(emu: &Emu, path: &str, auth: Option<&str>) -> (u16, HeaderMap, Value) {
    let mut req = emu.http.get(emu.api(path));
    if let Some(a) = auth {
        req = req.header(AUTHORIZATION, a);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

async fn get_metadata(emu: &Emu, token: &str) -> (u16, HeaderMap, Value) {
    get_with_auth(emu, "/metadata/objects", Some(&format!("Bearer {token}"))).await
}

/// Decodes one base64url JSON part of a JWT.
fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Asserts a 401/403 error envelope with `code`; returns its message.
fn assert_error(status: u16, headers: &HeaderMap, body: &Value, want: u16, code: &str) -> String {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let cid = headers["x-correlation-id"].to_str().unwrap();
    assert_eq!(body["correlationId"], cid);
    body["error"]["message"].as_str().unwrap().to_string()
}

fn www_auth(headers: &HeaderMap) -> String {
    headers
        .get(WWW_AUTHENTICATE)
        .expect("WWW-Authenticate header")
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn oauth_basic_credentials_issue_a_verifiable_rs256_jwt() {
    let emu = start().await;
    let (status, headers, body) = token_request(
        &emu,
        FORM,
        "grant_type=client_credentials",
        Some(("dev-client", "dev-secret")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(
        body["scope"],
        "cdp:imports:write cdp:imports:read cdp:metadata:read cdp:lists:read cdp:lists:write cdp:audiences:preview"
    );
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);

    let header = jwt_part(token, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"].as_str().unwrap().len(), 16);
    let claims = jwt_part(token, 1);
    assert_eq!(claims["iss"], emu.url.as_str());
    assert_eq!(claims["sub"], "dev-client");
    assert_eq!(claims["workspace"], "ws_dev");
    assert_eq!(claims["scope"], body["scope"]);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(claims["jti"].as_str().unwrap().len(), 26);

    // The key was persisted in the data dir as PKCS#8 PEM.
    let pem = std::fs::read_to_string(emu.dir.path().join("keys/jwt-rs256.pem")).unwrap();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "not PKCS#8 PEM"
    );

    // The token opens the metadata endpoints.
    let (status, _, body) = get_metadata(&emu, token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["items"][0]["objectName"], "profiles");
    let (status, _, body) = get_with_auth(
        &emu,
        "/metadata/objects/orders",
        Some(&format!("Bearer {token}")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["objectName"], "orders");

    // Every token is distinct (fresh jti).
    let second = dev_client_token(&emu).await;
    assert_ne!(jwt_part(&second, 1)["jti"], claims["jti"]);
}

#[tokio::test]
async fn oauth_post_credentials_and_form_encoding() {
    let emu = start_with(|c| {
        c.clients.push(OAuthClient {
            client_id: "etl pipeline".into(),
            client_secret: "s&cret=1+2".into(),
            scopes: vec!["cdp:metadata:read".into()],
            workspace: "ws_acme".into(),
        });
        c.token_ttl_secs = 120;
    })
    .await;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        urlencoding::encode("etl pipeline"),
        urlencoding::encode("s&cret=1+2")
    );
    let (status, headers, resp) = token_request(&emu, FORM, &body, None).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(resp["expires_in"], 120);
    assert_eq!(resp["scope"], "cdp:metadata:read");
    let token = resp["access_token"].as_str().unwrap();
    let claims = jwt_part(token, 1);
    assert_eq!(claims["sub"], "etl pipeline");
    assert_eq!(claims["workspace"], "ws_acme");

    // HTTP Basic with form-encoded id and secret (RFC 6749 §2.3.1) and a
    // charset parameter on the content type.
    let (status, _, resp) = token_request(
        &emu,
        "application/x-www-form-urlencoded; charset=utf-8",
        "grant_type=client_credentials",
        Some(("etl+pipeline", "s%26cret%3D1%2B2")),
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    let (status, _, _) = get_metadata(&emu, resp["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn oauth_refuses_bad_client_credentials_with_401_invalid_client() {
    let emu = start().await;
    let cases: [(&str, Option<(&str, &str)>); 5] = [
        (
            "grant_type=client_credentials",
            Some(("dev-client", "wrong")),
        ),
        (
            "grant_type=client_credentials",
            Some(("nobody", "dev-secret")),
        ),
        (
            "grant_type=client_credentials&client_id=dev-client&client_secret=dev-secrets",
            None,
        ),
        ("grant_type=client_credentials&client_id=dev-client", None),
        ("grant_type=client_credentials", None),
    ];
    for (body, basic) in cases {
        let (status, headers, resp) = token_request(&emu, FORM, body, basic).await;
        assert_eq!(status, 401, "{body}: {resp}");
        assert_eq!(resp["error"], "invalid_client", "{resp}");
        assert!(resp["error_description"].as_str().unwrap().len() > 10);
        assert!(www_auth(&headers).starts_with("Basic "));
        assert_eq!(headers["cache-control"], "no-store");
        assert!(resp.get("access_token").is_none());
    }
    // Unknown client and wrong secret are not told apart.
    let (_, _, a) = token_request(&emu, FORM, cases[0].0, cases[0].1).await;
    let (_, _, b) = token_request(&emu, FORM, cases[1].0, cases[1].1).await;
    assert_eq!(a, b);
    // The secret never comes back.
    assert!(!a.to_string().contains("dev-secret"));
}

#[tokio::test]
async fn oauth_refuses_malformed_requests_with_rfc6749_errors() {
    let emu = start().await;
    let basic = Some(("dev-client", "dev-secret"));
    // (content type, body, Basic credentials, expected error)
    type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 6] = [
        (
            FORM,
            "grant_type=password&username=a&password=b",
            basic,
            "unsupported_grant_type",
        ),
        (
            FORM,
            "grant_type=authorization_code&code=x",
            basic,
            "unsupported_grant_type",
        ),
        (
            FORM,
            "scope=cdp%3Ametadata%3Aread",
            basic,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"grant_type":"client_credentials"}"#,
            basic,
            "invalid_request",
        ),
        (
            FORM,
            "grant_type=client_credentials&grant_type=client_credentials",
            basic,
            "invalid_request",
        ),
        (
            FORM,
            "grant_type=client_credentials&client_id=dev-client&client_secret=dev-secret",
            basic,
            "invalid_request",
        ),
    ];
    for (ct, body, basic, error) in cases {
        let (status, headers, resp) = token_request(&emu, ct, body, basic).await;
        assert_eq!(status, 400, "{body}: {resp}");
        assert_eq!(resp["error"], error, "{body}: {resp}");
        assert!(!resp["error_description"].as_str().unwrap().is_empty());
        assert_eq!(headers["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn oauth_scope_subset_is_granted_and_enforced() {
    let emu = start().await;
    let (status, _, resp) = token_request(
        &emu,
        FORM,
        "grant_type=client_credentials&scope=cdp%3Aimports%3Aread+cdp%3Aimports%3Awrite",
        Some(("dev-client", "dev-secret")),
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["scope"], "cdp:imports:read cdp:imports:write");
    let token = resp["access_token"].as_str().unwrap();
    assert_eq!(
        jwt_part(token, 1)["scope"],
        "cdp:imports:read cdp:imports:write"
    );

    // The narrowed token lacks cdp:metadata:read: 403 naming the scope.
    let (status, headers, body) = get_metadata(&emu, token).await;
    let msg = assert_error(status, &headers, &body, 403, "CDP_ETL.AUTH.FORBIDDEN");
    assert!(msg.contains("cdp:metadata:read"), "{msg}");
    assert_eq!(
        body["error"]["details"]["requiredScope"],
        "cdp:metadata:read"
    );
    assert_eq!(
        body["error"]["details"]["grantedScopes"],
        json!(["cdp:imports:read", "cdp:imports:write"])
    );
    let challenge = www_auth(&headers);
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"cdp:metadata:read\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn oauth_scope_beyond_the_client_is_invalid_scope() {
    let emu = start_with(|c| {
        c.clients.push(OAuthClient {
            client_id: "reader".into(),
            client_secret: "reader-secret".into(),
            scopes: vec!["cdp:imports:read".into(), "cdp:metadata:read".into()],
            workspace: "ws_dev".into(),
        })
    })
    .await;
    for scope in [
        "cdp:imports:write",
        "cdp:metadata:read cdp:imports:write",
        "admin",
    ] {
        let body = format!(
            "grant_type=client_credentials&scope={}",
            urlencoding::encode(scope)
        );
        let (status, _, resp) =
            token_request(&emu, FORM, &body, Some(("reader", "reader-secret"))).await;
        assert_eq!(status, 400, "{scope}: {resp}");
        assert_eq!(resp["error"], "invalid_scope");
        let desc = resp["error_description"].as_str().unwrap();
        assert!(desc.contains(scope.rsplit(' ').next().unwrap()), "{desc}");
    }
    // Without `scope` the client gets all of its scopes, and no more.
    let (status, _, resp) = token_request(
        &emu,
        FORM,
        "grant_type=client_credentials",
        Some(("reader", "reader-secret")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(resp["scope"], "cdp:imports:read cdp:metadata:read");
}

#[tokio::test]
async fn missing_or_non_bearer_authorization_is_401_unauthorized() {
    let emu = start().await;
    for auth in [
        None,
        Some("Basic ZGV2OmRldg=="),
        Some("Bearer"),
        Some("Bearer   "),
        Some("dev-write"),
    ] {
        let (status, headers, body) = get_with_auth(&emu, "/metadata/objects", auth).await;
        let msg = assert_error(status, &headers, &body, 401, "CDP_ETL.AUTH.UNAUTHORIZED");
        assert!(msg.contains("Bearer"), "{msg}");
        // RFC 6750 §3.1: no error code when no credentials were presented.
        assert_eq!(www_auth(&headers), "Bearer realm=\"import-jobs-api\"");
    }
    // The scheme is case-insensitive.
    let (status, _, _) = get_with_auth(&emu, "/metadata/objects", Some("bearer dev-read")).await;
    assert_eq!(status, 200);
    // Other API routes are protected by the same extractor.
    let (status, _, body) = get_with_auth(&emu, "/metadata/objects/profiles", None).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn malformed_and_unknown_tokens_are_401_token_invalid() {
    let emu = start().await;
    let real = dev_client_token(&emu).await;
    let parts: Vec<&str> = real.split('.').collect();
    let cases = [
        "dev-writer".to_string(),
        "not.a-jwt".to_string(),
        "a.b.c".to_string(),
        "a.b.c.d".to_string(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}.{}.", parts[0], parts[1]),
        format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
        format!(
            "{}.{}.{}",
            parts[0],
            b64json(&json!({"sub": "x"})),
            parts[2]
        ),
    ];
    for token in &cases {
        let (status, headers, body) = get_metadata(&emu, token).await;
        let msg = assert_error(status, &headers, &body, 401, "CDP_ETL.AUTH.TOKEN_INVALID");
        assert!(!msg.contains(token.as_str()), "the token is echoed: {msg}");
        let challenge = www_auth(&headers);
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
}

#[tokio::test]
async fn bad_signatures_are_401_token_invalid() {
    let emu = start().await;
    let other = start().await;
    let token = dev_client_token(&emu).await;
    let parts: Vec<&str> = token.split('.').collect();

    // Tampered payload: a different workspace under the original signature.
    let mut claims = jwt_part(&token, 1);
    claims["workspace"] = json!("ws_victim");
    let tampered = format!("{}.{}.{}", parts[0], b64json(&claims), parts[2]);
    // Tampered signature.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&sig));
    // Signed by another emulator's key, as is (unknown kid) and relabelled
    // with this emulator's kid.
    let foreign = dev_client_token(&other).await;
    let f: Vec<&str> = foreign.split('.').collect();
    let relabelled = format!("{}.{}.{}", parts[0], f[1], f[2]);

    for (what, t) in [
        ("tampered payload", &tampered),
        ("tampered signature", &bad_sig),
        ("foreign key", &foreign),
        ("foreign key, our kid", &relabelled),
    ] {
        let (status, headers, body) = get_metadata(&emu, t).await;
        assert_error(status, &headers, &body, 401, "CDP_ETL.AUTH.TOKEN_INVALID");
        assert!(www_auth(&headers).contains("invalid_token"), "{what}");
    }
    // The genuine token still works.
    assert_eq!(get_metadata(&emu, &token).await.0, 200);
}

#[tokio::test]
async fn tokens_with_another_algorithm_are_401_token_invalid() {
    let emu = start().await;
    let token = dev_client_token(&emu).await;
    let parts: Vec<&str> = token.split('.').collect();
    let kid = jwt_part(&token, 0)["kid"].clone();

    let none = format!(
        "{}.{}.",
        b64json(&json!({"alg": "none", "typ": "JWT"})),
        parts[1]
    );
    let none_kid = format!(
        "{}.{}.{}",
        b64json(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        parts[1],
        parts[2]
    );
    let hs256 = format!(
        "{}.{}.{}",
        b64json(&json!({"alg": "HS256", "typ": "JWT", "kid": kid})),
        parts[1],
        URL_SAFE_NO_PAD.encode([7u8; 32])
    );
    let rs512 = format!(
        "{}.{}.{}",
        b64json(&json!({"alg": "RS512", "typ": "JWT", "kid": kid})),
        parts[1],
        parts[2]
    );
    for t in [&none, &none_kid, &hs256, &rs512] {
        let (status, headers, body) = get_metadata(&emu, t).await;
        let msg = assert_error(status, &headers, &body, 401, "CDP_ETL.AUTH.TOKEN_INVALID");
        assert!(msg.contains("RS256"), "{msg}");
    }
}

#[tokio::test]
async fn expired_tokens_are_401_token_expired() {
    let emu = start().await;
    let token = dev_client_token(&emu).await;
    assert_eq!(get_metadata(&emu, &token).await.0, 200);

    // Shortly before expiry it still works (`iat` has whole seconds, so
    // leave a margin for the real time this test takes); after, it does not.
    emu.clock.advance(chrono::Duration::seconds(3590));
    assert_eq!(get_metadata(&emu, &token).await.0, 200);
    emu.clock.advance(chrono::Duration::seconds(11));
    let (status, headers, body) = get_metadata(&emu, &token).await;
    let msg = assert_error(status, &headers, &body, 401, "CDP_ETL.AUTH.TOKEN_EXPIRED");
    assert!(msg.contains("/oauth/token"), "{msg}");
    assert!(body["error"]["details"]["expiredAt"].is_string());
    let challenge = www_auth(&headers);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // Auth::issue_token makes already-expired tokens directly.
    let state = &emu.server.state;
    let past = state.now() - chrono::Duration::hours(2);
    let old = state
        .auth
        .issue_token("svc", "ws_dev", &["cdp:metadata:read"], 60, past);
    let (status, headers, body) = get_metadata(&emu, &old).await;
    assert_error(status, &headers, &body, 401, "CDP_ETL.AUTH.TOKEN_EXPIRED");
    // A tampered expired token is invalid, not expired: the signature comes first.
    let mut claims = jwt_part(&old, 1);
    claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 1);
    let p: Vec<&str> = old.split('.').collect();
    let forged = format!("{}.{}.{}", p[0], b64json(&claims), p[2]);
    let (status, headers, body) = get_metadata(&emu, &forged).await;
    assert_error(status, &headers, &body, 401, "CDP_ETL.AUTH.TOKEN_INVALID");

    // A fresh token issued directly verifies.
    let fresh = state
        .auth
        .issue_token("svc", "ws_dev", &["cdp:metadata:read"], 60, state.now());
    assert_eq!(get_metadata(&emu, &fresh).await.0, 200);
}

#[tokio::test]
async fn dev_tokens_authenticate_and_scopes_are_enforced() {
    let emu = start_with(|c| {
        c.tokens.push(StaticToken {
            token: "imports-only".into(),
            scopes: vec!["cdp:imports:read".into(), "cdp:imports:write".into()],
            workspace: "ws_other".into(),
        })
    })
    .await;
    for t in ["dev-write", "dev-read"] {
        let (status, _, body) = get_metadata(&emu, t).await;
        assert_eq!(status, 200, "{t}: {body}");
    }
    let (status, headers, body) = get_metadata(&emu, "imports-only").await;
    let msg = assert_error(status, &headers, &body, 403, "CDP_ETL.AUTH.FORBIDDEN");
    assert!(msg.contains("`cdp:metadata:read`"), "{msg}");
    assert_eq!(
        body["error"]["details"]["requiredScope"],
        "cdp:metadata:read"
    );
    assert_eq!(
        body["error"]["details"]["grantedScopes"],
        json!(["cdp:imports:read", "cdp:imports:write"])
    );
    assert!(www_auth(&headers).contains("insufficient_scope"));
    // Checked on the single-object route too.
    let (status, _, _) = get_with_auth(
        &emu,
        "/metadata/objects/profiles",
        Some("Bearer imports-only"),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn tokens_survive_a_restart_on_the_same_data_dir() {
    let emu = start().await;
    let token = dev_client_token(&emu).await;
    let Emu {
        server, dir, http, ..
    } = emu;
    let old_url = server.url.clone();
    server.stop().await;

    let (mut config, _clock, _unused) = test_config();
    config.data_dir = dir.path().to_path_buf();
    let server = import_devserver::serve(config).await.unwrap();
    assert_ne!(server.url, old_url, "expected a new ephemeral port");
    let r = http
        .get(format!("{}/public/v1/metadata/objects", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // And the restarted emulator signs with the same key.
    let resp: Value = http
        .post(format!("{}/oauth/token", server.url))
        .header(CONTENT_TYPE, FORM)
        .header(
            AUTHORIZATION,
            format!("Basic {}", STANDARD.encode("dev-client:dev-secret")),
        )
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_token = resp["access_token"].as_str().unwrap();
    assert_eq!(jwt_part(new_token, 0)["kid"], jwt_part(&token, 0)["kid"]);
    server.stop().await;
}

#[tokio::test]
async fn a_damaged_signing_key_is_a_clear_startup_error() {
    let (mut config, _clock, dir) = test_config();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/jwt-rs256.pem"), "not a key").unwrap();
    config.data_dir = dir.path().to_path_buf();
    let err = import_devserver::serve(config)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("jwt-rs256.pem") && err.contains("PKCS#8"),
        "{err}"
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_per_token() {
    let emu = start_with(|c| {
        c.rate_limit = Some(RateLimit {
            requests: 2,
            per_secs: 60,
        })
    })
    .await;
    assert_eq!(get_metadata(&emu, "dev-read").await.0, 200);
    assert_eq!(get_metadata(&emu, "dev-read").await.0, 200);
    let (status, headers, body) = get_metadata(&emu, "dev-read").await;
    let msg = assert_error(status, &headers, &body, 429, "CDP_ETL.RATE.LIMITED");
    // 2 per 60 s refills one request every 30 s; real time passing during
    // the test may shave a second off.
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((28..=30).contains(&retry), "Retry-After: {retry}");
    assert_eq!(msg, format!("Rate limit exceeded. Retry after {retry}s."));
    assert_eq!(body["error"]["details"]["retryAfterSecs"], retry);
    assert_eq!(body["error"]["details"]["limit"], 2);
    assert_eq!(body["error"]["details"]["windowSecs"], 60);

    // Per token: another token has its own budget.
    assert_eq!(get_metadata(&emu, "dev-write").await.0, 200);
    // Unauthenticated requests are refused before the limiter.
    assert_eq!(get_with_auth(&emu, "/metadata/objects", None).await.0, 401);

    // After Retry-After one more request passes.
    emu.clock.advance(chrono::Duration::seconds(retry as i64));
    assert_eq!(get_metadata(&emu, "dev-read").await.0, 200);
    assert_eq!(get_metadata(&emu, "dev-read").await.0, 429);
}

#[tokio::test]
async fn correlation_id_header_matches_the_body() {
    let emu = start().await;
    let r = emu
        .http
        .get(emu.api("/metadata/objects"))
        .bearer_auth("dev-read")
        .send()
        .await
        .unwrap();
    let cid = r.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["correlationId"], cid.as_str());
    assert_eq!(cid.len(), 36);

    let (status, headers, body) = get_with_auth(&emu, "/metadata/objects", None).await;
    assert_error(status, &headers, &body, 401, "CDP_ETL.AUTH.UNAUTHORIZED");
    assert_ne!(headers["x-correlation-id"].to_str().unwrap(), cid);

    // The token endpoint has one too.
    let (_, headers, _) = token_request(&emu, FORM, "grant_type=client_credentials", None).await;
    assert!(headers.contains_key("x-correlation-id"));
}
