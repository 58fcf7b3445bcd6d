//! The preflight: what an import will do, known before the file is uploaded.
//!
//! Fed the first bytes of a file (a sample) or the whole file in chunks, it
//! answers with a [`Preflight`]:
//!
//! * the file's [`Dialect`]: encoding, delimiter, quote, line endings,
//!   header presence ([`sniff_encoding`], [`sniff_dialect`]);
//! * each column's type inferred with the validator's own value parsers
//!   ([`crate::validate::check_value`]), with examples and misfits
//!   ([`Column`]);
//! * a mapping ready for `POST /import-jobs/{id}/mapping`
//!   ([`SuggestedMapping`], same shapes as [`crate::wire::MappingRequest`]'s
//!   `sourceFields` and `fieldMap`), the [`Suggestion`]s it was made of,
//!   and the header's [`Problem`]s;
//! * a [`Prediction`] of the job's verdict: `readRows`, `validRows`,
//!   `invalidRows`, `errorSummary` and the first lines of the error file,
//!   computed by [`crate::verdict`], the code the emulator's processor runs,
//!   so that a whole-file preflight equals the emulator's final counters.
//!
//! # Encodings
//!
//! [`sniff_encoding`] looks at raw bytes (BOM, strict UTF-8, else the
//! likely legacy encoding). The engine ([`Preflighter`]) reads UTF-8 only:
//! a host decodes other encodings first (in browsers with the platform's
//! `TextDecoder`, so no tables ship here) and feeds the UTF-8 text,
//! reporting the encoding it decoded in [`DialectOverrides::encoding`].
//!
//! # Streaming
//!
//! ```
//! use import_core::preflight::{PreflightOptions, Preflighter};
//!
//! let mut p = Preflighter::new(PreflightOptions::default());
//! p.feed(b"email;first_name\r\nann@example.com;Ann\r\n");
//! let answer = p.finish();
//! assert_eq!(answer.dialect.delimiter, ';');
//! assert_eq!(answer.prediction.read_rows, 1);
//! ```
//!
//! Memory is bounded whatever the file's size: the first
//! [`DIALECT_SNIFF_BYTES`] are held to sniff the dialect, the first
//! [`INFER_ROWS`] data rows to infer types and choose the mapping; every
//! later row is checked and dropped.

mod engine;
mod infer;
mod normalise;
mod sniff;
mod suggest;

pub use engine::Preflighter;
pub use normalise::{needs_normalising, Normaliser};
pub use sniff::{sniff_dialect, sniff_encoding};
pub use suggest::{normalise_name, suggest_mapping};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::rules::{DataType, ImportMode};
use crate::wire::{ErrorRow, ObjectSchema};

/// Bytes from the start of the file the dialect is sniffed on (at least;
/// fewer when the file is smaller): 64 KiB.
pub const DIALECT_SNIFF_BYTES: usize = 64 * 1024;
/// Data rows the dialect sniff weighs at most.
pub const DIALECT_SNIFF_ROWS: usize = 200;
/// Data rows each column's type is inferred from (the first ones).
pub const INFER_ROWS: usize = 1_000;
/// Examples (and misfits) kept per column.
pub const EXAMPLES: usize = 5;
/// Lines of the error file a [`Prediction`] carries by default.
pub const FIRST_ERRORS: usize = 10;
/// The default sample a host reads for the first answer: 1 MiB.
pub const DEFAULT_SAMPLE_BYTES: usize = 1024 * 1024;

/// How a file is written: what [`sniff_dialect`] found, or the user said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dialect {
    /// WHATWG encoding label (`utf-8`, `windows-1252`, `utf-16le`, …), the
    /// name `TextDecoder` takes.
    pub encoding: String,
    /// How sure the encoding guess is, 0 to 1 (1 for a BOM or for text
    /// that is valid UTF-8 with non-ASCII characters).
    pub confidence: f32,
    /// Whether the file starts with a byte order mark.
    pub bom: bool,
    /// Field delimiter: `,`, `;`, tab or `|`.
    pub delimiter: char,
    /// Quote character (`"`).
    pub quote: char,
    /// Line endings seen.
    pub line_ending: LineEnding,
    /// Whether the first record names the columns.
    pub has_header: bool,
}

