//! The streaming CSV reader: quoting, line endings, BOM, row numbers and
//! offsets, row errors, and chunking at every possible byte.

use import_core::csv::{CsvErrorKind, CsvOptions, CsvRowError, CsvStream, CsvSummary, RecordEvent};

/// An owned copy of an event, for comparisons.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Header {
        row: u64,
        offset: u64,
        fields: Vec<String>,
    },
    Row {
        row: u64,
        offset: u64,
        fields: Vec<String>,
    },
    Error(CsvRowError),
}

fn own(event: RecordEvent<'_>) -> Ev {
    match event {
        RecordEvent::Header(r) => Ev::Header {
            row: r.row_number,
            offset: r.byte_offset,
            fields: r.fields.iter().map(|s| s.to_string()).collect(),
        },
        RecordEvent::Row(r) => Ev::Row {
            row: r.row_number,
            offset: r.byte_offset,
            fields: r.fields.iter().map(|s| s.to_string()).collect(),
        },
        RecordEvent::Error(e) => Ev::Error(e),
    }
}

/// Parses `input` fed in the given chunks.
fn parse_chunks(opts: CsvOptions, chunks: &[&[u8]]) -> (Vec<Ev>, CsvSummary) {
    let mut events = Vec::new();
    let mut stream = CsvStream::new(opts);
    let mut out = |e: RecordEvent<'_>| events.push(own(e));
    for chunk in chunks {
        stream.feed(chunk, &mut out);
    }
    let summary = stream.finish(&mut out);
    (events, summary)
}

fn parse(input: &[u8]) -> (Vec<Ev>, CsvSummary) {
    parse_chunks(CsvOptions::default(), &[input])
}

fn strings(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|s| s.to_string()).collect()
}

fn header(offset: u64, fields: &[&str]) -> Ev {
    Ev::Header {
        row: 0,
        offset,
        fields: strings(fields),
    }
}

fn row(row: u64, offset: u64, fields: &[&str]) -> Ev {
    Ev::Row {
        row,
        offset,
        fields: strings(fields),
    }
}

#[test]
fn header_then_numbered_rows_with_offsets() {
    let input = b"email,name\na@x.io,Ann\nb@x.io,Bob\n";
    let (events, summary) = parse(input);
    assert_eq!(
        events,
        vec![
            header(0, &["email", "name"]),
            row(1, 11, &["a@x.io", "Ann"]),
            row(2, 22, &["b@x.io", "Bob"]),
        ]
    );
    assert_eq!(
        summary,
        CsvSummary {
            has_header: true,
            data_rows: 2,
            bytes: input.len() as u64
        }
    );
}

#[test]
fn rfc4180_quoting_doubled_quotes_and_quoted_delimiters() {
    let (events, _) = parse(b"a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"\"\n");
    assert_eq!(
        events,
        vec![
            header(0, &["a", "b", "c"]),
            row(1, 6, &["x, y", "say \"hi\"", ""]),
        ]
    );
}

#[test]
fn quoted_newlines_stay_in_the_field_and_do_not_start_a_row() {
    let input = b"id,note\r\n1,\"line one\r\nline two\nline three\"\r\n2,plain\r\n";
    let (events, summary) = parse(input);
    assert_eq!(
        events,
        vec![
            header(0, &["id", "note"]),
            row(1, 9, &["1", "line one\r\nline two\nline three"]),
            row(2, 44, &["2", "plain"]),
        ]
    );
    assert_eq!(summary.data_rows, 2);
}

#[test]
fn crlf_lf_and_cr_line_endings() {
    let (events, _) = parse(b"a,b\r\n1,2\n3,4\r5,6");
    assert_eq!(
        events,
        vec![
            header(0, &["a", "b"]),
            row(1, 5, &["1", "2"]),
            row(2, 9, &["3", "4"]),
            row(3, 13, &["5", "6"]),
        ]
    );
}

#[test]
fn utf8_bom_is_stripped_and_counted_in_offsets() {
    let (events, summary) = parse(b"\xEF\xBB\xBFemail,name\nann@x.io,Ann\n");
    assert_eq!(
        events,
        vec![
            header(3, &["email", "name"]),
            row(1, 14, &["ann@x.io", "Ann"])
        ]
    );
    assert_eq!(summary.bytes, 27);
}

