//! Request rules of the Import Jobs API, shared by the client (checked before
//! anything is sent) and the emulator (checked on arrival), so the browser's
//! preflight and the server's verdict can never disagree.
//!
//! [`check_create`] checks a `POST /import-jobs` body and [`check_mapping`] a
//! `POST /import-jobs/{job_id}/mapping` body. Each returns the request in
//! checked, typed form, or the first [`RuleViolation`] in the order of the
//! table below. [`create_violations`] and [`mapping_violations`] return every
//! violation at once, for a form that wants to mark all bad fields together.
//!
//! A violation carries a rule code a program can branch on (the constants of
//! this module, listed in [`RULE_CODES`]), the request field at fault (a
//! camelCase path such as `fileSize`, `sourceFields.signup_ts`,
//! `fieldMap["First Name"]` or `saveAsTemplate.name`) and a message that names
//! that field and says what to do. On the wire every violation is a 400
//! `CDP_ETL.VALIDATION.REQUEST_INVALID` whose `details` are
//! `{"rule": …, "field": …}` ([`RuleViolation::details`]).
//!
//! What happens before these rules run (malformed JSON, wrong JSON types,
//! unknown fields) is decided in [`crate::wire`]: the body is refused with 400
//! before any rule is checked. Whether `objectName` exists and whether the
//! `fieldMap` destinations exist in its schema is the server's business (404
//! and 422), not a request rule.
//!
//! # Create rules (`POST /import-jobs`)
//!
//! "Blank" means absent from the text: empty or only whitespace. Lengths of
//! names are counted in Unicode characters, except `fileName` (UTF-8 bytes, as
//! file systems count).
//!
//! | Rule code | Field | When | Message (example) |
//! |---|---|---|---|
//! | `FIELD_REQUIRED` | `objectName` | absent or blank | objectName is required: name the target object, e.g. "profiles". |
//! | `OBJECT_NAME_INVALID` | `objectName` | not an ASCII letter followed by ASCII letters, digits, `_` or `-` | objectName "pro files" is not a valid object name: … |
//! | `OBJECT_NAME_TOO_LONG` | `objectName` | more than 128 characters | objectName is 300 characters long; the limit is 128. |
//! | `FIELD_REQUIRED` | `fileName` | absent or blank | fileName is required: give the original file name with its extension, e.g. "spring-2026.csv". |
//! | `FILE_NAME_INVALID` | `fileName` | contains `/` or `\`, is `.` or `..`, or contains a control character | fileName "../../x.csv" must be a plain file name without '/' or '\\': send only the last part, "x.csv". |
//! | `FILE_NAME_TOO_LONG` | `fileName` | more than 255 bytes in UTF-8 | fileName is 300 bytes long in UTF-8; the limit is 255 bytes. |
//! | `FIELD_REQUIRED` | `fileSize` | absent | fileSize is required: give the file's size in bytes. |
//! | `FILE_SIZE_OUT_OF_RANGE` | `fileSize` | 0, or more than 50 GB ([`crate::MAX_FILE_SIZE`] = 53,687,091,200 bytes) | fileSize is 0: an empty file cannot be imported; … |
//! | `LIST_NAME_REQUIRED` | `listName` | `createList` is true and `listName` is absent or blank | listName is required when createList is true: … |
//! | `LIST_NAME_TOO_LONG` | `listName` | more than 200 characters (the Lists API's limit) | listName is 201 characters long; the limit is 200 … |
//! | `LIST_NAME_WITHOUT_CREATE_LIST` | `listName` | `listName` given while `createList` is false or absent | listName is only used with createList: true: … |
//! | `TARGET_LIST_ID_INVALID` | `targetListId` | blank, or contains whitespace or a control character | targetListId must be a list id such as "lst_01HXYZ" … |
//! | `LIST_TARGET_CONFLICT` | `targetListId` | given together with `createList: true` | targetListId cannot be combined with createList: true: … |
//! | `AUDIENCE_NAME_REQUIRED` | `audienceName` | `createAudience` is true and `audienceName` is absent or blank | audienceName is required when createAudience is true: … |
//! | `AUDIENCE_NAME_TOO_LONG` | `audienceName` | more than 200 characters | audienceName is 201 characters long; the limit is 200. |
//! | `AUDIENCE_NAME_WITHOUT_CREATE_AUDIENCE` | `audienceName` | `audienceName` given while `createAudience` is false or absent | audienceName is only used with createAudience: true: … |
//!
//! Decisions where the documentation is silent:
//!
//! * `listName` without `createList: true` is refused rather than ignored: the
//!   caller most likely forgot `createList`, and ignoring it would run the
//!   import without the list they asked for. Likewise `audienceName`. A JSON
//!   `null` counts as absent.
//! * `targetListId` with `createList: true` is refused: the documentation says
//!   `targetListId` adds the records to an existing list *instead of* creating
//!   one. `targetListId` with `createAudience: true` is allowed.
//! * The 200-character limit of `listName` is the Lists API's (`name`, 1–200
//!   characters); `audienceName` and `saveAsTemplate.name` get the same limit
//!   by analogy.
//! * The file's extension is not checked here: which formats a job accepts is
//!   decided when the file is processed.
//!
//! # Mapping rules (`POST /import-jobs/{job_id}/mapping`)
//!
//! | Rule code | Field | When | Message (example) |
//! |---|---|---|---|
//! | `MAPPING_CONFLICT` | `templateId` | `templateId` given together with `sourceFields` or `fieldMap` | templateId cannot be combined with sourceFields or fieldMap: … |
//! | `MAPPING_INCOMPLETE` | `sourceFields` or `fieldMap` (the one missing) | no `templateId`, and `sourceFields` or `fieldMap` (or both) absent | fieldMap is required: give both sourceFields and fieldMap, or a templateId … |
//! | `TEMPLATE_ID_INVALID` | `templateId` | blank, or contains whitespace or a control character | templateId must be the id of a saved mapping template … |
//! | `SOURCE_FIELDS_EMPTY` | `sourceFields` | an empty object | sourceFields is empty: declare at least one source column … |
//! | `SOURCE_FIELD_NAME_EMPTY` | `sourceFields[""]` | a column name that is blank | sourceFields[""] has a blank column name: … |
//! | `DATA_TYPE_UNKNOWN` | `sourceFields.<column>` | the type is not one of [`DataType::ALL`] (exact, lower-case wire names) | sourceFields.signup_ts has unknown data type "timestamp": use one of string, integer, … |
//! | `FIELD_MAP_EMPTY` | `fieldMap` | an empty object | fieldMap is empty: map at least one source column … |
//! | `FIELD_MAP_UNDECLARED_SOURCE` | `fieldMap.<column>` | the key is not a column of `sourceFields` (exact, case-sensitive) | fieldMap.firstname maps source column "firstname", which sourceFields does not declare (did you mean "FirstName"?): … |
//! | `FIELD_MAP_DESTINATION_EMPTY` | `fieldMap.<column>` | the destination is blank | fieldMap.FirstName has a blank destination: … |
//! | `FIELD_MAP_DUPLICATE_DESTINATION` | `fieldMap.<column>` (the later one) | two columns map to the same destination | fieldMap.b and fieldMap.a both map to destination "email": … |
//! | `IMPORT_MODE_RESERVED` | `importMode` | `custom` | importMode "custom" is reserved for workspace policy overrides set by Experiture support: … |
//! | `IMPORT_MODE_INVALID` | `importMode` | anything but `balanced`, `strict`, `landing_friendly` (exact) | importMode "fast" is not a valid mode: use balanced (the default), strict or landing_friendly. |
//! | `TEMPLATE_NAME_REQUIRED` | `saveAsTemplate.name` | `saveAsTemplate` given and its `name` absent or blank | saveAsTemplate.name is required: … |
//! | `TEMPLATE_NAME_TOO_LONG` | `saveAsTemplate.name` | more than 200 characters | saveAsTemplate.name is 201 characters long; the limit is 200. |
//!
//! Decisions where the documentation is silent:
//!
//! * `templateId` together with `sourceFields`/`fieldMap` is refused rather
//!   than letting one silently win: the documentation says a template is used
//!   *instead of* them.
//! * `importMode` is not part of a template: it applies to the job and
//!   defaults to `balanced`, with or without `templateId`.
//! * `saveAsTemplate` together with `templateId` is allowed: it saves the
//!   reused mapping again under the new name.
//! * Two columns mapped to one destination are refused: which value would win
//!   in a row is undefined.
//! * Duplicate keys in one JSON object cannot be seen here: the last one wins
//!   while parsing.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};

