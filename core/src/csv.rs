//! A push-style, streaming CSV reader: feed it byte chunks of any size, as
//! they arrive from storage or from `Blob.slice()`, and it calls back once
//! per complete record.
//!
//! The quoting state machine is [`csv_core`]'s (RFC 4180: quoted fields,
//! doubled quotes, quoted delimiters and line breaks); this module adds what
//! an import needs on top of it:
//!
//! * a UTF-8 byte order mark at the very start of the file is stripped, even
//!   when it is split across chunks;
//! * `\n`, `\r\n` and `\r` all end a record; blank lines are skipped and are
//!   not counted as rows;
//! * the first record is the header (row 0); data records are numbered from 1
//!   in the order they appear, so a quoted line break does not start a new row
//!   number;
//! * every record carries the byte offset of its first byte in the file
//!   (the BOM, when present, counts: the header of a file with a BOM starts at
//!   offset 3);
//! * a record whose field count differs from the header's, a field that is not
//!   valid UTF-8 and a record larger than [`CsvOptions::max_record_bytes`] are
//!   reported as [`CsvRowError`]s for that row: the stream never panics and
//!   never stops;
//! * buffers are reused from record to record: the hot path allocates
//!   nothing once the buffers have grown to the largest record seen.
//!
//! ```
//! use import_core::csv::{CsvOptions, CsvStream, RecordEvent};
//!
//! let mut stream = CsvStream::new(CsvOptions::default());
//! let mut rows = Vec::new();
//! let mut on_event = |event: RecordEvent<'_>| {
//!     if let RecordEvent::Row(record) = event {
//!         rows.push((record.row_number, record.fields.join("|")));
//!     }
//! };
//! stream.feed(b"email,name\r\na@example.com,\"Smith, J", &mut on_event);
//! stream.feed(b"o\"\r\n", &mut on_event);
//! let summary = stream.finish(&mut on_event);
//! assert_eq!(rows, vec![(1, "a@example.com|Smith, Jo".to_string())]);
//! assert_eq!(summary.data_rows, 1);
//! ```

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

/// The UTF-8 byte order mark.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Initial size of the record buffer; it doubles as needed.
const INITIAL_RECORD_CAPACITY: usize = 64 * 1024;

/// Initial number of field slots; doubles as needed.
const INITIAL_FIELD_CAPACITY: usize = 64;

/// Reader settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// Field delimiter byte. Default `,`.
    pub delimiter: u8,
    /// Quote byte. Default `"`.
    pub quote: u8,
    /// Largest record (unquoted field bytes, all fields together) kept in
    /// memory. A longer record, usually the rest of a file swallowed by an
    /// unclosed quote, is skipped and reported as
    /// [`CsvErrorKind::RecordTooLarge`]. Default 32 MiB.
    pub max_record_bytes: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            quote: b'"',
            max_record_bytes: 32 * 1024 * 1024,
        }
    }
}

impl CsvOptions {
    /// Default options with another delimiter (e.g. `b';'`, `b'\t'`).
    pub fn with_delimiter(delimiter: u8) -> Self {
        Self {
            delimiter,
            ..Self::default()
        }
    }
}

/// One record whose fields are all valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// 0 for the header, then 1, 2, … for data records.
    pub row_number: u64,
    /// Offset of the record's first byte in the file.
    pub byte_offset: u64,
    /// The unquoted field values.
    pub fields: &'a [&'a str],
}

/// Why a record could not be handed over as a [`Record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvErrorKind {
    /// The record has `found` fields where the header has `expected`.
    WrongWidth {
        /// Number of header columns.
        expected: usize,
        /// Number of fields in this record.
        found: usize,
    },
    /// Field `field_index` (0-based) is not valid UTF-8.
    InvalidUtf8 {
        /// 0-based index of the first bad field.
        field_index: usize,
        /// The first offending byte.
        byte: u8,
        /// Offset of that byte inside the field's value.
        position: usize,
    },
    /// The record is larger than [`CsvOptions::max_record_bytes`]; its
    /// contents were skipped.
    RecordTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
}

