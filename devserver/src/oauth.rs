//! `POST /oauth/token` (stub).
use axum::response::{IntoResponse, Response};
/// Client-credentials token endpoint.
pub async fn token() -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
