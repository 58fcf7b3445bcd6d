//! The row rules: how each CSV row of an import is checked, typed and
//! normalised under the job's `importMode`. The emulator decides every row
//! with this module, and the browser's preflight runs the same code, so the
//! two can never disagree.
//!
//! This page is the reference for the rules.
//!
//! # Before the first row
//!
//! [`RowValidator::new`] resolves the mapping against the file's header once.
//! The job fails (no row is read) with a [`HeaderError`] when:
//!
//! * a column named in `fieldMap` is not in the header (in every mode: the
//!   mapping says the column exists, so a file without it is the wrong file,
//!   or is read with the wrong delimiter; importing it would silently blank a
//!   whole field). Names match exactly, case and spaces included;
//! * a key field of the object (e.g. `email` of `profiles`) has no column
//!   mapped to it, so no row could be merged;
//! * a mapped column appears twice in the header.
//!
//! # Row outcomes
//!
//! Each data row is either accepted, giving one [`Value`] per `fieldMap`
//! entry ([`ValidRow`]), or rejected with one [`RowError`]: the first problem
//! found, checking the row's shape, then (strict) undeclared columns, then
//! the mapped columns in `fieldMap` order.
//!
//! | Situation | `strict` | `balanced` (default) | `landing_friendly` |
//! |---|---|---|---|
//! | row with more or fewer fields than the header | reject `ROW_MALFORMED` | reject `ROW_MALFORMED` | reject `ROW_MALFORMED` |
//! | field that is not valid UTF-8 | reject `INVALID_ENCODING` | reject `INVALID_ENCODING` | reject `INVALID_ENCODING` |
//! | header column not declared in `sourceFields` | reject `EXTRA_COLUMN` | ignored | ignored |
//! | key field empty | reject `REQUIRED_FIELD_MISSING` | reject `REQUIRED_FIELD_MISSING` | reject `REQUIRED_FIELD_MISSING` |
//! | other mapped field empty | reject `REQUIRED_FIELD_MISSING` | null | null |
//! | typed value with surrounding spaces (`" 42"`) | reject `VALIDATION_TYPE_MISMATCH` | trimmed | trimmed |
//! | keyword in another case (`TRUE`, `t`/`z` in a datetime) | reject `VALIDATION_TYPE_MISMATCH` (except `t`/`z`, which RFC 3339 allows) | accepted | accepted |
//! | integer written `1.0`, `1,234` or `+5` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced (`1`, `1234`, `5`) |
//! | number written `1,234.5`, `.5` or `+5` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced |
//! | boolean written `yes`/`no`, `y`/`n`, `1`/`0`, `t`/`f`, `on`/`off` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced |
//! | date written `04/21/2026`, `21.04.2026`, `2026/04/21` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced to `2026-04-21` |
//! | datetime without a timezone (`2026-04-21T10:00:00`) | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | read as UTC |
//! | datetime written `2026-04-21 10:00`, `04/21/2026 10:00 AM` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced (UTC unless an offset is given) |
//! | date alone in a datetime column | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | midnight UTC |
//! | value that is not its type at all (`abc` for integer, invalid email, `2026-02-30`, integer beyond i64, non-finite number) | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | null |
//! | key value that is not its type | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` |
//! | `string` value with surrounding spaces | kept as written | kept as written | trimmed |
//!
//! A field is *empty* when it is empty or holds only whitespace. A key value
//! cannot be nulled, so in `landing_friendly` a key that cannot be read still
//! rejects the row.
//!
//! # Accepted forms per data type
//!
//! `strict` takes values exactly as written; `balanced` takes the same forms
//! after trimming surrounding whitespace, with keywords case-insensitive;
//! `landing_friendly` additionally coerces the forms listed.
//!
//! | Type | `strict` / `balanced` | `landing_friendly` also accepts | Value |
//! |---|---|---|---|
//! | `string` | any text | (trims it) | [`Value::String`] |
//! | `integer` | `-?[0-9]+` within i64 | `+`, thousands separators `1,234`, integral decimals `1.0` | [`Value::Integer`] |
//! | `number` | `-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`, finite | `+`, thousands separators, `.5`, `5.` | [`Value::Number`] |
//! | `boolean` | `true`, `false` | `yes/no`, `y/n`, `1/0`, `t/f`, `on/off` (any case) | [`Value::Boolean`] |
//! | `date` | `YYYY-MM-DD`, a real calendar date | `YYYY/MM/DD`, `YYYY.MM.DD`, `MM/DD/YYYY`, `DD.MM.YYYY` (1- or 2-digit month and day), or a datetime's date part | [`Value::Date`] `YYYY-MM-DD` |
//! | `datetime` | RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z\|±HH:MM)` | any accepted date form, then `T` or a space, `H:MM[:SS[.fraction]]`, optional `AM`/`PM`, optional `Z`, `±HH:MM`, `±HHMM`, `±HH` or `UTC`/`GMT`; no timezone means UTC; a date alone means midnight UTC | [`Value::Datetime`], converted to UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]Z` |
//! | `email` | one `@`, something before it, a domain with a dot and no empty label, no whitespace | (trims it) | [`Value::String`] |
//! | `phone` | E.164: `+`, then 2 to 15 digits, the first not 0 | spaces, dashes, dots and parentheses dropped, a leading `00` read as `+` (a number without its country code is not guessed) | [`Value::String`] `+14155550123` |
//! | `url` | `http://` or `https://` and a host, no whitespace (scheme lower case in `strict`) | a bare host with a dot gets `https://` (`www.example.com` → `https://www.example.com`) | [`Value::String`] |
//!
//! Ambiguities are settled one way, always: dates with slashes and a
//! trailing year are US month/day (`04/05/2026` is April 5), dates with dots
//! are day.month (`04.05.2026` is 4 May), dates with dashes and a trailing
//! year (`04-05-2026`) are not read at all, commas in numbers are thousands
//! separators (never decimal commas). Leap seconds (`:60`) are refused.
//!
//! # Keys and the destination type
//!
//! * Key values are trimmed in `balanced` and `landing_friendly` (in `strict`
//!   surrounding spaces reject the row), and e-mail keys are lower-cased:
//!   `" Ann@Example.COM "` and `ann@example.com` are the same profile.
//! * When a column is declared `string` in `sourceFields` but its
//!   destination field has another type in the object's schema (see
//!   [`Mapping::destination_types`]), the destination type is checked: the
//!   API documentation's own example maps a `string` column to `email` and
//!   reports `invalid email format`.
//! * A `fieldMap` column missing from `sourceFields` is read as `string`
//!   (and, being undeclared, rejects every row in `strict`).
//!
//! # Messages
//!
//! Every [`RowError`] names the column (when there is one) and says why in
//! words a person can act on, e.g.
//! `column "signup_ts": "2026-04-21 10:00" is not a datetime with a timezone (expected e.g. 2026-04-21T10:00:00Z)`
//! or `column "email_address": invalid email format: "not-an-email" has no @`.
//! Values longer than 60 characters are shortened in messages.

