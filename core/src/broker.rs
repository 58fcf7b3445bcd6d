//! The edge broker's rules: upload tickets, signed job handles, the policy
//! applied to the browser's requests, the routes it forwards and the
//! per-subject rate limit. Pure logic; the wasm crate's `broker` module does
//! the I/O (`createBroker`, `mintUploadTicket`).
//!
//! # Upload tickets
//! A ticket is a compact JWT signed with HMAC-SHA256 (`alg: HS256`) under the
//! broker's `ticketSecret`, which the app's backend shares with the broker.
//! Claims:
//!
//! | claim | meaning |
//! |---|---|
//! | `aud` | the broker's `ticketAudience` (default [`TICKET_AUDIENCE`]): a JWT minted for another audience is refused |
//! | `sub` | the subject (the app's user or session), 1–256 characters |
//! | `iat`, `exp` | issued at / expires at, Unix seconds; lifetime 1 s to 24 h |
//! | `objects` | optional: the objects this ticket may import into |
//! | `maxFileSize` | optional: the largest `fileSize` this ticket may declare |
//!
//! The signature is checked before anything else (so an altered ticket is
//! `BROKER.TICKET.INVALID`, never `EXPIRED`); only `HS256` is accepted, and a
//! header with `crit` is refused (RFC 7515 §4.1.11: this verifier
//! understands no extension). Then the audience, then the times: `iat` may
//! be at most [`CLOCK_SKEW`] seconds ahead of the broker's clock, and `exp −
//! iat` at most [`MAX_TICKET_TTL`], so a ticket cannot outlive what the
//! minting API allows even when the secret's holder minted it by hand. No
//! leeway on `exp`: tickets are short-lived and minted by the same party.
//!
//! Environments that share a `ticketSecret` (staging and production, two
//! apps) keep their tickets apart with distinct audiences
//! (`ticketAudience` of `createBroker` and of `mintUploadTicket`).
//!
//! # Job handles
//! The broker is stateless, yet a subject may touch only the jobs it created.
//! So the job id the browser sees is a handle `<jobId>.<mac>`, where `mac` is
//! the first 16 bytes of HMAC-SHA256(secret, `"job\0" + subject + "\0" +
//! jobId`) in unpadded base64url (22 characters). A handle presented under
//! another subject, or altered, is `BROKER.JOB.FORBIDDEN`.
//!
//! The same secret also scopes `Idempotency-Key`s ([`idempotency_key`]): the
//! API keeps them per workspace, and every subject shares the broker's
//! workspace token, so one subject must not replay another's create answer.
//!
//! # Policy
//! | request | checked | refusal |
//! |---|---|---|
//! | create | `objectName` allowed by the policy and the grant | 403 `BROKER.POLICY.OBJECT_NOT_ALLOWED` |
//! | create | `fileSize` ≤ the policy's and the grant's `maxFileSize` | 413 `BROKER.POLICY.FILE_TOO_LARGE` |
//! | create | `createList`/`targetListId` need `allowCreateList`; `createAudience` needs `allowCreateAudience`; `autoProfileAfterImport` needs `allowAutoProfile` | 403 `BROKER.POLICY.OPTION_NOT_ALLOWED` |
//! | mapping | `importMode` in `importModes` (default: the three documented modes, so `custom` is refused) | 403 `BROKER.POLICY.IMPORT_MODE_NOT_ALLOWED` |
//! | mapping | `saveAsTemplate`/`templateId` need `allowTemplates` | 403 `BROKER.POLICY.OPTION_NOT_ALLOWED` |
//! | mapping | every `fieldMap` destination in `fields`, when set (a `templateId` is refused then: its fields cannot be checked) | 403 `BROKER.POLICY.FIELD_NOT_ALLOWED` |
//! | metadata | `GET /metadata/objects/{name}`: `name` allowed by the policy and the grant; the list keeps only allowed objects | 403 `BROKER.POLICY.OBJECT_NOT_ALLOWED` |
//! | create, mapping, start | the body is one JSON object of the API's shape | 400 `CDP_ETL.VALIDATION.REQUEST_INVALID` |
//!
//! Bodies the broker checked are re-serialised from what it parsed, so the API
//! receives exactly what the policy saw (no duplicate keys or unknown fields
//! can slip past). Missing required fields are left to the API, which
//! answers them with its own codes.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::codes::{self, broker as code};
use crate::wire::{CreateJobRequest, ErrorEnvelope, MappingRequest};

