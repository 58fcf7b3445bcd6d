//! Row validation: the mapping resolved against the file's header once
//! ([`RowValidator::new`], failing with a [`HeaderError`]), then each data
//! row accepted as a [`ValidRow`] or rejected with a [`RowError`], as the
//! module's reference describes.

use std::fmt;

use indexmap::IndexMap;

use super::values::{check_value_with, kept_text, spare_string, trim, Keep};
use super::*;
use crate::csv::{CsvErrorKind, CsvRowError};
use crate::rules::{DataType, ImportMode};

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
            CsvErrorKind::TooManyFields { limit, found } => RowError {
                row_number: err.row_number,
                code: ROW_MALFORMED,
                column: None,
                message: format!(
                    "row has {found} columns, more than the {limit} a row may have (the header has {}); its values were not kept",
                    header.len()
                ),
            },
            CsvErrorKind::RecordTooLarge { limit } => RowError {
                row_number: err.row_number,
                code: ROW_MALFORMED,
                column: None,
                message: format!(
                    "row is larger than the {limit}-byte limit (a quote that is never closed probably runs on through the rest of the file)"
                ),
            },
            CsvErrorKind::UnterminatedQuote => RowError {
                row_number: err.row_number,
                code: ROW_MALFORMED,
                column: None,
                message: "a quoted value is never closed: the file ends inside it, so this row and every line after its opening quote were read as one value; they were not imported (close the quote, or double a quote meant as text)".into(),
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
        self.check_row(row_number, fields, out, Keep::Everything, |out, v| {
            let v = match v {
                Accepted::Text(t) => Value::String(spare_string(&mut out.spare, t)),
                Accepted::Value(v) => v,
            };
            out.values.push(v);
        })
    }

    /// Accepts or rejects one data row exactly as
    /// [`validate_into`](Self::validate_into) does, handing `each` the
    /// values it would have kept, in `fieldMap` order, as they are checked:
    /// texts that are the field's own (strings, most e-mails) borrowed from
    /// `fields` rather than copied. For a consumer that stores the values
    /// in a form of its own (the emulator's processor encodes them): on a
    /// rejection, `each` may already have had the values of the columns
    /// before the rejected one, which the consumer drops. `scratch` holds
    /// the row's other values (its storage is reused).
    pub fn check_each(
        &self,
        row_number: u64,
        fields: &[&str],
        scratch: &mut ValidRow,
        mut each: impl FnMut(Stored<'_>),
    ) -> Result<(), RowError> {
        self.check_row(
            row_number,
            fields,
            scratch,
            Keep::Everything,
            |out, v| match v {
                Accepted::Text(t) => each(Stored::String(t)),
                Accepted::Value(v) => {
                    each(Stored::of(&v));
                    // Kept so that the next row reuses its string.
                    out.values.push(v);
                }
            },
        )
    }

    /// Accepts or rejects one data row exactly as
    /// [`validate_into`](Self::validate_into) does, without keeping its
    /// values: `scratch`'s values are left [`Value::Null`] where text
    /// would have been copied. For a verdict, which counts rows and keeps
    /// only the rejected ones' errors.
    pub fn check_into(
        &self,
        row_number: u64,
        fields: &[&str],
        scratch: &mut ValidRow,
    ) -> Result<(), RowError> {
        self.check_row(row_number, fields, scratch, Keep::Messages, |out, v| {
            out.values.push(match v {
                Accepted::Text(_) => Value::Null,
                Accepted::Value(v) => v,
            });
        })
    }

    /// The rules of a row, one path for every consumer: each accepted
    /// value is handed to `take`, in `fieldMap` order, until the row is
    /// rejected. `what` is [`Keep::Everything`] (values as kept, keys
    /// normalised) or [`Keep::Messages`] (values of text not kept).
    fn check_row<'f>(
        &self,
        row_number: u64,
        fields: &[&'f str],
        out: &mut ValidRow,
        what: Keep,
        mut take: impl FnMut(&mut ValidRow, Accepted<'f>),
    ) -> Result<(), RowError> {
        let keep = what == Keep::Everything;
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
            // A string or an e-mail is the field's own text (trimmed or not):
            // checked without a copy, and handed on borrowed.
            let text = matches!(f.data_type, DataType::String | DataType::Email);
            let checked = if text {
                check_value_with(f.data_type, raw, self.mode, &mut out.spare, Keep::Messages)
            } else {
                check_value_with(f.data_type, raw, self.mode, &mut out.spare, what)
            };
            let value = match checked {
                Ok(_) if text => {
                    let t = kept_text(f.data_type, raw, self.mode);
                    if f.is_key && keep {
                        // Keys are trimmed, e-mail keys lower-cased (as
                        // `normalise_key` does).
                        let t = trim(t);
                        if f.data_type == DataType::Email
                            && (!t.is_ascii() || t.bytes().any(|b| b.is_ascii_uppercase()))
                        {
                            let lower = normalise_key(
                                Value::String(spare_string(&mut out.spare, t)),
                                f.data_type,
                            );
                            take(out, Accepted::Value(lower));
                            continue;
                        }
                        take(out, Accepted::Text(t));
                    } else {
                        take(out, Accepted::Text(t));
                    }
                    continue;
                }
                Ok(v) => {
                    if f.is_key && keep {
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
            take(out, Accepted::Value(value));
        }
        Ok(())
    }
}

/// An accepted value as [`RowValidator::check_row`] hands it on.
enum Accepted<'f> {
    /// A string or an e-mail: the field's own text, borrowed.
    Text(&'f str),
    /// Any other value (or a key's text made anew: a lower-cased e-mail).
    Value(Value),
}

/// One accepted value, as [`RowValidator::check_each`] hands it on: a
/// [`Value`] whose text is borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stored<'a> {
    /// [`Value::Null`].
    Null,
    /// [`Value::String`].
    String(&'a str),
    /// [`Value::Integer`].
    Integer(i64),
    /// [`Value::Number`].
    Number(f64),
    /// [`Value::Boolean`].
    Boolean(bool),
    /// [`Value::Date`].
    Date(&'a str),
    /// [`Value::Datetime`].
    Datetime(&'a str),
}

impl<'a> Stored<'a> {
    /// `v`, its text borrowed.
    pub fn of(v: &'a Value) -> Stored<'a> {
        match v {
            Value::Null => Stored::Null,
            Value::String(s) => Stored::String(s),
            Value::Integer(n) => Stored::Integer(*n),
            Value::Number(x) => Stored::Number(*x),
            Value::Boolean(b) => Stored::Boolean(*b),
            Value::Date(s) => Stored::Date(s),
            Value::Datetime(s) => Stored::Datetime(s),
        }
    }
}

/// Keys are trimmed (already, except `string` in strict, which refuses
/// surrounding spaces) and e-mail keys lower-cased.
pub(super) fn normalise_key(v: Value, data_type: DataType) -> Value {
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
