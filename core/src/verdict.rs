//! The verdict on one file: everything the emulator's processor decides
//! about a file that does not depend on storage or the database, so that a
//! client (the [`crate::preflight`]) predicts it with the very same code.
//!
//! * [`check_head`]: files that are plainly not CSV text (zip, gzip, PDF,
//!   legacy Excel, UTF-16, NUL bytes) fail before any record is read;
//! * [`csv_options`]: how the file is read (`,`, `"`, the reader's limits);
//! * [`JobRules`]: the mapping and mode of a job resolved against its
//!   object's schema, and against the header ([`JobRules::validator`]);
//! * [`FileFailure`]: why a job fails on its file, with the `errorMessage`
//!   word for word;
//! * [`Tally`]: `readRows`, `validRows`, `invalidRows`, `errorSummary`;
//! * [`error_row`]: a line of the error file;
//! * [`FileVerdict`]: all of the above in one streaming pass, on one thread
//!   (the processor runs the same pieces in its pipeline of threads).
//!
//! Merging (inserts vs updates, duplicate keys: the last row of a key wins)
//! counts nothing that is part of the verdict: a valid row is valid whether
//! it inserts or updates.

use std::fmt;

use indexmap::IndexMap;

use crate::csv::{CsvErrorKind, CsvOptions, CsvStream, RecordEvent};
use crate::rules::{DataType, ImportMode};
use crate::validate::{HeaderError, Mapping, RowError, RowValidator, ValidRow};
use crate::wire::{ErrorRow, ObjectSchema, WriteMode};

/// Bytes at the start of a file checked for NUL bytes and binary signatures.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// How an uploaded file is read: comma-separated, `"` quotes, the reader's
/// default limits.
pub fn csv_options() -> CsvOptions {
    CsvOptions::default()
}

/// What a file that is not CSV text looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCsv {
    /// A zip archive (an `.xlsx` workbook is one).
    Zip,
    /// gzip-compressed.
    Gzip,
    /// A PDF document.
    Pdf,
    /// A legacy Excel (`.xls`) workbook.
    Xls,
    /// UTF-16 text (with or without a byte order mark).
    Utf16,
    /// Anything else with NUL bytes.
    Binary,
}

impl NotCsv {
    fn what(self) -> &'static str {
        match self {
            NotCsv::Zip => {
                "it is a zip archive (an Excel .xlsx workbook is one): export the sheet as CSV (UTF-8)"
            }
            NotCsv::Gzip => "it is gzip-compressed: decompress it and upload the CSV itself",
            NotCsv::Pdf => "it is a PDF document: upload the data as a CSV file",
            NotCsv::Xls => "it is a legacy Excel (.xls) workbook: export the sheet as CSV (UTF-8)",
            NotCsv::Utf16 => "it is UTF-16 text: save it as CSV with UTF-8 encoding",
            NotCsv::Binary => {
                "it is binary (it contains NUL bytes): upload a CSV text file in UTF-8"
            }
        }
    }
}

/// Why a job fails on its file (before or at its header; no row is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileFailure {
    /// The file is not CSV text ([`check_head`]).
    NotCsv(NotCsv),
    /// The file is empty or holds only blank lines.
    NoHeader,
    /// The header record could not be read.
    HeaderUnreadable(CsvErrorKind),
    /// The header does not fit the mapping.
    HeaderMismatch(HeaderError),
}

