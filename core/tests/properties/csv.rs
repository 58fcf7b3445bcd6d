//! The CSV reader: nothing panics, whatever the bytes, options and chunks;
//! and what it reads is what plain `csv_core` reads.
//!
//! The reference below reads the whole input with one `csv_core::Reader`
//! built with the reader's options (delimiter, quote, doubled quotes), and
//! applies on top only what `import_core::csv` documents:
//!
//! * one UTF-8 byte order mark at the very start of the file is not data
//!   (`csv_core` strips it from the first bytes it reads);
//! * a record starts at its first byte after the line breaks that end the
//!   previous one (`csv_core` skips `\r` and `\n` between records), and its
//!   offset counts the byte order mark;
//! * a record of more than `max_fields` fields is an error without fields
//!   that counts them; else a record of more than `max_record_bytes`
//!   unquoted bytes is an error without fields; the first record that is
//!   neither is the one whose width counts;
//! * a record the input ends inside of, in a quoted value (its quote never
//!   closed), is an error without fields (after the two above);
//! * a record with a field that is not UTF-8 is an error naming the first
//!   such field, its first bad byte and that byte's position;
//! * the first record is the header; a later record of another width is an
//!   error.
//!
//! Nothing else differs: the reader is fed the input in generated chunks,
//! the reference all at once, and their events and totals must be equal.

use csv_core::{ReadRecordResult, ReaderBuilder};
use import_core::csv::{
    CsvErrorKind, CsvOptions, CsvRowError, CsvStream, CsvSummary, RecordEvent, MAX_FIELDS,
};
use proptest::prelude::*;
use proptest::sample::select;

use crate::config;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// An owned copy of an event.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Header(u64, u64, Vec<String>),
    Row(u64, u64, Vec<String>),
    Error(CsvRowError),
}

fn own(event: RecordEvent<'_>) -> Ev {
    let fields = |f: &[&str]| f.iter().map(|s| s.to_string()).collect();
    match event {
        RecordEvent::Header(r) => Ev::Header(r.row_number, r.byte_offset, fields(r.fields)),
        RecordEvent::Row(r) => Ev::Row(r.row_number, r.byte_offset, fields(r.fields)),
        RecordEvent::Error(e) => Ev::Error(e),
    }
}

/// The reader's events and totals for `input` fed in pieces cut at `cuts`.
fn read_chunked(opts: CsvOptions, input: &[u8], cuts: &[usize]) -> (Vec<Ev>, CsvSummary) {
    let mut stream = CsvStream::new(opts);
    let mut events = Vec::new();
    let mut out = |e: RecordEvent<'_>| events.push(own(e));
    let mut at = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        let cut = cut.clamp(at, input.len());
        stream.feed(&input[at..cut], &mut out);
        at = cut;
    }
    let summary = stream.finish(&mut out);
    // Finished: more input and a second finish change nothing.
    stream.feed(b"x,y\n", &mut out);
    assert_eq!(stream.finish(&mut out), summary);
    (events, summary)
}

/// One record as `csv_core` reads it: its start and its fields' bytes.
struct CoreRecord {
    start: usize,
    fields: Vec<Vec<u8>>,
    /// Whether the input ended inside a quoted value of this record.
    unterminated: bool,
}

/// Every record of `input`, read by one `csv_core::Reader` in one go.
fn csv_core_records(opts: CsvOptions, input: &[u8]) -> Vec<CoreRecord> {
    let mut reader = ReaderBuilder::new()
        .delimiter(opts.delimiter)
        .quote(opts.quote)
        .double_quote(true)
        .build();
    // Room for everything: csv_core never runs out of output space here.
    let mut out = vec![0u8; input.len() + 1];
    let mut ends = vec![0usize; input.len() + 2];
    let mut records = Vec::new();
    let mut pos = 0;
    loop {
        let mut start = if pos == 0 && input.starts_with(BOM) {
            3
        } else {
            pos
        };
        while start < input.len() && matches!(input[start], b'\r' | b'\n') {
            start += 1;
        }
        let (mut res, nin, mut nout, mut nend) =
            reader.read_record(&input[pos..], &mut out, &mut ends);
        pos += nin;
        let mut unterminated = false;
        if res == ReadRecordResult::InputEmpty {
            assert_eq!(pos, input.len());
            // Inside a quoted value a line break is data; elsewhere it ends
            // the record as the end of the input does (the other line break
            // when one is the quote or the delimiter).
            if let Some(&probe) = [b'\n', b'\r']
                .iter()
                .find(|&&b| b != opts.quote && b != opts.delimiter)
            {
                let (r, _, n, e) =
                    reader.read_record(&[probe], &mut out[nout..], &mut ends[nend..]);
                (res, nout, nend) = (r, nout + n, nend + e);
                unterminated = res == ReadRecordResult::InputEmpty;
            }
        }
        if res == ReadRecordResult::InputEmpty {
            let (last, _, n, e) = reader.read_record(&[], &mut out[nout..], &mut ends[nend..]);
            (res, nout, nend) = (last, nout + n, nend + e);
        }
        match res {
            ReadRecordResult::Record => {
                let mut fields = Vec::with_capacity(nend);
                let mut from = 0;
                for &end in &ends[..nend] {
                    fields.push(out[from..end].to_vec());
                    from = end;
                }
                assert_eq!(from, nout);
                records.push(CoreRecord {
                    start,
                    fields,
                    unterminated,
                });
            }
            ReadRecordResult::End => return records,
            other => panic!("csv_core answered {other:?} with room to spare"),
        }
    }
}

