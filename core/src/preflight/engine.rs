//! The streaming engine: [`Preflighter`].
//!
//! Three phases, memory bounded in each:
//!
//! 1. **sniff**: the first [`DIALECT_SNIFF_BYTES`] are held; then the
//!    dialect is sniffed (or taken from the options);
//! 2. **infer**: the bytes are read with the dialect's delimiter and the
//!    header and first [`INFER_ROWS`] data rows (at most [`INFER_BYTES`]
//!    of values) are kept; the bytes themselves are held too. Then each
//!    column's type is inferred, the mapping chosen, and the job's rules
//!    ([`crate::verdict::JobRules`]) fixed;
//! 3. **verdict**: the held bytes, then every later chunk, go through
//!    [`crate::verdict::FileVerdict`], the steps of the emulator's
//!    processor, and through a [`Normaliser`] that counts the normalised
//!    size when the file needs one.

use indexmap::IndexMap;

use super::infer::infer_column;
use super::sniff::sniff_dialect_with;
use super::*;
use crate::csv::{CsvOptions, CsvStream, RecordEvent};
use crate::validate::ROW_MALFORMED;
use crate::verdict::{merge_key, FileVerdict, JobRules, Verdict};

/// Bytes of values kept for type inference at most (fewer rows than
/// [`INFER_ROWS`] when they are wide).
pub const INFER_BYTES: usize = 4 * 1024 * 1024;
/// Bytes held while waiting for a header that has not ended (a header
/// longer than the reader's record limit fails anyway).
const HEADER_WAIT_BYTES: usize = 40 * 1024 * 1024;

/// A preflight in progress: fed UTF-8 chunks of the file, answers with
/// [`finish`](Self::finish) (the whole file was fed) or
/// [`finish_sample`](Self::finish_sample) (only its start).
pub struct Preflighter {
    options: PreflightOptions,
    fed: u64,
    /// Bytes held until the rules are fixed.
    held: Vec<u8>,
    dialect: Option<Dialect>,
    encoding_known: bool,
    utf8_ok: bool,
    /// Phase 2: the reader collecting the header and first rows.
    collect: Option<Collect>,
    /// Phase 3.
    run: Option<Run>,
}

struct Collect {
    stream: CsvStream,
    header: Option<Vec<String>>,
    header_failed: bool,
    rows: Vec<Vec<String>>,
    bytes: usize,
}

struct Run {
    verdict: FileVerdict,
    columns: Vec<Column>,
    mapping: SuggestedMapping,
    suggestions: Vec<Suggestion>,
    problems: Vec<Problem>,
    header: Option<Vec<String>>,
    normaliser: Option<Normaliser>,
    scratch: Vec<u8>,
}

impl Preflighter {
    /// A preflight with these options.
    pub fn new(options: PreflightOptions) -> Preflighter {
        Preflighter {
            encoding_known: options.dialect.encoding.is_some(),
            options,
            fed: 0,
            held: Vec::new(),
            dialect: None,
            utf8_ok: true,
            collect: None,
            run: None,
        }
    }

    /// The dialect of a sample alone (raw bytes: encoding and BOM, then the
    /// CSV dialect of the text), without the rest of a preflight.
    pub fn sniff(sample: &[u8]) -> Dialect {
        let enc = sniff_encoding(sample);
        let mut d = sniff_dialect(sample);
        d.encoding = enc.encoding;
        d.confidence = enc.confidence;
        d.bom = enc.bom;
        d
    }

    /// Bytes fed so far.
    pub fn bytes_fed(&self) -> u64 {
        self.fed
    }

    /// The dialect, once known (after [`DIALECT_SNIFF_BYTES`] were fed).
    pub fn dialect(&self) -> Option<&Dialect> {
        self.dialect.as_ref()
    }

    /// Rows checked so far by the verdict (for progress).
    pub fn rows_read(&self) -> u64 {
        self.run.as_ref().map_or(0, |r| r.verdict.tally().read_rows)
    }

    /// Feeds the next bytes (UTF-8).
    pub fn feed(&mut self, utf8_chunk: &[u8]) {
        self.fed += utf8_chunk.len() as u64;
        if let Some(run) = self.run.as_mut() {
            run.feed(utf8_chunk);
            return;
        }
        self.held.extend_from_slice(utf8_chunk);
        if self.dialect.is_none() {
            if self.held.len() < DIALECT_SNIFF_BYTES {
                return;
            }
            self.fix_dialect(false);
            let held = std::mem::take(&mut self.held);
            self.collect_feed(&held);
            self.held = held;
        } else {
            self.collect_feed(utf8_chunk);
        }
        if self.ready() {
            self.start_run(false);
        }
    }

