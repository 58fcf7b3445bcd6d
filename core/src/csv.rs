//! A push-style, streaming CSV reader: feed it byte chunks of any size, as
//! they arrive from storage or from `Blob.slice()`, and it calls back once
//! per complete record.
//!
//! The quoting state machine is [`csv_core`]'s (RFC 4180: quoted fields,
//! doubled quotes, quoted delimiters and line breaks); this module adds what
//! an import needs on top of it:
//!
//! * a UTF-8 byte order mark at the very start of the file is stripped, even
//!   when it is split across chunks (one: a second is data, as anywhere
//!   else);
//! * `\n`, `\r\n` and `\r` all end a record; blank lines are skipped and are
//!   not counted as rows;
//! * the first record is the header (row 0); data records are numbered from 1
//!   in the order they appear, so a quoted line break does not start a new row
//!   number;
//! * every record carries the byte offset of its first byte in the file
//!   (the BOM, when present, counts: the header of a file with a BOM starts at
//!   offset 3);
//! * a record whose field count differs from the header's, a field that is not
//!   valid UTF-8, a record larger than [`CsvOptions::max_record_bytes`] and a
//!   record of more than [`CsvOptions::max_fields`] fields are reported as
//!   [`CsvRowError`]s for that row: the stream never panics and never stops;
//! * memory is bounded by those two limits: a line of nothing but
//!   delimiters (no field bytes at all) is counted, not kept, once past
//!   [`CsvOptions::max_fields`];
//! * buffers are reused from record to record: the hot path allocates
//!   nothing once the buffers have grown to the largest record seen.
//!
//! A record without a single quote character (most records of most files)
//! is read without the state machine: its line is found with [`memchr`]
//! and split at each delimiter, which is what [`csv_core`] makes of such a
//! line (no quoting can apply), at a fraction of the cost. Everything else
//! (a quote anywhere in the record, a record cut by the end of a chunk, an
//! invalid UTF-8 sequence, a record near the size limit) goes through
//! [`csv_core`]; a test checks both ways give the same events.
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