type HmacSha256 = Hmac<Sha256>;

/// The default `aud` claim of upload tickets (`ticketAudience`).
pub const TICKET_AUDIENCE: &str = "import-uploader-broker";
/// Longest `ticketAudience`, characters.
pub const MAX_AUDIENCE_LEN: usize = 256;
/// How far a ticket's `iat` may be ahead of the broker's clock, seconds.
pub const CLOCK_SKEW: u64 = 60;
/// Shortest accepted `ticketSecret`, in bytes (256 bits as text).
pub const MIN_SECRET_LEN: usize = 32;
/// Default ticket lifetime, seconds.
pub const DEFAULT_TICKET_TTL: u64 = 600;
/// Longest ticket lifetime, seconds.
pub const MAX_TICKET_TTL: u64 = 86_400;
/// Longest accepted subject, characters.
pub const MAX_SUBJECT_LEN: usize = 256;
/// Longest accepted ticket, bytes.
const MAX_TICKET_LEN: usize = 8 * 1024;
/// Largest request body the broker reads (create, mapping, start).
pub const MAX_BODY: usize = 1024 * 1024;
/// The import modes allowed when the policy names none.
pub const DEFAULT_IMPORT_MODES: [&str; 3] = ["strict", "balanced", "landing_friendly"];
/// The API's largest `fileSize` (50 GB).
pub const API_MAX_FILE_SIZE: u64 = 50_000_000_000;

/// Base64url of `{"alg":"HS256","typ":"JWT"}`.
const TICKET_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// A refusal by the broker: HTTP status, a code a program can branch on and
/// a message a person can act on, sent in the API's error envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// `BROKER.…` (or the API's own code where the API would answer the same).
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// Error-specific details.
    pub details: Option<Value>,
    /// Seconds to wait (429 only): sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// For the operator's log only, never sent: the cause behind a generic
    /// message (an upstream host, a network error).
    pub log: Option<String>,
}

impl Refusal {
    /// A refusal without details.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            log: None,
        }
    }

    /// Adds what the operator's log gets (never the browser).
    pub fn with_log(mut self, log: impl Into<String>) -> Self {
        self.log = Some(log.into());
        self
    }

    /// Adds `details`.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The error envelope, as JSON text.
    pub fn envelope(&self, correlation_id: &str) -> String {
        let env = ErrorEnvelope {
            success: false,
            correlation_id: Some(correlation_id.to_string()),
            error: crate::wire::ApiErrorBody {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: self.details.clone(),
                remediation: None,
            },
        };
        serde_json::to_string(&env).unwrap_or_default()
    }
}

/// What one request may do: who it is for and how it is narrowed. From a
/// verified ticket or from the app's `authorize` hook.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    /// The subject (the app's user or session).
    pub subject: String,
    /// Objects this grant may import into (`None`: whatever the policy allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<String>>,
    /// Largest `fileSize` (`None`: whatever the policy allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
}

impl Grant {
    /// Checks the subject: 1–[`MAX_SUBJECT_LEN`] characters, no control
    /// characters.
    pub fn check(&self) -> Result<(), String> {
        let n = self.subject.chars().count();
        if n == 0 || n > MAX_SUBJECT_LEN {
            return Err(format!(
                "subject must be 1 to {MAX_SUBJECT_LEN} characters (got {n})"
            ));
        }
        if self.subject.chars().any(char::is_control) {
            return Err("subject must not contain control characters".into());
        }
        Ok(())
    }
}

