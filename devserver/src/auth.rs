//! Bearer-token authentication (stub: filled in by the auth work).
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::config::Config;
use crate::error::ApiError;

/// Token verification state.
#[derive(Debug)]
pub struct Auth {}

impl Auth {
    /// Loads or creates keys.
    pub fn load(_config: &Config) -> anyhow::Result<Self> {
        Ok(Auth {})
    }
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
}

impl Caller {
    /// 403 `CDP_ETL.AUTH.FORBIDDEN` unless the token carries `scope`.
    pub fn require(&self, _scope: &str) -> Result<(), ApiError> {
        Ok(())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(_parts: &mut Parts, _state: &AppState) -> Result<Self, ApiError> {
        Ok(Caller {
            workspace: "ws_dev".into(),
            subject: "dev".into(),
            scopes: vec![],
        })
    }
}