#[test]
fn bom_split_across_one_byte_chunks_is_still_stripped() {
    let input = b"\xEF\xBB\xBFemail\nann@x.io\n";
    let chunks: Vec<&[u8]> = input.chunks(1).collect();
    let (events, _) = parse_chunks(CsvOptions::default(), &chunks);
    assert_eq!(
        events,
        vec![header(3, &["email"]), row(1, 9, &["ann@x.io"])]
    );
}

#[test]
fn a_bom_later_in_the_file_is_data() {
    let (events, _) = parse(b"a\n\xEF\xBB\xBFx\n");
    assert_eq!(events, vec![header(0, &["a"]), row(1, 2, &["\u{FEFF}x"])]);
}

#[test]
fn only_the_first_bom_is_stripped_however_the_file_is_chunked() {
    // csv_core strips a mark from the first bytes it reads when they come
    // in one call: a second mark used to vanish when the file arrived
    // whole and stay when it arrived in small chunks, and one after
    // leading blank lines vanished too.
    for (input, offset) in [
        (&b"\xEF\xBB\xBF\xEF\xBB\xBFa,b\n1,2\n"[..], 3),
        (b"\n\xEF\xBB\xBFa,b\n1,2\n", 1),
        (b"\xEF\xBB\xBF\r\n\xEF\xBB\xBFa,b\n1,2\n", 5),
    ] {
        for n in 1..=input.len() {
            let chunks: Vec<&[u8]> = input.chunks(n).collect();
            let (events, _) = parse_chunks(CsvOptions::default(), &chunks);
            assert_eq!(
                events,
                vec![
                    header(offset, &["\u{FEFF}a", "b"]),
                    row(1, offset + 7, &["1", "2"])
                ],
                "{input:?} in {n}-byte chunks"
            );
        }
    }
}

#[test]
fn a_bom_prefix_that_is_not_a_bom_is_kept_as_data() {
    // 0xEF 0xBB then 'a': not a BOM, and not UTF-8 either.
    let (events, _) = parse_chunks(CsvOptions::default(), &[b"\xEF", b"\xBBa,b\n1,2\n"]);
    match &events[0] {
        Ev::Error(e) => {
            assert_eq!(e.row_number, 0);
            assert_eq!(e.byte_offset, 0);
            assert!(matches!(
                e.kind,
                CsvErrorKind::InvalidUtf8 {
                    field_index: 0,
                    byte: 0xEF,
                    position: 0
                }
            ));
            assert_eq!(e.fields, strings(&["\u{FFFD}a", "b"]));
        }
        other => panic!("expected a header error, got {other:?}"),
    }
    assert_eq!(events[1], row(1, 6, &["1", "2"]));
}

#[test]
fn a_file_shorter_than_a_bom_is_read() {
    let (events, summary) = parse_chunks(CsvOptions::default(), &[b"a"]);
    assert_eq!(events, vec![header(0, &["a"])]);
    assert_eq!(summary.data_rows, 0);
    let (events, _) = parse_chunks(CsvOptions::default(), &[b"\xEF\xBB\xBF"]);
    assert_eq!(events, vec![]);
}

#[test]
fn empty_file_yields_nothing() {
    let (events, summary) = parse(b"");
    assert!(events.is_empty());
    assert_eq!(
        summary,
        CsvSummary {
            has_header: false,
            data_rows: 0,
            bytes: 0
        }
    );
    let (events, summary) = parse(b"\r\n\n\n");
    assert!(events.is_empty());
    assert!(!summary.has_header);
    assert_eq!(summary.bytes, 4);
}

#[test]
fn header_only_with_and_without_final_newline() {
    for input in [&b"email,name"[..], b"email,name\n", b"email,name\r\n\r\n"] {
        let (events, summary) = parse(input);
        assert_eq!(events, vec![header(0, &["email", "name"])], "{input:?}");
        assert!(summary.has_header);
        assert_eq!(summary.data_rows, 0);
    }
}