impl FileFailure {
    /// A code a program can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            FileFailure::NotCsv(_) => "FILE_NOT_CSV",
            FileFailure::NoHeader => "FILE_NO_HEADER",
            FileFailure::HeaderUnreadable(CsvErrorKind::InvalidUtf8 { .. }) => "HEADER_NOT_UTF8",
            FileFailure::HeaderUnreadable(CsvErrorKind::RecordTooLarge { .. }) => {
                "HEADER_TOO_LARGE"
            }
            FileFailure::HeaderUnreadable(CsvErrorKind::TooManyFields { .. }) => {
                "HEADER_TOO_MANY_COLUMNS"
            }
            FileFailure::HeaderUnreadable(CsvErrorKind::WrongWidth { .. }) => "HEADER_UNREADABLE",
            FileFailure::HeaderUnreadable(CsvErrorKind::UnterminatedQuote) => {
                "HEADER_UNTERMINATED_QUOTE"
            }
            FileFailure::HeaderMismatch(HeaderError::MissingColumns { .. }) => {
                "HEADER_MISSING_COLUMNS"
            }
            FileFailure::HeaderMismatch(HeaderError::KeyNotMapped { .. }) => "KEY_NOT_MAPPED",
            FileFailure::HeaderMismatch(HeaderError::DuplicateColumn { .. }) => {
                "HEADER_DUPLICATE_COLUMN"
            }
        }
    }

    /// The job's `errorMessage`, word for word.
    pub fn message(&self) -> String {
        match self {
            FileFailure::NotCsv(what) => format!("The file is not CSV text: {}.", what.what()),
            FileFailure::NoHeader => "The file has no header row: it is empty or holds only \
                 blank lines. Upload a CSV file whose first line names its columns."
                .into(),
            FileFailure::HeaderUnreadable(kind) => match kind {
                CsvErrorKind::InvalidUtf8 { field_index, .. } => format!(
                    "The file's header row is not valid UTF-8 (column {}): save the file as CSV \
                     with UTF-8 encoding and upload it again on a new job.",
                    field_index + 1
                ),
                CsvErrorKind::RecordTooLarge { limit } => format!(
                    "The file's header row is larger than {limit} bytes (a quote that is never \
                     closed probably runs on through the file): fix the header and upload again \
                     on a new job."
                ),
                CsvErrorKind::TooManyFields { limit, found } => format!(
                    "The file's header row has {found} columns; a file may have at most {limit}. \
                     Remove the columns you do not import (or check that the file is a CSV file \
                     whose first line names its columns) and upload it again on a new job."
                ),
                CsvErrorKind::UnterminatedQuote => "The file's header row opens a quote that is \
                     never closed: the whole file was read as one header value. Fix the header \
                     and upload it again on a new job."
                    .into(),
                CsvErrorKind::WrongWidth { .. } => "The file's header row could not be read: \
                     upload a CSV file whose first line names its columns."
                    .into(),
            },
            FileFailure::HeaderMismatch(e) => format!(
                "The file's header does not fit the mapping: {e}. Fix the file's header or set a \
                 mapping that matches it on a new job."
            ),
        }
    }
}

impl fmt::Display for FileFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for FileFailure {}

/// Refuses files that are plainly not CSV text, naming what they look like.
/// `head` is the file's first bytes (the first [`SNIFF_BYTES`] are looked
/// at for NUL bytes).
pub fn check_head(head: &[u8]) -> Result<(), FileFailure> {
    let what = if head.starts_with(b"PK\x03\x04") {
        Some(NotCsv::Zip)
    } else if head.starts_with(&[0x1F, 0x8B]) {
        Some(NotCsv::Gzip)
    } else if head.starts_with(b"%PDF") {
        Some(NotCsv::Pdf)
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Some(NotCsv::Xls)
    } else if head.starts_with(&[0xFF, 0xFE])
        || head.starts_with(&[0xFE, 0xFF])
        || looks_utf16(&head[..head.len().min(SNIFF_BYTES)])
    {
        Some(NotCsv::Utf16)
    } else if head[..head.len().min(SNIFF_BYTES)].contains(&0) {
        Some(NotCsv::Binary)
    } else {
        None
    };
    match what {
        Some(what) => Err(FileFailure::NotCsv(what)),
        None => Ok(()),
    }
}

/// UTF-16 without a byte order mark: ASCII text with a NUL in every other
/// byte (all at even or all at odd positions).
pub fn looks_utf16(head: &[u8]) -> bool {
    let (even, odd) = head
        .iter()
        .enumerate()
        .fold((0, 0), |(e, o), (i, &b)| match b {
            0 if i % 2 == 0 => (e + 1, o),
            0 => (e, o + 1),
            _ => (e, o),
        });
    let half = head.len() / 2;
    half >= 2 && ((even >= half * 3 / 4 && odd == 0) || (odd >= half * 3 / 4 && even == 0))
}

/// A job's mapping and mode, resolved against its object's schema: what
/// every row of its file is checked with.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRules {
    /// The job's `importMode`.
    pub mode: ImportMode,
    /// The merge key every row needs: the first identity key of an `upsert`
    /// object, none for an `append` object.
    pub key_field: Option<String>,
    /// `sourceFields`, typed (an unknown type name reads as `string`).
    pub source_fields: IndexMap<String, DataType>,
    /// `fieldMap`.
    pub field_map: IndexMap<String, String>,
    /// The schema's field types.
    pub destination_types: IndexMap<String, DataType>,
}

impl JobRules {
    /// The rules of a job on `schema` with this mapping (as stored: type
    /// names as the request gave them) and mode.
    pub fn new(
        schema: &ObjectSchema,
        source_fields: &IndexMap<String, String>,
        field_map: &IndexMap<String, String>,
        mode: ImportMode,
    ) -> JobRules {
        JobRules {
            mode,
            key_field: merge_key(schema).map(str::to_owned),
            source_fields: source_fields
                .iter()
                .map(|(c, t)| (c.clone(), DataType::parse(t).unwrap_or(DataType::String)))
                .collect(),
            field_map: field_map.clone(),
            destination_types: schema
                .fields
                .iter()
                .map(|f| {
                    (
                        f.name.clone(),
                        DataType::parse(&f.data_type).unwrap_or(DataType::String),
                    )
                })
                .collect(),
        }
    }

