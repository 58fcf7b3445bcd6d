//! The emulator's one error type, [`ApiError`], rendered as the documented
//! error envelope `{success: false, correlationId, error: {code, message,
//! details}}` with the status it travels with; plus the success envelope
//! helpers and the request-scoped correlation id.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use import_core::codes;
use import_core::wire::{ApiErrorBody, ErrorEnvelope, SuccessEnvelope};
use serde::Serialize;
use serde_json::{json, Value};

tokio::task_local! {
    /// The correlation id of the request being served (set by
    /// [`crate::app::correlation_layer`]).
    pub static CORRELATION_ID: String;
}

/// The current request's correlation id (a fresh one outside a request).
pub fn correlation_id() -> String {
    CORRELATION_ID
        .try_with(|id| id.clone())
        .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string())
}

/// An API error: status, code, message, details.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `CDP_ETL…` code.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// Error-specific details (always an object on the wire).
    pub details: Value,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error with empty details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: json!({}),
            retry_after: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Adds a `Retry-After`.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 400 `CDP_ETL.VALIDATION.REQUEST_INVALID`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::REQUEST_INVALID, message)
    }

    /// 404 `CDP_ETL.NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    /// 409 with the given code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 500 `CDP_ETL.INTERNAL.UNHANDLED_EXCEPTION`. The cause is logged, not
    /// sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "Unexpected server error. Retry later; if it persists, report the correlation id.",
        )
    }

    /// The envelope body.
    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            success: false,
            correlation_id: Some(correlation_id()),
            error: ApiErrorBody {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: Some(self.details.clone()),
                remediation: None,
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.envelope())).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        if let Some(challenge) = crate::auth::www_authenticate(&self) {
            resp.headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, challenge);
        }
        resp
    }
}

/// `Result` of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// A success envelope with the given status.
pub fn envelope<T: Serialize>(status: StatusCode, data: T) -> Response {
    (
        status,
        axum::Json(SuccessEnvelope::new(data, correlation_id())),
    )
        .into_response()
}

/// 200 with a success envelope.
pub fn ok<T: Serialize>(data: T) -> Response {
    envelope(StatusCode::OK, data)
}