use crate::codes;
use crate::wire::{CreateJobRequest, MappingRequest};
use crate::MAX_FILE_SIZE;

/// A required field is absent (or blank).
pub const FIELD_REQUIRED: &str = "FIELD_REQUIRED";
/// `objectName` has characters other than ASCII letters, digits, `_`, `-`, or
/// does not start with a letter.
pub const OBJECT_NAME_INVALID: &str = "OBJECT_NAME_INVALID";
/// `objectName` is longer than [`MAX_OBJECT_NAME_CHARS`].
pub const OBJECT_NAME_TOO_LONG: &str = "OBJECT_NAME_TOO_LONG";
/// `fileName` is not a plain file name (path separators, `.`/`..`, control
/// characters).
pub const FILE_NAME_INVALID: &str = "FILE_NAME_INVALID";
/// `fileName` is longer than [`MAX_FILE_NAME_BYTES`].
pub const FILE_NAME_TOO_LONG: &str = "FILE_NAME_TOO_LONG";
/// `fileSize` is 0 or above [`crate::MAX_FILE_SIZE`].
pub const FILE_SIZE_OUT_OF_RANGE: &str = "FILE_SIZE_OUT_OF_RANGE";
/// `createList` is true but `listName` is absent or blank.
pub const LIST_NAME_REQUIRED: &str = "LIST_NAME_REQUIRED";
/// `listName` is longer than [`MAX_NAME_CHARS`].
pub const LIST_NAME_TOO_LONG: &str = "LIST_NAME_TOO_LONG";
/// `listName` given without `createList: true`.
pub const LIST_NAME_WITHOUT_CREATE_LIST: &str = "LIST_NAME_WITHOUT_CREATE_LIST";
/// `targetListId` is blank or has whitespace or control characters.
pub const TARGET_LIST_ID_INVALID: &str = "TARGET_LIST_ID_INVALID";
/// `targetListId` given together with `createList: true`.
pub const LIST_TARGET_CONFLICT: &str = "LIST_TARGET_CONFLICT";
/// `createAudience` is true but `audienceName` is absent or blank.
pub const AUDIENCE_NAME_REQUIRED: &str = "AUDIENCE_NAME_REQUIRED";
/// `audienceName` is longer than [`MAX_NAME_CHARS`].
pub const AUDIENCE_NAME_TOO_LONG: &str = "AUDIENCE_NAME_TOO_LONG";
/// `audienceName` given without `createAudience: true`.
pub const AUDIENCE_NAME_WITHOUT_CREATE_AUDIENCE: &str = "AUDIENCE_NAME_WITHOUT_CREATE_AUDIENCE";
/// `templateId` together with `sourceFields` or `fieldMap`.
pub const MAPPING_CONFLICT: &str = "MAPPING_CONFLICT";
/// Neither a `templateId` nor both `sourceFields` and `fieldMap`.
pub const MAPPING_INCOMPLETE: &str = "MAPPING_INCOMPLETE";
/// `templateId` is blank or has whitespace or control characters.
pub const TEMPLATE_ID_INVALID: &str = "TEMPLATE_ID_INVALID";
/// `sourceFields` is an empty object.
pub const SOURCE_FIELDS_EMPTY: &str = "SOURCE_FIELDS_EMPTY";
/// A `sourceFields` column name is blank.
pub const SOURCE_FIELD_NAME_EMPTY: &str = "SOURCE_FIELD_NAME_EMPTY";
/// A `sourceFields` type is not one of [`DataType::ALL`].
pub const DATA_TYPE_UNKNOWN: &str = "DATA_TYPE_UNKNOWN";
/// `fieldMap` is an empty object.
pub const FIELD_MAP_EMPTY: &str = "FIELD_MAP_EMPTY";
/// A `fieldMap` key is not declared in `sourceFields`.
pub const FIELD_MAP_UNDECLARED_SOURCE: &str = "FIELD_MAP_UNDECLARED_SOURCE";
/// A `fieldMap` destination is blank.
pub const FIELD_MAP_DESTINATION_EMPTY: &str = "FIELD_MAP_DESTINATION_EMPTY";
/// Two `fieldMap` columns map to the same destination.
pub const FIELD_MAP_DUPLICATE_DESTINATION: &str = "FIELD_MAP_DUPLICATE_DESTINATION";
/// `importMode` is `custom`, which the API reserves.
pub const IMPORT_MODE_RESERVED: &str = "IMPORT_MODE_RESERVED";
/// `importMode` is not one of the documented values.
pub const IMPORT_MODE_INVALID: &str = "IMPORT_MODE_INVALID";
/// `saveAsTemplate.name` is absent or blank.
pub const TEMPLATE_NAME_REQUIRED: &str = "TEMPLATE_NAME_REQUIRED";
/// `saveAsTemplate.name` is longer than [`MAX_NAME_CHARS`].
pub const TEMPLATE_NAME_TOO_LONG: &str = "TEMPLATE_NAME_TOO_LONG";