    /// Rules without a schema: no key, no destination types.
    pub fn without_schema(
        source_fields: &IndexMap<String, String>,
        field_map: &IndexMap<String, String>,
        mode: ImportMode,
    ) -> JobRules {
        JobRules {
            mode,
            key_field: None,
            source_fields: source_fields
                .iter()
                .map(|(c, t)| (c.clone(), DataType::parse(t).unwrap_or(DataType::String)))
                .collect(),
            field_map: field_map.clone(),
            destination_types: IndexMap::new(),
        }
    }

    /// Resolves the rules against the file's header: the row validator, or
    /// the failure of a header that does not fit.
    pub fn validator<H: AsRef<str>>(&self, header: &[H]) -> Result<RowValidator, FileFailure> {
        let mapping = Mapping::new(&self.source_fields, &self.field_map)
            .with_destination_types(&self.destination_types);
        let keys: Vec<&str> = self.key_field.iter().map(String::as_str).collect();
        RowValidator::new(header, mapping, self.mode, &keys).map_err(FileFailure::HeaderMismatch)
    }
}

/// The merge key of an object: its first identity key when it is an
/// `upsert` object, none for an `append` object.
pub fn merge_key(schema: &ObjectSchema) -> Option<&str> {
    match schema.summary.ingestion.default_write_mode {
        WriteMode::Upsert => schema.identity_keys.first().map(String::as_str),
        WriteMode::Append => None,
    }
}

/// The counters of a job's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Data rows read.
    pub read_rows: u64,
    /// Rows accepted.
    pub valid_rows: u64,
    /// Rows rejected.
    pub invalid_rows: u64,
    /// `{ code: count }` of the rejected rows, codes in order of first
    /// appearance.
    pub error_summary: IndexMap<String, u64>,
}

impl Tally {
    /// Counts an accepted row.
    pub fn accept(&mut self) {
        self.read_rows += 1;
        self.valid_rows += 1;
    }

    /// Counts a rejected row.
    pub fn reject(&mut self, err: &RowError) {
        self.read_rows += 1;
        self.invalid_rows += 1;
        match self.error_summary.get_mut(err.code) {
            Some(n) => *n += 1,
            None => {
                self.error_summary.insert(err.code.to_string(), 1);
            }
        }
    }

    /// `errorSummary` as the status reports it: `null` when nothing was
    /// rejected.
    pub fn summary(&self) -> Option<&IndexMap<String, u64>> {
        (!self.error_summary.is_empty()).then_some(&self.error_summary)
    }
}

/// The error file's line for a rejected row: `fields` are its values in
/// header order. A row with more fields than the header keeps its extra
/// values under `"column N"` (N the 1-based position), a header name
/// repeated in the file is `"name (column N)"` from its second occurrence
/// on.
pub fn error_row<S: AsRef<str>, F: AsRef<str>>(
    err: &RowError,
    header: &[S],
    fields: &[F],
) -> ErrorRow {
    let mut source_row = IndexMap::with_capacity(fields.len());
    for (i, value) in fields.iter().enumerate() {
        let name = match header.get(i) {
            Some(h) if !source_row.contains_key(h.as_ref()) => h.as_ref().to_string(),
            Some(h) => format!("{} (column {})", h.as_ref(), i + 1),
            None => format!("column {}", i + 1),
        };
        source_row.insert(name, value.as_ref().to_string());
    }
    ErrorRow {
        row_number: err.row_number,
        source_row,
        error: err.message.clone(),
        code: Some(err.code.to_string()),
        column: err.column.clone(),
    }
}

/// The verdict on a whole file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// The counters.
    pub tally: Tally,
    /// The first lines of the error file (as many as asked for).
    pub first_errors: Vec<ErrorRow>,
    /// Why the job fails, when it does (the counters are then 0).
    pub failure: Option<FileFailure>,
    /// The header, when the file has one.
    pub header: Option<Vec<String>>,
}

/// The verdict on a file in one streaming pass: feed it the file's bytes
/// in chunks of any size, then [`finish`](Self::finish). The emulator's
/// processor runs the same steps in a pipeline of threads.
pub struct FileVerdict {
    rules: JobRules,
    stream: CsvStream,
    head: Vec<u8>,
    head_checked: bool,
    state: State,
}

struct State {
    header: Option<Vec<String>>,
    validator: Option<RowValidator>,
    row: ValidRow,
    tally: Tally,
    first_errors: Vec<ErrorRow>,
    failure: Option<FileFailure>,
    keep_errors: usize,
}

impl FileVerdict {
    /// A pass under `rules`, keeping the first `keep_errors` error lines.
    pub fn new(rules: JobRules, keep_errors: usize) -> FileVerdict {
        Self::with_options(rules, csv_options(), keep_errors)
    }