use std::fmt;

use indexmap::IndexMap;

use crate::csv::{CsvErrorKind, CsvRowError};
use crate::rules::{DataType, ImportMode};

/// A value cannot be read as its column's data type (or, in `strict`, is not
/// written exactly in the type's canonical form).
pub const VALIDATION_TYPE_MISMATCH: &str = "VALIDATION_TYPE_MISMATCH";
/// A key field is empty (every mode), or any mapped field is empty (`strict`).
pub const REQUIRED_FIELD_MISSING: &str = "REQUIRED_FIELD_MISSING";
/// The row has more or fewer fields than the header, or is larger than the
/// reader's record limit (usually an unclosed quote).
pub const ROW_MALFORMED: &str = "ROW_MALFORMED";
/// `strict` only: the file has a column that `sourceFields` does not declare.
pub const EXTRA_COLUMN: &str = "EXTRA_COLUMN";
/// A field is not valid UTF-8.
pub const INVALID_ENCODING: &str = "INVALID_ENCODING";

/// Longest value (in characters) quoted in full in a message.
const MAX_QUOTED_CHARS: usize = 60;

/// A typed, normalised destination value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (an empty field, or one `landing_friendly` could not coerce).
    Null,
    /// Text (also e-mail addresses).
    String(String),
    /// A whole number.
    Integer(i64),
    /// A finite number.
    Number(f64),
    /// `true` or `false`.
    Boolean(bool),
    /// A calendar date, `YYYY-MM-DD`.
    Date(String),
    /// An instant, RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
    Datetime(String),
}

impl Value {
    /// The text of a `String`, `Date` or `Datetime` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Date(s) | Value::Datetime(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Text form: empty for `Null`, numbers in their shortest round-trip form.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::String(s) | Value::Date(s) | Value::Datetime(s) => f.write_str(s),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::Boolean(b) => write!(f, "{b}"),
        }
    }
}

/// A rejected row: what a line of the errors file says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based data row number (the header is row 0).
    pub row_number: u64,
    /// One of this module's codes, e.g. [`VALIDATION_TYPE_MISMATCH`].
    pub code: &'static str,
    /// The offending column (header name), when there is one.
    pub column: Option<String>,
    /// Why, for people, naming the column.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}", self.row_number, self.message)
    }
}

impl std::error::Error for RowError {}

impl RowError {
    /// The row error for a record the CSV reader could not hand over;
    /// `header` names the column of an encoding error.
    pub fn from_csv<S: AsRef<str>>(err: &CsvRowError, header: &[S]) -> RowError {
        match &err.kind {
            CsvErrorKind::WrongWidth { expected, found } => {
                let hint = if found > expected {
                    "a value probably contains the delimiter without quotes around it"
                } else {
                    "values are missing, or a line break inside a value is not quoted"
                };
                RowError {
                    row_number: err.row_number,
                    code: ROW_MALFORMED,
                    column: None,
                    message: format!(
                        "row has {found} {} but the header has {expected} ({hint})",
                        plural(*found, "column", "columns")
                    ),
                }
            }
            CsvErrorKind::InvalidUtf8 {
                field_index,
                byte,
                position,
            } => {
                let name = header.get(*field_index).map(|h| h.as_ref().to_owned());
                let label = column_label(name.as_deref(), *field_index);
                RowError {
                    row_number: err.row_number,
                    code: INVALID_ENCODING,
                    column: name,
                    message: format!(
                        "{label}: value is not valid UTF-8 (byte 0x{byte:02X} at position {position}); save the file as UTF-8"
                    ),
                }
            }
            CsvErrorKind::RecordTooLarge { limit } => RowError {
                row_number: err.row_number,
                code: ROW_MALFORMED,
                column: None,
                message: format!(
                    "row is larger than the {limit}-byte limit (a quote that is never closed probably runs on through the rest of the file)"
                ),
            },
        }
    }
}

/// Why the mapping cannot be applied to the file's header: the job fails
/// with this message before any row is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Columns named in `fieldMap` are not in the header.
    MissingColumns {
        /// The missing columns, in `fieldMap` order.
        missing: Vec<String>,
        /// The header's columns.
        header: Vec<String>,
    },
    /// Key fields of the object have no column mapped to them.
    KeyNotMapped {
        /// The unmapped key fields.
        fields: Vec<String>,
    },
    /// A mapped column appears more than once in the header.
    DuplicateColumn {
        /// The repeated column.
        column: String,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::MissingColumns { missing, header } => {
                write!(
                    f,
                    "the file's header has no {} {} mapped in fieldMap",
                    plural(missing.len(), "column", "columns"),
                    quoted_list(missing)
                )?;
                write!(f, "; the header's columns are {}", quoted_list(header))?;
                if let [only] = header.as_slice() {
                    if let Some(d) = [';', '\t', '|', ','].iter().find(|d| only.contains(**d)) {
                        let shown = if *d == '\t' { "a tab".to_string() } else { format!("\"{d}\"") };
                        return write!(
                            f,
                            " (one column: is the file delimited by {shown} rather than the delimiter it was read with?)"
                        );
                    }
                }
                let near: Vec<String> = missing
                    .iter()
                    .filter_map(|m| {
                        header
                            .iter()
                            .find(|h| h.trim().eq_ignore_ascii_case(m.trim()))
                            .map(|h| format!("\"{}\" for \"{}\"", escape(h), escape(m)))
                    })
                    .collect();
                if !near.is_empty() {
                    write!(
                        f,
                        " (names must match exactly, case and spaces included: the header has {})",
                        near.join(", ")
                    )?;
                }
                Ok(())
            }
            HeaderError::KeyNotMapped { fields } => write!(
                f,
                "fieldMap maps no column to the key {} {}, which every row needs; map the column that holds it",
                plural(fields.len(), "field", "fields"),
                quoted_list(fields)
            ),
            HeaderError::DuplicateColumn { column } => write!(
                f,
                "the file's header has the mapped column \"{}\" more than once; rename one so the mapping is unambiguous",
                escape(column)
            ),
        }
    }
}

impl std::error::Error for HeaderError {}