/// The claims of an upload ticket (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketClaims {
    /// The broker's `ticketAudience`.
    pub aud: String,
    /// Subject.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// Allowed objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<String>>,
    /// Largest `fileSize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
}

/// Checks a `ticketSecret`: at least [`MIN_SECRET_LEN`] bytes.
pub fn check_secret(secret: &str) -> Result<(), String> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(format!(
            "ticketSecret must be at least {MIN_SECRET_LEN} characters (a random 256-bit value, e.g. 64 hex digits); got {}",
            secret.len()
        ));
    }
    Ok(())
}

fn mac(secret: &str) -> HmacSha256 {
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

/// Checks a `ticketAudience`: 1–[`MAX_AUDIENCE_LEN`] characters, no
/// control characters.
pub fn check_audience(audience: &str) -> Result<(), String> {
    let n = audience.chars().count();
    if n == 0 || n > MAX_AUDIENCE_LEN || audience.chars().any(char::is_control) {
        return Err(format!(
            "ticketAudience must be 1 to {MAX_AUDIENCE_LEN} characters without control characters (got {n})"
        ));
    }
    Ok(())
}

/// Mints an upload ticket for `grant` with the default audience
/// ([`TICKET_AUDIENCE`]); see [`mint_ticket_for`].
pub fn mint_ticket(
    secret: &str,
    grant: &Grant,
    ttl_seconds: u64,
    now: u64,
) -> Result<String, String> {
    mint_ticket_for(secret, TICKET_AUDIENCE, grant, ttl_seconds, now)
}

/// Mints an upload ticket for `grant` and `audience`, valid `ttl_seconds`
/// from `now` (Unix seconds). Errors name the bad input.
pub fn mint_ticket_for(
    secret: &str,
    audience: &str,
    grant: &Grant,
    ttl_seconds: u64,
    now: u64,
) -> Result<String, String> {
    check_secret(secret)?;
    check_audience(audience)?;
    grant.check()?;
    if !(1..=MAX_TICKET_TTL).contains(&ttl_seconds) {
        return Err(format!(
            "ttlSeconds must be 1 to {MAX_TICKET_TTL} (got {ttl_seconds})"
        ));
    }
    let exp = now
        .checked_add(ttl_seconds)
        .ok_or_else(|| format!("now ({now}) plus ttlSeconds is past the largest time"))?;
    let claims = TicketClaims {
        aud: audience.to_string(),
        sub: grant.subject.clone(),
        iat: now,
        exp,
        objects: grant.objects.clone(),
        max_file_size: grant.max_file_size,
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).map_err(|e| e.to_string())?);
    let signing_input = format!("{TICKET_HEADER}.{payload}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    let ticket = format!("{signing_input}.{sig}");
    // verify_ticket refuses longer ones unread.
    if ticket.len() > MAX_TICKET_LEN {
        return Err(format!(
            "the ticket would be {} bytes, over the {MAX_TICKET_LEN}-byte limit of a ticket: list fewer or shorter objects",
            ticket.len()
        ));
    }
    Ok(ticket)
}

/// Verifies an upload ticket of the default audience ([`TICKET_AUDIENCE`]);
/// see [`verify_ticket_for`].
pub fn verify_ticket(secret: &str, ticket: &str, now: u64) -> Result<Grant, Refusal> {
    verify_ticket_for(secret, TICKET_AUDIENCE, ticket, now)
}

/// Verifies an upload ticket minted for `audience` at `now` (Unix seconds)
/// and returns its grant.
pub fn verify_ticket_for(
    secret: &str,
    audience: &str,
    ticket: &str,
    now: u64,
) -> Result<Grant, Refusal> {
    let invalid = |why: &str| {
        Refusal::new(
            401,
            code::TICKET_INVALID,
            format!("The upload ticket is not valid ({why}). Get a new ticket from the app."),
        )
    };
    if ticket.len() > MAX_TICKET_LEN {
        return Err(invalid("too long"));
    }
    let mut parts = ticket.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not a compact JWT"));
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("unreadable header"))?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(invalid("only HS256 tickets are accepted"));
    }
    if header.get("crit").is_some() {
        return Err(invalid(
            "its header lists critical extensions (`crit`), which this broker does not support",
        ));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid("unreadable signature"))?;
    let mut m = mac(secret);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&sig)
        .map_err(|_| invalid("bad signature: altered, or signed with another secret"))?;
    let claims: TicketClaims = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("unreadable claims"))?;
    if claims.aud != audience {
        return Err(invalid("minted for another audience"));
    }
    if claims.iat > now.saturating_add(CLOCK_SKEW) {
        return Err(invalid(
            "issued in the future: check the clocks of the app and the broker",
        ));
    }
    if claims.exp <= claims.iat || claims.exp - claims.iat > MAX_TICKET_TTL {
        return Err(invalid(&format!(
            "its lifetime is not 1 s to {MAX_TICKET_TTL} s"
        )));
    }
    if claims.exp <= now {
        return Err(Refusal::new(
            401,
            code::TICKET_EXPIRED,
            "The upload ticket has expired. Get a new ticket from the app.",
        )
        .with_details(serde_json::json!({ "expiredAt": claims.exp })));
    }
    let grant = Grant {
        subject: claims.sub,
        objects: claims.objects,
        max_file_size: claims.max_file_size,
    };
    grant.check().map_err(|why| invalid(&why))?;
    Ok(grant)
}