/// The default [`CsvOptions::max_fields`]: 10,000 columns.
pub const MAX_FIELDS: usize = 10_000;

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
    /// Most fields a record may have. A record with more (a header of too
    /// many columns, a line of delimiters) is skipped, its fields counted
    /// but not kept, and reported as [`CsvErrorKind::TooManyFields`].
    /// Default [`MAX_FIELDS`] (10,000).
    pub max_fields: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            quote: b'"',
            max_record_bytes: 32 * 1024 * 1024,
            max_fields: MAX_FIELDS,
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
    /// The record has more than [`CsvOptions::max_fields`] fields; its
    /// contents were skipped.
    TooManyFields {
        /// The limit that was exceeded.
        limit: usize,
        /// Fields the record has.
        found: u64,
    },
    /// The input ends inside a quoted value: its quote is never closed, so
    /// everything from it to the end of the file (line breaks, delimiters,
    /// later rows) was read as that one value. The record is not kept:
    /// taking it would import the later rows as text of one value.
    UnterminatedQuote,
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
    /// replaced by U+FFFD (empty for [`CsvErrorKind::RecordTooLarge`] and
    /// [`CsvErrorKind::TooManyFields`]), so the row can still be shown to a
    /// person.
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
    /// Fields of the current record so far (read by csv_core).
    record_fields: u64,
    /// Whether the current record has more than [`CsvOptions::max_fields`]
    /// fields (they are then counted, not kept).
    overflow: bool,
    record_start: u64,
    /// Bytes consumed so far.
    offset: u64,
    /// Row number of the next record.
    next_row: u64,
    /// Header width, once the header was read.
    width: Option<usize>,
    finished: bool,
    /// Whether the input ended inside a quoted value (set by `finish`).
    unterminated: bool,
    /// Whether quote-free data records take the shortcut (the delimiter and
    /// the quote are distinct ASCII bytes other than a line break). The
    /// header always goes through csv_core.
    shortcut: bool,
    /// Whether csv_core has been given a byte yet. It strips a byte order
    /// mark from the first bytes it reads when they arrive in one call; this
    /// reader strips the file's own, so csv_core's first read is a single
    /// byte, which it never strips: a second mark is data, however the file
    /// is chunked.
    core_started: bool,
    /// Records read by the shortcut.
    #[cfg(test)]
    shortcut_records: u64,
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
        let plain = |b: u8| b.is_ascii() && b != b'\n' && b != b'\r';
        let shortcut = plain(opts.delimiter) && plain(opts.quote) && opts.delimiter != opts.quote;
        Self {
            reader,
            opts,
            record: vec![0; INITIAL_RECORD_CAPACITY.min(record_capacity(&opts))],
            record_len: 0,
            ends: vec![0; INITIAL_FIELD_CAPACITY],
            ends_len: 0,
            strs: Vec::with_capacity(INITIAL_FIELD_CAPACITY),
            bom_buf: [0; 3],
            bom_len: 0,
            bom_settled: false,
            in_record: false,
            skipping: false,
            record_fields: 0,
            overflow: false,
            record_start: 0,
            offset: 0,
            next_row: 0,
            width: None,
            finished: false,
            unterminated: false,
            shortcut,
            core_started: false,
            #[cfg(test)]
            shortcut_records: 0,
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
                self.end_with_line_break(out);
            }
            if self.in_record {
                loop {
                    let (res, _, nout, nend) = self.reader.read_record(
                        &[],
                        &mut self.record[self.record_len..],
                        &mut self.ends[self.ends_len..],
                    );
                    self.took(nout, nend);
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
        if self.skipping || self.overflow {
            // Field ends are not kept: the buffer is reused from the start.
            return;
        }
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
        let cap = record_capacity(&self.opts);
        if self.record.len() >= cap {
            self.skipping = true;
            self.record_len = 0;
            return;
        }
        let n = (self.record.len() * 2).min(cap).max(self.record.len() + 1);
        self.record.resize(n, 0);
    }

    /// Accounts for what [`csv_core`] wrote: `nout` bytes and `nend` field
    /// ends. Past [`CsvOptions::max_fields`] the fields are only counted
    /// (and the bytes dropped), so the buffers stop growing.
    fn took(&mut self, nout: usize, nend: usize) {
        self.record_len += nout;
        self.record_fields += nend as u64;
        if self.record_fields > self.opts.max_fields as u64 {
            self.overflow = true;
        }
        if self.overflow {
            self.record_len = 0;
        }
        // Field positions are meaningless while a record is skipped.
        self.ends_len = if self.skipping || self.overflow {
            0
        } else {
            self.ends_len + nend
        };
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
                if self.shortcut && self.next_row > 0 {
                    let n = self.quote_free_record(input, out);
                    if n > 0 {
                        input = &input[n..];
                        self.offset += n as u64;
                        continue;
                    }
                }
                self.in_record = true;
                self.record_start = self.offset;
            }
            if input.is_empty() {
                return;
            }
            let take = if self.core_started { input.len() } else { 1 };
            self.core_started = true;
            let (res, nin, nout, nend) = self.reader.read_record(
                &input[..take],
                &mut self.record[self.record_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[nin..];
            self.offset += nin as u64;
            self.took(nout, nend);
            match res {
                // Input left over after csv_core's first, one-byte read.
                ReadRecordResult::InputEmpty if !input.is_empty() => {}
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

        let found = std::mem::take(&mut self.record_fields);
        if std::mem::take(&mut self.overflow) {
            self.skipping = false;
            self.record_len = 0;
            self.ends_len = 0;
            out(RecordEvent::Error(CsvRowError {
                row_number,
                byte_offset,
                kind: CsvErrorKind::TooManyFields {
                    limit: self.opts.max_fields,
                    found,
                },
                fields: Vec::new(),
            }));
            return;
        }
        // A record one byte over the limit fits the buffer when the input
        // ends right after it.
        if self.skipping || self.record_len > self.opts.max_record_bytes {
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

        if std::mem::take(&mut self.unterminated) {
            self.record_len = 0;
            self.ends_len = 0;
            out(RecordEvent::Error(CsvRowError {
                row_number,
                byte_offset,
                kind: CsvErrorKind::UnterminatedQuote,
                fields: Vec::new(),
            }));
            return;
        }

        let nfields = self.ends_len;
        let bytes = &self.record[..self.record_len];
        let ends = &self.ends[..nfields];
        self.record_len = 0;
        self.ends_len = 0;

        self.width.get_or_insert(nfields);
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
        deliver(&mut self.width, row_number, byte_offset, &strs, out);
        self.strs = recycle(strs);
    }

    /// At the end of the input, gives csv_core a line break: outside
    /// quotes it ends the record as the end of the input would (the record
    /// is reported), inside a quoted value it is taken as part of the value,
    /// and the record is marked [`CsvErrorKind::UnterminatedQuote`]. (With
    /// a line break as the quote or the delimiter the other one is given;
    /// with both taken, nothing is.)
    fn end_with_line_break(&mut self, out: &mut impl FnMut(RecordEvent<'_>)) {
        let Some(&probe) = [b'\n', b'\r']
            .iter()
            .find(|&&b| b != self.opts.quote && b != self.opts.delimiter)
        else {
            return;
        };
        loop {
            let (res, nin, nout, nend) = self.reader.read_record(
                &[probe],
                &mut self.record[self.record_len..],
                &mut self.ends[self.ends_len..],
            );
            self.took(nout, nend);
            match res {
                ReadRecordResult::OutputEndsFull => self.grow_ends(),
                ReadRecordResult::OutputFull if nin == 0 => self.grow_record(),
                ReadRecordResult::Record => return self.emit(out),
                ReadRecordResult::End => return,
                // Taken into a value: inside quotes.
                ReadRecordResult::InputEmpty | ReadRecordResult::OutputFull => {
                    self.unterminated = true;
                    return;
                }
            }
        }
    }

    /// The shortcut: when the record starting at `input` ends within it and
    /// holds no quote character, valid UTF-8 and fewer bytes than the record
    /// buffer, reports it (split at each delimiter, as [`csv_core`] would)
    /// and returns its length, its line break left for the caller to skip;
    /// otherwise returns 0 and leaves the record to [`csv_core`].
    fn quote_free_record(&mut self, input: &[u8], out: &mut impl FnMut(RecordEvent<'_>)) -> usize {
        let Some(end) = memchr::memchr3(b'\n', b'\r', self.opts.quote, input) else {
            return 0;
        };
        // A record that could reach the size limit is left to csv_core,
        // whose buffer decides when it is skipped.
        if input[end] == self.opts.quote || end >= self.record.len() {
            return 0;
        }
        let line = &input[..end];
        let Ok(text) = std::str::from_utf8(line) else {
            return 0;
        };
        let row_number = self.next_row;
        self.next_row += 1;
        let mut strs: Vec<&str> = recycle(std::mem::take(&mut self.strs));
        let mut start = 0;
        let max = self.opts.max_fields;
        // The delimiter is ASCII, so every split is a character boundary.
        let mut delimiters = memchr::memchr_iter(self.opts.delimiter, line);
        let mut found = None;
        for at in delimiters.by_ref() {
            if strs.len() + 1 >= max {
                // This delimiter starts field max + 1: count the rest.
                found = Some(strs.len() as u64 + 2 + delimiters.count() as u64);
                break;
            }
            strs.push(&text[start..at]);
            start = at + 1;
        }
        // A limit of 0 fields refuses even a record without a delimiter.
        if found.is_none() && max == 0 {
            found = Some(1);
        }
        match found {
            None => {
                strs.push(&text[start..]);
                deliver(&mut self.width, row_number, self.offset, &strs, out);
            }
            Some(found) => out(RecordEvent::Error(CsvRowError {
                row_number,
                byte_offset: self.offset,
                kind: CsvErrorKind::TooManyFields { limit: max, found },
                fields: Vec::new(),
            })),
        }
        self.strs = recycle(strs);
        #[cfg(test)]
        {
            self.shortcut_records += 1;
        }
        end
    }
}

/// The largest record buffer: one byte more than the limit, because
/// csv_core stops as soon as its output is full, before it sees whether the
/// record ends there; a record of exactly the limit must still be read.
fn record_capacity(opts: &CsvOptions) -> usize {
    opts.max_record_bytes.saturating_add(1)
}

/// Reports a record read as `fields`: the header (row 0, which sets the
/// width), a row, or a row of the wrong width.
fn deliver(
    width: &mut Option<usize>,
    row_number: u64,
    byte_offset: u64,
    fields: &[&str],
    out: &mut impl FnMut(RecordEvent<'_>),
) {
    let expected = *width.get_or_insert(fields.len());
    if row_number == 0 {
        out(RecordEvent::Header(Record {
            row_number,
            byte_offset,
            fields,
        }));
    } else if fields.len() != expected {
        out(RecordEvent::Error(CsvRowError {
            row_number,
            byte_offset,
            kind: CsvErrorKind::WrongWidth {
                expected,
                found: fields.len(),
            },
            fields: fields.iter().map(|s| (*s).to_owned()).collect(),
        }));
    } else {
        out(RecordEvent::Row(Record {
            row_number,
            byte_offset,
            fields,
        }));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Events as owned values, for comparison.
    fn read(opts: CsvOptions, chunks: &[&[u8]], shortcut: bool) -> (Vec<String>, CsvSummary, u64) {
        let mut stream = CsvStream::new(opts);
        stream.shortcut &= shortcut;
        let mut events = Vec::new();
        let mut on_event = |e: RecordEvent<'_>| events.push(format!("{e:?}"));
        for chunk in chunks {
            stream.feed(chunk, &mut on_event);
        }
        let summary = stream.finish(&mut on_event);
        (events, summary, stream.shortcut_records)
    }

    #[test]
    fn quote_free_records_read_by_the_shortcut_are_what_csv_core_reads() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Mostly plain text (so many records take the shortcut), with the
        // bytes that matter: delimiters, quotes, every line break, UTF-8 of
        // two and three bytes, invalid bytes and BOMs.
        let plain = b"abcdefgh xyz0123";
        let special: &[&[u8]] = &[
            b",",
            b";",
            b"\t",
            b"\"",
            b"\r",
            b"\n",
            b"\r\n",
            b"\xC3\xA9",
            b"\xE2\x82\xAC",
            b"\xFF",
            b"\xC3",
            b"\xEF\xBB\xBF",
        ];
        let mut shortcut_total = 0;
        for case in 0..3000 {
            let mut input = Vec::new();
            let len = next() % 300;
            while (input.len() as u64) < len {
                if next() % 4 == 0 {
                    input.extend_from_slice(special[(next() % special.len() as u64) as usize]);
                } else {
                    input.push(plain[(next() % plain.len() as u64) as usize]);
                }
            }
            let opts = CsvOptions {
                delimiter: [b',', b';', b'\t'][case % 3],
                // Small limits put some records over it, and some just under.
                max_record_bytes: [32 * 1024 * 1024, 40, 8, 1][(case / 3) % 4],
                max_fields: [MAX_FIELDS, 4, 2, 1][(case / 12) % 4],
                ..CsvOptions::default()
            };
            let mut chunks = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = if case % 2 == 0 {
                    rest.len()
                } else {
                    1 + (next() % 50) as usize
                };
                let (a, b) = rest.split_at(n.min(rest.len()));
                chunks.push(a);
                rest = b;
            }
            let (slow, slow_summary, none) = read(opts, &chunks, false);
            let (fast, fast_summary, taken) = read(opts, &chunks, true);
            assert_eq!(none, 0);
            assert_eq!(
                fast,
                slow,
                "case {case}: {:?}",
                String::from_utf8_lossy(&input)
            );
            assert_eq!(fast_summary, slow_summary, "case {case}");
            shortcut_total += taken;
        }
        // The comparison covered the shortcut many times over.
        assert!(
            shortcut_total > 3_000,
            "only {shortcut_total} records took the shortcut"
        );
    }

    #[test]
    fn a_line_of_delimiters_is_counted_not_kept() {
        // 20,000 commas (a line the shortcut takes) and 3,000,000 (csv_core's,
        // in 64 KiB chunks): each row is one error, the buffers stay small,
        // and the next row is read.
        for (commas, shortcut) in [(20_000, true), (20_000, false), (3_000_000, true)] {
            let mut input = b"a,b\n".to_vec();
            input.extend(std::iter::repeat_n(b',', commas));
            input.extend_from_slice(b"\n1,2\n");
            let mut stream = CsvStream::default();
            stream.shortcut &= shortcut;
            let mut events = Vec::new();
            for chunk in input.chunks(64 * 1024) {
                stream.feed(chunk, &mut |e| events.push(format!("{e:?}")));
            }
            stream.finish(&mut |e| events.push(format!("{e:?}")));
            assert_eq!(events.len(), 3, "{commas}");
            let want = format!(
                "TooManyFields {{ limit: {MAX_FIELDS}, found: {} }}",
                commas + 1
            );
            assert!(events[1].contains(&want), "{commas}: {}", events[1]);
            assert!(events[1].contains("row_number: 1") && events[1].contains("fields: []"));
            assert!(events[2].contains("[\"1\", \"2\"]"), "{}", events[2]);
            assert!(stream.ends.len() <= 2 * MAX_FIELDS + INITIAL_FIELD_CAPACITY);
            assert!(stream.strs.capacity() <= 2 * MAX_FIELDS + INITIAL_FIELD_CAPACITY);
            assert!(stream.record.len() <= INITIAL_RECORD_CAPACITY);
        }
        // Exactly the limit is a record; a header over it is row 0's error.
        let opts = CsvOptions {
            max_fields: 3,
            ..CsvOptions::default()
        };
        let (events, _, _) = read(opts, &[b"a,b,c\n1,2,3\n1,2,3,4\n"], true);
        assert!(events[1].contains("Row"), "{events:?}");
        assert!(events[2].contains("found: 4"), "{events:?}");
        let (events, _, _) = read(opts, &[b"a,b,c,d\n"], true);
        assert!(
            events[0].contains("row_number: 0") && events[0].contains("TooManyFields"),
            "{events:?}"
        );
    }

    #[test]
    fn the_shortcut_reads_plain_records_and_leaves_quoted_ones_to_csv_core() {
        let input = b"a,b\r\n1,2\n\"x\",3\n4,\"y\"\r5,6";
        let (events, summary, taken) = read(CsvOptions::default(), &[input], true);
        // Row 1 only: the header is csv_core's, rows 2 and 3 hold quotes,
        // and row 4 ends the input without a line break (csv_core reads it
        // at the finish).
        assert_eq!(taken, 1);
        // A second byte order mark at the start is data, as is one later,
        // either way.
        for input in [
            &b"\xEF\xBB\xBF\xEF\xBB\xBFa\n1\n"[..],
            &b"a\n\xEF\xBB\xBF\"x\"\n"[..],
        ] {
            let (fast, _, _) = read(CsvOptions::default(), &[input], true);
            let (slow, _, _) = read(CsvOptions::default(), &[input], false);
            assert_eq!(fast, slow);
        }
        let (two_boms, _, _) = read(
            CsvOptions::default(),
            &[b"\xEF\xBB\xBF\xEF\xBB\xBFa\n"],
            true,
        );
        assert!(
            two_boms[0].contains("fields: [\"\\u{feff}a\"]"),
            "{two_boms:?}"
        );
        let (later, _, _) = read(CsvOptions::default(), &[b"a\n\xEF\xBB\xBF\"x\"\n"], true);
        assert!(later[1].contains("fields: [\"\\u{feff}"), "{later:?}");
        assert_eq!(summary.data_rows, 4);
        let (slow, _, _) = read(CsvOptions::default(), &[input], false);
        assert_eq!(events, slow);
        // A quote as the delimiter, or a line break, turns the shortcut off.
        let odd = CsvOptions {
            delimiter: b'"',
            ..CsvOptions::default()
        };
        assert!(!CsvStream::new(odd).shortcut);
        assert!(!CsvStream::new(CsvOptions::with_delimiter(b'\n')).shortcut);
        assert!(!CsvStream::new(CsvOptions::with_delimiter(0xA7)).shortcut);
        assert!(CsvStream::new(CsvOptions::with_delimiter(b'\t')).shortcut);
    }
}