/// Every rule code of this module, in the order of the documentation's tables.
pub const RULE_CODES: &[&str] = &[
    FIELD_REQUIRED,
    OBJECT_NAME_INVALID,
    OBJECT_NAME_TOO_LONG,
    FILE_NAME_INVALID,
    FILE_NAME_TOO_LONG,
    FILE_SIZE_OUT_OF_RANGE,
    LIST_NAME_REQUIRED,
    LIST_NAME_TOO_LONG,
    LIST_NAME_WITHOUT_CREATE_LIST,
    TARGET_LIST_ID_INVALID,
    LIST_TARGET_CONFLICT,
    AUDIENCE_NAME_REQUIRED,
    AUDIENCE_NAME_TOO_LONG,
    AUDIENCE_NAME_WITHOUT_CREATE_AUDIENCE,
    MAPPING_CONFLICT,
    MAPPING_INCOMPLETE,
    TEMPLATE_ID_INVALID,
    SOURCE_FIELDS_EMPTY,
    SOURCE_FIELD_NAME_EMPTY,
    DATA_TYPE_UNKNOWN,
    FIELD_MAP_EMPTY,
    FIELD_MAP_UNDECLARED_SOURCE,
    FIELD_MAP_DESTINATION_EMPTY,
    FIELD_MAP_DUPLICATE_DESTINATION,
    IMPORT_MODE_RESERVED,
    IMPORT_MODE_INVALID,
    TEMPLATE_NAME_REQUIRED,
    TEMPLATE_NAME_TOO_LONG,
];

/// Longest `objectName`, in characters (ASCII only, so also bytes).
pub const MAX_OBJECT_NAME_CHARS: usize = 128;
/// Longest `fileName`, in UTF-8 bytes (the usual file-system limit).
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// Longest `listName`, `audienceName` and `saveAsTemplate.name`, in Unicode
/// characters (the Lists API's limit for list names).
pub const MAX_NAME_CHARS: usize = 200;