/// The mapping a job's rows are validated with.
#[derive(Debug, Clone, Copy)]
pub struct Mapping<'a> {
    /// `sourceFields`: declared source columns and their types.
    pub source_fields: &'a IndexMap<String, DataType>,
    /// `fieldMap`: source column → destination field.
    pub field_map: &'a IndexMap<String, String>,
    /// Destination field → type, from the object's schema, when known. A
    /// column declared `string` whose destination has another type is
    /// checked as the destination type.
    pub destination_types: Option<&'a IndexMap<String, DataType>>,
}

impl<'a> Mapping<'a> {
    /// A mapping without destination types.
    pub fn new(
        source_fields: &'a IndexMap<String, DataType>,
        field_map: &'a IndexMap<String, String>,
    ) -> Self {
        Self {
            source_fields,
            field_map,
            destination_types: None,
        }
    }

    /// The same mapping, checking values also against the destination types.
    pub fn with_destination_types(mut self, types: &'a IndexMap<String, DataType>) -> Self {
        self.destination_types = Some(types);
        self
    }
}

/// One `fieldMap` entry, resolved against the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedField {
    /// Source column (header name).
    pub column: String,
    /// Index of the column in the header.
    pub index: usize,
    /// Destination field.
    pub field: String,
    /// The type the value is checked as.
    pub data_type: DataType,
    /// Whether the destination is a key field.
    pub is_key: bool,
}

/// An accepted row: one value per [`RowValidator::fields`] entry.
#[derive(Debug, Clone, Default)]
pub struct ValidRow {
    /// 1-based data row number.
    pub row_number: u64,
    /// Values in `fieldMap` order.
    pub values: Vec<Value>,
    /// Strings of earlier rows' values, cleared, for the next row's texts
    /// to reuse ([`RowValidator::validate_into`] allocates no string once
    /// a few rows have been checked).
    spare: Vec<String>,
}

impl PartialEq for ValidRow {
    /// Rows are equal when their numbers and values are.
    fn eq(&self, other: &Self) -> bool {
        self.row_number == other.row_number && self.values == other.values
    }
}

impl ValidRow {
    /// Moves the strings of the current values to the spare list and
    /// empties `values`.
    fn recycle(&mut self) {
        for v in self.values.drain(..) {
            if let Value::String(s) | Value::Date(s) | Value::Datetime(s) = v {
                self.spare.push(s);
            }
        }
    }
}

/// Validates the rows of one file under one mapping and mode. See the
/// [module documentation](self) for the rules.
#[derive(Debug, Clone)]
pub struct RowValidator {
    mode: ImportMode,
    fields: Vec<MappedField>,
    key_indexes: Vec<usize>,
    width: usize,
    /// `strict`: header columns `sourceFields` does not declare, with index.
    undeclared: Vec<(usize, String)>,
}

impl RowValidator {
    /// Resolves `mapping` against the file's `header` (once per job).
    /// `key_fields` are the destination fields every row must carry (e.g.
    /// `["email"]` for profiles; empty for append objects).
    pub fn new<H: AsRef<str>, K: AsRef<str>>(
        header: &[H],
        mapping: Mapping<'_>,
        mode: ImportMode,
        key_fields: &[K],
    ) -> Result<Self, HeaderError> {
        let header: Vec<&str> = header.iter().map(|h| h.as_ref()).collect();
        let mut missing = Vec::new();
        let mut fields = Vec::with_capacity(mapping.field_map.len());
        for (column, field) in mapping.field_map {
            let mut positions = header
                .iter()
                .enumerate()
                .filter(|(_, h)| **h == column.as_str());
            let Some((index, _)) = positions.next() else {
                missing.push(column.clone());
                continue;
            };
            if positions.next().is_some() {
                return Err(HeaderError::DuplicateColumn {
                    column: column.clone(),
                });
            }
            let declared = mapping
                .source_fields
                .get(column)
                .copied()
                .unwrap_or(DataType::String);
            let destination = mapping
                .destination_types
                .and_then(|t| t.get(field).copied());
            let data_type = match (declared, destination) {
                (DataType::String, Some(dest)) => dest,
                (declared, _) => declared,
            };
            let is_key = key_fields.iter().any(|k| k.as_ref() == field);
            fields.push(MappedField {
                column: column.clone(),
                index,
                field: field.clone(),
                data_type,
                is_key,
            });
        }
        if !missing.is_empty() {
            return Err(HeaderError::MissingColumns {
                missing,
                header: header.iter().map(|h| (*h).to_owned()).collect(),
            });
        }
        let unmapped: Vec<String> = key_fields
            .iter()
            .map(|k| k.as_ref())
            .filter(|k| !fields.iter().any(|f| f.field == *k))
            .map(str::to_owned)
            .collect();
        if !unmapped.is_empty() {
            return Err(HeaderError::KeyNotMapped { fields: unmapped });
        }
        let key_indexes = (0..fields.len()).filter(|&i| fields[i].is_key).collect();
        let undeclared = if mode == ImportMode::Strict {
            header
                .iter()
                .enumerate()
                .filter(|(_, h)| !mapping.source_fields.contains_key(**h))
                .map(|(i, h)| (i, (*h).to_owned()))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            mode,
            fields,
            key_indexes,
            width: header.len(),
            undeclared,
        })
    }

    /// The mapped fields, in `fieldMap` order (the order of
    /// [`ValidRow::values`]).
    pub fn fields(&self) -> &[MappedField] {
        &self.fields
    }

    /// Indexes into [`ValidRow::values`] of the key fields.
    pub fn key_indexes(&self) -> &[usize] {
        &self.key_indexes
    }

    /// The mode rows are checked under.
    pub fn mode(&self) -> ImportMode {
        self.mode
    }

    /// Checks one data row (its fields in header order).
    pub fn validate(&self, row_number: u64, fields: &[&str]) -> Result<ValidRow, RowError> {
        let mut row = ValidRow {
            row_number,
            values: Vec::with_capacity(self.fields.len()),
            spare: Vec::new(),
        };
        self.validate_into(row_number, fields, &mut row)?;
        Ok(row)
    }

    /// Like [`validate`](Self::validate), reusing `out`'s storage.
    pub fn validate_into(
        &self,
        row_number: u64,
        fields: &[&str],
        out: &mut ValidRow,
    ) -> Result<(), RowError> {
        out.row_number = row_number;
        out.recycle();
        if fields.len() != self.width {
            let found = fields.len();
            let expected = self.width;
            return Err(RowError {
                row_number,
                code: ROW_MALFORMED,
                column: None,
                message: format!(
                    "row has {found} {} but the header has {expected}",
                    plural(found, "column", "columns")
                ),
            });
        }
        if let Some((index, name)) = self.undeclared.first() {
            return Err(RowError {
                row_number,
                code: EXTRA_COLUMN,
                column: Some(name.clone()),
                message: format!(
                    "{} is not declared in sourceFields (strict mode rejects rows with undeclared columns: declare it, or remove it from the file)",
                    column_label(Some(name), *index)
                ),
            });
        }
        for f in &self.fields {
            let raw = fields[f.index];
            if f.is_key
                && self.mode == ImportMode::Strict
                && f.data_type == DataType::String
                && !raw.trim().is_empty()
                && raw.trim().len() != raw.len()
            {
                return Err(RowError {
                    row_number,
                    code: VALIDATION_TYPE_MISMATCH,
                    column: Some(f.column.clone()),
                    message: format!(
                        "{}: {} has surrounding spaces (strict mode takes key values exactly as written)",
                        column_label(Some(&f.column), f.index),
                        quote(raw)
                    ),
                });
            }
            let value = match check_value_with(f.data_type, raw, self.mode, &mut out.spare) {
                Ok(v) => {
                    if f.is_key {
                        normalise_key(v, f.data_type)
                    } else {
                        v
                    }
                }
                Err(ValueError::Empty) if f.is_key => {
                    return Err(RowError {
                        row_number,
                        code: REQUIRED_FIELD_MISSING,
                        column: Some(f.column.clone()),
                        message: format!(
                            "{} is empty, but it holds the key field \"{}\" that every row needs",
                            column_label(Some(&f.column), f.index),
                            escape(&f.field)
                        ),
                    });
                }
                Err(ValueError::Empty) if self.mode == ImportMode::Strict => {
                    return Err(RowError {
                        row_number,
                        code: REQUIRED_FIELD_MISSING,
                        column: Some(f.column.clone()),
                        message: format!(
                            "{} is empty (strict mode requires a value in every mapped column)",
                            column_label(Some(&f.column), f.index)
                        ),
                    });
                }
                Err(ValueError::Empty) => Value::Null,
                Err(ValueError::Invalid(_))
                    if self.mode == ImportMode::LandingFriendly && !f.is_key =>
                {
                    Value::Null
                }
                Err(ValueError::Invalid(why)) => {
                    return Err(RowError {
                        row_number,
                        code: VALIDATION_TYPE_MISMATCH,
                        column: Some(f.column.clone()),
                        message: format!("{}: {why}", column_label(Some(&f.column), f.index)),
                    });
                }
            };
            out.values.push(value);
        }
        Ok(())
    }
}