#[test]
fn blank_lines_are_skipped_and_not_counted() {
    let (events, summary) = parse(b"a,b\n\n1,2\r\n\r\n\n3,4\n\n");
    assert_eq!(
        events,
        vec![
            header(0, &["a", "b"]),
            row(1, 5, &["1", "2"]),
            row(2, 13, &["3", "4"]),
        ]
    );
    assert_eq!(summary.data_rows, 2);
}

#[test]
fn last_record_without_line_break_is_reported_by_finish() {
    let mut stream = CsvStream::default();
    let mut events = Vec::new();
    stream.feed(b"a,b\n1,2", &mut |e| events.push(own(e)));
    assert_eq!(events, vec![header(0, &["a", "b"])]);
    let summary = stream.finish(&mut |e| events.push(own(e)));
    assert_eq!(events[1], row(1, 4, &["1", "2"]));
    assert_eq!(summary.data_rows, 1);
    // finish is idempotent and feed after it is ignored.
    stream.feed(b"\n3,4\n", &mut |e| events.push(own(e)));
    assert_eq!(stream.finish(&mut |e| events.push(own(e))), summary);
    assert_eq!(events.len(), 2);
}

#[test]
fn rows_of_the_wrong_width_are_errors_and_the_stream_goes_on() {
    let (events, summary) = parse(b"a,b,c\n1,2,3\n1,2\n1,2,3,4\n,,\n");
    assert_eq!(events[1], row(1, 6, &["1", "2", "3"]));
    assert_eq!(
        events[2],
        Ev::Error(CsvRowError {
            row_number: 2,
            byte_offset: 12,
            kind: CsvErrorKind::WrongWidth {
                expected: 3,
                found: 2
            },
            fields: strings(&["1", "2"]),
        })
    );
    assert!(matches!(
        &events[3],
        Ev::Error(CsvRowError {
            row_number: 3,
            kind: CsvErrorKind::WrongWidth {
                expected: 3,
                found: 4
            },
            ..
        })
    ));
    assert_eq!(events[4], row(4, 24, &["", "", ""]));
    assert_eq!(summary.data_rows, 4);
}

#[test]
fn invalid_utf8_is_a_row_error_naming_the_field() {
    let (events, _) = parse(b"name,city\nJos\xE9,Paris\nAnn,Z\xFCrich\nBob,Oslo\n");
    assert_eq!(
        events[1],
        Ev::Error(CsvRowError {
            row_number: 1,
            byte_offset: 10,
            kind: CsvErrorKind::InvalidUtf8 {
                field_index: 0,
                byte: 0xE9,
                position: 3
            },
            fields: strings(&["Jos\u{FFFD}", "Paris"]),
        })
    );
    assert!(matches!(
        &events[2],
        Ev::Error(CsvRowError {
            row_number: 2,
            kind: CsvErrorKind::InvalidUtf8 {
                field_index: 1,
                byte: 0xFC,
                position: 1
            },
            ..
        })
    ));
    assert_eq!(events[3], row(3, 32, &["Bob", "Oslo"]));
}

#[test]
fn a_utf8_sequence_cut_by_a_delimiter_is_invalid_even_though_the_bytes_join_up() {
    // "é" is C3 A9; here the delimiter falls between its two bytes, so the
    // concatenated field bytes are valid UTF-8 but neither field is.
    let (events, _) = parse(b"a,b\n\xC3,\xA9\n");
    assert!(matches!(
        &events[1],
        Ev::Error(CsvRowError {
            row_number: 1,
            kind: CsvErrorKind::InvalidUtf8 { field_index: 0, .. },
            ..
        })
    ));
}

#[test]
fn multibyte_text_is_kept_intact() {
    let (events, _) = parse("name,city\nZoë,Zürich\n李,東京\n".as_bytes());
    assert_eq!(events[1], row(1, 10, &["Zoë", "Zürich"]));
    assert_eq!(events[2], row(2, 23, &["李", "東京"]));
}

#[test]
fn configurable_delimiter() {
    let (events, _) = parse_chunks(CsvOptions::with_delimiter(b';'), &[b"a;b\n\"1;5\";2,5\n"]);
    assert_eq!(
        events,
        vec![header(0, &["a", "b"]), row(1, 4, &["1;5", "2,5"])]
    );
    let (events, _) = parse_chunks(CsvOptions::with_delimiter(b'\t'), &[b"a\tb\nx y\tz\n"]);
    assert_eq!(
        events,
        vec![header(0, &["a", "b"]), row(1, 4, &["x y", "z"])]
    );
}