/// A broken request rule: which rule, which field, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// Rule code, e.g. `FIELD_REQUIRED`, `FILE_SIZE_OUT_OF_RANGE`.
    pub rule: &'static str,
    /// The request field at fault (camelCase path, e.g. `fieldMap.email_address`).
    pub field: String,
    /// For people.
    pub message: String,
}

impl RuleViolation {
    /// A violation of `rule` by `field`.
    pub fn new(rule: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            rule,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The API error code a violation travels with:
    /// `CDP_ETL.VALIDATION.REQUEST_INVALID` (HTTP 400).
    pub fn api_code(&self) -> &'static str {
        codes::REQUEST_INVALID
    }

    /// The HTTP status a violation travels with: 400.
    pub fn http_status(&self) -> u16 {
        400
    }

    /// The error envelope's `details`: `{"rule": "…", "field": "…"}`.
    pub fn details(&self) -> Value {
        json!({ "rule": self.rule, "field": self.field })
    }
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleViolation {}

/// How rows are validated (`importMode`). Wire names: `balanced`, `strict`,
/// `landing_friendly`; `custom` is reserved by the API and refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ImportMode {
    /// Default: type errors reject; missing non-key fields become null.
    #[default]
    Balanced,
    /// Anything short of the schema rejects the row.
    Strict,
    /// Coerce what can be coerced, null what cannot.
    LandingFriendly,
}

impl ImportMode {
    /// Every mode a request may choose, default first.
    pub const ALL: [ImportMode; 3] = [
        ImportMode::Balanced,
        ImportMode::Strict,
        ImportMode::LandingFriendly,
    ];

    /// The wire name the API reserves for workspace policy overrides.
    pub const RESERVED: &'static str = "custom";

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Balanced => "balanced",
            ImportMode::Strict => "strict",
            ImportMode::LandingFriendly => "landing_friendly",
        }
    }

    /// Parses the wire name (exact, lower case). `custom` is refused with
    /// `IMPORT_MODE_RESERVED`, anything else unknown with
    /// `IMPORT_MODE_INVALID`; the violation's field is `importMode`.
    pub fn parse(s: &str) -> Result<Self, RuleViolation> {
        match s {
            "balanced" => Ok(ImportMode::Balanced),
            "strict" => Ok(ImportMode::Strict),
            "landing_friendly" => Ok(ImportMode::LandingFriendly),
            Self::RESERVED => Err(RuleViolation::new(
                IMPORT_MODE_RESERVED,
                "importMode",
                "importMode \"custom\" is reserved for workspace policy overrides set by \
                 Experiture support: use balanced (the default), strict or landing_friendly.",
            )),
            other => Err(RuleViolation::new(
                IMPORT_MODE_INVALID,
                "importMode",
                format!(
                    "importMode {} is not a valid mode: use balanced (the default), strict or \
                     landing_friendly.",
                    quoted(other)
                ),
            )),
        }
    }
}

impl fmt::Display for ImportMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ImportMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ImportMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ImportMode::parse(&s).map_err(|v| serde::de::Error::custom(v.message))
    }
}

/// Column data types: the values of `sourceFields` and the `type` of a schema
/// field. Wire names are exact and lower case.
///
/// `phone` and `url` go beyond the seven types the API's examples imply: the
/// `profiles` object has a phone field, and the API's identity guide asks for
/// phone numbers in E.164. How values of each type are checked per
/// `importMode` is the business of the row rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `string`: any text.
    String,
    /// `integer`: whole number, optional sign, no fraction or exponent.
    Integer,
    /// `number`: decimal number, optional fraction and exponent.
    Number,
    /// `boolean`: true or false.
    Boolean,
    /// `date`: ISO 8601 calendar date, `YYYY-MM-DD`.
    Date,
    /// `datetime`: ISO 8601 date-time with a timezone (`Z` or `±hh:mm`); the
    /// API rejects naive date-times.
    Datetime,
    /// `email`: an e-mail address, `local@domain`.
    Email,
    /// `phone`: a telephone number in E.164 form, `+` and up to 15 digits.
    Phone,
    /// `url`: an absolute `http` or `https` URL.
    Url,
}

impl DataType {
    /// Every data type, in documentation order.
    pub const ALL: [DataType; 9] = [
        DataType::String,
        DataType::Integer,
        DataType::Number,
        DataType::Boolean,
        DataType::Date,
        DataType::Datetime,
        DataType::Email,
        DataType::Phone,
        DataType::Url,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Integer => "integer",
            DataType::Number => "number",
            DataType::Boolean => "boolean",
            DataType::Date => "date",
            DataType::Datetime => "datetime",
            DataType::Email => "email",
            DataType::Phone => "phone",
            DataType::Url => "url",
        }
    }

    /// Parses the wire name (exact, lower case); `None` when unknown.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The wire names, comma-separated, for messages.
    fn names() -> String {
        Self::ALL.map(DataType::as_str).join(", ")
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DataType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DataType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        DataType::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown data type {}: use one of {}",
                quoted(&s),
                DataType::names()
            ))
        })
    }
}