/// Keys are trimmed (already, except `string` in strict, which refuses
/// surrounding spaces) and e-mail keys lower-cased.
fn normalise_key(v: Value, data_type: DataType) -> Value {
    match v {
        Value::String(s) => {
            let t = trim(&s);
            if data_type == DataType::Email {
                if t.len() == s.len() && s.is_ascii() {
                    let mut s = s;
                    s.make_ascii_lowercase();
                    Value::String(s)
                } else {
                    Value::String(t.to_lowercase())
                }
            } else if t.len() == s.len() {
                Value::String(s)
            } else {
                Value::String(t.to_owned())
            }
        }
        other => other,
    }
}

/// Why a single value was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// The field is empty or only whitespace.
    Empty,
    /// Not the type (or, in strict, not in its canonical form): why, in
    /// words, without the column name.
    Invalid(String),
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Empty => f.write_str("value is empty"),
            ValueError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ValueError {}

/// Checks and normalises one raw value as `data_type` under `mode` (no key
/// handling: see [`RowValidator`]). Also usable on its own, e.g. to infer a
/// column's type from a sample.
pub fn check_value(data_type: DataType, raw: &str, mode: ImportMode) -> Result<Value, ValueError> {
    check_value_with(data_type, raw, mode, &mut Vec::new())
}

/// `s.trim()`, answered without decoding characters when both ends are
/// ASCII and not whitespace (most values).
fn trim(s: &str) -> &str {
    // Every whitespace character is either at most b' ' or not ASCII.
    let plain = |b: u8| b > b' ' && b.is_ascii();
    match s.as_bytes() {
        [first, .., last] if plain(*first) && plain(*last) => s,
        [only] if plain(*only) => s,
        _ => s.trim(),
    }
}

/// A string holding `text`, reusing one of `spare` when there is one.
fn spare_string(spare: &mut Vec<String>, text: &str) -> String {
    let mut s = spare.pop().unwrap_or_default();
    s.clear();
    s.push_str(text);
    s
}

/// [`check_value`], taking the strings of the values it returns from
/// `spare` when it can.
fn check_value_with(
    data_type: DataType,
    raw: &str,
    mode: ImportMode,
    spare: &mut Vec<String>,
) -> Result<Value, ValueError> {
    let trimmed = trim(raw);
    if trimmed.is_empty() {
        return Err(ValueError::Empty);
    }
    if data_type == DataType::String {
        let text = if mode == ImportMode::LandingFriendly {
            trimmed
        } else {
            raw
        };
        return Ok(Value::String(spare_string(spare, text)));
    }
    if mode == ImportMode::Strict && trimmed.len() != raw.len() {
        return Err(ValueError::Invalid(format!(
            "{} has surrounding spaces (strict mode takes values exactly as written)",
            quote(raw)
        )));
    }
    let strict = mode == ImportMode::Strict;
    let exact = match data_type {
        DataType::String => unreachable!("handled above"),
        DataType::Integer => parse_integer(trimmed),
        DataType::Number => parse_number(trimmed),
        DataType::Boolean => parse_boolean(trimmed, strict),
        DataType::Date => parse_iso_date(trimmed).map(|d| {
            let mut s = spare_string(spare, "");
            d.push_iso(&mut s);
            Value::Date(s)
        }),
        DataType::Datetime => {
            let mut s = spare_string(spare, "");
            match parse_rfc3339_into(trimmed, &mut s) {
                Ok(()) => Ok(Value::Datetime(s)),
                Err(p) => {
                    spare.push(s);
                    Err(p)
                }
            }
        }
        DataType::Email => {
            check_email(trimmed).map(|()| Value::String(spare_string(spare, trimmed)))
        }
        DataType::Phone => parse_phone(trimmed),
        DataType::Url => parse_url(trimmed, strict),
    };
    let problem = match exact {
        Ok(v) => return Ok(v),
        Err(p) => p,
    };
    // Not in the canonical form: landing_friendly tries harder; the other
    // modes say what a coercion would have given.
    let lenient = match (&problem, data_type) {
        // Out of range or impossible calendar values stay wrong whatever the form.
        (Problem::Range(_), _) => None,
        (_, DataType::Integer) => lenient_integer(trimmed).map(Value::Integer),
        (_, DataType::Number) => lenient_number(trimmed).map(Value::Number),
        (_, DataType::Boolean) => lenient_boolean(trimmed).map(Value::Boolean),
        (_, DataType::Date) => lenient_date(trimmed).map(|d| Value::Date(d.iso())),
        (_, DataType::Datetime) => lenient_datetime(trimmed).map(Value::Datetime),
        (_, DataType::Phone) => lenient_phone(trimmed).map(Value::String),
        (_, DataType::Url) => lenient_url(trimmed).map(Value::String),
        _ => None,
    };
    if mode == ImportMode::LandingFriendly {
        if let Some(v) = lenient {
            return Ok(v);
        }
    }
    // The least lenient mode that would accept the value, for the message.
    let suggestion = match (mode, &problem) {
        (ImportMode::LandingFriendly, _) | (_, Problem::Range(_)) => None,
        (ImportMode::Strict, _) => check_value(data_type, raw, ImportMode::Balanced)
            .ok()
            .map(|v| ("balanced", v))
            .or(lenient.map(|v| ("landing_friendly", v))),
        (ImportMode::Balanced, _) => lenient.map(|v| ("landing_friendly", v)),
    };
    Err(ValueError::Invalid(
        problem.describe(raw, data_type, suggestion),
    ))
}

