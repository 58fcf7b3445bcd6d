//! The client's one error type, [`ClientError`], and its conversion to the
//! JavaScript `ImportError` shape at the boundary:
//!
//! ```text
//! Error { name: "ImportError", kind, status, code, message, correlationId, retryable,
//!         rule?, field?, details? }
//! ```
//!
//! `kind` says where it failed (`validation` before sending, `network` with
//! no response, `api` for an error status, `protocol` for a success response
//! that is not the documented envelope); `code` is what a program branches
//! on; `message` is for people; `retryable` follows the API's
//! error-handling guide (429 and 5xx yes, other 4xx no).

use import_core::codes;
use import_core::rules::RuleViolation;
use wasm_bindgen::JsValue;

/// `code` of a request refused by the client's preflight (the same code the
/// API answers for a request breaking the same rule).
pub const VALIDATION_CODE: &str = codes::REQUEST_INVALID;
/// `code` of a request that received no HTTP response.
pub const NETWORK_CODE: &str = "NETWORK_ERROR";
/// `code` of a success response whose body is not the documented envelope.
pub const RESPONSE_INVALID_CODE: &str = "RESPONSE_INVALID";

/// Everything that can go wrong in a client call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// Refused before sending: bad options, malformed request, or a broken
    /// request rule of `import-core`.
    #[error("{message}")]
    Validation {
        /// Rule code (e.g. `FILE_SIZE_OUT_OF_RANGE`), when a rule was broken.
        rule: Option<String>,
        /// The field at fault (camelCase path), when known.
        field: Option<String>,
        /// For people.
        message: String,
    },
    /// No HTTP response: the runtime's `fetch` rejected.
    #[error("{message}")]
    Network {
        /// For people (includes the runtime's reason).
        message: String,
    },
    /// The API answered with an error status.
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The envelope's `error.code`, or `HTTP_<status>` without an envelope.
        code: String,
        /// The envelope's `error.message`, or a description of the status.
        message: String,
        /// From the envelope or the `x-correlation-id` header.
        correlation_id: Option<String>,
        /// The envelope's `error.details`.
        details: Option<serde_json::Value>,
    },
    /// A success status whose body is not the documented envelope.
    #[error("{message}")]
    Protocol {
        /// HTTP status.
        status: u16,
        /// For people.
        message: String,
        /// From the `x-correlation-id` header.
        correlation_id: Option<String>,
    },
}

impl From<RuleViolation> for ClientError {
    fn from(v: RuleViolation) -> Self {
        ClientError::Validation {
            rule: Some(v.rule.to_string()),
            field: Some(v.field),
            message: v.message,
        }
    }
}

impl ClientError {
    /// A validation error without a rule (options, request shape).
    pub fn invalid(field: Option<&str>, message: impl Into<String>) -> Self {
        ClientError::Validation {
            rule: None,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    /// `validation`, `network`, `api` or `protocol`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Validation { .. } => "validation",
            ClientError::Network { .. } => "network",
            ClientError::Api { .. } => "api",
            ClientError::Protocol { .. } => "protocol",
        }
    }

    /// The code a program branches on.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Validation { .. } => VALIDATION_CODE,
            ClientError::Network { .. } => NETWORK_CODE,
            ClientError::Api { code, .. } => code,
            ClientError::Protocol { .. } => RESPONSE_INVALID_CODE,
        }
    }

    /// The HTTP status, when a response was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Protocol { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The correlation id of the response, when there was one.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            ClientError::Api { correlation_id, .. }
            | ClientError::Protocol { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again.
    pub fn retryable(&self) -> bool {
        match self {
            ClientError::Validation { .. } | ClientError::Protocol { .. } => false,
            ClientError::Network { .. } => true,
            ClientError::Api { status, .. } => codes::is_retryable_status(*status),
        }
    }

    /// The JavaScript `ImportError`: an `Error` with the documented fields.
    pub fn to_js(&self) -> JsValue {
        let err = js_sys::Error::new(&self.to_string());
        err.set_name("ImportError");
        let obj: &JsValue = err.as_ref();
        let set = |key: &str, value: JsValue| {
            // Setting a property on a fresh Error object cannot fail.
            let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), &value);
        };
        set("kind", JsValue::from_str(self.kind()));
        set(
            "status",
            self.status()
                .map(|s| JsValue::from_f64(f64::from(s)))
                .unwrap_or(JsValue::NULL),
        );
        set("code", JsValue::from_str(self.code()));
        set(
            "correlationId",
            self.correlation_id()
                .map(JsValue::from_str)
                .unwrap_or(JsValue::NULL),
        );
        set("retryable", JsValue::from_bool(self.retryable()));
        match self {
            ClientError::Validation { rule, field, .. } => {
                if let Some(rule) = rule {
                    set("rule", JsValue::from_str(rule));
                }
                if let Some(field) = field {
                    set("field", JsValue::from_str(field));
                }
            }
            ClientError::Api {
                details: Some(details),
                ..
            } => {
                if let Ok(v) = crate::js::to_js(details) {
                    set("details", v);
                }
            }
            _ => {}
        }
        err.into()
    }
}

impl From<ClientError> for JsValue {
    fn from(e: ClientError) -> Self {
        e.to_js()
    }
}
