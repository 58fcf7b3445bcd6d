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

/// Codes of the edge broker's own refusals (`createBroker`). They travel in
/// the API's error envelope, so a client branches on them like on the API's.
pub mod broker {
    /// 401: no upload ticket (`Authorization: Bearer <ticket>`) and no
    /// `authorize` hook accepted the request.
    pub const TICKET_MISSING: &str = "BROKER.TICKET.MISSING";
    /// 401: the ticket is malformed, signed with another secret, or altered.
    pub const TICKET_INVALID: &str = "BROKER.TICKET.INVALID";
    /// 401: the ticket has expired; get a new one from the app's backend
    /// (`ImportClient` calls `getToken()` again and retries once).
    pub const TICKET_EXPIRED: &str = "BROKER.TICKET.EXPIRED";
    /// 403: the job handle was not issued to this ticket's subject, or was altered.
    pub const JOB_FORBIDDEN: &str = "BROKER.JOB.FORBIDDEN";
    /// 403: the ticket or the broker's policy does not allow this object.
    pub const OBJECT_NOT_ALLOWED: &str = "BROKER.POLICY.OBJECT_NOT_ALLOWED";
    /// 413: `fileSize` is over what the ticket or the policy allows.
    pub const FILE_TOO_LARGE: &str = "BROKER.POLICY.FILE_TOO_LARGE";
    /// 403: the mapping's `fieldMap` writes a field outside `policy.fields`.
    pub const FIELD_NOT_ALLOWED: &str = "BROKER.POLICY.FIELD_NOT_ALLOWED";
    /// 413: the request body is over the broker's limit (1 MiB), whether
    /// or not it declared a `Content-Length`.
    pub const REQUEST_TOO_LARGE: &str = "BROKER.REQUEST.TOO_LARGE";
    /// 403: the mapping's `importMode` is not allowed (`custom` by default).
    pub const IMPORT_MODE_NOT_ALLOWED: &str = "BROKER.POLICY.IMPORT_MODE_NOT_ALLOWED";
    /// 403: `createList`, `targetListId`, `createAudience`,
    /// `autoProfileAfterImport` or `saveAsTemplate` is not allowed.
    pub const OPTION_NOT_ALLOWED: &str = "BROKER.POLICY.OPTION_NOT_ALLOWED";
    /// 403: the request's `Origin` is not one of the allowed origins.
    pub const ORIGIN_NOT_ALLOWED: &str = "BROKER.CORS.ORIGIN_NOT_ALLOWED";
    /// 429: the subject sent too many requests; see `Retry-After`.
    pub const RATE_LIMITED: &str = "BROKER.RATE.LIMITED";
    /// 503: the configured `rateLimiter` failed (the request is refused,
    /// not let through unlimited).
    pub const RATE_UNAVAILABLE: &str = "BROKER.RATE.UNAVAILABLE";
    /// 404: the broker forwards only the Import Jobs and Metadata paths.
    pub const ROUTE_NOT_FOUND: &str = "BROKER.ROUTE.NOT_FOUND";
    /// 405: the path exists but not with this method.
    pub const METHOD_NOT_ALLOWED: &str = "BROKER.ROUTE.METHOD_NOT_ALLOWED";
    /// 502: the broker could not obtain a workspace token (OAuth refused or unreachable).
    pub const UPSTREAM_AUTH_FAILED: &str = "BROKER.UPSTREAM.AUTH_FAILED";
    /// 502: the API could not be reached.
    pub const UPSTREAM_UNREACHABLE: &str = "BROKER.UPSTREAM.UNREACHABLE";
    /// 500: the broker is misconfigured (a message says which option).
    pub const MISCONFIGURED: &str = "BROKER.CONFIG.INVALID";
}

/// Codes of the local emulator's own refusals (`import-devserver`), in the
/// API's error envelope. The real API has no such codes.
pub mod emulator {
    /// 403: the request's `Host` is neither the emulator's bound address,
    /// a loopback name with its port, nor the host of `--public-url` (a
    /// page of another site reaching it by DNS rebinding). `details.host`
    /// and `details.allowedHosts` say which.
    pub const HOST_NOT_ALLOWED: &str = "EMULATOR.HOST.NOT_ALLOWED";
}

/// Whether a client may retry a request that failed with `status` (the API's
/// error-handling guide: 429 and 5xx yes; 409 from a state conflict no).
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}