/// A record that could not be read: reported in place of the record, and the
/// stream goes on with the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRowError {
    /// 0 for the header, then 1, 2, … for data records.
    pub row_number: u64,
    /// Offset of the record's first byte in the file.
    pub byte_offset: u64,
    /// What is wrong.
    pub kind: CsvErrorKind,
    /// The record's fields as far as they could be read, invalid UTF-8
    /// replaced by U+FFFD (empty for [`CsvErrorKind::RecordTooLarge`]), so
    /// the row can still be shown to a person.
    pub fields: Vec<String>,
}

/// What [`CsvStream::feed`] and [`CsvStream::finish`] report.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordEvent<'a> {
    /// The first record of the file (row 0). Sent at most once.
    Header(Record<'a>),
    /// A data record with as many fields as the header.
    Row(Record<'a>),
    /// A record that could not be read. Row 0 means the header itself is
    /// unusable (not UTF-8, or too large): no column can be matched, so an
    /// import should fail rather than go on.
    Error(CsvRowError),
}

/// Totals returned by [`CsvStream::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CsvSummary {
    /// Whether the file had a header record (false for an empty file or one
    /// holding only blank lines).
    pub has_header: bool,
    /// Data records seen (well-formed or not), i.e. the last row number.
    pub data_rows: u64,
    /// Bytes fed, BOM included.
    pub bytes: u64,
}

/// The streaming reader. See the [module documentation](self).
pub struct CsvStream {
    reader: Reader,
    opts: CsvOptions,
    /// Unquoted bytes of the current record (its length is its capacity).
    record: Vec<u8>,
    /// Bytes of `record` in use.
    record_len: usize,
    /// Field end positions in `record` (its length is its capacity).
    ends: Vec<usize>,
    /// Entries of `ends` in use.
    ends_len: usize,
    /// Recycled storage for the `&str` slices handed out per record.
    strs: Vec<&'static str>,
    /// Leading bytes held back until the BOM question is settled.
    bom_buf: [u8; 3],
    bom_len: usize,
    bom_settled: bool,
    /// Whether the current record has started (terminators are skipped
    /// between records).
    in_record: bool,
    /// Whether the current record outgrew the limit and is being skipped.
    skipping: bool,
    record_start: u64,
    /// Bytes consumed so far.
    offset: u64,
    /// Row number of the next record.
    next_row: u64,
    /// Header width, once the header was read.
    width: Option<usize>,
    finished: bool,
}

impl std::fmt::Debug for CsvStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvStream")
            .field("opts", &self.opts)
            .field("offset", &self.offset)
            .field("next_row", &self.next_row)
            .field("width", &self.width)
            .finish_non_exhaustive()
    }
}

impl Default for CsvStream {
    fn default() -> Self {
        Self::new(CsvOptions::default())
    }
}

