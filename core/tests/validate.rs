//! The row rules: one test per cell of the mode table in
//! `import_core::validate`'s documentation, then the header checks, the
//! accepted forms per type, keys, and the messages.

use import_core::csv::{CsvStream, RecordEvent};
use import_core::rules::{DataType, ImportMode};
use import_core::validate::{
    accepts, check_value, HeaderError, Mapping, RowError, RowValidator, Stored, ValidRow, Value,
    ValueError, EXTRA_COLUMN, INVALID_ENCODING, REQUIRED_FIELD_MISSING, ROW_MALFORMED,
    VALIDATION_TYPE_MISMATCH,
};
use import_core::wire::MappingRequest;
use indexmap::IndexMap;

use ImportMode::{Balanced, LandingFriendly as Landing, Strict};

/// The mapping example of the spec, verbatim.
const SPEC_MAPPING: &str = include_str!("../../tests/fixtures/spec-mapping.json");

/// Source column, declared type, destination field, a valid value.
const COLUMNS: &[(&str, DataType, &str, &str)] = &[
    ("email_address", DataType::Email, "email", "ann@example.com"),
    ("first_name", DataType::String, "first_name", "Ann"),
    ("age", DataType::Integer, "age", "42"),
    ("score", DataType::Number, "score", "3.5"),
    ("active", DataType::Boolean, "is_active", "true"),
    ("birthday", DataType::Date, "birthday", "1990-04-21"),
    (
        "signup_ts",
        DataType::Datetime,
        "signed_up_at",
        "2026-04-21T10:00:00Z",
    ),
    (
        "alt_email",
        DataType::Email,
        "secondary_email",
        "ann@work.example",
    ),
    ("phone", DataType::Phone, "phone", "+14155550123"),
    ("website", DataType::Url, "website", "https://example.com"),
];

fn source_fields() -> IndexMap<String, DataType> {
    COLUMNS
        .iter()
        .map(|(c, t, _, _)| (c.to_string(), *t))
        .collect()
}

fn field_map() -> IndexMap<String, String> {
    COLUMNS
        .iter()
        .map(|(c, _, f, _)| (c.to_string(), f.to_string()))
        .collect()
}

fn header() -> Vec<&'static str> {
    COLUMNS.iter().map(|(c, ..)| *c).collect()
}

fn validator(mode: ImportMode) -> RowValidator {
    let (sf, fm) = (source_fields(), field_map());
    RowValidator::new(&header(), Mapping::new(&sf, &fm), mode, &["email"]).expect("header matches")
}

fn index_of(column: &str) -> usize {
    COLUMNS
        .iter()
        .position(|(c, ..)| *c == column)
        .expect("known column")
}

/// Validates a good row with `column` set to `value`; the column's value.
fn check(mode: ImportMode, column: &str, value: &str) -> Result<Value, RowError> {
    let v = validator(mode);
    let mut fields: Vec<&str> = COLUMNS.iter().map(|(.., ok)| *ok).collect();
    let i = index_of(column);
    fields[i] = value;
    let row = v.validate(7, &fields)?;
    assert_eq!(row.row_number, 7);
    assert_eq!(row.values.len(), COLUMNS.len());
    Ok(row.values[i].clone())
}

#[derive(Debug)]
enum Expect {
    Accept(Value),
    Reject(&'static str),
}
use Expect::{Accept, Reject};

fn int(i: i64) -> Expect {
    Accept(Value::Integer(i))
}
fn num(n: f64) -> Expect {
    Accept(Value::Number(n))
}
fn boolean(b: bool) -> Expect {
    Accept(Value::Boolean(b))
}
fn text(s: &str) -> Expect {
    Accept(Value::String(s.to_string()))
}
fn date(s: &str) -> Expect {
    Accept(Value::Date(s.to_string()))
}
fn datetime(s: &str) -> Expect {
    Accept(Value::Datetime(s.to_string()))
}
const NULL: Expect = Accept(Value::Null);

fn expect(mode: ImportMode, column: &str, value: &str, want: Expect) {
    let got = check(mode, column, value);
    match (&want, &got) {
        (Accept(w), Ok(g)) if w == g => {}
        (Reject(code), Err(e)) if e.code == *code => {
            assert_eq!(e.row_number, 7);
            assert_eq!(e.column.as_deref(), Some(column), "{e:?}");
            assert!(
                e.message.contains(&format!("column \"{column}\"")),
                "message names the column: {}",
                e.message
            );
        }
        _ => panic!("{mode:?} {column}={value:?}: expected {want:?}, got {got:?}"),
    }
}

/// Runs a whole file through the reader and the validator, the way the
/// processor does.
fn run_file(mode: ImportMode, bytes: &[u8]) -> Vec<Result<ValidRow, RowError>> {
    let (sf, fm) = (source_fields(), field_map());
    let mut validator: Option<RowValidator> = None;
    let mut header_names: Vec<String> = Vec::new();
    let mut results = Vec::new();
    let mut stream = CsvStream::default();
    let mut on_event = |event: RecordEvent<'_>| match event {
        RecordEvent::Header(h) => {
            header_names = h.fields.iter().map(|s| s.to_string()).collect();
            validator = Some(
                RowValidator::new(h.fields, Mapping::new(&sf, &fm), mode, &["email"])
                    .expect("header matches"),
            );
        }
        RecordEvent::Row(r) => {
            results.push(validator.as_ref().unwrap().validate(r.row_number, r.fields));
        }
        RecordEvent::Error(e) => results.push(Err(RowError::from_csv(&e, &header_names))),
    };
    stream.feed(bytes, &mut on_event);
    stream.finish(&mut on_event);
    results
}

fn good_line() -> String {
    COLUMNS
        .iter()
        .map(|(.., ok)| *ok)
        .collect::<Vec<_>>()
        .join(",")
}

fn file_with(line: &str) -> Vec<u8> {
    format!("{}\n{}\n{}\n", header().join(","), line, good_line()).into_bytes()
}

// ---------------------------------------------------------------------------
// The mode table, one test per cell.