    /// The answer on the whole file.
    pub fn finish(mut self) -> Preflight {
        self.complete(false)
    }

    /// The answer on the start of a file: the last, possibly incomplete,
    /// record is left out, and the answer says it was sampled.
    pub fn finish_sample(mut self) -> Preflight {
        self.complete(true)
    }

    fn fix_dialect(&mut self, complete: bool) {
        let head = &self.held;
        let mut d = sniff_dialect_with(head, complete);
        let enc = match &self.options.dialect.encoding {
            Some(e) => e.clone(),
            None => sniff_encoding(head),
        };
        if !self.encoding_known && enc.encoding != "utf-8" && !enc.binary {
            self.utf8_ok = false;
        }
        d.encoding = enc.encoding;
        d.confidence = enc.confidence;
        d.bom = d.bom || enc.bom;
        if let Some(delim) = self.options.dialect.delimiter {
            d.delimiter = delim;
        }
        if let Some(h) = self.options.dialect.has_header {
            d.has_header = h;
        }
        self.collect = Some(Collect {
            stream: CsvStream::new(csv_options_for(&d)),
            header: None,
            header_failed: false,
            rows: Vec::new(),
            bytes: 0,
        });
        self.dialect = Some(d);
    }

    fn collect_feed(&mut self, chunk: &[u8]) {
        let Some(c) = self.collect.as_mut() else {
            return;
        };
        let Collect {
            stream,
            header,
            header_failed,
            rows,
            bytes,
        } = c;
        stream.feed(chunk, &mut |ev| {
            on_collect(ev, header, header_failed, rows, bytes)
        });
    }

    /// Whether enough is known to fix the rules.
    fn ready(&self) -> bool {
        let Some(c) = self.collect.as_ref() else {
            return false;
        };
        c.header_failed
            || c.rows.len() >= INFER_ROWS
            || c.bytes >= INFER_BYTES
            || (c.header.is_some() && self.held.len() >= INFER_BYTES)
            || self.held.len() >= HEADER_WAIT_BYTES
    }