fn job_mac(secret: &str, subject: &str, job_id: &str) -> HmacSha256 {
    let mut m = mac(secret);
    m.update(b"job\0");
    m.update(subject.as_bytes());
    m.update(b"\0");
    m.update(job_id.as_bytes());
    m
}

/// Length of a job handle's MAC, bytes (22 base64url characters).
const HANDLE_MAC_LEN: usize = 16;

/// The job handle `<jobId>.<mac>` for `subject`.
pub fn job_handle(secret: &str, subject: &str, job_id: &str) -> String {
    let tag = job_mac(secret, subject, job_id).finalize().into_bytes();
    format!(
        "{job_id}.{}",
        URL_SAFE_NO_PAD.encode(&tag[..HANDLE_MAC_LEN])
    )
}

/// The job id of `handle`, if `handle` was issued to `subject`.
pub fn open_job_handle(secret: &str, subject: &str, handle: &str) -> Result<String, Refusal> {
    let forbidden = || {
        Refusal::new(
            403,
            code::JOB_FORBIDDEN,
            "This job was not created with your upload ticket's subject (or its handle was altered).",
        )
    };
    let (job_id, tag) = handle.rsplit_once('.').ok_or_else(forbidden)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| forbidden())?;
    if tag.len() != HANDLE_MAC_LEN || job_id.is_empty() {
        return Err(forbidden());
    }
    job_mac(secret, subject, job_id)
        .verify_truncated_left(&tag)
        .map_err(|_| forbidden())?;
    Ok(job_id.to_string())
}