/// What is wrong with a value.
enum Problem {
    /// Not the type's (canonical) form.
    Form,
    /// The right form, but not a valid value: the reason.
    Range(String),
    /// E-mail: the reason.
    Email(&'static str),
}

impl Problem {
    fn describe(
        &self,
        raw: &str,
        data_type: DataType,
        suggestion: Option<(&str, Value)>,
    ) -> String {
        let q = quote(raw.trim());
        match self {
            Problem::Email(why) => format!("invalid email format: {q} {why}"),
            Problem::Range(why) => format!("{q} {why}"),
            Problem::Form => {
                let (noun, expected) = match data_type {
                    DataType::Integer => ("an integer", "whole digits, e.g. 42"),
                    DataType::Number => ("a number", "e.g. 42 or -3.75"),
                    DataType::Boolean => ("a boolean", "true or false"),
                    DataType::Date => ("a date", "YYYY-MM-DD, e.g. 2026-04-21"),
                    DataType::Datetime => {
                        ("a datetime with a timezone", "e.g. 2026-04-21T10:00:00Z")
                    }
                    DataType::Phone => (
                        "a phone number in E.164 form",
                        "+ and the country code, then up to 15 digits in all, e.g. +14155550123",
                    ),
                    DataType::Url => ("an http or https URL", "e.g. https://example.com/page"),
                    DataType::String | DataType::Email => ("text", "text"),
                };
                let mut msg = format!("{q} is not {noun} (expected {expected})");
                // Suggest the mode that would accept it, except for naive
                // datetimes: assuming UTC is a guess a person should make.
                let naive = data_type == DataType::Datetime && !has_timezone(raw.trim());
                if let (Some((mode, v)), false) = (suggestion, naive) {
                    msg.push_str(&format!("; {mode} mode would read it as {v}"));
                }
                msg
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Integers and numbers

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_integer(s: &str) -> Result<Value, Problem> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !all_digits(digits) {
        return Err(Problem::Form);
    }
    s.parse::<i64>().map(Value::Integer).map_err(|_| {
        Problem::Range(format!(
            "is out of range for an integer ({} to {})",
            i64::MIN,
            i64::MAX
        ))
    })
}

/// `-?\d+(\.\d+)?([eE][+-]?\d+)?`, with `allow_loose` also `+`, `.5`, `5.`.
fn is_decimal(s: &str, allow_loose: bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || (allow_loose && b[i] == b'+')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - start;
        if frac_digits == 0 && !allow_loose {
            return false;
        }
        if int_digits == 0 && !allow_loose {
            return false;
        }
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

fn finite(s: &str) -> Result<f64, Problem> {
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => Err(Problem::Range("is out of range for a number".to_owned())),
    }
}

fn parse_number(s: &str) -> Result<Value, Problem> {
    if !is_decimal(s, false) {
        return Err(Problem::Form);
    }
    finite(s).map(Value::Number)
}

/// Removes thousands separators when they are placed correctly
/// (`1,234,567.5`); `None` for misplaced ones (`1,23`).
fn strip_thousands(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.contains(',') {
        return Some(std::borrow::Cow::Borrowed(s));
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'-') | Some(b'+') => s.split_at(1),
        _ => ("", s),
    };
    let (int_part, tail) = match rest.find(['.', 'e', 'E']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut groups = int_part.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !all_digits(first) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    out.push_str(sign);
    out.push_str(first);
    for g in groups {
        if g.len() != 3 || !all_digits(g) {
            return None;
        }
        out.push_str(g);
    }
    if tail.contains(',') {
        return None;
    }
    out.push_str(tail);
    Some(std::borrow::Cow::Owned(out))
}

fn lenient_integer(s: &str) -> Option<i64> {
    let s = strip_thousands(s)?;
    let s = s.strip_prefix('+').unwrap_or(&s);
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if let Some(frac) = frac {
        if !frac.bytes().all(|b| b == b'0') {
            return None;
        }
    }
    let digits = int_part.strip_prefix('-').unwrap_or(int_part);
    if !all_digits(digits) {
        return None;
    }
    int_part.parse().ok()
}

fn lenient_number(s: &str) -> Option<f64> {
    let s = strip_thousands(s)?;
    if !is_decimal(&s, true) {
        return None;
    }
    finite(&s).ok()
}

// ---------------------------------------------------------------------------
// Booleans

fn parse_boolean(s: &str, strict: bool) -> Result<Value, Problem> {
    let (t, f) = if strict {
        (s == "true", s == "false")
    } else {
        (
            s.eq_ignore_ascii_case("true"),
            s.eq_ignore_ascii_case("false"),
        )
    };
    match (t, f) {
        (true, _) => Ok(Value::Boolean(true)),
        (_, true) => Ok(Value::Boolean(false)),
        _ => Err(Problem::Form),
    }
}

fn lenient_boolean(s: &str) -> Option<bool> {
    const TRUE: [&str; 6] = ["true", "t", "yes", "y", "1", "on"];
    const FALSE: [&str; 6] = ["false", "f", "no", "n", "0", "off"];
    if TRUE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(true)
    } else if FALSE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(false)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Dates and datetimes

/// A calendar date (years 0000–9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Date {
    year: i64,
    month: u32,
    day: u32,
}

/// Appends `n` as exactly `width` decimal digits (zero-padded).
/// Writes `n` as `out.len()` decimal digits (leading zeros; higher digits
/// dropped).
fn put_digits(out: &mut [u8], mut n: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Appends `YYYY-MM-DD` (years are 0000–9999 here) and, with a time of day
/// in seconds, `THH:MM:SS`: built in place, then appended at once.
fn push_iso_parts(out: &mut String, date: Date, seconds: Option<u32>) {
    let mut b = *b"0000-00-00T00:00:00";
    put_digits(&mut b[0..4], date.year as u32);
    put_digits(&mut b[5..7], date.month);
    put_digits(&mut b[8..10], date.day);
    let len = match seconds {
        Some(s) => {
            put_digits(&mut b[11..13], s / 3600);
            put_digits(&mut b[14..16], s % 3600 / 60);
            put_digits(&mut b[17..19], s % 60);
            19
        }
        None => 10,
    };
    out.extend(b[..len].iter().map(|&c| char::from(c)));
}

impl Date {
    /// Appends `YYYY-MM-DD` (years are 0000–9999 here).
    fn push_iso(self, out: &mut String) {
        push_iso_parts(out, self, None);
    }

    /// `YYYY-MM-DD`.
    fn iso(self) -> String {
        let mut out = String::with_capacity(10);
        self.push_iso(&mut out);
        out
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// Checks the calendar; the error says why in words.
    fn new(year: i64, month: u32, day: u32) -> Result<Date, String> {
        if !(1..=12).contains(&month) {
            return Err(format!(
                "is not a valid calendar date (there is no month {month})"
            ));
        }
        let max = days_in_month(year, month);
        if day == 0 || day > max {
            return Err(format!(
                "is not a valid calendar date ({} {year} has {max} days)",
                MONTHS[month as usize - 1]
            ));
        }
        Ok(Date { year, month, day })
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    fn days_since_epoch(self) -> i64 {
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The inverse of [`days_since_epoch`](Self::days_since_epoch).
    fn from_days(z: i64) -> Date {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }
}

/// Parses exactly `n` ASCII digits.
fn digits_n(s: &[u8], n: usize) -> Option<u32> {
    if s.len() != n || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0')))
}

/// 1 or 2 ASCII digits.
fn digits_1_2(s: &str) -> Option<u32> {
    match s.len() {
        1 => digits_n(s.as_bytes(), 1),
        2 => digits_n(s.as_bytes(), 2),
        _ => None,
    }
}

/// `YYYY-MM-DD`.
fn parse_iso_date(s: &str) -> Result<Date, Problem> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(Problem::Form);
    }
    let (Some(y), Some(m), Some(d)) = (
        digits_n(&b[..4], 4),
        digits_n(&b[5..7], 2),
        digits_n(&b[8..], 2),
    ) else {
        return Err(Problem::Form);
    };
    Date::new(i64::from(y), m, d).map_err(Problem::Range)
}

/// The landing_friendly date forms; `None` when unreadable or invalid.
fn lenient_date(s: &str) -> Option<Date> {
    if let Some(d) = lenient_date_only(s) {
        return Some(d);
    }
    // A datetime's date part, as written.
    split_datetime(s).and_then(|(date, time)| {
        let d = lenient_date_only(date)?;
        parse_lenient_time(time)?;
        Some(d)
    })
}

fn lenient_date_only(s: &str) -> Option<Date> {
    let sep = s.bytes().find(|b| matches!(b, b'-' | b'/' | b'.'))?;
    let mut parts = s.split(sep as char);
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (y, m, d) = if a.len() == 4 {
        (digits_n(a.as_bytes(), 4)?, digits_1_2(b)?, digits_1_2(c)?)
    } else if c.len() == 4 {
        let y = digits_n(c.as_bytes(), 4)?;
        match sep {
            b'/' => (y, digits_1_2(a)?, digits_1_2(b)?), // US: month/day/year
            b'.' => (y, digits_1_2(b)?, digits_1_2(a)?), // day.month.year
            _ => return None,                            // 04-05-2026: ambiguous
        }
    } else {
        return None;
    };
    Date::new(i64::from(y), m, d).ok()
}

/// Splits `date[T| ]time` at the first `T`, `t` or space.
fn split_datetime(s: &str) -> Option<(&str, &str)> {
    let i = s.find(['T', 't', ' '])?;
    Some((&s[..i], s[i + 1..].trim_start()))
}

/// A time of day with an optional UTC offset.
#[derive(Debug, Clone, Copy)]
struct Time<'a> {
    hour: u32,
    minute: u32,
    second: u32,
    /// Fraction digits, without the dot (may be empty).
    fraction: &'a str,
    /// Offset east of UTC in minutes, `None` when not given.
    offset: Option<i64>,
}

fn has_timezone(s: &str) -> bool {
    split_datetime(s)
        .and_then(|(_, t)| parse_lenient_time(t))
        .is_some_and(|t| t.offset.is_some())
}

/// `HH:MM:SS[.f](Z|±HH:MM)` (RFC 3339 `full-time`, `z` allowed).
fn parse_rfc3339_time(s: &str) -> Option<Time<'_>> {
    let b = s.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let hour = digits_n(&b[..2], 2)?;
    let minute = digits_n(&b[3..5], 2)?;
    let second = digits_n(&b[6..8], 2)?;
    let mut rest = &s[8..];
    let mut fraction = "";
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        fraction = &r[..n];
        rest = &r[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => parse_offset_colon(rest)?,
    };
    Some(Time {
        hour,
        minute,
        second,
        fraction,
        offset: Some(offset),
    })
}

/// `±HH:MM` in minutes.
fn parse_offset_colon(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    offset_minutes(b[0], digits_n(&b[1..3], 2)?, digits_n(&b[4..], 2)?)
}

fn offset_minutes(sign: u8, hours: u32, minutes: u32) -> Option<i64> {
    if hours > 23 || minutes > 59 {
        return None;
    }
    let m = i64::from(hours * 60 + minutes);
    match sign {
        b'+' => Some(m),
        b'-' => Some(-m),
        _ => None,
    }
}

/// The landing_friendly time forms: `H:MM[:SS[.f]]`, optional `AM`/`PM`,
/// optional zone (`Z`, `±HH:MM`, `±HHMM`, `±HH`, `UTC`, `GMT`), spaces allowed
/// between the parts.
fn parse_lenient_time(s: &str) -> Option<Time<'_>> {
    let s = s.trim();
    let clock_len = s
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b':' || *b == b'.')
        .count();
    let (clock, mut rest) = s.split_at(clock_len);
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) if !f.is_empty() && f.len() <= 9 && all_digits(f) => (hms, f),
        Some(_) => return None,
        None => (clock, ""),
    };
    let mut parts = hms.split(':');
    let mut hour = digits_1_2(parts.next()?)?;
    let minute = digits_n(parts.next()?.as_bytes(), 2)?;
    let second = match parts.next() {
        Some(p) => digits_n(p.as_bytes(), 2)?,
        None if fraction.is_empty() => 0,
        None => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    rest = rest.trim_start();
    let upper = rest.get(..2).map(str::to_ascii_uppercase);
    if let Some(ampm) = upper.as_deref().filter(|u| *u == "AM" || *u == "PM") {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = match (ampm, hour) {
            ("AM", 12) => 0,
            ("AM", h) => h,
            ("PM", 12) => 12,
            (_, h) => h + 12,
        };
        rest = rest[2..].trim_start();
    }
    let offset = if rest.is_empty() {
        None
    } else if rest.eq_ignore_ascii_case("z")
        || rest.eq_ignore_ascii_case("utc")
        || rest.eq_ignore_ascii_case("gmt")
    {
        Some(0)
    } else {
        let b = rest.as_bytes();
        match b.len() {
            6 => parse_offset_colon(rest),
            5 => offset_minutes(b[0], digits_n(&b[1..3], 2)?, digits_n(&b[3..], 2)?),
            3 => offset_minutes(b[0], digits_n(&b[1..], 2)?, 0),
            _ => None,
        }
        .map(Some)?
    };
    Some(Time {
        hour,
        minute,
        second,
        fraction,
        offset,
    })
}

