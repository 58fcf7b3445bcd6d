//! Wire types: every request and response body of the Import Jobs API, the
//! Metadata API and the Lists API subset, with the exact (camelCase) field
//! names the documentation prints.
//!
//! # Decisions where the documentation is silent
//!
//! * **Requests** (`CreateJobRequest`, `MappingRequest`, `CreateListRequest`)
//!   refuse unknown fields (`deny_unknown_fields`): a typo such as
//!   `"listname"` would otherwise be silently ignored and the import would run
//!   without the list the caller asked for. The server answers 400
//!   `CDP_ETL.VALIDATION.REQUEST_INVALID` naming the field. The start body is
//!   documented as optional with unspecified options, so [`StartRequest`]
//!   accepts any object.
//! * Fields the documentation marks *required* are `Option`s here so that a
//!   missing one is reported by the request rules ([`crate::rules`]) with its
//!   own code and a message naming the field, rather than by a generic
//!   deserialisation error.
//! * **Responses** ignore unknown fields, so a client keeps working when the
//!   API adds fields. Optional response fields the spec's examples omit are
//!   skipped when absent, so every example body round-trips byte-for-byte in
//!   meaning.
//! * Malformed JSON is refused with 400 `CDP_ETL.VALIDATION.REQUEST_INVALID`
//!   and a message giving the line and column of the problem.
//! * A key given twice is refused, both a field of a request (`"objectName"`
//!   twice) and a key of the mapping's `sourceFields` or `fieldMap` (a
//!   column declared twice, with two types or two destinations): which of
//!   the two was meant cannot be known, and taking one would be a guess.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The success envelope wrapping every `data` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessEnvelope<T> {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: T,
    /// Correlation id, also sent as the `x-correlation-id` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl<T> SuccessEnvelope<T> {
    /// Wraps `data` with a correlation id.
    pub fn new(data: T, correlation_id: impl Into<String>) -> Self {
        Self {
            success: true,
            data,
            correlation_id: Some(correlation_id.into()),
        }
    }
}

/// The documented error envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    /// Correlation id, also sent as the `x-correlation-id` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// What went wrong.
    pub error: ApiErrorBody,
}

/// The `error` member of [`ErrorEnvelope`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorBody {
    /// Machine-readable code, e.g. `CDP_ETL.VALIDATION.REQUEST_INVALID`.
    pub code: String,
    /// A message for people.
    pub message: String,
    /// Error-specific details (e.g. `{"field": "fileSize", "rule": "FILE_SIZE_OUT_OF_RANGE"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

/// `POST /import-jobs` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateJobRequest {
    /// Target object (e.g. `profiles`, `orders`). Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    /// Original file name, with extension. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// File size in bytes. Required; 1 byte to 50 GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    /// Create a static list from the imported records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_list: Option<bool>,
    /// Name of the list to create; required when `createList`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_name: Option<String>,
    /// Add imported records to this existing list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_list_id: Option<String>,
    /// Run profile unification after the job completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_profile_after_import: Option<bool>,
    /// Create a dynamic audience from the imported records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_audience: Option<bool>,
    /// Name of the audience; required when `createAudience`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience_name: Option<String>,
}

/// `POST /import-jobs` response `data` (201).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJobResponse {
    /// `imp_` + ULID.
    pub job_id: String,
    /// Pre-signed upload URL.
    pub upload_url: String,
    /// When `uploadUrl` stops working (RFC 3339, UTC).
    pub expires_at: String,
    /// Where the file lands in storage.
    pub landing_path: String,
    /// HTTP method of the upload (`PUT`).
    pub method: String,
    /// Headers the upload request must carry, merged with its own.
    pub headers: IndexMap<String, String>,
    /// Who created the job.
    pub requested_by: String,
}