/// The `Idempotency-Key` sent upstream for a subject's key: scoped to the
/// subject, 47 printable ASCII characters.
pub fn idempotency_key(secret: &str, subject: &str, key: &str) -> String {
    let mut m = mac(secret);
    m.update(b"idem\0");
    m.update(subject.as_bytes());
    m.update(b"\0");
    m.update(key.as_bytes());
    format!("brk-{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
}

/// The broker's policy (see the module docs). `Default` is the documented
/// default: any object, the API's size limit, the three documented modes,
/// no lists, audiences, profiling or templates, 120 requests per 60 s.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Allowed objects (`None`: any).
    pub objects: Option<Vec<String>>,
    /// Largest `fileSize`.
    pub max_file_size: u64,
    /// Allowed `importMode` values.
    pub import_modes: Vec<String>,
    /// `createList` / `targetListId`.
    pub allow_create_list: bool,
    /// `createAudience`.
    pub allow_create_audience: bool,
    /// `autoProfileAfterImport`.
    pub allow_auto_profile: bool,
    /// `saveAsTemplate` / `templateId`.
    pub allow_templates: bool,
    /// Rate limit: requests per window, per subject.
    pub rate_requests: u32,
    /// Rate limit window, seconds.
    pub rate_per_seconds: u32,
    /// Destination fields a mapping may write (`None`: any).
    pub fields: Option<Vec<String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            objects: None,
            max_file_size: API_MAX_FILE_SIZE,
            import_modes: DEFAULT_IMPORT_MODES.iter().map(|s| s.to_string()).collect(),
            allow_create_list: false,
            allow_create_audience: false,
            allow_auto_profile: false,
            allow_templates: false,
            rate_requests: 120,
            rate_per_seconds: 60,
            fields: None,
        }
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Refusal> {
    if body.len() > MAX_BODY {
        return Err(body_too_large());
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Refusal::new(
            400,
            codes::REQUEST_INVALID,
            format!("The {what} body must be one JSON object."),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            400,
            codes::REQUEST_INVALID,
            format!("The {what} body is not a valid JSON object of the API's shape: {e}."),
        )
    })
}

/// The refusal of a request body over [`MAX_BODY`] bytes.
pub fn body_too_large() -> Refusal {
    Refusal::new(
        413,
        code::REQUEST_TOO_LARGE,
        format!("The request body is over the broker's limit of {MAX_BODY} bytes."),
    )
    .with_details(serde_json::json!({ "maxBytes": MAX_BODY }))
}

/// Whether `object` is allowed by `policy` and `grant`.
pub fn object_allowed(policy: &Policy, grant: &Grant, object: &str) -> bool {
    let allowed =
        |list: &Option<Vec<String>>| list.as_ref().is_none_or(|l| l.iter().any(|o| o == object));
    allowed(&policy.objects) && allowed(&grant.objects)
}

/// Refuses an object outside `policy` and `grant` (403
/// `BROKER.POLICY.OBJECT_NOT_ALLOWED`).
pub fn check_object(policy: &Policy, grant: &Grant, object: &str) -> Result<(), Refusal> {
    if object_allowed(policy, grant, object) {
        return Ok(());
    }
    Err(Refusal::new(
        403,
        code::OBJECT_NOT_ALLOWED,
        format!("The object `{object}` is not allowed for this upload."),
    )
    .with_details(serde_json::json!({ "field": "objectName", "objectName": object })))
}

/// Keeps, in a `GET /metadata/objects` answer, only the objects `policy`
/// and `grant` allow (`data.items[]`, or `data[]`, by `objectName`). `None`
/// when nothing needs removing or the body is not that shape.
pub fn filter_objects(body: &str, policy: &Policy, grant: &Grant) -> Option<String> {
    if policy.objects.is_none() && grant.objects.is_none() {
        return None;
    }
    let mut v: Value = serde_json::from_str(body).ok()?;
    let data = v.get_mut("data")?;
    let items = match data {
        Value::Array(a) => a,
        Value::Object(o) => o.get_mut("items")?.as_array_mut()?,
        _ => return None,
    };
    items.retain(|item| {
        item.get("objectName")
            .and_then(Value::as_str)
            .is_some_and(|name| object_allowed(policy, grant, name))
    });
    Some(v.to_string())
}

fn option_refused(option: &str, policy_flag: &str) -> Refusal {
    Refusal::new(
        403,
        code::OPTION_NOT_ALLOWED,
        format!("`{option}` is not allowed through this broker (its policy option `{policy_flag}` is off)."),
    )
    .with_details(serde_json::json!({ "field": option }))
}

