//! Bearer-token authentication of the API routes.
//!
//! Two kinds of token are accepted in `Authorization: Bearer <token>`:
//!
//! * **RS256 JWTs** issued by the emulator's OAuth 2.0 client-credentials
//!   endpoint ([`crate::oauth`]), or by [`Auth::issue_token`] in tests. The
//!   header is `{"alg": "RS256", "typ": "JWT", "kid": …}`; the claims are
//!   `iss` (the emulator's base URL), `sub` (the OAuth client id), `workspace`,
//!   `scope` (space-separated), `iat`, `exp` and `jti` (a ULID), all times in
//!   seconds since the epoch.
//! * **Fixed dev tokens** from the configuration (`dev-write`, `dev-read`,
//!   `--token TOKEN=SCOPE,SCOPE[@WORKSPACE]`). Their subject (`requestedBy` of
//!   the jobs they create) is `usr_` followed by 26 characters derived from a
//!   hash of the token, so it is stable but never reveals the token.
//!
//! # Emulator choices
//!
//! * The signing key is an RSA-2048 key kept as PKCS#8 PEM in
//!   `<data dir>/keys/jwt-rs256.pem` (mode 0600 on Unix). It is created the
//!   first time a token is issued and reloaded at start-up, so tokens survive
//!   restarts. Deleting the file invalidates every issued token. The `kid` is
//!   the first 16 characters of the base64url SHA-256 of the public key (DER).
//! * What is verified: the structure, `alg` = `RS256` exactly (`none`, `HS256`
//!   and everything else are refused), `kid` when present, the signature, the
//!   presence of every claim above, `exp` (expired → `TOKEN_EXPIRED`) and
//!   `nbf` when present (60 s leeway). `iss` is informative and not checked:
//!   the key is what is trusted, so a token still works after the emulator
//!   restarts on another port.
//! * Outcomes: no `Authorization` header, or another scheme than `Bearer` →
//!   401 `CDP_ETL.AUTH.UNAUTHORIZED`; a malformed token, a bad signature, a
//!   wrong algorithm or an unknown dev token → 401
//!   `CDP_ETL.AUTH.TOKEN_INVALID`; an expired JWT → 401
//!   `CDP_ETL.AUTH.TOKEN_EXPIRED`; a valid token without the route's scope →
//!   403 `CDP_ETL.AUTH.FORBIDDEN` with `details.requiredScope` and
//!   `details.grantedScopes`. 401 and 403 responses carry an RFC 6750
//!   `WWW-Authenticate: Bearer …` header ([`www_authenticate`]).
//! * The per-token rate limit ([`crate::ratelimit`]) is applied while the
//!   caller is extracted, so every authenticated API route is limited; a 429
//!   therefore comes before a 403.
//! * Tokens never appear in messages or logs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use anyhow::Context;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use import_core::codes;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{Keypair, SignatureEncoding, Signer, Verifier};
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::config::Config;
use crate::error::ApiError;

/// Where the signing key lives, relative to the data directory.
pub const KEY_FILE: &str = "keys/jwt-rs256.pem";

/// `realm` of the `WWW-Authenticate` challenges.
const REALM: &str = "import-jobs-api";

/// Accepted clock skew for `nbf`, seconds.
const NBF_LEEWAY_SECS: i64 = 60;

/// The RS256 key pair and its key id.
struct Keys {
    signing: SigningKey<Sha256>,
    verifying: VerifyingKey<Sha256>,
    kid: String,
}