    fn start_run(&mut self, at_end: bool) {
        let Some(mut c) = self.collect.take() else {
            return;
        };
        if at_end {
            let Collect {
                stream,
                header,
                header_failed,
                rows,
                bytes,
            } = &mut c;
            stream.finish(&mut |ev| on_collect(ev, header, header_failed, rows, bytes));
        }
        let dialect = self.dialect.clone().unwrap_or_default();
        let mode = self.options.import_mode;
        let columns: Vec<Column> = match &c.header {
            Some(h) => h
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    infer_column(
                        name,
                        i,
                        c.rows
                            .iter()
                            .filter_map(move |r| r.get(i).map(String::as_str)),
                        mode,
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        let mut problems = header_problems(c.header.as_deref().unwrap_or_default());
        let (mapping, suggestions) = self.choose_mapping(&columns, &mut problems);
        let rules = match &self.options.schema {
            Some(schema) => JobRules::new(schema, &mapping.source_fields, &mapping.field_map, mode),
            None => JobRules::without_schema(&mapping.source_fields, &mapping.field_map, mode),
        };
        let keep = match self.options.first_errors {
            0 => FIRST_ERRORS,
            n => n,
        };
        let verdict = FileVerdict::with_options(rules, csv_options_for(&dialect), keep);
        let normaliser = needs_normalising(&dialect).then(|| Normaliser::new(&dialect));
        let mut run = Run {
            verdict,
            columns,
            mapping,
            suggestions,
            problems,
            header: c.header,
            normaliser,
            scratch: Vec::new(),
        };
        let held = std::mem::take(&mut self.held);
        run.feed(&held);
        self.run = Some(run);
    }

    /// The mapping: the caller's, or the suggested one.
    fn choose_mapping(
        &self,
        columns: &[Column],
        problems: &mut Vec<Problem>,
    ) -> (SuggestedMapping, Vec<Suggestion>) {
        let schema = self.options.schema.as_ref();
        let field_type = |field: &str| {
            schema
                .and_then(|s| s.fields.iter().find(|f| f.name == field))
                .map(|f| f.data_type.clone())
        };
        if let Some(given) = &self.options.mapping {
            let mut seen: IndexMap<&str, &str> = IndexMap::new();
            for (column, field) in &given.field_map {
                if let Some(first) = seen.insert(field, column) {
                    problems.push(Problem {
                        code: problem::FIELD_MAPPED_TWICE,
                        message: format!(
                            "columns \"{first}\" and \"{column}\" are both mapped to the field \
                             \"{field}\"; map one column to each field"
                        ),
                        column: Some(column.clone()),
                        field: Some(field.clone()),
                    });
                }
                if schema.is_some() && field_type(field).is_none() {
                    problems.push(Problem {
                        code: problem::UNKNOWN_FIELD,
                        message: format!(
                            "the column \"{column}\" is mapped to \"{field}\", which the object \
                             has no field named"
                        ),
                        column: Some(column.clone()),
                        field: Some(field.clone()),
                    });
                }
            }
            let suggestions = given
                .field_map
                .iter()
                .map(|(c, f)| Suggestion {
                    column: c.clone(),
                    field: f.clone(),
                    score: 1.0,
                    reason: MatchReason::Given,
                })
                .collect();
            let mapping = SuggestedMapping {
                source_fields: given.source_fields.clone(),
                field_map: given.field_map.clone(),
            };
            self.key_problem(&mapping, problems);
            return (mapping, suggestions);
        }
        let suggestions = match schema {
            Some(s) => suggest_mapping(columns, s, &self.options.templates),
            None => Vec::new(),
        };
        let mut mapping = SuggestedMapping::default();
        for col in columns {
            if mapping.source_fields.contains_key(&col.name) {
                continue;
            }
            // A mapped column is declared as its field's type (a `string`
            // declaration is checked as the field's type anyway); the
            // others as inferred.
            let declared = suggestions
                .iter()
                .find(|s| s.column == col.name)
                .and_then(|s| field_type(&s.field))
                .unwrap_or_else(|| col.inferred_type.as_str().to_owned());
            mapping.source_fields.insert(col.name.clone(), declared);
        }
        for s in &suggestions {
            mapping.field_map.insert(s.column.clone(), s.field.clone());
        }
        self.key_problem(&mapping, problems);
        (mapping, suggestions)
    }

    fn key_problem(&self, mapping: &SuggestedMapping, problems: &mut Vec<Problem>) {
        let Some(key) = self.options.schema.as_ref().and_then(merge_key) else {
            return;
        };
        if !mapping.field_map.values().any(|f| f == key) {
            problems.push(Problem {
                code: problem::KEY_NOT_MAPPED,
                message: format!(
                    "no column is mapped to the key field \"{key}\", which every row needs: map \
                     the column that holds it"
                ),
                column: None,
                field: Some(key.to_owned()),
            });
        }
    }

    fn complete(&mut self, sampled: bool) -> Preflight {
        if self.dialect.is_none() {
            self.fix_dialect(!sampled);
            let held = std::mem::take(&mut self.held);
            self.collect_feed(&held);
            self.held = held;
        }
        if self.run.is_none() {
            self.start_run(!sampled);
        }
        let dialect = self.dialect.clone().unwrap_or_default();
        let Some(run) = self.run.take() else {
            unreachable_answer()
        };
        let Run {
            verdict,
            columns,
            mapping,
            suggestions,
            mut problems,
            header,
            mut normaliser,
            mut scratch,
        } = run;
        let v: Verdict = if sampled {
            verdict.finish_sample()
        } else {
            verdict.finish()
        };
        let normalised_size = match normaliser.as_mut() {
            Some(n) if !sampled => {
                scratch.clear();
                n.finish(&mut scratch);
                Some(n.written())
            }
            _ => None,
        };
        if !self.utf8_ok {
            problems.insert(
                0,
                Problem {
                    code: problem::NOT_UTF8,
                    message: format!(
                        "the file is not UTF-8 (it looks like {}): decode it with that encoding \
                         before the preflight, or save it as UTF-8",
                        dialect.encoding
                    ),
                    column: None,
                    field: None,
                },
            );
        }
        if self.fed == 0 {
            problems.push(Problem {
                code: problem::EMPTY_FILE,
                message: "the file is empty: there is nothing to import".into(),
                column: None,
                field: None,
            });
        } else if header.is_some() && v.failure.is_none() && v.tally.read_rows == 0 {
            problems.push(Problem {
                code: problem::NO_DATA_ROWS,
                message: "the file has a header and no data rows: the import would read nothing"
                    .into(),
                column: None,
                field: None,
            });
        }
        if !dialect.has_header && header.is_some() {
            problems.push(Problem {
                code: problem::HEADER_LOOKS_LIKE_DATA,
                message: "the first line looks like data rather than column names; the API \
                          reads the first line as the header: add a header line"
                    .into(),
                column: None,
                field: None,
            });
        }
        if let Some(n) = v.tally.error_summary.get(ROW_MALFORMED) {
            problems.push(Problem {
                code: problem::RAGGED_ROWS,
                message: format!(
                    "{n} {} a different number of fields than the header (or cannot be read); \
                     they will be rejected",
                    if *n == 1 { "row has" } else { "rows have" }
                ),
                column: None,
                field: None,
            });
        }
        let failure = v.failure.as_ref().map(|f| PredictedFailure {
            code: f.code(),
            message: f.message(),
        });
        if let Some(f) = v
            .failure
            .as_ref()
            .filter(|f| !problems.iter().any(|p| p.code == f.code()))
        {
            problems.push(Problem {
                code: f.code(),
                message: f.message(),
                column: None,
                field: None,
            });
        }
        let needs = needs_normalising(&dialect);
        Preflight {
            prediction: Prediction {
                read_rows: v.tally.read_rows,
                valid_rows: v.tally.valid_rows,
                invalid_rows: v.tally.invalid_rows,
                error_summary: v.tally.summary().cloned(),
                first_errors: v.first_errors,
                failure,
            },
            dialect,
            columns,
            mapping,
            suggestions,
            problems,
            sampled,
            bytes_examined: self.fed,
            needs_normalising: needs,
            normalised_size: if needs { normalised_size } else { None },
        }
    }
}

fn unreachable_answer() -> ! {
    // start_run always leaves a run behind once the dialect is fixed.
    unreachable!("the preflight's verdict pass was not started")
}

impl Run {
    fn feed(&mut self, chunk: &[u8]) {
        self.verdict.feed(chunk);
        if let Some(n) = self.normaliser.as_mut() {
            self.scratch.clear();
            n.push(chunk, &mut self.scratch);
        }
    }
}

/// The CSV options a dialect is read with (the reader's limits are the
/// API's).
pub(crate) fn csv_options_for(d: &Dialect) -> CsvOptions {
    let mut o = crate::verdict::csv_options();
    if d.delimiter.is_ascii() {
        o.delimiter = d.delimiter as u8;
    }
    if d.quote.is_ascii() {
        o.quote = d.quote as u8;
    }
    o
}

fn on_collect(
    ev: RecordEvent<'_>,
    header: &mut Option<Vec<String>>,
    header_failed: &mut bool,
    rows: &mut Vec<Vec<String>>,
    bytes: &mut usize,
) {
    match ev {
        RecordEvent::Header(rec) => {
            *header = Some(rec.fields.iter().map(|f| (*f).to_owned()).collect());
        }
        RecordEvent::Row(rec) => {
            if rows.len() < INFER_ROWS && *bytes < INFER_BYTES {
                *bytes += rec.fields.iter().map(|f| f.len()).sum::<usize>();
                rows.push(rec.fields.iter().map(|f| (*f).to_owned()).collect());
            }
        }
        RecordEvent::Error(e) if e.row_number == 0 => *header_failed = true,
        RecordEvent::Error(_) => {}
    }
}

/// Empty and repeated header names.
fn header_problems(header: &[String]) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut seen: IndexMap<&str, usize> = IndexMap::new();
    for (i, name) in header.iter().enumerate() {
        if name.trim().is_empty() {
            out.push(Problem {
                code: problem::EMPTY_COLUMN_NAME,
                message: format!(
                    "column {} has no name in the header; name it, or it cannot be mapped",
                    i + 1
                ),
                column: Some(name.clone()),
                field: None,
            });
            continue;
        }
        if let Some(first) = seen.insert(name.as_str(), i) {
            out.push(Problem {
                code: problem::DUPLICATE_COLUMN_NAME,
                message: format!(
                    "columns {} and {} are both named \"{name}\"; rename one so the mapping can \
                     tell them apart",
                    first + 1,
                    i + 1
                ),
                column: Some(name.clone()),
                field: None,
            });
        }
    }
    out
}