fn wrong_width(mode: ImportMode) {
    // Through the reader: one field short, then one too many.
    let short = COLUMNS[..COLUMNS.len() - 1]
        .iter()
        .map(|c| c.3)
        .collect::<Vec<_>>()
        .join(",");
    let results = run_file(mode, &file_with(&short));
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(
        (err.row_number, err.code, err.column.as_deref()),
        (1, ROW_MALFORMED, None)
    );
    assert_eq!(
        err.message,
        "row has 9 columns but the header has 10 (values are missing, or a line break inside a value is not quoted)"
    );
    assert!(results[1].is_ok(), "the next row is still read");
    let long = format!("{},extra", good_line());
    let err = run_file(mode, &file_with(&long)).remove(0).unwrap_err();
    assert_eq!(err.code, ROW_MALFORMED);
    assert!(
        err.message.contains("delimiter without quotes"),
        "{}",
        err.message
    );
    // And directly.
    let err = validator(mode).validate(3, &["a", "b"]).unwrap_err();
    assert_eq!((err.row_number, err.code), (3, ROW_MALFORMED));
}
#[test]
fn cell_wrong_width_strict() {
    wrong_width(Strict);
}
#[test]
fn cell_wrong_width_balanced() {
    wrong_width(Balanced);
}
#[test]
fn cell_wrong_width_landing_friendly() {
    wrong_width(Landing);
}

fn invalid_utf8(mode: ImportMode) {
    let mut line = good_line().into_bytes();
    // "Ann" → "An\xE9" (Latin-1 é).
    let at = line.windows(3).position(|w| w == b"Ann").unwrap() + 2;
    line[at] = 0xE9;
    let mut file = format!("{}\n", header().join(",")).into_bytes();
    file.extend_from_slice(&line);
    file.extend_from_slice(format!("\n{}\n", good_line()).as_bytes());
    let results = run_file(mode, &file);
    let err = results[0].as_ref().unwrap_err();
    assert_eq!(err.code, INVALID_ENCODING);
    assert_eq!(err.row_number, 1);
    assert_eq!(err.column.as_deref(), Some("first_name"));
    assert_eq!(
        err.message,
        "column \"first_name\": value is not valid UTF-8 (byte 0xE9 at position 2); save the file as UTF-8"
    );
    assert!(results[1].is_ok());
}
#[test]
fn cell_invalid_utf8_strict() {
    invalid_utf8(Strict);
}
#[test]
fn cell_invalid_utf8_balanced() {
    invalid_utf8(Balanced);
}
#[test]
fn cell_invalid_utf8_landing_friendly() {
    invalid_utf8(Landing);
}

fn with_undeclared_column(mode: ImportMode) -> Result<ValidRow, RowError> {
    let (sf, fm) = (source_fields(), field_map());
    let mut h = header();
    h.push("notes");
    let v = RowValidator::new(&h, Mapping::new(&sf, &fm), mode, &["email"]).unwrap();
    let mut fields: Vec<&str> = COLUMNS.iter().map(|c| c.3).collect();
    fields.push("call back on Monday");
    v.validate(1, &fields)
}
#[test]
fn cell_undeclared_column_strict() {
    let err = with_undeclared_column(Strict).unwrap_err();
    assert_eq!(err.code, EXTRA_COLUMN);
    assert_eq!(err.column.as_deref(), Some("notes"));
    assert_eq!(
        err.message,
        "column \"notes\" is not declared in sourceFields (strict mode rejects rows with undeclared columns: declare it, or remove it from the file)"
    );
}
#[test]
fn cell_undeclared_column_balanced() {
    let row = with_undeclared_column(Balanced).unwrap();
    assert_eq!(
        row.values.len(),
        COLUMNS.len(),
        "the undeclared column is ignored"
    );
}
#[test]
fn cell_undeclared_column_landing_friendly() {
    let row = with_undeclared_column(Landing).unwrap();
    assert_eq!(row.values.len(), COLUMNS.len());
}

#[test]
fn cell_key_empty_strict() {
    expect(Strict, "email_address", "", Reject(REQUIRED_FIELD_MISSING));
}
#[test]
fn cell_key_empty_balanced() {
    expect(
        Balanced,
        "email_address",
        "",
        Reject(REQUIRED_FIELD_MISSING),
    );
    expect(
        Balanced,
        "email_address",
        "   ",
        Reject(REQUIRED_FIELD_MISSING),
    );
}
#[test]
fn cell_key_empty_landing_friendly() {
    expect(
        Landing,
        "email_address",
        " ",
        Reject(REQUIRED_FIELD_MISSING),
    );
}

#[test]
fn cell_other_field_empty_strict() {
    expect(Strict, "first_name", "", Reject(REQUIRED_FIELD_MISSING));
    expect(Strict, "age", "  ", Reject(REQUIRED_FIELD_MISSING));
}
#[test]
fn cell_other_field_empty_balanced() {
    for (column, ..) in &COLUMNS[1..] {
        expect(Balanced, column, "", NULL);
    }
    expect(Balanced, "age", "  ", NULL);
}
#[test]
fn cell_other_field_empty_landing_friendly() {
    for (column, ..) in &COLUMNS[1..] {
        expect(Landing, column, "", NULL);
    }
}