impl Default for Dialect {
    /// UTF-8 CSV as the API reads it: `,`, `"`, a header.
    fn default() -> Self {
        Dialect {
            encoding: "utf-8".into(),
            confidence: 1.0,
            bom: false,
            delimiter: ',',
            quote: '"',
            line_ending: LineEnding::None,
            has_header: true,
        }
    }
}

/// The line endings of a file (outside quoted values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineEnding {
    /// `\n` only.
    Lf,
    /// `\r\n` only.
    Crlf,
    /// `\r` only (old Mac exports).
    Cr,
    /// More than one kind.
    Mixed,
    /// No line break at all (a single line, or an empty file).
    None,
}

/// What [`sniff_encoding`] makes of a file's first bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncodingGuess {
    /// WHATWG encoding label for `TextDecoder`: `utf-8`, `utf-16le`,
    /// `utf-16be`, `windows-1252`, `iso-8859-2`, `shift_jis`, `gbk`,
    /// `euc-kr`, …
    pub encoding: String,
    /// 0 to 1: 1 for a BOM, or valid UTF-8 with non-ASCII text; lower for
    /// a guess from byte statistics.
    pub confidence: f32,
    /// Whether a byte order mark was found.
    pub bom: bool,
    /// Its length in bytes (0, 2 or 3); `TextDecoder` drops it by itself.
    pub bom_length: usize,
    /// Whether the bytes are not text at all (NUL bytes, a zip or PDF
    /// signature): then [`crate::verdict::check_head`] says what it is.
    pub binary: bool,
}

/// What the user (or the host) already knows, overriding the sniff.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DialectOverrides {
    /// The delimiter to read with.
    pub delimiter: Option<char>,
    /// Whether the first record is a header.
    pub has_header: Option<bool>,
    /// The encoding the host decoded the bytes from (the engine is fed
    /// UTF-8): reported as is in [`Dialect::encoding`].
    pub encoding: Option<EncodingGuess>,
}

/// A saved mapping template, as a workspace keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Template {
    /// Template id (`tpl_…`), when known.
    pub id: Option<String>,
    /// Its name.
    pub name: String,
    /// The columns it was saved with, and their types.
    pub source_fields: IndexMap<String, String>,
    /// Column → field.
    pub field_map: IndexMap<String, String>,
}

/// A mapping chosen by the caller: the prediction is made with it instead
/// of the suggested one (same shapes as [`crate::wire::MappingRequest`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MappingChoice {
    /// `{ column: dataType }`.
    pub source_fields: IndexMap<String, String>,
    /// `{ column: field }`.
    pub field_map: IndexMap<String, String>,
}

/// What a preflight is run with. Every member is optional (serde
/// `default`), so a host may pass `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PreflightOptions {
    /// The target object's Metadata API schema. Without it no mapping is
    /// suggested and the prediction checks only the rows' shape.
    pub schema: Option<ObjectSchema>,
    /// The job's `importMode` (default `balanced`).
    pub import_mode: ImportMode,
    /// Saved mapping templates to match the header against.
    pub templates: Vec<Template>,
    /// What is already known of the dialect.
    pub dialect: DialectOverrides,
    /// Predict with this mapping rather than the suggested one.
    pub mapping: Option<MappingChoice>,
    /// Lines of the error file to predict (default [`FIRST_ERRORS`]; 0
    /// means the default).
    pub first_errors: usize,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preflight {
    /// How the file is written.
    pub dialect: Dialect,
    /// Its columns, in file order.
    pub columns: Vec<Column>,
    /// The suggested mapping (or the caller's [`PreflightOptions::mapping`]).
    pub mapping: SuggestedMapping,
    /// Why each column was mapped as it was.
    pub suggestions: Vec<Suggestion>,
    /// Header problems and anything that makes the file fail.
    pub problems: Vec<Problem>,
    /// The job's verdict, predicted.
    pub prediction: Prediction,
    /// Whether only the start of the file was examined (the counters then
    /// cover the rows read so far).
    pub sampled: bool,
    /// Bytes examined (as fed: UTF-8).
    pub bytes_examined: u64,
    /// Whether the file must be re-written (another encoding or delimiter)
    /// before the API can read it: see [`Normaliser`].
    pub needs_normalising: bool,
    /// The exact size of the normalised file, when it needs normalising and
    /// the whole file was examined.
    pub normalised_size: Option<u64>,
}

