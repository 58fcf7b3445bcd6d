//! Storage error responses, in the style of the service each mode imitates.
//!
//! - `local` (Azure): `x-ms-error-code: <Code>` header and
//!   `<?xml …?><Error><Code>…</Code><Message>…</Message></Error>`.
//! - `local-s3`: `<?xml …?><Error><Code>…</Code><Message>…</Message>
//!   <Resource>…</Resource><RequestId>…</RequestId></Error>`.
//! - `local-gcs`: JSON `{"error": {"code": <status>, "message": "…",
//!   "errors": [{"domain": "global", "reason": "<Code>", "message": "…"}]}}`.
//!
//! The `Code` (or GCS `reason`) is what a program branches on; the message
//! says what to do.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Protocol;

/// A refused or failed storage request.
#[derive(Debug, Clone)]
pub struct StorageError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code (Azure `x-ms-error-code`, S3 `Code`, GCS `reason`).
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// Extra response headers (e.g. `Retry-After`, `Range`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl StorageError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        StorageError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: impl AsRef<str>) -> Self {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }

    /// 500 in the mode's words; the cause is logged, not sent.
    pub fn internal(protocol: Protocol, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "storage internal error");
        let code = match protocol {
            Protocol::Azure => "InternalError",
            Protocol::S3 => "InternalError",
            Protocol::Gcs => "backendError",
        };
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code,
            "The server encountered an internal error. Please retry the request.",
        )
    }

    /// Renders the error for `protocol`; `request_id` and `resource` (the
    /// landing path) go into the body where the real service puts them.
    pub fn render(self, protocol: Protocol, request_id: &str, resource: &str) -> Response {
        let (content_type, body) = match protocol {
            Protocol::Azure => (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}\nRequestId:{}\nTime:{}0Z</Message></Error>",
                    self.code,
                    xml_escape(&self.message),
                    request_id,
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f"),
                ),
            ),
            Protocol::S3 => (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><Resource>/{}</Resource><RequestId>{}</RequestId></Error>",
                    self.code,
                    xml_escape(&self.message),
                    xml_escape(resource),
                    request_id
                ),
            ),
            Protocol::Gcs => (
                "application/json; charset=UTF-8",
                serde_json::json!({
                    "error": {
                        "code": self.status.as_u16(),
                        "message": self.message,
                        "errors": [{
                            "domain": "global",
                            "reason": self.code,
                            "message": self.message,
                        }],
                    }
                })
                .to_string(),
            ),
        };
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        if protocol == Protocol::Azure {
            h.insert("x-ms-error-code", HeaderValue::from_static(self.code));
        }
        for (name, value) in self.headers {
            h.insert(name, value);
        }
        resp
    }
}

/// Escapes text for an XML element's content.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}