    /// A pass reading the file with other CSV options (the preflight reads
    /// a `;` file with `;`: the verdict on its normalised upload).
    pub fn with_options(rules: JobRules, options: CsvOptions, keep_errors: usize) -> FileVerdict {
        FileVerdict {
            rules,
            stream: CsvStream::new(options),
            head: Vec::new(),
            head_checked: false,
            state: State {
                header: None,
                validator: None,
                row: ValidRow::default(),
                tally: Tally::default(),
                first_errors: Vec::new(),
                failure: None,
                keep_errors,
            },
        }
    }

    /// Whether the job has already failed (nothing more will change).
    pub fn failed(&self) -> bool {
        self.state.failure.is_some()
    }

    /// The counters so far.
    pub fn tally(&self) -> &Tally {
        &self.state.tally
    }

    /// Feeds the next bytes of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.state.failure.is_some() {
            return;
        }
        if !self.head_checked {
            // The processor checks the first chunk it reads; the first
            // SNIFF_BYTES decide, whatever the chunking.
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() < SNIFF_BYTES {
                return;
            }
            self.check_and_feed_head();
            if self.state.failure.is_none() {
                self.feed_stream(&chunk[take..]);
            }
            return;
        }
        self.feed_stream(chunk);
    }

    /// Hands `bytes` to the CSV reader, its records to the row rules.
    fn feed_stream(&mut self, bytes: &[u8]) {
        let (rules, state) = (&self.rules, &mut self.state);
        self.stream.feed(bytes, &mut |ev| state.on_event(rules, ev));
    }

    /// Checks the head held back so far, then (unless it failed) reads it.
    fn check_and_feed_head(&mut self) {
        self.check_head();
        if self.state.failure.is_none() {
            let head = std::mem::take(&mut self.head);
            self.feed_stream(&head);
        }
    }

    fn check_head(&mut self) {
        self.head_checked = true;
        if !self.head.is_empty() {
            if let Err(f) = check_head(&self.head) {
                self.state.fail(f);
            }
        }
    }

    /// The end of the file: the verdict.
    pub fn finish(mut self) -> Verdict {
        if !self.head_checked {
            self.check_and_feed_head();
        }
        if self.state.failure.is_none() {
            let (rules, state) = (&self.rules, &mut self.state);
            let summary = self.stream.finish(&mut |ev| state.on_event(rules, ev));
            if !summary.has_header && self.state.failure.is_none() {
                self.state.fail(FileFailure::NoHeader);
            }
        }
        self.state.into_verdict()
    }

    /// The verdict on the rows read so far, the last incomplete record
    /// left out (for a sample: the start of a file).
    pub fn finish_sample(mut self) -> Verdict {
        if !self.head_checked {
            self.check_and_feed_head();
        }
        self.state.into_verdict()
    }
}

impl State {
    fn fail(&mut self, f: FileFailure) {
        if self.failure.is_none() {
            self.failure = Some(f);
        }
    }

    fn into_verdict(self) -> Verdict {
        match self.failure {
            Some(f) => Verdict {
                tally: Tally::default(),
                first_errors: Vec::new(),
                failure: Some(f),
                header: self.header,
            },
            None => Verdict {
                tally: self.tally,
                first_errors: self.first_errors,
                failure: None,
                header: self.header,
            },
        }
    }

    fn on_event(&mut self, rules: &JobRules, ev: RecordEvent<'_>) {
        if self.failure.is_some() {
            return;
        }
        match ev {
            RecordEvent::Header(rec) => {
                let header: Vec<String> = rec.fields.iter().map(|f| (*f).to_string()).collect();
                match rules.validator(&header) {
                    Ok(v) => self.validator = Some(v),
                    Err(f) => self.fail(f),
                }
                self.header = Some(header);
            }
            RecordEvent::Row(rec) => {
                let Some(validator) = self.validator.as_ref() else {
                    return;
                };
                match validator.check_into(rec.row_number, rec.fields, &mut self.row) {
                    Ok(()) => self.tally.accept(),
                    Err(e) => self.reject(&e, rec.fields),
                }
            }
            RecordEvent::Error(err) if err.row_number == 0 => {
                self.fail(FileFailure::HeaderUnreadable(err.kind));
            }
            RecordEvent::Error(err) => {
                let header = self.header.as_deref().unwrap_or_default();
                let row_err = RowError::from_csv(&err, header);
                self.reject(&row_err, &err.fields);
            }
        }
    }

    fn reject<F: AsRef<str>>(&mut self, err: &RowError, fields: &[F]) {
        self.tally.reject(err);
        if self.first_errors.len() < self.keep_errors {
            let header = self.header.as_deref().unwrap_or_default();
            self.first_errors.push(error_row(err, header, fields));
        }
    }
}