/// What the reader must report for `input`, from `csv_core`'s records.
fn reference(opts: CsvOptions, input: &[u8]) -> (Vec<Ev>, CsvSummary) {
    let records = csv_core_records(opts, input);
    let mut width = None;
    let mut events = Vec::new();
    for (row, rec) in (0u64..).zip(&records) {
        let offset = rec.start as u64;
        if rec.fields.len() > opts.max_fields {
            events.push(Ev::Error(CsvRowError {
                row_number: row,
                byte_offset: offset,
                kind: CsvErrorKind::TooManyFields {
                    limit: opts.max_fields,
                    found: rec.fields.len() as u64,
                },
                fields: vec![],
            }));
            continue;
        }
        let size: usize = rec.fields.iter().map(Vec::len).sum();
        if size > opts.max_record_bytes {
            events.push(Ev::Error(CsvRowError {
                row_number: row,
                byte_offset: offset,
                kind: CsvErrorKind::RecordTooLarge {
                    limit: opts.max_record_bytes,
                },
                fields: vec![],
            }));
            continue;
        }
        if rec.unterminated {
            events.push(Ev::Error(CsvRowError {
                row_number: row,
                byte_offset: offset,
                kind: CsvErrorKind::UnterminatedQuote,
                fields: vec![],
            }));
            continue;
        }
        let expected = *width.get_or_insert(rec.fields.len());
        let bad = rec.fields.iter().enumerate().find_map(|(i, f)| {
            std::str::from_utf8(f)
                .err()
                .map(|e| (i, f, e.valid_up_to()))
        });
        let text: Vec<String> = rec
            .fields
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let kind = if let Some((field_index, field, position)) = bad {
            CsvErrorKind::InvalidUtf8 {
                field_index,
                byte: field[position],
                position,
            }
        } else if row == 0 {
            events.push(Ev::Header(row, offset, text));
            continue;
        } else if rec.fields.len() != expected {
            CsvErrorKind::WrongWidth {
                expected,
                found: rec.fields.len(),
            }
        } else {
            events.push(Ev::Row(row, offset, text));
            continue;
        };
        events.push(Ev::Error(CsvRowError {
            row_number: row,
            byte_offset: offset,
            kind,
            fields: text,
        }));
    }
    let summary = CsvSummary {
        has_header: !records.is_empty(),
        data_rows: (records.len() as u64).saturating_sub(1),
        bytes: input.len() as u64,
    };
    (events, summary)
}

/// Text made of the pieces that matter to a CSV reader: delimiters,
/// quotes, every line break, byte order marks whole and cut, UTF-8 of two
/// and three bytes, invalid bytes, and plain text between them.
fn csv_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => select(vec![&b"a"[..], b"b", b"xyz", b" ", b"12"]).prop_map(<[u8]>::to_vec),
        4 => select(vec![
            &b","[..], b";", b"\t", b"\"", b"'", b"\"\"", b"\r", b"\n", b"\r\n",
            b"\xC3\xA9", b"\xE2\x82\xAC", b"\xFF", b"\xC3", BOM, b"\xEF", b"\xBB\xBF",
        ])
        .prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

/// Reader options: the usual delimiters and quotes, odd ones (a line
/// break, a non-ASCII byte, the quote as delimiter) and any byte; record
/// size and field count limits small enough to be reached, and the
/// defaults.
fn options() -> impl Strategy<Value = CsvOptions> {
    let delimiter = prop_oneof![
        4 => select(vec![b',', b';', b'\t']),
        1 => select(vec![b'"', b'\'', b'\n', b'\r', 0xA7, 0xEF, b'a']),
        1 => any::<u8>(),
    ];
    let quote = prop_oneof![
        4 => Just(b'"'),
        1 => select(vec![b'\'', b',', b'\n', 0xBB, b'a']),
        1 => any::<u8>(),
    ];
    let limit = prop_oneof![
        2 => Just(CsvOptions::default().max_record_bytes),
        3 => 0usize..48,
    ];
    let fields = prop_oneof![2 => Just(MAX_FIELDS), 1 => 0usize..6];
    (delimiter, quote, limit, fields).prop_map(
        |(delimiter, quote, max_record_bytes, max_fields)| CsvOptions {
            delimiter,
            quote,
            max_record_bytes,
            max_fields,
        },
    )
}

/// Where to cut an input of up to `len` bytes into chunks (sorted; cuts
/// past the end are clamped, so any input length works).
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..200, 0..12).prop_map(|mut c| {
        c.sort_unstable();
        c
    })
}

proptest! {
    #![proptest_config(config(15000))]

    /// Any bytes, any options, any chunks: the reader never panics, and it
    /// counts every byte.
    #[test]
    fn csv_reader_never_panics(
        input in prop::collection::vec(any::<u8>(), 0..200),
        delimiter in any::<u8>(),
        quote in any::<u8>(),
        max_record_bytes in prop_oneof![Just(usize::MAX), 0usize..64, Just(1 << 25)],
        max_fields in prop_oneof![Just(usize::MAX), 0usize..8, Just(MAX_FIELDS)],
        cuts in cuts(),
    ) {
        let opts = CsvOptions { delimiter, quote, max_record_bytes, max_fields };
        let (_, summary) = read_chunked(opts, &input, &cuts);
        prop_assert_eq!(summary.bytes, input.len() as u64);
    }

    /// The reader, fed in chunks, reports what csv_core reads in one go.
    #[test]
    fn csv_reader_reads_what_csv_core_reads(
        input in csv_text(),
        opts in options(),
        cuts in cuts(),
    ) {
        let got = read_chunked(opts, &input, &cuts);
        let want = reference(opts, &input);
        prop_assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(&input));
    }
}