/// A create request that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCreate {
    /// Target object.
    pub object_name: String,
    /// Plain file name.
    pub file_name: String,
    /// 1 byte to 50 GB.
    pub file_size: u64,
    /// Name of the list to create, when `createList`.
    pub list_name: Option<String>,
    /// Existing list to add to.
    pub target_list_id: Option<String>,
    /// Run unification after the merge.
    pub auto_profile_after_import: bool,
    /// Name of the audience to create, when `createAudience`.
    pub audience_name: Option<String>,
}

/// A mapping request that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidMapping {
    /// Declared source columns and their types (None when `templateId` is used).
    pub source_fields: Option<IndexMap<String, DataType>>,
    /// Source column → destination field (None when `templateId` is used).
    pub field_map: Option<IndexMap<String, String>>,
    /// The template to reuse.
    pub template_id: Option<String>,
    /// The mode (default balanced).
    pub import_mode: ImportMode,
    /// Name to save this mapping under.
    pub save_as_template: Option<String>,
}

/// A mapping request as the rules read it, borrowed: each map as its
/// entries in order (keys unique, as in a JSON object).
/// [`MappingView::of`] reads a [`MappingRequest`]; a client holding the
/// request in another form builds one directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingView<'a> {
    /// `sourceFields`: (column, data type name).
    pub source_fields: Option<Vec<(&'a str, &'a str)>>,
    /// `fieldMap`: (column, destination).
    pub field_map: Option<Vec<(&'a str, &'a str)>>,
    /// `importMode`.
    pub import_mode: Option<&'a str>,
    /// `templateId`.
    pub template_id: Option<&'a str>,
    /// `saveAsTemplate`, when given, with its `name`.
    pub save_as_template: Option<Option<&'a str>>,
}

impl<'a> MappingView<'a> {
    /// The view of a parsed request.
    pub fn of(req: &'a MappingRequest) -> Self {
        let entries = |m: &'a IndexMap<String, String>| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>()
        };
        MappingView {
            source_fields: req.source_fields.as_ref().map(entries),
            field_map: req.field_map.as_ref().map(entries),
            import_mode: req.import_mode.as_deref(),
            template_id: req.template_id.as_deref(),
            save_as_template: req.save_as_template.as_ref().map(|t| t.name.as_deref()),
        }
    }
}

/// Checks a create request: the request in checked form, or the first
/// violation in the order of the module's table.
pub fn check_create(req: &CreateJobRequest) -> Result<ValidCreate, RuleViolation> {
    evaluate_create(req).map_err(first)
}

/// Every rule a create request breaks, in the order of the module's table
/// (empty when it passes).
pub fn create_violations(req: &CreateJobRequest) -> Vec<RuleViolation> {
    evaluate_create(req).err().unwrap_or_default()
}

/// Checks a mapping request: the request in checked form, or the first
/// violation in the order of the module's table.
pub fn check_mapping(req: &MappingRequest) -> Result<ValidMapping, RuleViolation> {
    evaluate_mapping(req, &str::to_lowercase).map_err(first)
}

/// [`check_mapping`] of a [`MappingView`], without the checked form (the
/// first violation, or none), and with the lower-casing its "did you mean"
/// hints use given by the caller: a WebAssembly client passes the runtime's
/// `String.prototype.toLowerCase` (the same Unicode mapping) instead of
/// linking Rust's case tables (about 16 KB). Only hint text depends on it,
/// never which rule is broken.
pub fn check_mapping_with(
    req: &MappingView<'_>,
    lowercase: &dyn Fn(&str) -> String,
) -> Result<(), RuleViolation> {
    match mapping_rules(req, lowercase) {
        v if v.is_empty() => Ok(()),
        v => Err(first(v)),
    }
}

/// Every rule a mapping request breaks, in the order of the module's table
/// (empty when it passes).
pub fn mapping_violations(req: &MappingRequest) -> Vec<RuleViolation> {
    evaluate_mapping(req, &str::to_lowercase)
        .err()
        .unwrap_or_default()
}

/// The first of a non-empty list of violations.
fn first(mut violations: Vec<RuleViolation>) -> RuleViolation {
    // `evaluate_*` only return `Err` with at least one violation.
    violations.swap_remove(0)
}

