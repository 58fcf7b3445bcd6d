//! Import job endpoints (stub).
use crate::app::AppState;
use axum::response::{IntoResponse, Response};
/// Called once at start-up (e.g. to fail jobs interrupted by a restart).
pub fn on_start(_state: &AppState) -> anyhow::Result<()> {
    Ok(())
}
/// `POST /import-jobs`.
pub async fn create() -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
/// `POST /import-jobs/{job_id}/mapping`.
pub async fn set_mapping() -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
/// `POST /import-jobs/{job_id}/start`.
pub async fn start() -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
/// `GET /import-jobs/{job_id}`.
pub async fn status() -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
/// `GET /import-jobs/{job_id}/errors`.
pub async fn errors() -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