impl Keys {
    fn from_private(key: RsaPrivateKey) -> anyhow::Result<Self> {
        let der = key
            .to_public_key()
            .to_public_key_der()
            .context("encoding the public key")?;
        let digest = Sha256::digest(der.as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(digest)[..16].to_string();
        let signing = SigningKey::<Sha256>::new(key);
        let verifying = signing.verifying_key();
        Ok(Keys {
            signing,
            verifying,
            kid,
        })
    }
}

/// What a fixed dev token stands for.
#[derive(Debug, Clone)]
struct StaticIdentity {
    subject: String,
    workspace: String,
    scopes: Vec<String>,
}

/// Token verification, token issuance and the signing key.
pub struct Auth {
    key_path: PathBuf,
    /// Loaded at start-up when the key file exists, else created on first use.
    keys: RwLock<Option<Arc<Keys>>>,
    /// Serialises key creation (verification only takes `keys` briefly).
    creating: Mutex<()>,
    /// Fixed dev tokens by SHA-256 of the token.
    static_tokens: HashMap<[u8; 32], StaticIdentity>,
    /// `iss` of issued tokens: the base URL, learnt from the first request
    /// served (see [`Auth::set_issuer`]).
    issuer: OnceLock<String>,
    /// `iss` used before the base URL is known.
    default_issuer: String,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("key_path", &self.key_path)
            .field("static_tokens", &self.static_tokens.len())
            .finish_non_exhaustive()
    }
}

/// The identity a verified token carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Workspace the token belongs to.
    pub workspace: String,
    /// Client id (JWT `sub`) or `usr_…` for a dev token.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Stable per-token id: `jwt:<jti>` or `static:<subject>`.
    pub token_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct JwtHeader {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// Claims of the emulator's access tokens.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    workspace: String,
    scope: String,
    iat: i64,
    exp: i64,
    jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
}

