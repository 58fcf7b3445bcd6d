//! Request rules shared by the client (checked before anything is sent) and
//! the emulator (checked on arrival), each with its own rule code and a
//! message naming the field.
//!
//! (Skeleton: bodies to be written.)

use indexmap::IndexMap;

use crate::wire::{CreateJobRequest, MappingRequest};

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

impl std::fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleViolation {}

/// How rows are validated (`importMode`).
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

/// Column data types (`sourceFields` values and schema field types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// Any text.
    String,
    /// Whole number.
    Integer,
    /// Decimal number.
    Number,
    /// true/false.
    Boolean,
    /// ISO 8601 date.
    Date,
    /// ISO 8601 date-time with a timezone.
    Datetime,
    /// E-mail address.
    Email,
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

/// Checks a create request.
pub fn check_create(_req: &CreateJobRequest) -> Result<ValidCreate, RuleViolation> {
    unimplemented!()
}

/// Checks a mapping request.
pub fn check_mapping(_req: &MappingRequest) -> Result<ValidMapping, RuleViolation> {
    unimplemented!()
}
