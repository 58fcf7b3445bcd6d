//! The verdict on one file (`import_core::verdict`), on its own: the head
//! check, failures and their codes, counters, error lines, and that the
//! chunking of the input changes nothing.

use import_core::rules::ImportMode;
use import_core::verdict::{check_head, FileFailure, FileVerdict, JobRules, NotCsv, Verdict};
use indexmap::IndexMap;

fn map(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rules(mode: ImportMode) -> JobRules {
    let mut r = JobRules::without_schema(
        &map(&[("email", "email"), ("n", "integer")]),
        &map(&[("email", "email"), ("n", "n")]),
        mode,
    );
    r.key_field = Some("email".into());
    r
}

fn verdict(bytes: &[u8], chunk: usize, mode: ImportMode) -> Verdict {
    let mut v = FileVerdict::new(rules(mode), 100);
    for c in bytes.chunks(chunk.max(1)) {
        v.feed(c);
    }
    v.finish()
}

#[test]
fn files_that_are_not_csv_are_named() {
    let cases: [(&[u8], NotCsv); 6] = [
        (b"PK\x03\x04rest", NotCsv::Zip),
        (&[0x1F, 0x8B, 8, 0], NotCsv::Gzip),
        (b"%PDF-1.4", NotCsv::Pdf),
        (&[0xD0, 0xCF, 0x11, 0xE0, 0, 0], NotCsv::Xls),
        (&[0xFF, 0xFE, b'a', 0], NotCsv::Utf16),
        (b"a,b\n1,\0\n", NotCsv::Binary),
    ];
    for (head, what) in cases {
        assert_eq!(check_head(head), Err(FileFailure::NotCsv(what)), "{head:?}");
        // Fed a byte at a time, the verdict is the same.
        let v = verdict(head, 1, ImportMode::Balanced);
        assert_eq!(v.failure, Some(FileFailure::NotCsv(what)));
        assert_eq!(v.tally.read_rows, 0);
    }
    assert_eq!(check_head(b"email,n\na@x.io,1\n"), Ok(()));
    assert_eq!(check_head(b""), Ok(()));
}

#[test]
fn a_nul_byte_after_the_first_8_kib_is_a_row_problem_not_a_binary_file() {
    let mut text = b"email,n\n".to_vec();
    while text.len() < 9000 {
        text.extend_from_slice(b"a@x.io,1\n");
    }
    text.extend_from_slice(b"b@x.io,\0\n");
    let v = verdict(&text, 4096, ImportMode::Balanced);
    assert_eq!(v.failure, None);
    assert_eq!(v.tally.invalid_rows, 1);
    assert_eq!(v.tally.error_summary["VALIDATION_TYPE_MISMATCH"], 1);
}

#[test]
fn failures_carry_a_code_and_the_jobs_message() {
    let cases: [(&[u8], &str, &str); 5] = [
        (b"", "FILE_NO_HEADER", "The file has no header row"),
        (b"\r\n\n", "FILE_NO_HEADER", "The file has no header row"),
        (
            b"mail,n\na@x.io,1\n",
            "HEADER_MISSING_COLUMNS",
            "has no column \"email\"",
        ),
        (
            b"email,n,email\n",
            "HEADER_DUPLICATE_COLUMN",
            "more than once",
        ),
        (
            b"email,\xFF\n",
            "HEADER_NOT_UTF8",
            "not valid UTF-8 (column 2)",
        ),
    ];
    for (bytes, code, words) in cases {
        let v = verdict(bytes, 3, ImportMode::Strict);
        let f = v
            .failure
            .unwrap_or_else(|| panic!("{bytes:?} does not fail"));
        assert_eq!(f.code(), code, "{bytes:?}");
        assert!(f.message().contains(words), "{}", f.message());
        assert_eq!(v.tally.read_rows, 0);
        assert!(v.first_errors.is_empty());
    }
    let mut no_key = rules(ImportMode::Balanced);
    no_key.field_map.shift_remove("email");
    let mut v = FileVerdict::new(no_key, 10);
    v.feed(b"email,n\na@x.io,1\n");
    let f = v.finish().failure.unwrap();
    assert_eq!(f.code(), "KEY_NOT_MAPPED");
    assert!(f.message().starts_with("The file's header does not fit the mapping: fieldMap maps no column to the key field \"email\""));
}

#[test]
fn counters_summary_and_error_lines_follow_the_rules_in_every_mode() {
    let text =
        b"email,n\r\na@x.io,1\r\nbad,2\r\n,3\r\nc@x.io,1.0\r\nd@x.io\r\ne@x.io,\"4\r\n\"\r\n";
    let expect = [
        (ImportMode::Strict, 1, vec![2, 3, 4, 5, 6]),
        (ImportMode::Balanced, 2, vec![2, 3, 4, 5]),
        (ImportMode::LandingFriendly, 3, vec![2, 3, 5]),
    ];
    for (mode, valid, rejected) in expect {
        let whole = verdict(text, text.len(), mode);
        for chunk in [1, 2, 5] {
            assert_eq!(verdict(text, chunk, mode), whole, "{mode} chunk {chunk}");
        }
        assert_eq!(whole.tally.read_rows, 6, "{mode}");
        assert_eq!(whole.tally.valid_rows, valid, "{mode}");
        assert_eq!(whole.tally.invalid_rows, rejected.len() as u64, "{mode}");
        let rows: Vec<u64> = whole.first_errors.iter().map(|e| e.row_number).collect();
        assert_eq!(rows, rejected, "{mode}");
        let summed: u64 = whole.tally.error_summary.values().sum();
        assert_eq!(summed, whole.tally.invalid_rows);
        let short = whole
            .first_errors
            .iter()
            .find(|e| e.row_number == 5)
            .unwrap();
        assert_eq!(short.code.as_deref(), Some("ROW_MALFORMED"));
        assert_eq!(short.source_row.len(), 1);
    }
}

#[test]
fn error_lines_are_kept_only_as_asked_and_a_sample_drops_its_cut_record() {
    let mut text = String::from("email,n\n");
    for i in 0..100 {
        text.push_str(&format!("bad{i},{i}\n"));
    }
    let mut v = FileVerdict::new(rules(ImportMode::Balanced), 3);
    v.feed(text.as_bytes());
    let whole = v.finish();
    assert_eq!(whole.tally.invalid_rows, 100);
    assert_eq!(whole.first_errors.len(), 3);

    let mut v = FileVerdict::new(rules(ImportMode::Balanced), 3);
    v.feed(&text.as_bytes()[..text.len() - 3]);
    let sample = v.finish_sample();
    assert_eq!(sample.tally.read_rows, 99);
    assert_eq!(
        sample.header.as_deref(),
        Some(&["email".to_string(), "n".to_string()][..])
    );
}