/// Checks a create body under `policy` and `grant`; returns the request to
/// forward.
pub fn check_create(
    policy: &Policy,
    grant: &Grant,
    body: &[u8],
) -> Result<CreateJobRequest, Refusal> {
    let req: CreateJobRequest = parse_body(body, "create")?;
    if let Some(object) = &req.object_name {
        if !object_allowed(policy, grant, object) {
            return Err(Refusal::new(
                403,
                code::OBJECT_NOT_ALLOWED,
                format!("Importing into `{object}` is not allowed for this upload."),
            )
            .with_details(serde_json::json!({ "field": "objectName", "objectName": object })));
        }
    }
    if let Some(size) = req.file_size {
        let limit = grant
            .max_file_size
            .map_or(policy.max_file_size, |g| g.min(policy.max_file_size));
        if size > limit {
            return Err(Refusal::new(
                413,
                code::FILE_TOO_LARGE,
                format!("The file is {size} bytes; this upload allows at most {limit} bytes."),
            )
            .with_details(
                serde_json::json!({ "field": "fileSize", "fileSize": size, "maxFileSize": limit }),
            ));
        }
    }
    if !policy.allow_create_list {
        if req.create_list == Some(true) || req.list_name.is_some() {
            return Err(option_refused("createList", "allowCreateList"));
        }
        if req.target_list_id.is_some() {
            return Err(option_refused("targetListId", "allowCreateList"));
        }
    }
    if !policy.allow_create_audience
        && (req.create_audience == Some(true) || req.audience_name.is_some())
    {
        return Err(option_refused("createAudience", "allowCreateAudience"));
    }
    if !policy.allow_auto_profile && req.auto_profile_after_import == Some(true) {
        return Err(option_refused("autoProfileAfterImport", "allowAutoProfile"));
    }
    Ok(req)
}

/// Checks a mapping body under `policy`; returns the request to forward.
pub fn check_mapping(policy: &Policy, body: &[u8]) -> Result<MappingRequest, Refusal> {
    let req: MappingRequest = parse_body(body, "mapping")?;
    let mode = req.import_mode.as_deref().unwrap_or("balanced");
    if !policy.import_modes.iter().any(|m| m == mode) {
        return Err(Refusal::new(
            403,
            code::IMPORT_MODE_NOT_ALLOWED,
            format!(
                "importMode `{mode}` is not allowed through this broker; allowed: {}.",
                policy.import_modes.join(", ")
            ),
        )
        .with_details(
            serde_json::json!({ "field": "importMode", "allowed": policy.import_modes }),
        ));
    }
    if !policy.allow_templates {
        if req.save_as_template.is_some() {
            return Err(option_refused("saveAsTemplate", "allowTemplates"));
        }
        if req.template_id.is_some() {
            return Err(option_refused("templateId", "allowTemplates"));
        }
    }
    if let Some(fields) = &policy.fields {
        if req.template_id.is_some() {
            return Err(Refusal::new(
                403,
                code::FIELD_NOT_ALLOWED,
                "A mapping template cannot be used through this broker: its policy allows only some destination fields, and a template's fields cannot be checked. Send `fieldMap` instead.",
            )
            .with_details(serde_json::json!({ "field": "templateId", "allowedFields": fields })));
        }
        let map = req.field_map.iter().flatten();
        if let Some((source, dest)) = map.into_iter().find(|(_, d)| !fields.contains(d)) {
            return Err(Refusal::new(
                403,
                code::FIELD_NOT_ALLOWED,
                format!(
                    "The mapping writes `{source}` to the field `{dest}`, which this broker does not allow; allowed fields: {}.",
                    fields.join(", ")
                ),
            )
            .with_details(serde_json::json!({
                "field": "fieldMap",
                "source": source,
                "destination": dest,
                "allowedFields": fields,
            })));
        }
    }
    Ok(req)
}

/// Checks a start body: empty, or one JSON object. Returns the JSON to forward.
pub fn check_start(body: &[u8]) -> Result<Option<String>, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: serde_json::Map<String, Value> = parse_body(body, "start")?;
    Ok(Some(Value::Object(v).to_string()))
}