fn evaluate_create(req: &CreateJobRequest) -> Result<ValidCreate, Vec<RuleViolation>> {
    let mut out = Vec::new();

    // objectName
    match req.object_name.as_deref() {
        None => out.push(RuleViolation::new(
            FIELD_REQUIRED,
            "objectName",
            "objectName is required: name the target object, e.g. \"profiles\".",
        )),
        Some(name) if is_blank(name) => out.push(RuleViolation::new(
            FIELD_REQUIRED,
            "objectName",
            "objectName is required and must not be blank: name the target object, \
             e.g. \"profiles\".",
        )),
        Some(name) => {
            if !is_object_name(name) {
                out.push(RuleViolation::new(
                    OBJECT_NAME_INVALID,
                    "objectName",
                    format!(
                        "objectName {} is not a valid object name: use an ASCII letter followed \
                         by ASCII letters, digits, '_' or '-', e.g. \"profiles\".",
                        quoted(name)
                    ),
                ));
            }
            let len = name.chars().count();
            if len > MAX_OBJECT_NAME_CHARS {
                out.push(RuleViolation::new(
                    OBJECT_NAME_TOO_LONG,
                    "objectName",
                    format!(
                        "objectName is {len} characters long; the limit is \
                         {MAX_OBJECT_NAME_CHARS}."
                    ),
                ));
            }
        }
    }

    // fileName
    match req.file_name.as_deref() {
        None => out.push(RuleViolation::new(
            FIELD_REQUIRED,
            "fileName",
            "fileName is required: give the original file name with its extension, \
             e.g. \"spring-2026.csv\".",
        )),
        Some(name) if is_blank(name) => out.push(RuleViolation::new(
            FIELD_REQUIRED,
            "fileName",
            "fileName is required and must not be blank: give the original file name with its \
             extension, e.g. \"spring-2026.csv\".",
        )),
        Some(name) => {
            if let Some(message) = file_name_problem(name) {
                out.push(RuleViolation::new(FILE_NAME_INVALID, "fileName", message));
            }
            if name.len() > MAX_FILE_NAME_BYTES {
                out.push(RuleViolation::new(
                    FILE_NAME_TOO_LONG,
                    "fileName",
                    format!(
                        "fileName is {} bytes long in UTF-8; the limit is {MAX_FILE_NAME_BYTES} \
                         bytes: shorten it.",
                        name.len()
                    ),
                ));
            }
        }
    }

    // fileSize
    match req.file_size {
        None => out.push(RuleViolation::new(
            FIELD_REQUIRED,
            "fileSize",
            "fileSize is required: give the file's size in bytes.",
        )),
        Some(0) => out.push(RuleViolation::new(
            FILE_SIZE_OUT_OF_RANGE,
            "fileSize",
            format!(
                "fileSize is 0: an empty file cannot be imported; fileSize must be 1 to \
                 {MAX_FILE_SIZE} bytes (50 GB)."
            ),
        )),
        Some(size) if size > MAX_FILE_SIZE => out.push(RuleViolation::new(
            FILE_SIZE_OUT_OF_RANGE,
            "fileSize",
            format!(
                "fileSize {size} bytes exceeds the 50 GB limit ({MAX_FILE_SIZE} bytes): split \
                 the file into several imports."
            ),
        )),
        Some(_) => {}
    }

    // listName, targetListId
    let create_list = req.create_list == Some(true);
    if create_list {
        check_conditional_name(
            &mut out,
            req.list_name.as_deref(),
            "listName",
            "createList",
            LIST_NAME_REQUIRED,
            LIST_NAME_TOO_LONG,
            "name the list to create",
        );
    } else if req.list_name.is_some() {
        out.push(RuleViolation::new(
            LIST_NAME_WITHOUT_CREATE_LIST,
            "listName",
            "listName is only used with createList: true: set createList to true to create the \
             list, or remove listName.",
        ));
    }
    if let Some(id) = req.target_list_id.as_deref() {
        if !is_identifier(id) {
            out.push(RuleViolation::new(
                TARGET_LIST_ID_INVALID,
                "targetListId",
                format!(
                    "targetListId must be a list id such as \"lst_01HXYZ\", not blank and without \
                     whitespace or control characters; got {}.",
                    quoted(id)
                ),
            ));
        }
        if create_list {
            out.push(RuleViolation::new(
                LIST_TARGET_CONFLICT,
                "targetListId",
                "targetListId cannot be combined with createList: true: either add the records \
                 to the existing list (targetListId) or create a new list (createList and \
                 listName), not both.",
            ));
        }
    }

    // audienceName
    let create_audience = req.create_audience == Some(true);
    if create_audience {
        check_conditional_name(
            &mut out,
            req.audience_name.as_deref(),
            "audienceName",
            "createAudience",
            AUDIENCE_NAME_REQUIRED,
            AUDIENCE_NAME_TOO_LONG,
            "name the audience to create",
        );
    } else if req.audience_name.is_some() {
        out.push(RuleViolation::new(
            AUDIENCE_NAME_WITHOUT_CREATE_AUDIENCE,
            "audienceName",
            "audienceName is only used with createAudience: true: set createAudience to true to \
             create the audience, or remove audienceName.",
        ));
    }

    if !out.is_empty() {
        return Err(out);
    }
    Ok(ValidCreate {
        object_name: req.object_name.clone().unwrap_or_default(),
        file_name: req.file_name.clone().unwrap_or_default(),
        file_size: req.file_size.unwrap_or_default(),
        list_name: req.list_name.clone().filter(|_| create_list),
        target_list_id: req.target_list_id.clone(),
        auto_profile_after_import: req.auto_profile_after_import == Some(true),
        audience_name: req.audience_name.clone().filter(|_| create_audience),
    })
}