/// `saveAsTemplate` member of a mapping request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveAsTemplate {
    /// Template name, 1 to 200 characters. Required: an `Option` so that a
    /// missing name is reported by the request rules (`TEMPLATE_NAME_REQUIRED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /import-jobs/{job_id}/mapping` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MappingRequest {
    /// Source columns: `{ "columnName": "dataType" }`, in file order.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "unique_keys"
    )]
    pub source_fields: Option<IndexMap<String, String>>,
    /// Source column → destination field.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "unique_keys"
    )]
    pub field_map: Option<IndexMap<String, String>>,
    /// `balanced` (default), `strict`, `landing_friendly`; `custom` is reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_mode: Option<String>,
    /// Reuse a saved mapping template instead of `sourceFields`/`fieldMap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Save this mapping as a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as_template: Option<SaveAsTemplate>,
}

/// A JSON object of strings whose keys are all different.
struct UniqueKeys(IndexMap<String, String>);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<UniqueKeys, A::Error> {
                let mut out = IndexMap::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!(
                            "duplicate key `{k}`: give each key once"
                        )));
                    }
                    out.insert(k, v);
                }
                Ok(UniqueKeys(out))
            }
        }
        d.deserialize_map(Keys)
    }
}

/// An optional object of strings, refusing a key given twice.
fn unique_keys<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<IndexMap<String, String>>, D::Error> {
    Ok(Option::<UniqueKeys>::deserialize(d)?.map(|u| u.0))
}

/// `POST /import-jobs/{job_id}/mapping` response `data`.
///
/// `templateId` is an emulator extension, present only when the request
/// carried `saveAsTemplate` (the documentation does not say how a saved
/// template's id is learnt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingResponse {
    /// Always `true`.
    pub ok: bool,
    /// Id of the template saved by `saveAsTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
}

/// `POST /import-jobs/{job_id}/start` body: optional, options unspecified, so
/// any object is accepted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StartRequest {
    /// Whatever the caller sent.
    #[serde(flatten)]
    pub options: IndexMap<String, Value>,
}

/// `POST /import-jobs/{job_id}/start` response `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartResponse {
    /// `started`.
    pub status: String,
    /// The job.
    pub job_id: String,
    /// Processing lane (`standard`).
    pub lane: String,
    /// Human-readable confirmation.
    pub message: String,
}

/// Job states, as the spec's table lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Created, awaiting mapping.
    Pending,
    /// Mapping set, waiting for start.
    Ready,
    /// Processing.
    Running,
    /// Done; may still have rejected rows.
    Completed,
    /// Unrecoverable failure; see `errorMessage`.
    Failed,
}

impl JobState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Ready => "ready",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => JobState::Pending,
            "ready" => JobState::Ready,
            "running" => JobState::Running,
            "completed" => JobState::Completed,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }

    /// `completed` or `failed`.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed)
    }
}

/// `GET /import-jobs/{job_id}` response `data`.
///
/// The spec's fields come first, always present. `stage` values used by the
/// emulator: `upload` (pending/ready: waiting for the file, mapping or start),
/// `queued`, `parse`, `validate`, `merge`, `profile`; a terminal job keeps the
/// stage it ended in. `jobId`, `objectName` and `errorMessage` are
/// extensions, skipped when absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Current processing stage.
    pub stage: String,
    /// Current state.
    pub state: JobState,
    /// Data rows read so far.
    pub read_rows: u64,
    /// Rows that passed validation.
    pub valid_rows: u64,
    /// Rows rejected.
    pub invalid_rows: u64,
    /// Valid rows that created a record.
    pub merged_inserts: u64,
    /// Valid rows that updated an existing record.
    pub merged_updates: u64,
    /// When processing started (`null` before start).
    pub started_at: Option<String>,
    /// Last change.
    pub updated_at: String,
    /// Same as `readRows`.
    pub rows_total: u64,
    /// Same as `validRows`.
    pub rows_imported: u64,
    /// Same as `invalidRows`.
    pub rows_rejected: u64,
    /// `validRows / readRows` (0 when nothing was read).
    pub success_rate: f64,
    /// `{ errorCode: count }`, `null` when nothing was rejected.
    pub error_summary: Option<IndexMap<String, u64>>,
    /// Why a `failed` job failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Extension: the job's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Extension: the target object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    /// Extension: what the profile unification of `autoProfileAfterImport`
    /// merged (absent when it did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_unification: Option<ProfileUnification>,
}

