//! Signed storage (stub).
use crate::config::Config;
use axum::response::{IntoResponse, Response};
/// Storage.
#[derive(Debug)]
pub struct Storage {}
impl Storage {
    /// Creates the storage for the configured mode.
    pub fn new(_config: &Config, _base_url: &str) -> anyhow::Result<Self> {
        Ok(Storage {})
    }
}
/// Any request under `/storage/`.
pub async fn handle() -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
