//! Fault injection (stub).
use crate::app::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
/// Parsed fault spec.
#[derive(Debug)]
pub struct Faults {}
impl Faults {
    /// Parses a spec.
    pub fn parse(_spec: &str, _seed: u64) -> Result<Self, String> {
        Ok(Faults {})
    }
}
/// Middleware injecting API faults.
pub async fn api_faults(State(_state): State<AppState>, req: Request, next: Next) -> Response {
    next.run(req).await
}