/// Extension: the outcome of the profile unification step a job runs when
/// created with `autoProfileAfterImport`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUnification {
    /// Profile records of the workspace examined.
    pub profiles_examined: u64,
    /// Records linked to at least one other record (members of `clusters`).
    pub profiles_merged: u64,
    /// Unified profiles made of more than one record.
    pub clusters: u64,
}

/// `GET /import-jobs/{job_id}/errors` response `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorsResponse {
    /// Whether any row was rejected.
    pub has_errors: bool,
    /// Signed, expiring URL of the JSONL error file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_file_url: Option<String>,
    /// When `errorFileUrl` expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Number of rejected rows (lines in the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_count: Option<u64>,
}

/// One line of the JSONL error file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorRow {
    /// 1-based data row number (the header is row 0).
    pub row_number: u64,
    /// The row's source columns, by header name.
    pub source_row: IndexMap<String, String>,
    /// Why the row was rejected, for people.
    pub error: String,
    /// Row error code (e.g. `VALIDATION_TYPE_MISMATCH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The offending column, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

/// `ingestion` member of a metadata object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingestion {
    /// Single-record writes supported.
    pub single: bool,
    /// Batch writes supported.
    pub json_batch: bool,
    /// Import jobs supported.
    pub file_import: bool,
    /// `upsert` or `append`.
    pub default_write_mode: WriteMode,
}

/// How rows are written to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Merge on the identity key.
    Upsert,
    /// Insert every row.
    Append,
}

/// `profile` or `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    /// Stateful entity.
    Profile,
    /// Event stream.
    Event,
}

/// One item of `GET /metadata/objects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectSummary {
    /// API name, e.g. `profiles`.
    pub object_name: String,
    /// Display name.
    pub display_name: String,
    /// Plural display name.
    pub plural_display_name: String,
    /// `profile` or `event`.
    pub object_type: ObjectType,
    /// Schema version.
    pub active_version: u32,
    /// Whether this is the workspace's primary profile object.
    pub primary_profile_root: bool,
    /// Supported ingestion paths.
    pub ingestion: Ingestion,
}

/// A list page: `{ items, page, pageSize, totalItems, totalPages }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// 1-based page number (absent for unpaged lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// Items in all pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_items: Option<u64>,
    /// Number of pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u64>,
}

/// A field of an object schema (shape designed by the emulator: the
/// documentation's field descriptor was not readable).
///
/// ```json
/// {"name": "loyalty_points", "type": "integer", "nullable": true,
///  "enumValues": null, "identityKey": false, "description": "Points balance."}
/// ```
/// `type` is one of the data types of [`crate::rules::DataType`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDescriptor {
    /// Field name (schema spelling, usually snake_case).
    pub name: String,
    /// Data type name.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether the field may be null.
    pub nullable: bool,
    /// Allowed values, or `null` when unconstrained.
    #[serde(default)]
    pub enum_values: Option<Vec<String>>,
    /// Whether this field is an identity key.
    #[serde(default)]
    pub identity_key: bool,
    /// For people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `GET /metadata/objects/{object_name}` response `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectSchema {
    /// The summary keys.
    #[serde(flatten)]
    pub summary: ObjectSummary,
    /// For people.
    pub description: String,
    /// Identity-key fields, the first being the merge key of `upsert` objects.
    pub identity_keys: Vec<String>,
    /// Every field.
    pub fields: Vec<FieldDescriptor>,
}

/// `POST /lists` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateListRequest {
    /// 1–200 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// At most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A list, as the Lists API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List {
    /// `lst_` + ULID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// `static`.
    #[serde(rename = "type")]
    pub list_type: String,
    /// `list`.
    pub container_type: String,
    /// `snapshot`.
    pub membership_behavior: String,
    /// `manual` or `import`.
    pub population_source: String,
    /// `active`.
    pub status: String,
    /// Members.
    #[serde(default)]
    pub member_count: u64,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// RFC 6749 §5.1 access token response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Granted scopes, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// RFC 6749 §5.2 error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope`, …
    pub error: String,
    /// For people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}