/// `listName` / `audienceName`: required (not blank) and at most
/// [`MAX_NAME_CHARS`] when their flag is true.
fn check_conditional_name(
    out: &mut Vec<RuleViolation>,
    value: Option<&str>,
    field: &str,
    flag: &str,
    required_rule: &'static str,
    too_long_rule: &'static str,
    what: &str,
) {
    match value {
        Some(name) if !is_blank(name) => {
            let len = name.chars().count();
            if len > MAX_NAME_CHARS {
                out.push(RuleViolation::new(
                    too_long_rule,
                    field,
                    format!(
                        "{field} is {len} characters long; the limit is {MAX_NAME_CHARS}: \
                         shorten it."
                    ),
                ));
            }
        }
        _ => out.push(RuleViolation::new(
            required_rule,
            field,
            format!(
                "{field} is required when {flag} is true: {what} (1 to {MAX_NAME_CHARS} \
                 characters), or set {flag} to false."
            ),
        )),
    }
}

fn evaluate_mapping(
    req: &MappingRequest,
    lowercase: &dyn Fn(&str) -> String,
) -> Result<ValidMapping, Vec<RuleViolation>> {
    let out = mapping_rules(&MappingView::of(req), lowercase);
    if !out.is_empty() {
        return Err(out);
    }
    // Every rule passed: every data type parses, the mode is valid and a
    // template name is not blank.
    Ok(ValidMapping {
        source_fields: req.source_fields.as_ref().map(|fields| {
            fields
                .iter()
                .filter_map(|(column, t)| Some((column.clone(), DataType::parse(t)?)))
                .collect()
        }),
        field_map: req.field_map.clone(),
        template_id: req.template_id.clone(),
        import_mode: req
            .import_mode
            .as_deref()
            .and_then(|s| ImportMode::parse(s).ok())
            .unwrap_or_default(),
        save_as_template: req.save_as_template.as_ref().and_then(|t| t.name.clone()),
    })
}

/// Every rule `req` breaks, in the order of the module's table. Maps are
/// scanned, not hashed: a mapping has a few dozen columns, and the client's
/// WebAssembly build then links no hash table.
fn mapping_rules(req: &MappingView<'_>, lowercase: &dyn Fn(&str) -> String) -> Vec<RuleViolation> {
    let mut out = Vec::new();

    // Shape: a template, or both sourceFields and fieldMap.
    let explicit = req.source_fields.is_some() || req.field_map.is_some();
    match (&req.template_id, explicit) {
        (Some(_), true) => out.push(RuleViolation::new(
            MAPPING_CONFLICT,
            "templateId",
            "templateId cannot be combined with sourceFields or fieldMap: send either templateId \
             to reuse a saved mapping, or sourceFields and fieldMap, not both.",
        )),
        (Some(_), false) => {}
        (None, _) => match (&req.source_fields, &req.field_map) {
            (Some(_), Some(_)) => {}
            (None, None) => out.push(RuleViolation::new(
                MAPPING_INCOMPLETE,
                "sourceFields",
                "sourceFields and fieldMap are required unless templateId names a saved mapping: \
                 give both, or a templateId.",
            )),
            (None, Some(_)) => out.push(RuleViolation::new(
                MAPPING_INCOMPLETE,
                "sourceFields",
                "sourceFields is required with fieldMap: declare every source column and its \
                 data type, or give a templateId instead.",
            )),
            (Some(_), None) => out.push(RuleViolation::new(
                MAPPING_INCOMPLETE,
                "fieldMap",
                "fieldMap is required with sourceFields: map each source column to a destination \
                 field, or give a templateId instead.",
            )),
        },
    }
    if let Some(id) = req.template_id {
        if !is_identifier(id) {
            out.push(RuleViolation::new(
                TEMPLATE_ID_INVALID,
                "templateId",
                format!(
                    "templateId must be the id of a saved mapping template, not blank and without \
                     whitespace or control characters; got {}.",
                    quoted(id)
                ),
            ));
        }
    }

    // sourceFields
    if let Some(fields) = &req.source_fields {
        if fields.is_empty() {
            out.push(RuleViolation::new(
                SOURCE_FIELDS_EMPTY,
                "sourceFields",
                "sourceFields is empty: declare at least one source column with its data type, \
                 e.g. {\"email_address\": \"string\"}.",
            ));
        }
        for &(column, type_name) in fields {
            let path = member_path("sourceFields", column);
            if is_blank(column) {
                out.push(RuleViolation::new(
                    SOURCE_FIELD_NAME_EMPTY,
                    path.clone(),
                    format!(
                        "{path} has a blank column name: name every source column as in the \
                         file's header row, or leave the column out."
                    ),
                ));
            }
            if DataType::parse(type_name).is_none() {
                out.push(RuleViolation::new(
                    DATA_TYPE_UNKNOWN,
                    path.clone(),
                    format!(
                        "{path} has unknown data type {}: use one of {}.",
                        quoted(type_name),
                        DataType::names()
                    ),
                ));
            }
        }
    }

    // fieldMap
    if let Some(map) = &req.field_map {
        if map.is_empty() {
            out.push(RuleViolation::new(
                FIELD_MAP_EMPTY,
                "fieldMap",
                "fieldMap is empty: map at least one source column to a destination field, \
                 e.g. {\"email_address\": \"email\"}.",
            ));
        }
        // (destination, column) of the columns seen so far.
        let mut seen: Vec<(&str, &str)> = Vec::with_capacity(map.len());
        for &(column, destination) in map {
            let path = member_path("fieldMap", column);
            if let Some(declared) = &req.source_fields {
                if !declared.iter().any(|&(k, _)| k == column) {
                    let hint = declared
                        .iter()
                        .map(|&(k, _)| k)
                        .find(|k| lowercase(k) == lowercase(column))
                        .map(|k| format!(" (did you mean {}?)", quoted(k)))
                        .unwrap_or_default();
                    out.push(RuleViolation::new(
                        FIELD_MAP_UNDECLARED_SOURCE,
                        path.clone(),
                        format!(
                            "{path} maps source column {}, which sourceFields does not \
                             declare{hint}: declare it in sourceFields or remove it from fieldMap.",
                            quoted(column)
                        ),
                    ));
                }
            }
            if is_blank(destination) {
                out.push(RuleViolation::new(
                    FIELD_MAP_DESTINATION_EMPTY,
                    path.clone(),
                    format!(
                        "{path} has a blank destination: name the field of the target object \
                         that the column goes to, e.g. \"first_name\"."
                    ),
                ));
            } else if let Some(&(_, earlier)) = seen.iter().find(|&&(d, _)| d == destination) {
                out.push(RuleViolation::new(
                    FIELD_MAP_DUPLICATE_DESTINATION,
                    path.clone(),
                    format!(
                        "{path} and {} both map to destination {}: map each destination field \
                         from one source column only.",
                        member_path("fieldMap", earlier),
                        quoted(destination)
                    ),
                ));
            } else {
                seen.push((destination, column));
            }
        }
    }

    // importMode
    if let Some(Err(v)) = req.import_mode.map(ImportMode::parse) {
        out.push(v);
    }

    // saveAsTemplate
    if let Some(name) = req.save_as_template {
        match name {
            Some(name) if !is_blank(name) => {
                let len = name.chars().count();
                if len > MAX_NAME_CHARS {
                    out.push(RuleViolation::new(
                        TEMPLATE_NAME_TOO_LONG,
                        "saveAsTemplate.name",
                        format!(
                            "saveAsTemplate.name is {len} characters long; the limit is \
                             {MAX_NAME_CHARS}: shorten it."
                        ),
                    ));
                }
            }
            _ => out.push(RuleViolation::new(
                TEMPLATE_NAME_REQUIRED,
                "saveAsTemplate.name",
                format!(
                    "saveAsTemplate.name is required: name the template to save (1 to \
                     {MAX_NAME_CHARS} characters), or leave saveAsTemplate out."
                ),
            )),
        }
    }

    out
}