#[test]
fn a_wrong_delimiter_gives_one_column() {
    let (events, _) = parse(b"email;name\nann@x.io;Ann\n");
    assert_eq!(
        events,
        vec![header(0, &["email;name"]), row(1, 11, &["ann@x.io;Ann"])]
    );
}

#[test]
fn one_megabyte_single_field() {
    let big = "x".repeat(1 << 20);
    let input = format!("id,blob\n1,\"{big}\"\n2,small\n");
    let (events, _) = parse(input.as_bytes());
    match &events[1] {
        Ev::Row { row, fields, .. } => {
            assert_eq!(*row, 1);
            assert_eq!(fields[1].len(), 1 << 20);
            assert!(fields[1].bytes().all(|b| b == b'x'));
        }
        other => panic!("expected the big row, got {other:?}"),
    }
    assert_eq!(
        events[2],
        row(2, 8 + 2 + 2 + (1 << 20) + 1, &["2", "small"])
    );
    // The same in 4 KiB chunks.
    let chunks: Vec<&[u8]> = input.as_bytes().chunks(4096).collect();
    let (chunked, _) = parse_chunks(CsvOptions::default(), &chunks);
    assert_eq!(chunked, events);
}

#[test]
fn a_record_over_the_limit_is_skipped_as_an_error() {
    let opts = CsvOptions {
        max_record_bytes: 16,
        ..CsvOptions::default()
    };
    // An unclosed quote swallows the rest of the file.
    let input = format!("a,b\n1,2\n3,\"{}\n4,5\n", "y".repeat(100));
    let (events, summary) = parse_chunks(opts, &[input.as_bytes()]);
    assert_eq!(events[1], row(1, 4, &["1", "2"]));
    assert_eq!(
        events[2],
        Ev::Error(CsvRowError {
            row_number: 2,
            byte_offset: 8,
            kind: CsvErrorKind::RecordTooLarge { limit: 16 },
            fields: vec![],
        })
    );
    assert_eq!(events.len(), 3);
    assert_eq!(summary.data_rows, 2);

    // A long record that does end is skipped, and the next one is read.
    let input = format!("a,b\n1,{}\n3,4\n", "z".repeat(40));
    let chunks: Vec<&[u8]> = input.as_bytes().chunks(3).collect();
    let (events, _) = parse_chunks(opts, &chunks);
    assert!(matches!(
        &events[1],
        Ev::Error(CsvRowError {
            row_number: 1,
            kind: CsvErrorKind::RecordTooLarge { limit: 16 },
            ..
        })
    ));
    assert_eq!(events[2], row(2, 47, &["3", "4"]));
}

#[test]
fn a_record_of_exactly_the_limit_is_read_and_one_byte_more_is_not() {
    // csv_core stops when its output is full, before it sees whether the
    // record ends there: a record of exactly the limit was once reported
    // too large when a line break followed it (and read when it ended the
    // file).
    let opts = CsvOptions {
        max_record_bytes: 5,
        ..CsvOptions::default()
    };
    for input in [
        &b"\xE2\x82\xACaa\r"[..],
        b"\xE2\x82\xACaa",
        b"ab,cde\n",
        b"\"ab\"\"cd\"\n",
    ] {
        for n in 1..=input.len() {
            let chunks: Vec<&[u8]> = input.chunks(n).collect();
            let (events, _) = parse_chunks(opts, &chunks);
            assert!(
                matches!(&events[..], [Ev::Header { .. }]),
                "{input:?} in {n}-byte chunks: {events:?}"
            );
        }
    }
    for input in [&b"abcdef\n"[..], b"abcdef", b"ab,cdef\n", b"\"ab\"\"cde\""] {
        for n in 1..=input.len() {
            let chunks: Vec<&[u8]> = input.chunks(n).collect();
            let (events, _) = parse_chunks(opts, &chunks);
            assert_eq!(
                events,
                vec![Ev::Error(CsvRowError {
                    row_number: 0,
                    byte_offset: 0,
                    kind: CsvErrorKind::RecordTooLarge { limit: 5 },
                    fields: vec![],
                })],
                "{input:?} in {n}-byte chunks"
            );
        }
    }
    // A limit of 0 reads only records without a byte of data.
    let zero = CsvOptions {
        max_record_bytes: 0,
        ..CsvOptions::default()
    };
    let (events, _) = parse_chunks(zero, &[b"\"\"\n,\na\n"]);
    assert_eq!(events[0], header(0, &[""]));
    assert!(matches!(
        &events[1],
        Ev::Error(CsvRowError {
            kind: CsvErrorKind::WrongWidth { .. },
            ..
        })
    ));
    assert!(matches!(
        &events[2],
        Ev::Error(CsvRowError {
            kind: CsvErrorKind::RecordTooLarge { .. },
            ..
        })
    ));
}