/// Combines a date and time into the normalised UTC form.
fn to_utc(date: Date, time: Time<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(21 + time.fraction.len());
    to_utc_into(date, time, &mut out).map(|()| out)
}

/// [`to_utc`], written to `out` (emptied first).
fn to_utc_into(date: Date, time: Time<'_>, out: &mut String) -> Result<(), String> {
    out.clear();
    if time.hour > 23 || time.minute > 59 || time.second > 59 {
        return Err(
            "has an invalid time of day (hours 00-23, minutes and seconds 00-59)".to_owned(),
        );
    }
    let local_secs = time.hour * 3600 + time.minute * 60 + time.second;
    let (day, secs) = match time.offset.unwrap_or(0) {
        // Already UTC (the usual case): no calendar arithmetic.
        0 if (0..=9999).contains(&date.year) => (date, local_secs),
        offset => {
            let local = date.days_since_epoch() * 86_400 + i64::from(local_secs);
            let utc = local - offset * 60;
            let day = Date::from_days(utc.div_euclid(86_400));
            if !(0..=9999).contains(&day.year) {
                return Err("is out of range for a datetime (years 0000 to 9999)".to_owned());
            }
            (day, utc.rem_euclid(86_400) as u32)
        }
    };
    push_iso_parts(out, day, Some(secs));
    if !time.fraction.is_empty() {
        out.push('.');
        out.push_str(time.fraction);
    }
    out.push('Z');
    Ok(())
}