/// Empty or only whitespace.
fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// An ASCII letter followed by ASCII letters, digits, `_` or `-`.
fn is_object_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// An opaque id (`lst_…`, template ids): not blank, no whitespace, no control
/// characters.
fn is_identifier(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Why `name` (not blank) is not a plain file name, if it is not.
fn file_name_problem(name: &str) -> Option<String> {
    if name.contains(['/', '\\']) {
        let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
        let advice = if is_blank(last) || last == "." || last == ".." {
            "send the file's own name, without any directory".to_string()
        } else {
            format!("send only the last part, {}", quoted(last))
        };
        return Some(format!(
            "fileName {} must be a plain file name without '/' or '\\': {advice}.",
            quoted(name)
        ));
    }
    if name == "." || name == ".." {
        return Some(format!(
            "fileName {} is not a file name: send the original file name with its extension, \
             e.g. \"spring-2026.csv\".",
            quoted(name)
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(format!(
            "fileName {} contains the control character U+{:04X}: remove it.",
            quoted(name),
            u32::from(c)
        ));
    }
    None
}

/// `parent.key` for plain keys, `parent["key"]` (JSON-quoted) for any other.
fn member_path(parent: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{}]", json_string(key))
    }
}

/// `s` as a JSON string literal, escaped exactly as `serde_json` writes it
/// (`"`, `\\`, and control characters as `\n`-style or `\u00xx` escapes).
/// Hand-written so that the client's wasm build, which quotes values in
/// its rule messages, links no JSON serialiser for it.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value for a message: JSON-quoted (control characters escaped) and cut
/// to 64 characters.
fn quoted(s: &str) -> String {
    const LIMIT: usize = 64;
    if s.chars().count() <= LIMIT {
        json_string(s)
    } else {
        let cut: String = s.chars().take(LIMIT).collect();
        format!("{}…", json_string(&cut))
    }
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn json_string_escapes_as_serde_json_does() {
        let mut all: String = (0u32..0x250).filter_map(char::from_u32).collect();
        all.push_str("\u{2028}\u{feff}é😀\"\\/");
        for c in all.chars() {
            let s = format!("a{c}b");
            assert_eq!(
                json_string(&s),
                serde_json::Value::from(s.as_str()).to_string()
            );
        }
        assert_eq!(
            json_string(&all),
            serde_json::Value::from(all.as_str()).to_string()
        );
    }
}
