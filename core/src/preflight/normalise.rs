//! Normalising: a file in another delimiter (decoded to UTF-8 by the host)
//! re-written as the CSV the API reads: UTF-8, `,` delimiters, `"` quotes
//! where a value needs them, `\n` line ends, no BOM. Streaming: fed chunks
//! of any size, holding one field at a time.
//!
//! The result reads, record for record, as the original read with its own
//! delimiter: blank lines are dropped (the API's reader skips them too, so
//! row numbers do not change), a record of one empty field is written `""`
//! (an empty line would be skipped), values are copied byte for byte, and a
//! value is quoted when it holds `,`, `"`, `\r` or `\n`. So
//! [`super::Preflight::normalised_size`] from a whole-file preflight is the
//! exact `fileSize` to declare.

use csv_core::{ReadFieldResult, Reader, ReaderBuilder};

use super::Dialect;

/// Whether a file in `dialect` must be re-written before the API can read
/// it: another encoding than UTF-8, or another delimiter than `,`, or
/// another quote than `"`.
pub fn needs_normalising(dialect: &Dialect) -> bool {
    !dialect.encoding.eq_ignore_ascii_case("utf-8")
        || dialect.delimiter != ','
        || dialect.quote != '"'
}

/// Re-writes UTF-8 text in a dialect as UTF-8 CSV with `,` delimiters.
/// Fed chunks of any size; output is appended to the caller's buffer.
pub struct Normaliser {
    reader: Reader,
    /// The current field's bytes so far.
    field: Vec<u8>,
    /// Fields of the current record written so far.
    fields_in_record: usize,
    in_record: bool,
    /// The first bytes, until it is known whether they are a BOM.
    head: Vec<u8>,
    started: bool,
    written: u64,
}

impl std::fmt::Debug for Normaliser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normaliser")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

impl Normaliser {
    /// A normaliser reading `dialect`'s delimiter and quote (the input is
    /// UTF-8 whatever `dialect.encoding` says: the host decoded it).
    pub fn new(dialect: &Dialect) -> Normaliser {
        let delimiter = if dialect.delimiter.is_ascii() {
            dialect.delimiter as u8
        } else {
            b','
        };
        let quote = if dialect.quote.is_ascii() {
            dialect.quote as u8
        } else {
            b'"'
        };
        Normaliser {
            reader: ReaderBuilder::new()
                .delimiter(delimiter)
                .quote(quote)
                .build(),
            field: Vec::with_capacity(256),
            fields_in_record: 0,
            in_record: false,
            head: Vec::new(),
            started: false,
            written: 0,
        }
    }

    /// Feeds the next UTF-8 bytes; appends what can be written to `out`.
    pub fn push(&mut self, utf8: &[u8], out: &mut Vec<u8>) {
        if !self.started {
            self.head.extend_from_slice(utf8);
            if self.head.len() < BOM.len() && BOM.starts_with(&self.head) {
                return;
            }
            self.started = true;
            let head = std::mem::take(&mut self.head);
            let body = head.strip_prefix(&BOM[..]).unwrap_or(&head);
            self.process(body, out);
            return;
        }
        self.process(utf8, out);
    }

    /// The end of the input: appends the rest to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            let head = std::mem::take(&mut self.head);
            if head != BOM[..head.len()] || head.len() == BOM.len() {
                let body = head.strip_prefix(&BOM[..]).unwrap_or(&head);
                self.process(body, out);
            }
        }
        if self.in_record {
            self.process_end(out);
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn process(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        let before = out.len();
        loop {
            if !self.in_record {
                let skip = input
                    .iter()
                    .position(|&b| b != b'\n' && b != b'\r')
                    .unwrap_or(input.len());
                input = &input[skip..];
                if input.is_empty() {
                    break;
                }
                self.in_record = true;
            }
            if input.is_empty() {
                break;
            }
            let (res, nin) = self.read(input);
            input = &input[nin..];
            if self.step(res, out) {
                continue;
            }
            if input.is_empty() {
                break;
            }
        }
        self.written += (out.len() - before) as u64;
    }

    fn process_end(&mut self, out: &mut Vec<u8>) {
        let before = out.len();
        loop {
            let (res, _) = self.read(&[]);
            if matches!(res, ReadFieldResult::End) {
                break;
            }
            self.step(res, out);
            if !self.in_record {
                break;
            }
        }
        self.written += (out.len() - before) as u64;
    }

    /// One read into the field buffer, growing it as needed.
    fn read(&mut self, input: &[u8]) -> (ReadFieldResult, usize) {
        let mut consumed = 0;
        loop {
            let len = self.field.len();
            let spare = self.field.capacity() - len;
            if spare < 64 {
                self.field.reserve(len.max(256));
            }
            let cap = self.field.capacity();
            self.field.resize(cap, 0);
            let (res, nin, nout) = self
                .reader
                .read_field(&input[consumed..], &mut self.field[len..]);
            self.field.truncate(len + nout);
            consumed += nin;
            match res {
                ReadFieldResult::OutputFull => continue,
                other => return (other, consumed),
            }
        }
    }

    /// Handles a read's result; true when a field ended.
    fn step(&mut self, res: ReadFieldResult, out: &mut Vec<u8>) -> bool {
        match res {
            ReadFieldResult::Field { record_end } => {
                if self.fields_in_record > 0 {
                    out.push(b',');
                }
                self.fields_in_record += 1;
                let one_empty = record_end && self.fields_in_record == 1 && self.field.is_empty();
                if one_empty {
                    out.extend_from_slice(b"\"\"");
                } else {
                    write_field(&self.field, out);
                }
                self.field.clear();
                if record_end {
                    out.push(b'\n');
                    self.fields_in_record = 0;
                    self.in_record = false;
                }
                true
            }
            ReadFieldResult::InputEmpty | ReadFieldResult::End | ReadFieldResult::OutputFull => {
                false
            }
        }
    }
}

/// Writes one value, quoted when it holds `,`, `"`, `\r` or `\n`.
fn write_field(value: &[u8], out: &mut Vec<u8>) {
    let needs = value
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if !needs {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    for &b in value {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}
