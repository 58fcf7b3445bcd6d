//! The API's error codes (`error.code` of the error envelope) and the HTTP
//! statuses they travel with.

/// 400: malformed body or invalid field combination (also 413 bodies over 10 MB).
pub const REQUEST_INVALID: &str = "CDP_ETL.VALIDATION.REQUEST_INVALID";
/// 422: the mapping references an unknown destination field.
pub const REQUEST_SCHEMA: &str = "CDP_ETL.VALIDATION.REQUEST_SCHEMA";
/// 401: missing bearer token.
pub const UNAUTHORIZED: &str = "CDP_ETL.AUTH.UNAUTHORIZED";
/// 401: malformed or unrecognised token, bad signature.
pub const TOKEN_INVALID: &str = "CDP_ETL.AUTH.TOKEN_INVALID";
/// 401: expired token.
pub const TOKEN_EXPIRED: &str = "CDP_ETL.AUTH.TOKEN_EXPIRED";
/// 403: the token lacks the required scope.
pub const FORBIDDEN: &str = "CDP_ETL.AUTH.FORBIDDEN";
/// 404: the job (list, audience, object) does not exist in this workspace.
pub const NOT_FOUND: &str = "CDP_ETL.NOT_FOUND";
/// 409: the operation is not allowed in the job's current state.
pub const JOB_STATE_CONFLICT: &str = "CDP_ETL.JOB.STATE_CONFLICT";
/// 409: start refused: no upload, or its size differs from `fileSize`.
pub const UPLOAD_INCOMPLETE: &str = "CDP_ETL.JOB.UPLOAD_INCOMPLETE";
/// 409: start refused: the workspace already runs 10 jobs.
pub const CONCURRENCY_LIMIT: &str = "CDP_ETL.JOB.CONCURRENCY_LIMIT";
/// 409: `Idempotency-Key` reused with a different body.
pub const IDEMPOTENCY_KEY_REUSED: &str = "CDP_ETL.IDEMPOTENCY.KEY_REUSED";
/// 429: rate limit exceeded; see `Retry-After`.
pub const RATE_LIMITED: &str = "CDP_ETL.RATE.LIMITED";
/// 500: unexpected server error.
pub const INTERNAL: &str = "CDP_ETL.INTERNAL.UNHANDLED_EXCEPTION";
/// 503: a dependency (e.g. storage) is unavailable.
pub const UNAVAILABLE: &str = "CDP_ETL.INTERNAL.UNAVAILABLE";
/// 405: method not allowed on this path.
pub const METHOD_NOT_ALLOWED: &str = "CDP_ETL.VALIDATION.METHOD_NOT_ALLOWED";

/// Whether a client may retry a request that failed with `status` (the API's
/// error-handling guide: 429 and 5xx yes; 409 from a state conflict no).
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}
