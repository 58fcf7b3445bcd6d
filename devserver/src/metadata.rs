//! Metadata API (stub).
use crate::config::Config;
use axum::response::{IntoResponse, Response};
/// Object schemas.
#[derive(Debug)]
pub struct Catalog {}
impl Catalog {
    /// Loads the default objects and `--schema`.
    pub fn load(_config: &Config) -> anyhow::Result<Self> {
        Ok(Catalog {})
    }
    /// The schema of `object_name`, if the object exists.
    pub fn get(&self, _object_name: &str) -> Option<&import_core::wire::ObjectSchema> {
        None
    }
}
/// `GET /metadata/objects`.
pub async fn list_objects() -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
/// `GET /metadata/objects/{object_name}`.
pub async fn get_object() -> Response {
    axum::http::StatusCode::NOT_IMPLEMENTED.into_response()
}