#[test]
fn a_limit_of_no_fields_refuses_every_record_however_it_is_read() {
    // A quote-free data record without a delimiter once passed as a row
    // (the shortcut checked the limit at delimiters only), while csv_core
    // refused the same record with a quote in it.
    let opts = CsvOptions {
        max_fields: 0,
        ..CsvOptions::default()
    };
    let (events, _) = parse_chunks(opts, &[b"xyza\r\na\r\"c\"\n"]);
    assert_eq!(events.len(), 3);
    for (row, event) in events.iter().enumerate() {
        assert!(
            matches!(
                event,
                Ev::Error(CsvRowError {
                    kind: CsvErrorKind::TooManyFields { limit: 0, found: 1 },
                    ..
                })
            ),
            "row {row}: {event:?}"
        );
    }
}

#[test]
fn many_fields_in_one_record() {
    let n = 1000;
    let header_line: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let input = format!("{}\n{}\n", header_line.join(","), vec!["v"; n].join(","));
    let (events, _) = parse(input.as_bytes());
    match &events[1] {
        Ev::Row { fields, .. } => assert_eq!(fields.len(), n),
        other => panic!("expected a row, got {other:?}"),
    }
}

/// A file exercising everything chunking can break: BOM, quotes, doubled
/// quotes, quoted CRLF, CR/LF/CRLF, multibyte and invalid UTF-8, a wrong-width
/// row, blank lines and no final newline.
const TRICKY: &[u8] = b"\xEF\xBB\xBFid,\"na,me\",note\r\n\
1,\"Zo\xC3\xAB \"\"Z\"\"\",\"a\r\nb\"\r\n\
\r\n\
2,\xE6\x9D\x8E,\"\"\n\
3,bad\xFF,x\r\
4,short\n\
5,last,\"end\"";

#[test]
fn chunk_boundaries_at_every_byte_give_the_same_events() {
    let (whole, whole_summary) = parse(TRICKY);
    assert_eq!(
        whole[0],
        header(3, &["id", "na,me", "note"]),
        "sanity: the header"
    );
    assert_eq!(whole[1], row(1, 20, &["1", "Zoë \"Z\"", "a\r\nb"]));
    assert_eq!(whole[2], row(2, 45, &["2", "李", ""]));
    assert!(matches!(
        &whole[3],
        Ev::Error(CsvRowError {
            row_number: 3,
            kind: CsvErrorKind::InvalidUtf8 { field_index: 1, .. },
            ..
        })
    ));
    assert!(matches!(
        &whole[4],
        Ev::Error(CsvRowError {
            row_number: 4,
            kind: CsvErrorKind::WrongWidth {
                expected: 3,
                found: 2
            },
            ..
        })
    ));
    assert_eq!(whole[5], row(5, 71, &["5", "last", "end"]));
    assert_eq!(whole.len(), 6);

    for split in 0..=TRICKY.len() {
        let (a, b) = TRICKY.split_at(split);
        let (events, summary) = parse_chunks(CsvOptions::default(), &[a, b]);
        assert_eq!(events, whole, "split at byte {split}");
        assert_eq!(summary, whole_summary, "split at byte {split}");
    }
    for size in 1..=7 {
        let chunks: Vec<&[u8]> = TRICKY.chunks(size).collect();
        let (events, _) = parse_chunks(CsvOptions::default(), &chunks);
        assert_eq!(events, whole, "chunks of {size} bytes");
    }
    // Every pair of split points (three chunks).
    for i in 0..=TRICKY.len() {
        for j in i..=TRICKY.len() {
            let (events, _) = parse_chunks(
                CsvOptions::default(),
                &[&TRICKY[..i], &TRICKY[i..j], &TRICKY[j..]],
            );
            assert_eq!(events, whole, "splits at {i} and {j}");
        }
    }
}