/// One column of the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    /// Header name (or `column N` when the file has no header).
    pub name: String,
    /// 0-based position.
    pub index: usize,
    /// The type to declare in `sourceFields`.
    pub inferred_type: DataType,
    /// Share of the non-empty examined values that are of that type, 0 to 1
    /// (1 for an all-empty column, declared `string`).
    pub confidence: f32,
    /// Up to [`EXAMPLES`] distinct non-empty values.
    pub examples: Vec<String>,
    /// Up to [`EXAMPLES`] values that are not of the inferred type.
    pub misfits: Vec<String>,
    /// How many examined values are not of the inferred type.
    pub misfit_count: u64,
    /// How many examined values are empty.
    pub empty_count: u64,
}

/// The mapping body the preflight suggests (`setMapping` takes it as is).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestedMapping {
    /// `{ column: dataType }`, every column of the file, in file order.
    pub source_fields: IndexMap<String, String>,
    /// `{ column: field }`, only the columns mapped.
    pub field_map: IndexMap<String, String>,
}

/// Why a column is mapped to a field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// Header name.
    pub column: String,
    /// Schema field.
    pub field: String,
    /// 0 to 1.
    pub score: f32,
    /// Which tier matched.
    pub reason: MatchReason,
}

/// The tiers of mapping suggestions, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    /// Same name after normalising case, separators and camelCase.
    Exact,
    /// A known synonym (`e-mail` → `email`, `zip` → `postal_code`, …).
    Synonym,
    /// A saved template whose columns match the header.
    Template,
    /// A similar name whose values are of the field's type.
    Similar,
    /// The caller's own mapping.
    Given,
}

/// A problem a program can branch on (`code`) and a person can act on
/// (`message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// One of the `problem` constants of this module, or a code of
    /// [`crate::verdict::FileFailure::code`] when the job would fail.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// The column concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The schema field concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The codes of [`Problem`]s (besides the failures of
/// [`crate::verdict::FileFailure`]).
pub mod problem {
    /// A header cell is empty.
    pub const EMPTY_COLUMN_NAME: &str = "EMPTY_COLUMN_NAME";
    /// Two header cells have the same name.
    pub const DUPLICATE_COLUMN_NAME: &str = "DUPLICATE_COLUMN_NAME";
    /// The object's identity key has no column mapped to it.
    pub const KEY_NOT_MAPPED: &str = "KEY_NOT_MAPPED";
    /// Two columns are mapped to one field (in the caller's mapping).
    pub const FIELD_MAPPED_TWICE: &str = "FIELD_MAPPED_TWICE";
    /// The caller's mapping names a field the schema does not have.
    pub const UNKNOWN_FIELD: &str = "UNKNOWN_FIELD";
    /// Rows have more or fewer fields than the header.
    pub const RAGGED_ROWS: &str = "RAGGED_ROWS";
    /// The file is empty.
    pub const EMPTY_FILE: &str = "EMPTY_FILE";
    /// The file has a header and no data rows.
    pub const NO_DATA_ROWS: &str = "NO_DATA_ROWS";
    /// The first line looks like data, not column names (the API reads it
    /// as the header all the same).
    pub const HEADER_LOOKS_LIKE_DATA: &str = "HEADER_LOOKS_LIKE_DATA";
    /// The bytes fed are not valid UTF-8 (the host should decode them with
    /// the detected encoding first).
    pub const NOT_UTF8: &str = "NOT_UTF8";
}

/// The job's verdict, predicted: the status counters and the first lines of
/// the error file, exactly as the API will report them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    /// Data rows read.
    pub read_rows: u64,
    /// Rows that pass validation.
    pub valid_rows: u64,
    /// Rows rejected.
    pub invalid_rows: u64,
    /// `{ code: count }`, `null` when nothing is rejected (as the status).
    pub error_summary: Option<IndexMap<String, u64>>,
    /// The first lines of the error file, in file order.
    pub first_errors: Vec<ErrorRow>,
    /// Set when the job would fail before importing anything: the code and
    /// the job's `errorMessage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<PredictedFailure>,
}

/// A job failure, predicted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictedFailure {
    /// [`crate::verdict::FileFailure::code`].
    pub code: &'static str,
    /// The job's `errorMessage`, word for word.
    pub message: String,
}

/// The mode's default, for serde.
impl PreflightOptions {
    /// Options for `schema` under `mode`.
    pub fn for_schema(schema: ObjectSchema, mode: ImportMode) -> Self {
        PreflightOptions {
            schema: Some(schema),
            import_mode: mode,
            ..Self::default()
        }
    }
}
