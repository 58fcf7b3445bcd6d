//! `POST /oauth/token`: the emulator's OAuth 2.0 token endpoint, client
//! credentials grant only (RFC 6749 §4.4).
//!
//! Request: `Content-Type: application/x-www-form-urlencoded`, body
//! `grant_type=client_credentials` and optionally `scope` (space-separated).
//! The client authenticates either with HTTP Basic (`client_secret_basic`:
//! `Authorization: Basic base64(urlencode(id):urlencode(secret))`) or with
//! `client_id` and `client_secret` in the body (`client_secret_post`), not
//! both. Clients come from the configuration (`dev-client:dev-secret` by
//! default, `--client ID:SECRET=SCOPE,SCOPE[@WORKSPACE]`).
//!
//! Success (RFC 6749 §5.1): 200 `{"access_token", "token_type": "Bearer",
//! "expires_in", "scope"}` with `Cache-Control: no-store`; the token is an
//! RS256 JWT (see [`crate::auth`]) valid for `--token-ttl` seconds.
//!
//! Errors (RFC 6749 §5.2), as `{"error", "error_description"}`, not the API's
//! envelope:
//! * 400 `invalid_request`: wrong content type, missing or repeated
//!   parameter, two authentication methods at once, unreadable body;
//! * 400 `unsupported_grant_type`: any grant but `client_credentials`;
//! * 400 `invalid_scope`: a requested scope the client is not allowed;
//! * 401 `invalid_client` with `WWW-Authenticate: Basic`: no credentials,
//!   unknown client or wrong secret (the two are not told apart).
//!
//! # Emulator choices
//! * An absent or blank `scope` grants every scope of the client; the granted
//!   scopes are always echoed in `scope`.
//! * Secrets are compared in constant time (over SHA-256 digests, so the
//!   comparison time does not depend on the secret's length either).
//! * Bodies over 64 KiB are refused with `invalid_request`.

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use import_core::wire::{OAuthError, TokenResponse};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::config::OAuthClient;

/// Largest accepted request body.
const MAX_BODY: usize = 64 * 1024;

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl TokenError {
    fn invalid_request(description: impl Into<String>) -> Self {
        TokenError {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
        }
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        TokenError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body = OAuthError {
            error: self.error.to_string(),
            error_description: Some(self.description),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        no_store(resp.headers_mut());
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"import-devserver\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Client-credentials token endpoint.
pub async fn token(State(state): State<AppState>, req: Request) -> Response {
    match issue(state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn issue(state: AppState, req: Request) -> Result<Response, TokenError> {
    let (parts, body) = req.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/x-www-form-urlencoded" {
        return Err(TokenError::invalid_request(
            "The token request must be sent as Content-Type: application/x-www-form-urlencoded.",
        ));
    }
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        TokenError::invalid_request("The request body is unreadable or over 64 KiB.")
    })?;
    let params = parse_form(&bytes)?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    match param("grant_type") {
        None | Some("") => {
            return Err(TokenError::invalid_request(
                "Missing grant_type: send grant_type=client_credentials.",
            ))
        }
        Some("client_credentials") => {}
        Some(_) => {
            return Err(TokenError {
                status: StatusCode::BAD_REQUEST,
                error: "unsupported_grant_type",
                description: "Only grant_type=client_credentials is supported.".into(),
            })
        }
    }

    let basic = basic_credentials(&parts.headers)?;
    let body_id = param("client_id");
    let body_secret = param("client_secret");
    let (client_id, secret) = match (basic, body_id, body_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(TokenError::invalid_request(
                "Use one client authentication method: HTTP Basic or client_id/client_secret in the body, not both.",
            ))
        }
        (Some((id, secret)), None, None) => (id, secret),
        (None, Some(id), Some(secret)) => (id.to_string(), secret.to_string()),
        (None, Some(_), None) => {
            return Err(TokenError::invalid_client(
                "Missing client_secret: authenticate with HTTP Basic or send client_id and client_secret.",
            ))
        }
        (None, None, _) => {
            return Err(TokenError::invalid_client(
                "Missing client credentials: authenticate with HTTP Basic or send client_id and client_secret.",
            ))
        }
    };
    let client = authenticate(&state.config.clients, &client_id, &secret).ok_or_else(|| {
        TokenError::invalid_client("Client authentication failed: unknown client or wrong secret.")
    })?;

    let granted = granted_scopes(client, param("scope"))?;
    let ttl = state.config.token_ttl_secs;
    state.auth.set_issuer(&state.base_url);
    let now = state.now();
    let subject = client.client_id.clone();
    let workspace = client.workspace.clone();
    let scopes = granted.clone();
    let st = state.clone();
    // The first token on a fresh data directory generates the RSA key.
    let token = tokio::task::spawn_blocking(move || {
        st.auth
            .try_issue_token(&subject, &workspace, &scopes, ttl, now)
    })
    .await;
    let access_token = match token {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot issue an access token");
            return Err(TokenError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error: "server_error",
                description: "The emulator could not sign a token; see its log.".into(),
            });
        }
        Err(e) => {
            tracing::error!(error = %e, "token issuance task failed");
            return Err(TokenError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error: "server_error",
                description: "The emulator could not sign a token; see its log.".into(),
            });
        }
    };
    let body = TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ttl,
        scope: Some(granted.join(" ")),
    };
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    no_store(resp.headers_mut());
    Ok(resp)
}