/// A route the broker forwards. Job routes carry the handle from the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /import-jobs`.
    CreateJob,
    /// `GET /import-jobs/{job}`.
    Status(String),
    /// `POST /import-jobs/{job}/mapping`.
    Mapping(String),
    /// `POST /import-jobs/{job}/start`.
    Start(String),
    /// `GET /import-jobs/{job}/errors`.
    Errors(String),
    /// `GET /metadata/objects`.
    Objects,
    /// `GET /metadata/objects/{name}`.
    Object(String),
}

impl Route {
    /// The job handle in the path, if any.
    pub fn handle(&self) -> Option<&str> {
        match self {
            Route::Status(h) | Route::Mapping(h) | Route::Start(h) | Route::Errors(h) => Some(h),
            _ => None,
        }
    }

    /// The upstream path (relative to the API base) with `job_id` in place
    /// of the handle.
    pub fn upstream_path(&self, job_id: &str) -> String {
        match self {
            Route::CreateJob => "/import-jobs".into(),
            Route::Status(_) => format!("/import-jobs/{job_id}"),
            Route::Mapping(_) => format!("/import-jobs/{job_id}/mapping"),
            Route::Start(_) => format!("/import-jobs/{job_id}/start"),
            Route::Errors(_) => format!("/import-jobs/{job_id}/errors"),
            Route::Objects => "/metadata/objects".into(),
            Route::Object(name) => format!("/metadata/objects/{name}"),
        }
    }
}

/// The methods a path answers (for 405 and CORS preflights), or `None` when
/// the broker does not serve the path. `path` is relative to the base path,
/// without the query.
pub fn methods_of(path: &str) -> Option<&'static str> {
    // One leading slash: `//import-jobs` is not `/import-jobs`.
    let segs: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    // Path segments the broker forwards: job handles and object names, never
    // `.`/`..` or anything that would need (or undo) percent-encoding.
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    match segs.as_slice() {
        ["import-jobs"] => Some("POST"),
        ["import-jobs", j] if ok(j) => Some("GET"),
        ["import-jobs", j, "mapping" | "start"] if ok(j) => Some("POST"),
        ["import-jobs", j, "errors"] if ok(j) => Some("GET"),
        ["metadata", "objects"] => Some("GET"),
        ["metadata", "objects", n] if ok(n) => Some("GET"),
        _ => None,
    }
}

/// Matches `method path` (relative to the base path, without the query).
pub fn route(method: &str, path: &str) -> Result<Route, Refusal> {
    let Some(allowed) = methods_of(path) else {
        return Err(Refusal::new(
            404,
            code::ROUTE_NOT_FOUND,
            format!("The broker does not serve `{path}`: it forwards only the Import Jobs and Metadata API paths."),
        ));
    };
    if method != allowed {
        return Err(Refusal::new(
            405,
            code::METHOD_NOT_ALLOWED,
            format!("`{path}` answers {allowed}, not {method}."),
        )
        .with_details(serde_json::json!({ "allow": allowed })));
    }
    let segs: Vec<String> = path
        .strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(String::from)
        .collect();
    Ok(match (segs.len(), segs[0].as_str()) {
        (1, "import-jobs") => Route::CreateJob,
        (2, "import-jobs") => Route::Status(segs[1].clone()),
        (3, "import-jobs") => match segs[2].as_str() {
            "mapping" => Route::Mapping(segs[1].clone()),
            "start" => Route::Start(segs[1].clone()),
            _ => Route::Errors(segs[1].clone()),
        },
        (2, _) => Route::Objects,
        _ => Route::Object(segs[2].clone()),
    })
}

/// Replaces `data.jobId` in an API answer by the subject's handle. Returns
/// `None` when the body has no `data.jobId` (forwarded unchanged).
pub fn rewrite_job_id(body: &str, secret: &str, subject: &str) -> Option<String> {
    let mut v: Value = serde_json::from_str(body).ok()?;
    let id = v.get("data")?.get("jobId")?.as_str()?.to_string();
    v["data"]["jobId"] = Value::String(job_handle(secret, subject, &id));
    Some(v.to_string())
}