impl Auth {
    /// Loads the signing key from the data directory when it exists (a
    /// damaged key file is a start-up error naming the file) and indexes the
    /// configured dev tokens.
    pub fn load(config: &Config) -> anyhow::Result<Auth> {
        let key_path = config.data_dir.join(KEY_FILE);
        let keys = if key_path.exists() {
            Some(Arc::new(read_key(&key_path)?))
        } else {
            None
        };
        let mut static_tokens = HashMap::new();
        for t in &config.tokens {
            anyhow::ensure!(!t.token.is_empty(), "a configured dev token is empty");
            static_tokens.insert(
                token_digest(&t.token),
                StaticIdentity {
                    subject: static_subject(&t.token),
                    workspace: t.workspace.clone(),
                    scopes: t.scopes.clone(),
                },
            );
        }
        let default_issuer = config
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| "import-devserver".to_string());
        Ok(Auth {
            key_path,
            keys: RwLock::new(keys),
            creating: Mutex::new(()),
            static_tokens,
            issuer: OnceLock::new(),
            default_issuer,
        })
    }

    /// Records the emulator's base URL as `iss` of the tokens issued from now
    /// on (the first call wins; the token endpoint and the API's caller
    /// extraction call it, so it is set once a request has been served;
    /// before that `iss` is `--public-url` or `import-devserver`).
    pub fn set_issuer(&self, base_url: &str) {
        let _ = self.issuer.set(base_url.trim_end_matches('/').to_string());
    }

    fn issuer(&self) -> &str {
        self.issuer
            .get()
            .map(String::as_str)
            .unwrap_or(&self.default_issuer)
    }

    /// The key pair, creating and persisting it on first use.
    fn keys(&self) -> anyhow::Result<Arc<Keys>> {
        if let Some(k) = self.existing_keys() {
            return Ok(k);
        }
        let _creating = self.creating.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = self.existing_keys() {
            return Ok(k);
        }
        let keys = Arc::new(create_key(&self.key_path)?);
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Some(keys.clone());
        Ok(keys)
    }

    /// The key pair if it exists already (verification never creates one: a
    /// JWT presented before any was issued cannot be ours).
    fn existing_keys(&self) -> Option<Arc<Keys>> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .cloned()
    }

    /// Issues an RS256 access token for `subject` in `workspace` with
    /// `scopes`, valid from `now` for `ttl_secs` seconds (so `now` in the past
    /// gives an already-expired token).
    ///
    /// Panics if the signing key cannot be created or read; see
    /// [`Auth::try_issue_token`].
    pub fn issue_token<S: AsRef<str>>(
        &self,
        subject: &str,
        workspace: &str,
        scopes: &[S],
        ttl_secs: u64,
        now: DateTime<Utc>,
    ) -> String {
        self.try_issue_token(subject, workspace, scopes, ttl_secs, now)
            .expect("creating the JWT signing key")
    }

    /// [`Auth::issue_token`], reporting a failure to create the signing key.
    /// The first call on a fresh data directory generates the RSA key (about
    /// a second); run it off the async executor.
    pub fn try_issue_token<S: AsRef<str>>(
        &self,
        subject: &str,
        workspace: &str,
        scopes: &[S],
        ttl_secs: u64,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let keys = self.keys()?;
        let iat = now.timestamp();
        let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2);
        let claims = Claims {
            iss: self.issuer().to_string(),
            sub: subject.to_string(),
            workspace: workspace.to_string(),
            scope: scopes
                .iter()
                .map(|s| s.as_ref())
                .collect::<Vec<_>>()
                .join(" "),
            iat,
            exp: iat.saturating_add(ttl),
            jti: ulid::Ulid::new().to_string(),
            nbf: None,
        };
        let header = JwtHeader {
            alg: "RS256".into(),
            typ: Some("JWT".into()),
            kid: Some(keys.kid.clone()),
        };
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?)
        );
        let signature = keys.signing.sign(signing_input.as_bytes());
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }

    /// Verifies a bearer token (the part after `Bearer `) at `now`: a
    /// configured dev token or one of this emulator's JWTs.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Identity, ApiError> {
        if let Some(id) = self.static_tokens.get(&token_digest(token)) {
            return Ok(Identity {
                workspace: id.workspace.clone(),
                subject: id.subject.clone(),
                scopes: id.scopes.clone(),
                token_id: format!("static:{}", id.subject),
            });
        }
        if !token.contains('.') {
            return Err(token_invalid(
                "Unknown bearer token: it is neither a configured dev token nor a JWT. \
                 Get an access token from POST /oauth/token.",
            ));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [h64, p64, s64] = parts[..] else {
            return Err(token_invalid(
                "Malformed bearer token: a JWT has three dot-separated parts.",
            ));
        };
        let header: JwtHeader = decode_part(h64).ok_or_else(|| {
            token_invalid("Malformed bearer token: the JWT header is not base64url JSON.")
        })?;
        if header.alg != "RS256" {
            return Err(token_invalid(format!(
                "Unsupported token algorithm `{}`: access tokens are RS256-signed JWTs.",
                printable(&header.alg)
            )));
        }
        let keys = self.existing_keys().ok_or_else(|| {
            token_invalid("The token was not issued by this emulator (unknown signing key).")
        })?;
        if header.kid.as_deref().is_some_and(|kid| kid != keys.kid) {
            return Err(token_invalid(
                "The token was not issued by this emulator (unknown signing key id).",
            ));
        }
        let sig_bytes = decode_b64(s64).ok_or_else(|| {
            token_invalid("Malformed bearer token: the JWT signature is not base64url.")
        })?;
        let signature = Signature::try_from(sig_bytes.as_slice())
            .map_err(|_| token_invalid("The token signature is invalid."))?;
        let signing_input = &token[..h64.len() + 1 + p64.len()];
        keys.verifying
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| token_invalid("The token signature is invalid."))?;
        let claims: Claims = decode_part(p64).ok_or_else(|| {
            token_invalid(
                "The token's claims are incomplete: iss, sub, workspace, scope, iat, exp and jti are required.",
            )
        })?;
        let now_s = now.timestamp();
        if now_s >= claims.exp {
            let expired_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)
                .map(crate::clock::rfc3339)
                .unwrap_or_default();
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                codes::TOKEN_EXPIRED,
                format!(
                    "The access token expired at {expired_at}. Request a new one from POST /oauth/token."
                ),
            )
            .with_details(json!({ "expiredAt": expired_at })));
        }
        if claims.nbf.is_some_and(|nbf| nbf > now_s + NBF_LEEWAY_SECS) {
            return Err(token_invalid(
                "The token is not valid yet (nbf is in the future).",
            ));
        }
        Ok(Identity {
            workspace: claims.workspace,
            subject: claims.sub,
            scopes: claims
                .scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            token_id: format!("jwt:{}", claims.jti),
        })
    }
}

/// Reads the PKCS#8 PEM key file.
fn read_key(path: &Path) -> anyhow::Result<Keys> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the JWT signing key {}", path.display()))?;
    let key = RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| {
        anyhow::anyhow!(
            "the JWT signing key {} is not a PKCS#8 PEM RSA private key ({e}); \
             delete it to have a new one generated (tokens issued with the old key stop working)",
            path.display()
        )
    })?;
    Keys::from_private(key)
}