/// RFC 3339 `date-time`, normalised to UTC.
/// An RFC 3339 datetime with a timezone, normalised to UTC into `out`.
fn parse_rfc3339_into(s: &str, out: &mut String) -> Result<(), Problem> {
    let b = s.as_bytes();
    if b.len() < 11 || !matches!(b[10], b'T' | b't') || !s.is_char_boundary(10) {
        return Err(Problem::Form);
    }
    let date = parse_iso_date(&s[..10])?;
    let time = parse_rfc3339_time(&s[11..]).ok_or(Problem::Form)?;
    to_utc_into(date, time, out).map_err(Problem::Range)
}

/// The landing_friendly datetime forms, normalised to UTC.
fn lenient_datetime(s: &str) -> Option<String> {
    if let Some(date) = lenient_date_only(s) {
        return to_utc(
            date,
            Time {
                hour: 0,
                minute: 0,
                second: 0,
                fraction: "",
                offset: Some(0),
            },
        )
        .ok();
    }
    let (date, time) = split_datetime(s)?;
    to_utc(lenient_date_only(date)?, parse_lenient_time(time)?).ok()
}

// ---------------------------------------------------------------------------
// E-mail

/// The practical check: one `@`, a non-empty local part, a domain with a dot
/// and no empty label, no whitespace.
fn check_email(s: &str) -> Result<(), Problem> {
    // One pass over the bytes: whitespace, the `@`s, the first `@`. Every
    // whitespace character is either ASCII or not ASCII at all, and `@` is
    // ASCII, so the bytes of other characters never match.
    let mut space = false;
    let mut ats = 0usize;
    let mut at = 0usize;
    let mut ascii = true;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        match b {
            // The ASCII whitespace characters (`u8::is_ascii_whitespace`
            // leaves out the vertical tab, which `char::is_whitespace`
            // counts).
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => space = true,
            b'@' => {
                if ats == 0 {
                    at = i;
                }
                ats += 1;
            }
            0x80.. => ascii = false,
            _ => {}
        }
    }
    if space || (!ascii && s.chars().any(char::is_whitespace)) {
        return Err(Problem::Email("contains a space"));
    }
    match ats {
        0 => return Err(Problem::Email("has no @")),
        1 => {}
        _ => return Err(Problem::Email("has more than one @")),
    }
    let domain = &s.as_bytes()[at + 1..];
    if at == 0 {
        return Err(Problem::Email("has nothing before the @"));
    }
    if domain.is_empty() {
        return Err(Problem::Email("has nothing after the @"));
    }
    if !domain.contains(&b'.') {
        return Err(Problem::Email("has no dot in the domain after the @"));
    }
    if domain.first() == Some(&b'.')
        || domain.last() == Some(&b'.')
        || domain.windows(2).any(|w| w == b"..")
    {
        return Err(Problem::Email(
            "has an empty part in the domain (a leading, trailing or doubled dot)",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Phone numbers and URLs

/// E.164: `+`, a non-zero digit, up to 15 digits in all.
fn is_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (2..=15).contains(&d.len()) && all_digits(d) && !d.starts_with('0'))
}

fn parse_phone(s: &str) -> Result<Value, Problem> {
    if is_e164(s) {
        Ok(Value::String(s.to_owned()))
    } else {
        Err(Problem::Form)
    }
}

/// Drops spaces, dashes, dots and parentheses and reads a leading `00` as
/// `+`; a number without its country code cannot be completed.
fn lenient_phone(s: &str) -> Option<String> {
    let compact: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let e164 = match compact.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => compact,
    };
    is_e164(&e164).then_some(e164)
}

