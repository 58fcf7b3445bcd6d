//! [`ApiJson`]: the JSON body extractor of the API routes. Bodies over 10 MB
//! get 413, malformed JSON and wrong types 400, both in the error envelope
//! with the position (and field path) of the problem.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use import_core::codes;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::ApiError;

/// Maximum JSON request body (the API's documented 10 MB).
pub const MAX_JSON_BODY: usize = 10 * 1024 * 1024;

/// A JSON request body, deserialised with the API's error envelope on failure.
///
/// An empty body deserialises as `{}` (the start endpoint's body is optional).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// The raw bytes of an API request body, limited to [`MAX_JSON_BODY`].
#[derive(Debug)]
pub struct LimitedBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for LimitedBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::REQUEST_INVALID,
                format!(
                    "Request body exceeds the {} MB limit; send a smaller payload.",
                    MAX_JSON_BODY / (1024 * 1024)
                ),
            )
            .with_details(json!({ "limitBytes": MAX_JSON_BODY }))
        };
        if let Some(len) = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len > MAX_JSON_BODY as u64 {
                return Err(too_large());
            }
        }
        let body = req.into_body();
        let limited = http_body_util::Limited::new(body, MAX_JSON_BODY);
        match http_body_util::BodyExt::collect(limited).await {
            Ok(collected) => Ok(LimitedBody(collected.to_bytes())),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    Err(too_large())
                } else {
                    Err(ApiError::bad_request(format!(
                        "Could not read the request body: {e}"
                    )))
                }
            }
        }
    }
}

/// Parses `bytes` as JSON into `T` with envelope errors (empty body = `{}`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let syntax = matches!(
            inner.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        );
        let message = if syntax {
            format!(
                "Malformed JSON at line {} column {}: {}",
                inner.line(),
                inner.column(),
                inner
            )
        } else if path.is_empty() || path == "." {
            format!("Invalid request body: {inner}")
        } else {
            format!("Invalid value for `{path}`: {inner}")
        };
        let mut details = json!({ "line": inner.line(), "column": inner.column() });
        if !syntax && !path.is_empty() && path != "." {
            details["field"] = json!(path);
        }
        ApiError::bad_request(message).with_details(details)
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let LimitedBody(bytes) = LimitedBody::from_request(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}