/// A token bucket per subject: burst `requests`, refilled at `requests` per
/// `per_seconds`. Refused requests take nothing.
///
/// Memory is bounded: at most `max_subjects` buckets (default
/// [`MAX_BUCKETS`]). When a new subject arrives at the cap, full buckets are
/// dropped first (forgetting them changes nothing), then the least recently
/// used eighth of the rest (their subjects start again with a full bucket).
/// One instance counts only the requests it sees; where a broker runs as
/// many instances (edge isolates), use a shared limiter (`rateLimiter`).
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    per_ms: f64,
    max_subjects: usize,
    buckets: HashMap<String, (f64, f64)>,
}

/// Subjects remembered by default before buckets are evicted.
pub const MAX_BUCKETS: usize = 10_000;

impl RateLimiter {
    /// `requests` per `per_seconds` per subject (0 requests: no limit).
    pub fn new(requests: u32, per_seconds: u32) -> Self {
        Self::with_max_subjects(requests, per_seconds, MAX_BUCKETS)
    }

    /// As [`RateLimiter::new`], remembering at most `max_subjects` (≥ 1).
    pub fn with_max_subjects(requests: u32, per_seconds: u32, max_subjects: usize) -> Self {
        RateLimiter {
            capacity: requests as f64,
            per_ms: requests as f64 / (per_seconds.max(1) as f64 * 1000.0),
            max_subjects: max_subjects.max(1),
            buckets: HashMap::new(),
        }
    }

    /// How many subjects are remembered.
    pub fn subjects(&self) -> usize {
        self.buckets.len()
    }

    /// Makes room for one more subject at `now_ms`.
    fn evict(&mut self, now_ms: f64) {
        let (cap, per_ms) = (self.capacity, self.per_ms);
        self.buckets
            .retain(|_, (tokens, at)| *tokens + (now_ms - *at) * per_ms < cap);
        if self.buckets.len() < self.max_subjects {
            return;
        }
        // Least recently used first: drop an eighth (at least one), so that
        // eviction scans the map once per `max_subjects / 8` new subjects.
        let mut times: Vec<f64> = self.buckets.values().map(|(_, at)| *at).collect();
        let drop = (self.max_subjects / 8).max(1).min(times.len());
        let (_, nth, _) = times.select_nth_unstable_by(drop - 1, |a, b| a.total_cmp(b));
        let cutoff = *nth;
        let before = self.buckets.len();
        self.buckets.retain(|_, (_, at)| *at >= cutoff);
        // Then as many as still due among those used at the cutoff time.
        let mut left = drop.saturating_sub(before - self.buckets.len());
        self.buckets.retain(|_, (_, at)| {
            let keep = left == 0 || *at > cutoff;
            if !keep {
                left -= 1;
            }
            keep
        });
    }

    /// Takes one request for `subject` at `now_ms`; `Err(seconds)` to wait.
    pub fn take(&mut self, subject: &str, now_ms: f64) -> Result<(), u64> {
        if self.capacity <= 0.0 {
            return Ok(());
        }
        if self.buckets.len() >= self.max_subjects && !self.buckets.contains_key(subject) {
            self.evict(now_ms);
        }
        let (tokens, at) = self
            .buckets
            .entry(subject.to_string())
            .or_insert((self.capacity, now_ms));
        *tokens = (*tokens + (now_ms - *at).max(0.0) * self.per_ms).min(self.capacity);
        *at = now_ms;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait_ms = (1.0 - *tokens) / self.per_ms;
            Err(((wait_ms / 1000.0).ceil() as u64).max(1))
        }
    }
}

/// A refusal for a rate-limited subject.
pub fn rate_limited(retry_after: u64) -> Refusal {
    let mut r = Refusal::new(
        429,
        code::RATE_LIMITED,
        format!("Too many requests for this upload ticket's subject. Retry after {retry_after}s."),
    );
    r.retry_after = Some(retry_after);
    r
}