#[test]
fn cell_surrounding_spaces_strict() {
    expect(Strict, "age", " 42", Reject(VALIDATION_TYPE_MISMATCH));
    expect(
        Strict,
        "alt_email",
        "ann@work.example ",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
    expect(
        Strict,
        "birthday",
        " 1990-04-21",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
}
#[test]
fn cell_surrounding_spaces_balanced() {
    expect(Balanced, "age", " 42 ", int(42));
    expect(
        Balanced,
        "alt_email",
        " ann@work.example",
        text("ann@work.example"),
    );
    expect(Balanced, "birthday", "1990-04-21\t", date("1990-04-21"));
}
#[test]
fn cell_surrounding_spaces_landing_friendly() {
    expect(Landing, "age", " 42 ", int(42));
    expect(Landing, "score", " 2.5", num(2.5));
}

#[test]
fn cell_keyword_case_strict() {
    expect(Strict, "active", "TRUE", Reject(VALIDATION_TYPE_MISMATCH));
    expect(Strict, "active", "False", Reject(VALIDATION_TYPE_MISMATCH));
    // RFC 3339 itself allows lower-case t and z.
    expect(
        Strict,
        "signup_ts",
        "2026-04-21t10:00:00z",
        datetime("2026-04-21T10:00:00Z"),
    );
}
#[test]
fn cell_keyword_case_balanced() {
    expect(Balanced, "active", "TRUE", boolean(true));
    expect(Balanced, "active", "False", boolean(false));
    expect(
        Balanced,
        "signup_ts",
        "2026-04-21t10:00:00z",
        datetime("2026-04-21T10:00:00Z"),
    );
}
#[test]
fn cell_keyword_case_landing_friendly() {
    expect(Landing, "active", "TRUE", boolean(true));
}

#[test]
fn cell_integer_forms_strict() {
    for v in ["1.0", "1,234", "+5"] {
        expect(Strict, "age", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_integer_forms_balanced() {
    for v in ["1.0", "1,234", "+5"] {
        expect(Balanced, "age", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_integer_forms_landing_friendly() {
    expect(Landing, "age", "1.0", int(1));
    expect(Landing, "age", "1,234", int(1234));
    expect(Landing, "age", "-1,234,567.00", int(-1_234_567));
    expect(Landing, "age", "+5", int(5));
}

#[test]
fn cell_number_forms_strict() {
    for v in ["1,234.5", ".5", "+5"] {
        expect(Strict, "score", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_number_forms_balanced() {
    for v in ["1,234.5", ".5", "+5"] {
        expect(Balanced, "score", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_number_forms_landing_friendly() {
    expect(Landing, "score", "1,234.5", num(1234.5));
    expect(Landing, "score", ".5", num(0.5));
    expect(Landing, "score", "5.", num(5.0));
    expect(Landing, "score", "+5", num(5.0));
}

const BOOLEAN_SPELLINGS: [(&str, bool); 10] = [
    ("yes", true),
    ("no", false),
    ("Y", true),
    ("n", false),
    ("1", true),
    ("0", false),
    ("t", true),
    ("F", false),
    ("on", true),
    ("OFF", false),
];
#[test]
fn cell_boolean_spellings_strict() {
    for (v, _) in BOOLEAN_SPELLINGS {
        expect(Strict, "active", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_boolean_spellings_balanced() {
    for (v, _) in BOOLEAN_SPELLINGS {
        expect(Balanced, "active", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_boolean_spellings_landing_friendly() {
    for (v, b) in BOOLEAN_SPELLINGS {
        expect(Landing, "active", v, boolean(b));
    }
}

const DATE_FORMS: [&str; 4] = ["04/21/2026", "21.04.2026", "2026/04/21", "4/21/2026"];
#[test]
fn cell_date_forms_strict() {
    for v in DATE_FORMS {
        expect(Strict, "birthday", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_date_forms_balanced() {
    for v in DATE_FORMS {
        expect(Balanced, "birthday", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_date_forms_landing_friendly() {
    for v in DATE_FORMS {
        expect(Landing, "birthday", v, date("2026-04-21"));
    }
    // The documented ambiguity choices.
    expect(Landing, "birthday", "04/05/2026", date("2026-04-05"));
    expect(Landing, "birthday", "04.05.2026", date("2026-05-04"));
    expect(Landing, "birthday", "04-05-2026", NULL);
    expect(
        Landing,
        "birthday",
        "2026-04-21T23:30:00-05:00",
        date("2026-04-21"),
    );
}

#[test]
fn cell_naive_datetime_strict() {
    expect(
        Strict,
        "signup_ts",
        "2026-04-21T10:00:00",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
}
#[test]
fn cell_naive_datetime_balanced() {
    expect(
        Balanced,
        "signup_ts",
        "2026-04-21T10:00:00",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
}
#[test]
fn cell_naive_datetime_landing_friendly() {
    expect(
        Landing,
        "signup_ts",
        "2026-04-21T10:00:00",
        datetime("2026-04-21T10:00:00Z"),
    );
}

const DATETIME_FORMS: [(&str, &str); 5] = [
    ("2026-04-21 10:00", "2026-04-21T10:00:00Z"),
    ("04/21/2026 10:00 AM", "2026-04-21T10:00:00Z"),
    ("04/21/2026 12:05 am", "2026-04-21T00:05:00Z"),
    ("21.04.2026 22:15:30 +0200", "2026-04-21T20:15:30Z"),
    ("2026-04-21 10:00:00.250 UTC", "2026-04-21T10:00:00.250Z"),
];
#[test]
fn cell_datetime_forms_strict() {
    for (v, _) in DATETIME_FORMS {
        expect(Strict, "signup_ts", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_datetime_forms_balanced() {
    for (v, _) in DATETIME_FORMS {
        expect(Balanced, "signup_ts", v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_datetime_forms_landing_friendly() {
    for (v, want) in DATETIME_FORMS {
        expect(Landing, "signup_ts", v, datetime(want));
    }
}

#[test]
fn cell_date_alone_in_datetime_strict() {
    expect(
        Strict,
        "signup_ts",
        "2026-04-21",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
}
#[test]
fn cell_date_alone_in_datetime_balanced() {
    expect(
        Balanced,
        "signup_ts",
        "2026-04-21",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
}
#[test]
fn cell_date_alone_in_datetime_landing_friendly() {
    expect(
        Landing,
        "signup_ts",
        "2026-04-21",
        datetime("2026-04-21T00:00:00Z"),
    );
    expect(
        Landing,
        "signup_ts",
        "04/21/2026",
        datetime("2026-04-21T00:00:00Z"),
    );
}

const NOT_THE_TYPE: [(&str, &str); 12] = [
    ("age", "abc"),
    ("age", "1.5"),
    ("age", "9223372036854775808"),
    ("score", "1e999"),
    ("score", "NaN"),
    ("active", "maybe"),
    ("birthday", "2026-02-30"),
    ("birthday", "2026-13-01"),
    ("signup_ts", "2026-04-21T24:00:00Z"),
    ("alt_email", "not-an-email"),
    ("phone", "555-0123"),
    ("website", "not a url"),
];
#[test]
fn cell_not_the_type_strict() {
    for (column, v) in NOT_THE_TYPE {
        expect(Strict, column, v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_not_the_type_balanced() {
    for (column, v) in NOT_THE_TYPE {
        expect(Balanced, column, v, Reject(VALIDATION_TYPE_MISMATCH));
    }
}
#[test]
fn cell_not_the_type_landing_friendly() {
    for (column, v) in NOT_THE_TYPE {
        expect(Landing, column, v, NULL);
    }
}

#[test]
fn cell_key_not_the_type_strict() {
    expect(
        Strict,
        "email_address",
        "not-an-email",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
}
#[test]
fn cell_key_not_the_type_balanced() {
    expect(
        Balanced,
        "email_address",
        "not-an-email",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
}
#[test]
fn cell_key_not_the_type_landing_friendly() {
    expect(
        Landing,
        "email_address",
        "not-an-email",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
}

#[test]
fn cell_string_spaces_strict() {
    expect(Strict, "first_name", "  Ann ", text("  Ann "));
}
#[test]
fn cell_string_spaces_balanced() {
    expect(Balanced, "first_name", "  Ann ", text("  Ann "));
}
#[test]
fn cell_string_spaces_landing_friendly() {
    expect(Landing, "first_name", "  Ann ", text("Ann"));
}

// ---------------------------------------------------------------------------
// Before the first row: the header.

#[test]
fn a_mapped_column_missing_from_the_header_fails_in_every_mode() {
    let (sf, fm) = (source_fields(), field_map());
    let h: Vec<&str> = header()
        .into_iter()
        .filter(|c| *c != "signup_ts" && *c != "age")
        .collect();
    for mode in [Strict, Balanced, Landing] {
        let err = RowValidator::new(&h, Mapping::new(&sf, &fm), mode, &["email"]).unwrap_err();
        match &err {
            HeaderError::MissingColumns { missing, header } => {
                assert_eq!(missing, &["age".to_string(), "signup_ts".to_string()]);
                assert_eq!(header.len(), COLUMNS.len() - 2);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string().starts_with(
                "the file's header has no columns \"age\", \"signup_ts\" mapped in fieldMap; the header's columns are \"email_address\", "
            ),
            "{err}"
        );
    }
}

#[test]
fn a_wide_header_is_listed_in_part() {
    // 10,000 columns of long names: the message names 20 of them, each
    // shortened, and says how many more there are.
    let (sf, fm) = (source_fields(), field_map());
    let names: Vec<String> = (0..10_000).map(|i| format!("{i:0>200}")).collect();
    let err = RowValidator::new(&names, Mapping::new(&sf, &fm), Balanced, &["email"]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("and 9980 more"), "{msg}");
    assert!(msg.contains(&format!("\"{}…\"", "0".repeat(64))), "{msg}");
    assert!(msg.len() < 3_000, "{} bytes", msg.len());
}

#[test]
fn a_one_column_header_suggests_the_delimiter() {
    let (sf, fm) = (source_fields(), field_map());
    let h = [header().join(";")];
    let err = RowValidator::new(&h, Mapping::new(&sf, &fm), Balanced, &["email"]).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "(one column: is the file delimited by \";\" rather than the delimiter it was read with?)"
        ),
        "{err}"
    );
}

#[test]
fn a_near_miss_column_name_is_pointed_out() {
    let (sf, fm) = (source_fields(), field_map());
    let h: Vec<&str> = header()
        .into_iter()
        .map(|c| if c == "first_name" { "First_Name " } else { c })
        .collect();
    let err = RowValidator::new(&h, Mapping::new(&sf, &fm), Balanced, &["email"]).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "(names must match exactly, case and spaces included: the header has \"First_Name \" for \"first_name\")"
        ),
        "{err}"
    );
}

#[test]
fn an_unmapped_key_field_fails() {
    let sf = source_fields();
    let mut fm = field_map();
    fm.shift_remove("email_address");
    let err =
        RowValidator::new(&header(), Mapping::new(&sf, &fm), Balanced, &["email"]).unwrap_err();
    assert_eq!(
        err,
        HeaderError::KeyNotMapped {
            fields: vec!["email".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "fieldMap maps no column to the key field \"email\", which every row needs; map the column that holds it"
    );
}

#[test]
fn a_mapped_column_twice_in_the_header_fails() {
    let (sf, fm) = (source_fields(), field_map());
    let mut h = header();
    h.push("age");
    let err = RowValidator::new(&h, Mapping::new(&sf, &fm), Balanced, &["email"]).unwrap_err();
    assert_eq!(
        err,
        HeaderError::DuplicateColumn {
            column: "age".into()
        }
    );
    // An unmapped duplicate is harmless.
    let mut h = header();
    h.push("x");
    h.push("x");
    assert!(RowValidator::new(&h, Mapping::new(&sf, &fm), Balanced, &["email"]).is_ok());
}

#[test]
fn columns_are_resolved_by_name_whatever_their_order() {
    let (sf, fm) = (source_fields(), field_map());
    let mut h = header();
    h.reverse();
    let v = RowValidator::new(&h, Mapping::new(&sf, &fm), Strict, &["email"]).unwrap();
    let mut fields: Vec<&str> = COLUMNS.iter().map(|c| c.3).collect();
    fields.reverse();
    let row = v.validate(1, &fields).unwrap();
    assert_eq!(row.values[0], Value::String("ann@example.com".into()));
    assert_eq!(row.values[2], Value::Integer(42));
    assert_eq!(v.fields()[0].index, COLUMNS.len() - 1);
    assert_eq!(v.key_indexes(), &[0]);
}

#[test]
fn append_objects_have_no_key() {
    let (sf, fm) = (source_fields(), field_map());
    let v = RowValidator::new(&header(), Mapping::new(&sf, &fm), Balanced, &[] as &[&str]).unwrap();
    let mut fields: Vec<&str> = COLUMNS.iter().map(|c| c.3).collect();
    fields[0] = "";
    let row = v.validate(1, &fields).unwrap();
    assert_eq!(row.values[0], Value::Null);
    assert!(v.key_indexes().is_empty());
}

// ---------------------------------------------------------------------------
// Keys and destination types.

#[test]
fn email_keys_are_trimmed_and_lower_cased() {
    expect(
        Balanced,
        "email_address",
        " Ann@Example.COM ",
        text("ann@example.com"),
    );
    expect(
        Landing,
        "email_address",
        "Ann@Example.COM",
        text("ann@example.com"),
    );
    expect(
        Strict,
        "email_address",
        "Ann@Example.COM",
        text("ann@example.com"),
    );
    expect(
        Strict,
        "email_address",
        " ann@example.com",
        Reject(VALIDATION_TYPE_MISMATCH),
    );
    // A non-key e-mail keeps its case.
    expect(
        Balanced,
        "alt_email",
        "Ann@Work.Example",
        text("Ann@Work.Example"),
    );
}

#[test]
fn string_keys_are_trimmed_except_in_strict() {
    let sf: IndexMap<String, DataType> =
        [("id".to_string(), DataType::String)].into_iter().collect();
    let fm: IndexMap<String, String> = [("id".to_string(), "customer_id".to_string())]
        .into_iter()
        .collect();
    let build =
        |mode| RowValidator::new(&["id"], Mapping::new(&sf, &fm), mode, &["customer_id"]).unwrap();
    let row = build(Balanced).validate(1, &[" C-17 "]).unwrap();
    assert_eq!(row.values, vec![Value::String("C-17".into())]);
    let err = build(Strict).validate(1, &[" C-17 "]).unwrap_err();
    assert_eq!(err.code, VALIDATION_TYPE_MISMATCH);
    assert_eq!(
        err.message,
        "column \"id\": \" C-17 \" has surrounding spaces (strict mode takes key values exactly as written)"
    );
}

#[test]
fn the_specs_example_a_string_column_mapped_to_an_email_field() {
    // sourceFields declares email_address a string; the destination `email`
    // is an email field, so "not-an-email" is an invalid email.
    let spec: MappingRequest = serde_json::from_str(SPEC_MAPPING).unwrap();
    let sf: IndexMap<String, DataType> = spec
        .source_fields
        .unwrap()
        .into_iter()
        .map(|(column, t)| (column, DataType::parse(&t).unwrap()))
        .collect();
    let fm: IndexMap<String, String> = spec.field_map.unwrap();
    let dest: IndexMap<String, DataType> = [
        ("email".to_string(), DataType::Email),
        ("first_name".to_string(), DataType::String),
        ("signed_up_at".to_string(), DataType::Datetime),
    ]
    .into_iter()
    .collect();
    let h = ["email_address", "FirstName", "signup_ts"];
    let mapping = Mapping::new(&sf, &fm).with_destination_types(&dest);
    let v = RowValidator::new(&h, mapping, Balanced, &["email"]).unwrap();
    assert_eq!(v.fields()[0].data_type, DataType::Email);
    let err = v
        .validate(42, &["not-an-email", "Ann", "2026-04-21T10:00:00Z"])
        .unwrap_err();
    assert_eq!(err.row_number, 42);
    assert_eq!(err.code, VALIDATION_TYPE_MISMATCH);
    assert_eq!(
        err.message,
        "column \"email_address\": invalid email format: \"not-an-email\" has no @"
    );
    let err = v
        .validate(43, &["ann@example.com", "Ann", "2026-04-21 10:00"])
        .unwrap_err();
    assert_eq!(
        err.message,
        "column \"signup_ts\": \"2026-04-21 10:00\" is not a datetime with a timezone (expected e.g. 2026-04-21T10:00:00Z)"
    );
    // Without the destination types, the declared string is taken as text.
    let v = RowValidator::new(&h, Mapping::new(&sf, &fm), Balanced, &["email"]).unwrap();
    let row = v
        .validate(42, &["Not-An-Email", "Ann", "2026-04-21T10:00:00Z"])
        .unwrap();
    assert_eq!(row.values[0], Value::String("Not-An-Email".into()));
}

#[test]
fn a_mapped_column_missing_from_source_fields_is_text_and_undeclared() {
    let sf: IndexMap<String, DataType> =
        [("a".to_string(), DataType::Integer)].into_iter().collect();
    let fm: IndexMap<String, String> = [("a", "x"), ("b", "y")]
        .into_iter()
        .map(|(a, b)| (a.into(), b.into()))
        .collect();
    let v = RowValidator::new(
        &["a", "b"],
        Mapping::new(&sf, &fm),
        Balanced,
        &[] as &[&str],
    )
    .unwrap();
    assert_eq!(
        v.validate(1, &["5", "007"]).unwrap().values,
        vec![Value::Integer(5), Value::String("007".into())]
    );
    let v = RowValidator::new(&["a", "b"], Mapping::new(&sf, &fm), Strict, &[] as &[&str]).unwrap();
    assert_eq!(v.validate(1, &["5", "007"]).unwrap_err().code, EXTRA_COLUMN);
}

// ---------------------------------------------------------------------------
// Accepted forms and normalisation per type.

#[test]
fn integers_cover_the_i64_range() {
    assert_eq!(
        check_value(DataType::Integer, "-9223372036854775808", Strict),
        Ok(Value::Integer(i64::MIN))
    );
    assert_eq!(
        check_value(DataType::Integer, "9223372036854775807", Strict),
        Ok(Value::Integer(i64::MAX))
    );
    let err = check_value(DataType::Integer, "9223372036854775808", Balanced).unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"9223372036854775808\" is out of range for an integer (-9223372036854775808 to 9223372036854775807)"
    );
    assert!(check_value(DataType::Integer, "-", Landing).is_err());
    assert!(check_value(DataType::Integer, "1,23", Landing).is_err());
}

#[test]
fn numbers_are_finite_decimals() {
    assert_eq!(
        check_value(DataType::Number, "-3.75", Strict),
        Ok(Value::Number(-3.75))
    );
    assert_eq!(
        check_value(DataType::Number, "6.02E23", Strict),
        Ok(Value::Number(6.02e23))
    );
    assert_eq!(
        check_value(DataType::Number, "42", Strict),
        Ok(Value::Number(42.0))
    );
    for bad in ["inf", "infinity", "NaN", "1e999", "1.", "1e", "--1", "0x10"] {
        assert!(
            check_value(DataType::Number, bad, Balanced).is_err(),
            "{bad}"
        );
    }
    assert_eq!(
        check_value(DataType::Number, "1e999", Balanced)
            .unwrap_err()
            .to_string(),
        "\"1e999\" is out of range for a number"
    );
}

#[test]
fn dates_must_be_real_calendar_dates() {
    assert_eq!(
        check_value(DataType::Date, "2024-02-29", Strict),
        Ok(Value::Date("2024-02-29".into()))
    );
    assert_eq!(
        check_value(DataType::Date, "2000-02-29", Strict),
        Ok(Value::Date("2000-02-29".into()))
    );
    assert_eq!(
        check_value(DataType::Date, "1900-02-29", Strict)
            .unwrap_err()
            .to_string(),
        "\"1900-02-29\" is not a valid calendar date (February 1900 has 28 days)"
    );
    assert_eq!(
        check_value(DataType::Date, "2026-04-31", Balanced)
            .unwrap_err()
            .to_string(),
        "\"2026-04-31\" is not a valid calendar date (April 2026 has 30 days)"
    );
    assert_eq!(
        check_value(DataType::Date, "2026-13-01", Balanced)
            .unwrap_err()
            .to_string(),
        "\"2026-13-01\" is not a valid calendar date (there is no month 13)"
    );
    assert_eq!(
        check_value(DataType::Date, "02/30/2026", Landing),
        Err(ValueError::Invalid(
            "\"02/30/2026\" is not a date (expected YYYY-MM-DD, e.g. 2026-04-21)".into()
        ))
    );
}

#[test]
fn datetimes_are_normalised_to_utc() {
    let cases = [
        ("2026-04-21T10:00:00Z", "2026-04-21T10:00:00Z"),
        ("2026-04-21T01:30:00+02:00", "2026-04-20T23:30:00Z"),
        ("2026-12-31T22:00:00-05:30", "2027-01-01T03:30:00Z"),
        (
            "2024-02-28T23:59:59.123456789-01:00",
            "2024-02-29T00:59:59.123456789Z",
        ),
        ("2026-04-21T10:00:00-00:00", "2026-04-21T10:00:00Z"),
    ];
    for (input, want) in cases {
        assert_eq!(
            check_value(DataType::Datetime, input, Strict),
            Ok(Value::Datetime(want.into())),
            "{input}"
        );
    }
    for bad in [
        "2026-04-21T10:00:60Z",
        "2026-04-21T10:60:00Z",
        "2026-04-21T10:00:00+24:00",
        "2026-04-21T10:00:00.Z",
        "2026-04-21T10:00:00.1234567890Z",
        "2026-04-21T10:00Z",
        "0000-01-01T00:00:00+01:00",
    ] {
        assert!(
            check_value(DataType::Datetime, bad, Strict).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn emails_get_a_practical_check_with_reasons() {
    let cases = [
        ("ann example.com", "contains a space"),
        ("ann.example.com", "has no @"),
        ("ann@x@example.com", "has more than one @"),
        ("@example.com", "has nothing before the @"),
        ("ann@", "has nothing after the @"),
        ("ann@localhost", "has no dot in the domain after the @"),
        (
            "ann@example..com",
            "has an empty part in the domain (a leading, trailing or doubled dot)",
        ),
    ];
    for (input, why) in cases {
        assert_eq!(
            check_value(DataType::Email, input, Balanced),
            Err(ValueError::Invalid(format!(
                "invalid email format: \"{input}\" {why}"
            ))),
        );
    }
    assert_eq!(
        check_value(DataType::Email, "o'brien+tag@mail.example.co.uk", Strict),
        Ok(Value::String("o'brien+tag@mail.example.co.uk".into()))
    );
}

#[test]
fn phones_and_urls() {
    assert_eq!(
        check_value(DataType::Phone, "+14155550123", Strict),
        Ok(Value::String("+14155550123".into()))
    );
    assert!(check_value(DataType::Phone, "+1 415 555 0123", Balanced).is_err());
    assert_eq!(
        check_value(DataType::Phone, "+1 (415) 555-0123", Landing),
        Ok(Value::String("+14155550123".into()))
    );
    assert_eq!(
        check_value(DataType::Phone, "0044 20 7946 0958", Landing),
        Ok(Value::String("+442079460958".into()))
    );
    assert!(
        check_value(DataType::Phone, "(415) 555-0123", Landing).is_err(),
        "no country code"
    );
    assert!(check_value(DataType::Url, "HTTPS://example.com", Strict).is_err());
    assert!(check_value(DataType::Url, "HTTPS://example.com", Balanced).is_ok());
    assert!(check_value(DataType::Url, "https:///path", Balanced).is_err());
    assert_eq!(
        check_value(DataType::Url, "www.example.com/a?b=c", Landing),
        Ok(Value::String("https://www.example.com/a?b=c".into()))
    );
}

#[test]
fn whitespace_only_is_empty_for_every_type() {
    for mode in [Strict, Balanced, Landing] {
        for t in [
            DataType::String,
            DataType::Integer,
            DataType::Email,
            DataType::Datetime,
        ] {
            assert_eq!(check_value(t, " \t ", mode), Err(ValueError::Empty));
        }
    }
}

// ---------------------------------------------------------------------------
// Messages.

#[test]
fn messages_suggest_the_mode_that_would_accept_a_coercion() {
    let err = check(Balanced, "age", "1,234").unwrap_err();
    assert_eq!(
        err.message,
        "column \"age\": \"1,234\" is not an integer (expected whole digits, e.g. 42); landing_friendly mode would read it as 1234"
    );
    let err = check(Strict, "age", " 42").unwrap_err();
    assert_eq!(
        err.message,
        "column \"age\": \" 42\" has surrounding spaces (strict mode takes values exactly as written)"
    );
    let err = check(Strict, "active", "yes").unwrap_err();
    assert_eq!(
        err.message,
        "column \"active\": \"yes\" is not a boolean (expected true or false); landing_friendly mode would read it as true"
    );
    let err = check(Strict, "active", "TRUE").unwrap_err();
    assert_eq!(
        err.message,
        "column \"active\": \"TRUE\" is not a boolean (expected true or false); balanced mode would read it as true"
    );
    // No suggestion to guess a timezone.
    let err = check(Balanced, "signup_ts", "2026-04-21T10:00:00").unwrap_err();
    assert_eq!(
        err.message,
        "column \"signup_ts\": \"2026-04-21T10:00:00\" is not a datetime with a timezone (expected e.g. 2026-04-21T10:00:00Z)"
    );
}

#[test]
fn empty_field_messages() {
    let err = check(Balanced, "email_address", "").unwrap_err();
    assert_eq!(
        err.message,
        "column \"email_address\" is empty, but it holds the key field \"email\" that every row needs"
    );
    let err = check(Strict, "first_name", "").unwrap_err();
    assert_eq!(
        err.message,
        "column \"first_name\" is empty (strict mode requires a value in every mapped column)"
    );
}

#[test]
fn long_values_are_shortened_in_messages() {
    let long = format!("{}\"\n", "9".repeat(5000));
    let err = check(Balanced, "age", &long).unwrap_err();
    assert!(err.message.len() < 300, "{}", err.message);
    assert!(
        err.message
            .contains(&format!("\"{}…\" (5001 characters)", "9".repeat(60))),
        "{}",
        err.message
    );
}

#[test]
fn validate_into_reuses_the_row() {
    let v = validator(Balanced);
    let fields: Vec<&str> = COLUMNS.iter().map(|c| c.3).collect();
    let mut row = ValidRow::default();
    v.validate_into(1, &fields, &mut row).unwrap();
    let first = row.clone();
    v.validate_into(2, &fields, &mut row).unwrap();
    assert_eq!(row.row_number, 2);
    assert_eq!(row.values, first.values);
    assert_eq!(
        row.values,
        vec![
            Value::String("ann@example.com".into()),
            Value::String("Ann".into()),
            Value::Integer(42),
            Value::Number(3.5),
            Value::Boolean(true),
            Value::Date("1990-04-21".into()),
            Value::Datetime("2026-04-21T10:00:00Z".into()),
            Value::String("ann@work.example".into()),
            Value::String("+14155550123".into()),
            Value::String("https://example.com".into()),
        ]
    );
    assert_eq!(row.values[3].to_string(), "3.5");
    assert_eq!(Value::Null.to_string(), "");
}

#[test]
fn a_too_large_record_becomes_a_malformed_row() {
    use import_core::csv::{CsvErrorKind, CsvRowError};
    let err = RowError::from_csv(
        &CsvRowError {
            row_number: 9,
            byte_offset: 100,
            kind: CsvErrorKind::RecordTooLarge { limit: 1024 },
            fields: vec![],
        },
        &header(),
    );
    assert_eq!(
        (err.row_number, err.code, err.column),
        (9, ROW_MALFORMED, None)
    );
    assert_eq!(
        err.message,
        "row is larger than the 1024-byte limit (a quote that is never closed probably runs on through the rest of the file)"
    );
}

/// `validate_into` reuses the strings of the row it is given: rows checked
/// one after another into one `ValidRow` (valid, rejected, with longer and
/// shorter texts, nulls where texts were) come out exactly as fresh ones.
#[test]
fn a_reused_row_gives_the_same_values_as_fresh_ones() {
    let lines = [
        "ann@example.com,Ann,42,3.5,true,1990-04-21,2026-04-21T10:00:00Z,ann@work.example,+14155550123,https://example.com",
        "BOB@Example.com,Robert Longname,7,1,false,2001-12-31,2026-04-21T23:30:00+02:00,,,",
        "carol@example.com,,,,,,,,,",
        "dave@example.com,D,1,2,yes,2026-02-30,not a time,x,y,z",
        " eve@example.com ,  Eve  , 1 ,2.0,TRUE,04/21/1990,2026-04-21 10:00:00Z,e@x.io,+1 415 555 0123,example.com",
        "frank@example.com,Frank,9,9.5,false,1999-01-01,2026-01-01T00:00:00.123456Z,f@y.io,+4930123456,http://f.example/a",
    ];
    for mode in [
        ImportMode::Strict,
        ImportMode::Balanced,
        ImportMode::LandingFriendly,
    ] {
        let v = validator(mode);
        let mut reused = ValidRow::default();
        for (i, line) in lines.iter().chain(lines.iter().rev()).enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            let row = i as u64 + 1;
            let fresh = v.validate(row, &fields);
            let again = v
                .validate_into(row, &fields, &mut reused)
                .map(|()| reused.clone());
            assert_eq!(again, fresh, "{mode:?}, line {line:?}");
        }
    }
}

/// `check_into` (what a verdict counts with, keeping no values) accepts
/// and rejects every row exactly as `validate_into` does, with the same
/// error, in every mode: each column set in turn to values of every kind
/// (valid, empty, spaced, lenient forms, wrong types, out of range); and
/// `accepts` answers as `check_value` does.
#[test]
fn check_into_and_accepts_give_the_full_checks_answers() {
    let values = [
        "",
        " ",
        "ann@example.com",
        " Ann@Example.com ",
        "ann@",
        "a b@example.com",
        "Ann",
        " Ann ",
        "42",
        " 42 ",
        "1,234",
        "4.0",
        "lots",
        "99999999999999999999",
        "3.5",
        "-3.75e2",
        ".5",
        "true",
        "TRUE",
        "yes",
        "1990-04-21",
        "1990-02-30",
        "04/21/1990",
        "21.04.1990",
        "2026-04-21T10:00:00Z",
        "2026-04-21T10:00:00+02:00",
        "2026-04-21 10:00",
        "2026-04-21T25:00:00Z",
        "+14155550123",
        "(415) 555-0123",
        "https://example.com",
        "example.com",
        "www.example.com/a://b",
        "1e308",
        "1e309",
        "-1E400",
        "0.5e-400",
    ];
    // Numbers at the edge of f64's range: 10^308 (finite) and 2·10^308
    // (infinite) written out, with and without a fraction and a sign.
    let big = |lead: &str, tail: &str| format!("{lead}{}{tail}", "0".repeat(308));
    let edges = [
        big("1", ""),
        big("-1", ".5"),
        big("2", ""),
        big("-2", ".0"),
        big("00", ""),
        big("1,", ""),
    ];
    let values: Vec<&str> = values
        .iter()
        .copied()
        .chain(edges.iter().map(String::as_str))
        .collect();
    let values = values.as_slice();
    // `accepts` (what inference and sniffing count with, building no
    // message) agrees with `check_value` on each value, type and mode.
    for mode in [Strict, Balanced, Landing] {
        for (_, data_type, ..) in COLUMNS {
            for &value in values {
                assert_eq!(
                    accepts(*data_type, value, mode),
                    check_value(*data_type, value, mode).is_ok(),
                    "{mode:?}, {data_type:?}, {value:?}: accepts and check_value disagree"
                );
            }
        }
    }
    let mut scratch = ValidRow::default();
    let mut kept = ValidRow::default();
    let mut compared = 0;
    for mode in [Strict, Balanced, Landing] {
        let v = validator(mode);
        for (i, _) in COLUMNS.iter().enumerate() {
            for &value in values {
                let mut fields: Vec<&str> = COLUMNS.iter().map(|(.., ok)| *ok).collect();
                fields[i] = value;
                let counted = v.check_into(3, &fields, &mut scratch);
                let validated = v.validate_into(3, &fields, &mut kept);
                assert_eq!(
                    counted, validated,
                    "{mode:?}, column {i} = {value:?}: check_into and validate_into disagree"
                );
                compared += 1;
            }
        }
        // A row of the wrong width, and one with a column too many.
        let short = ["a@example.com"];
        assert_eq!(
            v.check_into(4, &short, &mut scratch),
            v.validate_into(4, &short, &mut kept)
        );
    }
    assert_eq!(compared, 3 * COLUMNS.len() * values.len());
    // Both outcomes were exercised.
    let v = validator(Balanced);
    let good: Vec<&str> = COLUMNS.iter().map(|(.., ok)| *ok).collect();
    assert!(v.check_into(1, &good, &mut scratch).is_ok());
    let mut bad = good.clone();
    bad[index_of("age")] = "lots";
    assert!(v.check_into(2, &bad, &mut scratch).is_err());
}

/// `check_each` (what the emulator's processor stores rows with) accepts
/// and rejects every row exactly as `validate_into` does, and hands on, in
/// order, exactly the values `validate_into` keeps: in every mode, with
/// the key on an e-mail, a string and a phone column (keys are trimmed,
/// e-mail keys lower-cased), each column set in turn to values of every
/// kind.
#[test]
fn check_each_hands_on_the_values_validate_into_keeps() {
    let values = [
        "",
        " ",
        "ann@example.com",
        " Ann@Example.com ",
        "ANN@EXAMPLE.COM",
        "Ånn@example.com",
        "ann@",
        "Ann",
        " Ann ",
        "42",
        " 42 ",
        "1,234",
        "lots",
        "3.5",
        "yes",
        "1990-04-21",
        "04/21/1990",
        "2026-04-21T10:00:00+02:00",
        "2026-04-21 10:00",
        "(415) 555-0123",
        " +14155550123 ",
        "example.com",
    ];
    let owned = |v: Stored<'_>| match v {
        Stored::Null => Value::Null,
        Stored::String(s) => Value::String(s.to_string()),
        Stored::Integer(n) => Value::Integer(n),
        Stored::Number(x) => Value::Number(x),
        Stored::Boolean(b) => Value::Boolean(b),
        Stored::Date(s) => Value::Date(s.to_string()),
        Stored::Datetime(s) => Value::Datetime(s.to_string()),
    };
    let (sf, fm) = (source_fields(), field_map());
    let mut scratch = ValidRow::default();
    let mut kept = ValidRow::default();
    let (mut accepted, mut rejected) = (0, 0);
    for key in ["email", "first_name", "phone"] {
        for mode in [Strict, Balanced, Landing] {
            let v = RowValidator::new(&header(), Mapping::new(&sf, &fm), mode, &[key])
                .expect("header matches");
            for (i, _) in COLUMNS.iter().enumerate() {
                for value in values {
                    let mut fields: Vec<&str> = COLUMNS.iter().map(|(.., ok)| *ok).collect();
                    fields[i] = value;
                    let mut handed = Vec::new();
                    let each = v.check_each(5, &fields, &mut scratch, |s| handed.push(owned(s)));
                    let full = v.validate_into(5, &fields, &mut kept);
                    let at = format!("key {key}, {mode:?}, column {i} = {value:?}");
                    assert_eq!(each, full, "{at}: check_each and validate_into disagree");
                    if full.is_ok() {
                        assert_eq!(handed, kept.values, "{at}: different values");
                        accepted += 1;
                    } else {
                        // Only the values before the rejected column.
                        assert!(handed.len() < COLUMNS.len(), "{at}");
                        assert_eq!(handed[..], kept.values[..handed.len()], "{at}");
                        rejected += 1;
                    }
                }
            }
        }
    }
    assert_eq!(accepted + rejected, 3 * 3 * COLUMNS.len() * values.len());
    assert!(
        accepted > 100 && rejected > 100,
        "{accepted} accepted, {rejected} rejected"
    );
}