/// `http://` or `https://` (scheme in any case unless `strict`), a host, no
/// whitespace.
fn parse_url(s: &str, strict: bool) -> Result<Value, Problem> {
    let rest = ["https://", "http://"].iter().find_map(|scheme| {
        let head = s.get(..scheme.len())?;
        let matches = if strict {
            head == *scheme
        } else {
            head.eq_ignore_ascii_case(scheme)
        };
        matches.then(|| &s[scheme.len()..])
    });
    let Some(rest) = rest else {
        return Err(Problem::Form);
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(Problem::Form);
    }
    Ok(Value::String(s.to_owned()))
}

/// A bare host name with a dot (`www.example.com/page`) gets `https://`.
fn lenient_url(s: &str) -> Option<String> {
    let host = s.split(['/', '?', '#']).next().unwrap_or("");
    if s.contains("://") || !host.contains('.') || host.starts_with('.') || host.ends_with('.') {
        return None;
    }
    let url = format!("https://{s}");
    parse_url(&url, false).ok()?;
    Some(url)
}

// ---------------------------------------------------------------------------
// Message helpers

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// Escapes quotes, backslashes and control characters for a message.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A value in double quotes, shortened when long.
fn quote(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!(
            "\"{}…\" ({} characters)",
            escape(&s[..cut]),
            s.chars().count()
        ),
        None => format!("\"{}\"", escape(s)),
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("\"{}\"", escape(i)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `column "name"`, or `column 3 (unnamed)` for an empty header cell.
fn column_label(name: Option<&str>, index: usize) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("column \"{}\"", escape(n)),
        _ => format!("column {} (unnamed)", index + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_trim_trims_exactly_as_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\r\n",
            "\u{b}a\u{c}",
            "\u{1}a\u{1f}",
            "a\u{a0}",
            "\u{2003}a",
            "\u{a0}",
            "é",
            " é ",
            "ab",
            "a b",
            "\u{85}x\u{85}",
            "x\u{3000}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    /// The e-mail check as it was written before its one-pass form.
    fn check_email_by_splitting(s: &str) -> Option<&'static str> {
        if s.chars().any(char::is_whitespace) {
            return Some("contains a space");
        }
        let mut parts = s.split('@');
        let local = parts.next().unwrap_or("");
        let Some(domain) = parts.next() else {
            return Some("has no @");
        };
        if parts.next().is_some() {
            return Some("has more than one @");
        }
        if local.is_empty() {
            return Some("has nothing before the @");
        }
        if domain.is_empty() {
            return Some("has nothing after the @");
        }
        if !domain.contains('.') {
            return Some("has no dot in the domain after the @");
        }
        if domain.split('.').any(str::is_empty) {
            return Some("has an empty part in the domain (a leading, trailing or doubled dot)");
        }
        None
    }

    #[test]
    fn the_one_pass_e_mail_check_answers_as_splitting_did() {
        let mut cases = vec![
            "a@x.io",
            "",
            "@",
            "a@",
            "@x.io",
            "a",
            "a.b",
            "a@b",
            "a@@x.io",
            "a@x@y.io",
            "a@.x.io",
            "a@x.io.",
            "a@x..io",
            "a@.",
            "a@x.",
            "a@..",
            ".a@x.io",
            "a.@x.io",
            "a b@x.io",
            "a@x .io",
            "a@@",
            "é@x.io",
            "a@é.io",
            "a@x.é",
            "a\u{a0}@x.io",
            "a@x\u{2003}.io",
            "a\u{85}@x.io",
            "a@x.i\u{b}o",
            "ü@@x.io",
            "a@x..é",
            " @x.io",
            "a@x.io ",
            "\u{3000}",
            "@@",
            "a@b.c.d",
            "a@b.c..d",
        ];
        // Every string of up to four characters from a small alphabet.
        let alphabet = ['a', '@', '.', ' ', 'é', '\u{a0}'];
        let mut generated = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = generated
                .iter()
                .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
                .collect();
            generated.extend(longer.into_iter().filter(|s| s.chars().count() <= 4));
            generated.sort();
            generated.dedup();
        }
        cases.extend(generated.iter().map(String::as_str));
        for s in cases {
            let now = match check_email(s) {
                Ok(()) => None,
                Err(Problem::Email(why)) => Some(why),
                Err(_) => Some("another problem"),
            };
            assert_eq!(now, check_email_by_splitting(s), "{s:?}");
        }
    }

    #[test]
    fn datetimes_already_in_utc_come_out_as_the_calendar_arithmetic_gives() {
        for (date, hms) in [
            ((2026, 4, 1), (10, 0, 0)),
            ((2024, 2, 29), (23, 59, 59)),
            ((0, 1, 1), (0, 0, 0)),
            ((9999, 12, 31), (23, 59, 59)),
            ((1970, 1, 1), (0, 0, 1)),
            ((1900, 3, 1), (12, 30, 5)),
        ] {
            let d = Date::new(date.0, date.1, date.2).unwrap();
            let t = |offset| Time {
                hour: hms.0,
                minute: hms.1,
                second: hms.2,
                fraction: "25",
                offset,
            };
            let mut utc = String::new();
            to_utc_into(d, t(Some(0)), &mut utc).unwrap();
            // The same instant written one minute east of UTC takes the
            // calendar path.
            let (mut shifted, mut from_east) = (String::new(), String::new());
            let later =
                d.days_since_epoch() * 86_400 + i64::from(hms.0 * 3600 + hms.1 * 60 + hms.2) + 60;
            let day = Date::from_days(later.div_euclid(86_400));
            let secs = later.rem_euclid(86_400) as u32;
            let east = Time {
                hour: secs / 3600,
                minute: secs % 3600 / 60,
                second: secs % 60,
                fraction: "25",
                offset: Some(1),
            };
            if (0..=9999).contains(&day.year) {
                to_utc_into(day, east, &mut from_east).unwrap();
                assert_eq!(utc, from_east);
            }
            shifted.push_str(&format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.25Z",
                date.0, date.1, date.2, hms.0, hms.1, hms.2
            ));
            assert_eq!(utc, shifted);
            // No offset given counts as UTC.
            let mut none = String::new();
            to_utc_into(d, t(None), &mut none).unwrap();
            assert_eq!(none, utc);
        }
    }

    #[test]
    fn e_mail_addresses_with_any_whitespace_are_refused() {
        for s in [
            "a b@x.io",
            "a\tb@x.io",
            "a@x.io\u{b}z",
            "a@x\u{c}.io",
            "a\u{a0}b@x.io",
        ] {
            assert!(
                matches!(check_email(s), Err(Problem::Email("contains a space"))),
                "{s:?}"
            );
        }
        assert!(check_email("a\u{1}b@x.io").is_ok());
        assert!(check_email("é@x.io").is_ok());
    }
}
