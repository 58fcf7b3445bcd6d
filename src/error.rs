//! The client's one error type, [`ClientError`], and its conversion to the
//! JavaScript `ImportError` shape at the boundary:
//!
//! ```text
//! Error { name: "ImportError", kind, status, code, message, correlationId, retryable,
//!         rule?, field?, details? }
//! ```
//!
//! `kind` says where it failed (`validation` before sending, `network` with
//! no response from the API, `api` for an error status of the API, `storage`
//! for a failure of the storage behind a pre-signed URL, `aborted` when the
//! caller's `AbortSignal` fired, `expired` when a pre-signed URL stopped
//! working, `protocol` for a success response that is not the documented
//! envelope); `code` is what a program branches on; `message` is for people;
//! `retryable` follows the API's error-handling guide (429 and 5xx yes, other
//! 4xx no).

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
/// `code` of an operation cancelled by its `AbortSignal`.
pub const ABORTED_CODE: &str = "ABORTED";
/// `code` of a failure of the caller's `getToken()`.
pub const TOKEN_PROVIDER_CODE: &str = "TOKEN_PROVIDER_FAILED";
/// `code` of a storage request that received no HTTP response.
pub const STORAGE_NETWORK_CODE: &str = "STORAGE_NETWORK_ERROR";
/// `code` of an upload URL that expired (past `expiresAt`, or refused after it).
pub const UPLOAD_URL_EXPIRED_CODE: &str = "UPLOAD_URL_EXPIRED";
/// `code` of an error-file URL that kept expiring although it was fetched again.
pub const ERROR_FILE_URL_EXPIRED_CODE: &str = "ERROR_FILE_URL_EXPIRED";

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
        /// The envelope's `error.details` (any JSON value, as parsed).
        details: Option<JsValue>,
    },
    /// The storage behind a pre-signed URL failed (an error status, or no
    /// response at all).
    #[error("{message}")]
    Storage {
        /// HTTP status, `None` when no response was received.
        status: Option<u16>,
        /// The storage's own error code (Azure `x-ms-error-code`, S3 `Code`,
        /// GCS `reason`) when it gave one, else `STORAGE_<status>`, or
        /// [`STORAGE_NETWORK_CODE`] without a response.
        code: String,
        /// For people (never includes the URL's query string).
        message: String,
        /// The storage's request id (e.g. `x-ms-request-id`), when known.
        request_id: Option<String>,
    },
    /// The caller's `AbortSignal` fired.
    #[error("{message}")]
    Aborted {
        /// For people (includes the signal's reason when it has one).
        message: String,
    },
    /// A pre-signed URL expired: retrying cannot help; an upload needs a new
    /// job, an error file a fresh URL from `errors()`.
    #[error("{message}")]
    Expired {
        /// [`UPLOAD_URL_EXPIRED_CODE`] or [`ERROR_FILE_URL_EXPIRED_CODE`].
        code: String,
        /// HTTP status of the refusal, when there was one.
        status: Option<u16>,
        /// For people.
        message: String,
    },
    /// The caller's `getToken()` threw, rejected or gave no usable token.
    #[error("{message}")]
    TokenProvider {
        /// For people (includes the reason `getToken()` gave).
        message: String,
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

    /// An `aborted` error for a signal that fired with `reason`.
    pub fn aborted(reason: &JsValue) -> Self {
        let why = if reason.is_undefined() || reason.is_null() {
            String::new()
        } else {
            crate::js::describe(reason)
        };
        ClientError::Aborted {
            message: if why.is_empty() {
                "The operation was aborted.".to_string()
            } else {
                format!("The operation was aborted: {why}")
            },
        }
    }

    /// Whether this is an `aborted` error.
    pub fn is_aborted(&self) -> bool {
        matches!(self, ClientError::Aborted { .. })
    }

    /// `validation`, `network`, `api`, `storage`, `aborted`, `expired` or
    /// `protocol`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Validation { .. } | ClientError::TokenProvider { .. } => "validation",
            ClientError::Storage { .. } => "storage",
            ClientError::Aborted { .. } => "aborted",
            ClientError::Expired { .. } => "expired",
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
            ClientError::Storage { code, .. } | ClientError::Expired { code, .. } => code,
            ClientError::Aborted { .. } => ABORTED_CODE,
            ClientError::TokenProvider { .. } => TOKEN_PROVIDER_CODE,
        }
    }

    /// The HTTP status, when a response was received.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Protocol { status, .. } => Some(*status),
            ClientError::Storage { status, .. } | ClientError::Expired { status, .. } => *status,
            _ => None,
        }
    }

    /// The correlation id of the response, when there was one.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            ClientError::Api { correlation_id, .. }
            | ClientError::Protocol { correlation_id, .. } => correlation_id.as_deref(),
            ClientError::Storage { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again.
    pub fn retryable(&self) -> bool {
        match self {
            ClientError::Validation { .. }
            | ClientError::Protocol { .. }
            | ClientError::Aborted { .. }
            | ClientError::Expired { .. }
            | ClientError::TokenProvider { .. } => false,
            ClientError::Network { .. } => true,
            ClientError::Api { status, .. } => codes::is_retryable_status(*status),
            ClientError::Storage { status, .. } => status.is_none_or(codes::is_retryable_status),
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
            } => set("details", details.clone()),
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

#[wasm_bindgen::prelude::wasm_bindgen(typescript_custom_section)]
const TS_ERROR_TYPES: &'static str = r#"
/**
 * What went wrong:
 * - `validation`: refused before anything was sent (options, request rules,
 *   or a failing `getToken()`);
 * - `network`: no HTTP response from the API (offline, DNS, CORS, reset);
 * - `api`: the API answered with an error status;
 * - `storage`: the storage behind a pre-signed URL failed;
 * - `aborted`: the caller's `AbortSignal` fired;
 * - `expired`: a pre-signed URL expired (an upload needs a new job);
 * - `protocol`: a success answer that is not the documented envelope.
 */
export type ImportErrorKind =
  | "validation" | "network" | "api" | "storage" | "aborted" | "expired" | "protocol";

/** The one error shape every method rejects with. */
export interface ImportError extends Error {
  name: "ImportError";
  kind: ImportErrorKind;
  /** HTTP status, or `null` when no response was received. */
  status: number | null;
  /**
   * Code a program can branch on: the API's `error.code` (e.g.
   * `CDP_ETL.AUTH.TOKEN_INVALID`), `CDP_ETL.VALIDATION.REQUEST_INVALID` for
   * requests refused before sending, `HTTP_<status>` for an API error
   * without the documented envelope, `NETWORK_ERROR`, `RESPONSE_INVALID`,
   * `ABORTED`, `TOKEN_PROVIDER_FAILED`, `UPLOAD_URL_EXPIRED`,
   * `ERROR_FILE_URL_EXPIRED`, `STORAGE_NETWORK_ERROR`, or the storage's own
   * code (e.g. Azure's `AuthenticationFailed`) / `STORAGE_<status>`.
   */
  code: string;
  message: string;
  /** The API's correlation id (storage: its request id), to quote to support. */
  correlationId: string | null;
  /** Whether sending the same request again may succeed. */
  retryable: boolean;
  /** `validation` only: the broken rule, e.g. `FILE_SIZE_OUT_OF_RANGE`. */
  rule?: string;
  /** `validation` only: the option or request field at fault, e.g. `fileSize`. */
  field?: string;
  /** `api` only: the envelope's `error.details`. */
  details?: unknown;
}
"#;