/// Decodes an `application/x-www-form-urlencoded` body; repeated parameters
/// are refused (RFC 6749 §3.2). Linear in the number of parameters (a set
/// of the names seen), so a body of thousands of parameters costs no more
/// than reading it.
fn parse_form(bytes: &[u8]) -> Result<Vec<(String, String)>, TokenError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| TokenError::invalid_request("The request body is not UTF-8."))?;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = form_decode(k)?;
        let v = form_decode(v)?;
        if !seen.insert(k.clone()) {
            return Err(TokenError::invalid_request(format!(
                "Parameter `{}` is repeated; send each parameter once.",
                safe(&k)
            )));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn form_decode(s: &str) -> Result<String, TokenError> {
    urlencoding::decode(&s.replace('+', " "))
        .map(|c| c.into_owned())
        .map_err(|_| TokenError::invalid_request("The request body is not valid form encoding."))
}

/// A parameter name fit for a message.
fn safe(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .take(40)
        .collect()
}

/// `client_secret_basic` credentials, when the request carries them.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || TokenError::invalid_client("Malformed HTTP Basic credentials.");
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, b64) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::invalid_client(
            "The token endpoint takes HTTP Basic client authentication (or client_id/client_secret in the body).",
        ));
    }
    let decoded = STANDARD.decode(b64.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
    let id = form_decode(id).map_err(|_| bad())?;
    let secret = form_decode(secret).map_err(|_| bad())?;
    Ok(Some((id, secret)))
}

/// The client with this id and secret; constant time in the secret.
fn authenticate<'a>(
    clients: &'a [OAuthClient],
    client_id: &str,
    secret: &str,
) -> Option<&'a OAuthClient> {
    let presented = Sha256::digest(secret.as_bytes());
    let client = clients.iter().find(|c| c.client_id == client_id);
    // Compare against something even for an unknown client.
    let expected = Sha256::digest(
        client
            .map(|c| c.client_secret.as_bytes())
            .unwrap_or(b"\0unknown client\0"),
    );
    let diff = presented
        .iter()
        .zip(expected.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    match client {
        Some(c) if diff == 0 => Some(c),
        _ => None,
    }
}

/// The scopes to grant: the requested ones (each allowed to the client) or,
/// when none are requested, all of the client's.
fn granted_scopes(
    client: &OAuthClient,
    requested: Option<&str>,
) -> Result<Vec<String>, TokenError> {
    let requested: Vec<&str> = requested
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if requested.is_empty() {
        return Ok(client.scopes.clone());
    }
    let mut granted: Vec<String> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for s in requested {
        if client.scopes.iter().any(|c| c == s) {
            if !granted.iter().any(|g| g == s) {
                granted.push(s.to_string());
            }
        } else {
            refused.push(
                s.chars()
                    .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
                    .take(64)
                    .collect(),
            );
        }
    }
    if !refused.is_empty() {
        return Err(TokenError {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_scope",
            description: format!(
                "Scope not allowed for this client: {}. Allowed: {}.",
                refused.join(" "),
                client.scopes.join(" ")
            ),
        });
    }
    Ok(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OAuthClient {
        OAuthClient {
            client_id: "c".into(),
            client_secret: "s3cret".into(),
            scopes: vec!["a:read".into(), "a:write".into()],
            workspace: "ws".into(),
        }
    }

    #[test]
    fn form_parsing() {
        let p = parse_form(b"grant_type=client_credentials&scope=a%3Aread+a%3Awrite").unwrap();
        assert_eq!(p[1], ("scope".into(), "a:read a:write".into()));
        assert_eq!(
            parse_form(b"scope=a&scope=b").unwrap_err().error,
            "invalid_request"
        );
    }

    #[test]
    fn many_distinct_parameters_are_parsed_in_linear_time() {
        // As many parameters as the 64 KiB body limit lets through: ~14,000
        // names of up to three characters. Comparing each with every one
        // before it took about a second in a debug build; a set takes
        // milliseconds.
        let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut body = String::new();
        let mut i = 0usize;
        while body.len() < MAX_BODY - 8 {
            let mut name = String::new();
            let mut n = i;
            loop {
                name.push(digits[n % 36] as char);
                n /= 36;
                if n == 0 {
                    break;
                }
            }
            body.push_str(&name);
            body.push_str("=&");
            i += 1;
        }
        let t = std::time::Instant::now();
        let params = parse_form(body.as_bytes()).unwrap();
        let took = t.elapsed();
        assert_eq!(params.len(), i);
        assert!(
            took < std::time::Duration::from_millis(150),
            "{i} parameters took {took:?}"
        );
        // A repeat is still refused, wherever it is.
        body.push_str("zz=");
        assert_eq!(
            parse_form(body.as_bytes()).unwrap_err().error,
            "invalid_request"
        );
    }

    #[test]
    fn scopes() {
        let c = client();
        assert_eq!(granted_scopes(&c, None).unwrap(), c.scopes);
        assert_eq!(granted_scopes(&c, Some(" ")).unwrap(), c.scopes);
        assert_eq!(
            granted_scopes(&c, Some("a:write a:write")).unwrap(),
            vec!["a:write".to_string()]
        );
        let e = granted_scopes(&c, Some("a:read b:admin")).unwrap_err();
        assert_eq!(e.error, "invalid_scope");
        assert!(e.description.contains("b:admin"));
    }

    #[test]
    fn client_authentication() {
        let cs = vec![client()];
        assert!(authenticate(&cs, "c", "s3cret").is_some());
        assert!(authenticate(&cs, "c", "s3cre").is_none());
        assert!(authenticate(&cs, "d", "s3cret").is_none());
    }
}