/// Turns a vector of slices of one lifetime into an empty one of another,
/// keeping its allocation (the element layout is identical, so the standard
/// library collects in place).
fn recycle<'a, 'b>(mut v: Vec<&'a str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter()
        .map(|_| -> &'b str { unreachable!() })
        .collect()
}

impl CsvStream {
    /// A reader with the given options.
    pub fn new(opts: CsvOptions) -> Self {
        let reader = ReaderBuilder::new()
            .delimiter(opts.delimiter)
            .quote(opts.quote)
            .double_quote(true)
            .build();
        Self {
            reader,
            opts,
            record: vec![0; INITIAL_RECORD_CAPACITY.min(opts.max_record_bytes.max(1))],
            record_len: 0,
            ends: vec![0; INITIAL_FIELD_CAPACITY],
            ends_len: 0,
            strs: Vec::with_capacity(INITIAL_FIELD_CAPACITY),
            bom_buf: [0; 3],
            bom_len: 0,
            bom_settled: false,
            in_record: false,
            skipping: false,
            record_start: 0,
            offset: 0,
            next_row: 0,
            width: None,
            finished: false,
        }
    }

    /// The options this reader was built with.
    pub fn options(&self) -> &CsvOptions {
        &self.opts
    }

    /// Bytes consumed so far (BOM included).
    pub fn bytes_read(&self) -> u64 {
        if self.bom_settled {
            self.offset
        } else {
            self.bom_len as u64
        }
    }

    /// Number of header columns, once the header has been read.
    pub fn header_width(&self) -> Option<usize> {
        self.width
    }

    /// Feeds the next chunk of the file; `out` is called for every record
    /// the chunk completes. Chunks may split a record (or a UTF-8 sequence,
    /// or the BOM) anywhere. Feeding after [`finish`](Self::finish) does
    /// nothing.
    pub fn feed(&mut self, chunk: &[u8], out: &mut impl FnMut(RecordEvent<'_>)) {
        if self.finished || chunk.is_empty() {
            return;
        }
        let mut chunk = chunk;
        if !self.bom_settled {
            let take = (3 - self.bom_len).min(chunk.len());
            self.bom_buf[self.bom_len..self.bom_len + take].copy_from_slice(&chunk[..take]);
            self.bom_len += take;
            chunk = &chunk[take..];
            let held = &self.bom_buf[..self.bom_len];
            if self.bom_len < 3 && held == &BOM[..self.bom_len] {
                return; // Could still be a BOM: wait for more bytes.
            }
            self.settle_bom(out);
        }
        self.process(chunk, out);
    }

    /// Ends the input: reports the last record when the file does not end
    /// with a line break, and returns the totals. Later calls return the same
    /// totals and report nothing.
    pub fn finish(&mut self, out: &mut impl FnMut(RecordEvent<'_>)) -> CsvSummary {
        if !self.finished {
            if !self.bom_settled {
                self.settle_bom(out);
            }
            if self.in_record {
                loop {
                    let (res, _, nout, nend) = self.reader.read_record(
                        &[],
                        &mut self.record[self.record_len..],
                        &mut self.ends[self.ends_len..],
                    );
                    self.record_len += nout;
                    self.ends_len += nend;
                    match res {
                        ReadRecordResult::OutputEndsFull => self.grow_ends(),
                        ReadRecordResult::OutputFull => self.grow_record(),
                        ReadRecordResult::Record => {
                            self.emit(out);
                            break;
                        }
                        ReadRecordResult::InputEmpty | ReadRecordResult::End => break,
                    }
                }
            }
            self.finished = true;
        }
        CsvSummary {
            has_header: self.next_row > 0,
            data_rows: self.next_row.saturating_sub(1),
            bytes: self.offset,
        }
    }

    /// Decides whether the held leading bytes are a BOM; feeds them on if not.
    fn settle_bom(&mut self, out: &mut impl FnMut(RecordEvent<'_>)) {
        self.bom_settled = true;
        let held = self.bom_buf;
        let len = self.bom_len;
        if len == 3 && held == BOM {
            self.offset += 3;
        } else {
            self.process(&held[..len], out);
        }
    }

    fn grow_ends(&mut self) {
        let n = self.ends.len() * 2;
        self.ends.resize(n, 0);
    }

    /// Doubles the record buffer, or switches to skipping the record when it
    /// would exceed the limit.
    fn grow_record(&mut self) {
        if self.skipping {
            // Keep overwriting the same buffer; only field ends matter.
            self.record_len = 0;
            return;
        }
        let limit = self.opts.max_record_bytes;
        if self.record.len() >= limit {
            self.skipping = true;
            self.record_len = 0;
            return;
        }
        let n = (self.record.len() * 2)
            .min(limit)
            .max(self.record.len() + 1);
        self.record.resize(n, 0);
    }

    fn process(&mut self, mut input: &[u8], out: &mut impl FnMut(RecordEvent<'_>)) {
        loop {
            if !self.in_record {
                let skip = input
                    .iter()
                    .position(|&b| b != b'\n' && b != b'\r')
                    .unwrap_or(input.len());
                self.offset += skip as u64;
                input = &input[skip..];
                if input.is_empty() {
                    return;
                }
                self.in_record = true;
                self.record_start = self.offset;
            }
            if input.is_empty() {
                return;
            }
            let (res, nin, nout, nend) = self.reader.read_record(
                input,
                &mut self.record[self.record_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[nin..];
            self.offset += nin as u64;
            self.record_len += nout;
            // Field positions are meaningless while a record is skipped.
            self.ends_len = if self.skipping {
                0
            } else {
                self.ends_len + nend
            };
            match res {
                ReadRecordResult::InputEmpty | ReadRecordResult::End => return,
                ReadRecordResult::OutputFull => self.grow_record(),
                ReadRecordResult::OutputEndsFull => self.grow_ends(),
                ReadRecordResult::Record => self.emit(out),
            }
        }
    }

    /// Reports the completed record and resets for the next one.
    fn emit(&mut self, out: &mut impl FnMut(RecordEvent<'_>)) {
        let row_number = self.next_row;
        self.next_row += 1;
        let byte_offset = self.record_start;
        self.in_record = false;

        if self.skipping {
            self.skipping = false;
            self.record_len = 0;
            self.ends_len = 0;
            // Shrink back so one huge record does not pin its memory.
            self.record
                .truncate(INITIAL_RECORD_CAPACITY.min(self.record.len()));
            self.record.shrink_to_fit();
            out(RecordEvent::Error(CsvRowError {
                row_number,
                byte_offset,
                kind: CsvErrorKind::RecordTooLarge {
                    limit: self.opts.max_record_bytes,
                },
                fields: Vec::new(),
            }));
            return;
        }

        let nfields = self.ends_len;
        let bytes = &self.record[..self.record_len];
        let ends = &self.ends[..nfields];
        self.record_len = 0;
        self.ends_len = 0;

        let expected = *self.width.get_or_insert(nfields);
        let text = match std::str::from_utf8(bytes) {
            Ok(text) if ends.iter().all(|&e| text.is_char_boundary(e)) => text,
            _ => {
                out(RecordEvent::Error(utf8_error(
                    row_number,
                    byte_offset,
                    bytes,
                    ends,
                )));
                return;
            }
        };

        let mut strs: Vec<&str> = recycle(std::mem::take(&mut self.strs));
        let mut start = 0;
        for &end in ends {
            strs.push(&text[start..end]);
            start = end;
        }
        if row_number == 0 {
            out(RecordEvent::Header(Record {
                row_number,
                byte_offset,
                fields: &strs,
            }));
        } else if nfields != expected {
            out(RecordEvent::Error(CsvRowError {
                row_number,
                byte_offset,
                kind: CsvErrorKind::WrongWidth {
                    expected,
                    found: nfields,
                },
                fields: strs.iter().map(|s| (*s).to_owned()).collect(),
            }));
        } else {
            out(RecordEvent::Row(Record {
                row_number,
                byte_offset,
                fields: &strs,
            }));
        }
        self.strs = recycle(strs);
    }
}

/// Builds the error for a record with invalid UTF-8 (the slow path).
fn utf8_error(row_number: u64, byte_offset: u64, bytes: &[u8], ends: &[usize]) -> CsvRowError {
    let mut fields = Vec::with_capacity(ends.len());
    let mut first_bad = None;
    let mut start = 0;
    for (index, &end) in ends.iter().enumerate() {
        let field = &bytes[start..end];
        if let Err(e) = std::str::from_utf8(field) {
            if first_bad.is_none() {
                let position = e.valid_up_to();
                first_bad = Some((index, field[position], position));
            }
        }
        fields.push(String::from_utf8_lossy(field).into_owned());
        start = end;
    }
    // `from_utf8` failed on the whole record or on a field boundary, so some
    // field is invalid; the fallback only guards against the impossible.
    let (field_index, byte, position) = first_bad.unwrap_or((0, 0, 0));
    CsvRowError {
        row_number,
        byte_offset,
        kind: CsvErrorKind::InvalidUtf8 {
            field_index,
            byte,
            position,
        },
        fields,
    }
}