#[test]
fn row_errors_do_not_disturb_the_numbering_of_later_rows() {
    let mut input = String::from("a,b\n");
    for i in 1..=100 {
        if i % 10 == 0 {
            input.push_str("only-one\n");
        } else {
            input.push_str(&format!("{i},x\n"));
        }
    }
    let (events, summary) = parse(input.as_bytes());
    assert_eq!(summary.data_rows, 100);
    for (i, event) in events.iter().enumerate().skip(1) {
        match event {
            Ev::Row { row, fields, .. } => {
                assert_eq!(*row, i as u64);
                assert_eq!(fields[0], i.to_string());
            }
            Ev::Error(e) => {
                assert_eq!(e.row_number, i as u64);
                assert_eq!(i % 10, 0);
            }
            Ev::Header { .. } => panic!("second header"),
        }
    }
}

#[test]
fn random_input_in_random_chunks_never_panics_and_matches_one_chunk() {
    // Deterministic xorshift; an alphabet rich in the bytes that matter.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: &[u8] = b"ab,,\"\"\r\n\n\xC3\xA9\xFF\xEF\xBB\xBF ";
    for case in 0..300 {
        let len = (next() % 200) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let (whole, whole_summary) = parse(&input);
        let mut chunks = Vec::new();
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = 1 + (next() % 9) as usize;
            let (a, b) = rest.split_at(n.min(rest.len()));
            chunks.push(a);
            rest = b;
        }
        let (events, summary) = parse_chunks(CsvOptions::default(), &chunks);
        assert_eq!(events, whole, "case {case}: {input:?}");
        assert_eq!(summary, whole_summary, "case {case}");
        assert_eq!(summary.bytes, input.len() as u64);
        // Row numbers are consecutive from the header on.
        for (i, e) in whole.iter().enumerate() {
            let n = match e {
                Ev::Header { row, .. } | Ev::Row { row, .. } => *row,
                Ev::Error(err) => err.row_number,
            };
            assert_eq!(n, i as u64, "case {case}");
        }
    }
}

#[test]
fn a_quote_never_closed_is_an_error_not_a_value_holding_the_rest_of_the_file() {
    let input = b"a,b\n1,2\n3,\"x\n4,5\n";
    for size in [1, 2, 5, input.len()] {
        let chunks: Vec<&[u8]> = input.chunks(size).collect();
        let (events, summary) = parse_chunks(CsvOptions::default(), &chunks);
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[1], row(1, 4, &["1", "2"]));
        assert_eq!(
            events[2],
            Ev::Error(CsvRowError {
                row_number: 2,
                byte_offset: 8,
                kind: CsvErrorKind::UnterminatedQuote,
                fields: vec![],
            })
        );
        assert_eq!(summary.data_rows, 2);
        assert_eq!(summary.bytes, input.len() as u64);
    }
    // Closed quotes at the very end, with or without a line break, and a
    // quote inside an unquoted value, are ordinary records.
    for input in [
        &b"a,b\n1,\"x\"\n"[..],
        b"a,b\n1,\"x\"",
        b"a,b\n1,\"x\"\"\"",
        b"a,b\n1,x\"y",
    ] {
        let (events, summary) = parse(input);
        assert!(
            matches!(events[1], Ev::Row { row: 1, .. }),
            "{input:?}: {events:?}"
        );
        assert_eq!(summary.bytes, input.len() as u64);
    }
    // An unclosed quote in the header.
    let (events, _) = parse(b"a,\"b\n1,2\n");
    assert!(matches!(
        &events[0],
        Ev::Error(CsvRowError {
            row_number: 0,
            kind: CsvErrorKind::UnterminatedQuote,
            ..
        })
    ));
}