/// Generates an RSA-2048 key and writes it (0600, atomically) to `path`.
fn create_key(path: &Path) -> anyhow::Result<Keys> {
    let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).context("generating an RSA key")?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .context("encoding the RSA key")?;
    let dir = path.parent().context("key path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension(format!("pem.tmp{}", std::process::id()));
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(pem.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Keys::from_private(key)
}

fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `usr_` + a ULID-shaped rendering of a hash of the dev token.
fn static_subject(token: &str) -> String {
    let digest = Sha256::digest(format!("import-devserver dev token\n{token}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format!("usr_{}", ulid::Ulid::from_bytes(bytes))
}

/// Strict base64url without padding.
fn decode_b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.as_bytes()).ok()
}

fn decode_part<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_slice(&decode_b64(s)?).ok()
}

/// At most 32 safe characters (ASCII letters, digits, `-`, `_`, `.`) of an
/// attacker-supplied string, for messages.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(32)
        .collect()
}

fn token_invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, codes::TOKEN_INVALID, message)
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
}

/// The `WWW-Authenticate` challenge (RFC 6750 §3) that goes with an auth
/// error: none for other errors.
pub fn www_authenticate(err: &ApiError) -> Option<HeaderValue> {
    let value = match (err.status, err.code) {
        (StatusCode::UNAUTHORIZED, c) if c == codes::UNAUTHORIZED => {
            format!("Bearer realm=\"{REALM}\"")
        }
        (StatusCode::UNAUTHORIZED, c) if c == codes::TOKEN_EXPIRED => format!(
            "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"The access token expired\""
        ),
        (StatusCode::UNAUTHORIZED, c) if c == codes::TOKEN_INVALID => format!(
            "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"The access token is invalid\""
        ),
        (StatusCode::FORBIDDEN, c) if c == codes::FORBIDDEN => {
            let scope = err.details.get("requiredScope")?.as_str()?;
            format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\"")
        }
        _ => return None,
    };
    HeaderValue::from_str(&value).ok()
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Workspace the token belongs to.
    pub workspace: String,
    /// Subject (client id or token name), reported as `requestedBy`.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Stable id of the presented token (`jwt:<jti>` or `static:<subject>`):
    /// the key of per-token rate limits; never the token itself.
    pub token_id: String,
}

impl Caller {
    /// 403 `CDP_ETL.AUTH.FORBIDDEN` unless the token carries `scope`.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.has_scope(scope) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            format!("This request requires the `{scope}` scope, which the token does not carry."),
        )
        .with_details(json!({
            "requiredScope": scope,
            "grantedScopes": self.scopes,
        })))
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

impl From<Identity> for Caller {
    fn from(id: Identity) -> Self {
        Caller {
            workspace: id.workspace,
            subject: id.subject,
            scopes: id.scopes,
            token_id: id.token_id,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or_else(|| {
        unauthorized("Missing bearer token: send `Authorization: Bearer <access token>`.")
    })?;
    if values.next().is_some() {
        return Err(unauthorized(
            "Send exactly one Authorization header with the bearer token.",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| token_invalid("Malformed Authorization header."))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized(
            "The Authorization header must use the Bearer scheme: `Authorization: Bearer <access token>`.",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(unauthorized(
            "Missing bearer token: send `Authorization: Bearer <access token>`.",
        ));
    }
    Ok(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// Authenticates the request, then applies the per-token rate limit.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        state.auth.set_issuer(&state.base_url);
        let now = state.now();
        let caller = Caller::from(state.auth.verify(token, now)?);
        state.rate_limiter.check(&caller.token_id, now)?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_subject_is_stable_and_hides_the_token() {
        let a = static_subject("dev-write");
        assert_eq!(a, static_subject("dev-write"));
        assert_ne!(a, static_subject("dev-read"));
        assert!(a.starts_with("usr_") && a.len() == 30, "{a}");
        assert!(!a.contains("dev"));
    }

    #[test]
    fn printable_strips_control_characters() {
        assert_eq!(printable("no\"ne\n"), "none");
    }
}
