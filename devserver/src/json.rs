//! [`ApiJson`]: the JSON body extractor of the API routes. Bodies over 10 MB
//! get 413, malformed JSON and wrong types 400, both in the error envelope
//! with the position (and field path) of the problem. A body declared as
//! anything but JSON (`Content-Type` other than `application/json` or
//! `application/*+json`, or a charset other than UTF-8) gets 415: a form or
//! a file sent to the API by mistake is named for what it is rather than
//! reported as malformed JSON. A body without a `Content-Type` is read as
//! JSON.

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
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
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
            Ok(collected) => {
                let bytes = collected.to_bytes();
                match content_type {
                    Some(ct)
                        if !is_json_content_type(&ct)
                            && !bytes.iter().all(u8::is_ascii_whitespace) =>
                    {
                        Err(not_json(&ct))
                    }
                    _ => Ok(LimitedBody(bytes)),
                }
            }
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

/// Whether a `Content-Type` declares JSON in UTF-8: `application/json` or
/// `application/*+json`, without a charset or with `utf-8`.
pub fn is_json_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let json = media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"));
    json && parts.all(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let v = v.trim().trim_matches('"');
        !k.trim().eq_ignore_ascii_case("charset")
            || v.eq_ignore_ascii_case("utf-8")
            || v.eq_ignore_ascii_case("utf8")
    })
}

/// 415 for a body declared as `content_type`.
fn not_json(content_type: &str) -> ApiError {
    let shown: String = content_type.chars().take(100).collect();
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        codes::REQUEST_INVALID,
        format!(
            "The request body is declared as `{shown}`; the API reads JSON: send it with `Content-Type: application/json` (UTF-8)."
        ),
    )
    .with_details(json!({ "contentType": shown, "expected": "application/json" }))
}

/// Parses `bytes` as JSON into `T` with envelope errors (empty body = `{}`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
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
    })?;
    // Only whitespace may follow the value: `{…} {…}` is not one body.
    de.end().map_err(|e| {
        ApiError::bad_request(format!(
            "Malformed JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
        .with_details(json!({ "line": e.line(), "column": e.column() }))
    })?;
    Ok(value)
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let LimitedBody(bytes) = LimitedBody::from_request(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

#[cfg(test)]
mod tests {
    use super::is_json_content_type;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
            "application/merge-patch+json",
        ] {
            assert!(is_json_content_type(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=b",
            "application/json; charset=utf-16",
            "application/jsonp",
            "text/json+xml",
            "",
        ] {
            assert!(!is_json_content_type(bad), "{bad}");
        }
    }
}
