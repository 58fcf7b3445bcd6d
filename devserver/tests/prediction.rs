//! Prediction = verdict: the preflight of `import_core::preflight`, run
//! over a whole file, predicts exactly what the emulator's processor then
//! reports for it. For every file of a corpus and every import mode, the
//! same file goes to a running emulator (create → upload → mapping → start
//! → poll) and through the preflight, side by side, and
//!
//! * `readRows`, `validRows`, `invalidRows` and `errorSummary` of the final
//!   status equal the prediction's;
//! * the first lines of the error file equal `firstErrors`;
//! * a job that fails has the predicted `errorMessage`.
//!
//! The corpus: a BOM, CRLF and LF, quoted delimiters, quotes and line
//! breaks, ragged rows, empty cells, each mode's type edge cases, duplicate
//! keys, invalid UTF-8, an unclosed quote, strict's undeclared columns, an
//! append object, files that fail (binary, UTF-16, empty, blank lines only,
//! a header that does not fit), a semicolon file uploaded normalised, and
//! 1,000,000 generated rows.

mod common;

use std::time::{Duration, Instant};

use common::{error_lines, start_job, Emu};
use import_core::preflight::{
    DialectOverrides, MappingChoice, Normaliser, Preflight, PreflightOptions, Preflighter,
    FIRST_ERRORS,
};
use import_core::rules::ImportMode;
use import_core::wire::{MappingRequest, ObjectSchema};
use indexmap::IndexMap;
use serde_json::{json, Value};

const W: &str = "dev-write";
/// Error lines compared per file (the prediction's default is fewer).
const COMPARED_ERRORS: usize = 50;

async fn emu() -> Emu {
    common::start_processing_with(|_| {}).await
}

async fn schema(emu: &Emu, object: &str) -> ObjectSchema {
    let (s, b) = emu.get(&format!("/metadata/objects/{object}"), W).await;
    assert_eq!(s, 200, "{b}");
    serde_json::from_value(b["data"].clone()).unwrap()
}

fn map(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One corpus file: its bytes and the mapping it is imported with.
struct Case {
    name: &'static str,
    object: &'static str,
    bytes: Vec<u8>,
    source_fields: IndexMap<String, String>,
    field_map: IndexMap<String, String>,
}

fn profiles_case(name: &'static str, bytes: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        object: "profiles",
        bytes: bytes.into(),
        source_fields: map(&[
            ("email", "string"),
            ("first_name", "string"),
            ("phone", "phone"),
            ("signed_up_at", "datetime"),
            ("birth_date", "date"),
            ("loyalty_points", "integer"),
            ("lifetime_value", "number"),
            ("opted_in", "boolean"),
            ("website", "url"),
        ]),
        field_map: map(&[
            ("email", "email"),
            ("first_name", "first_name"),
            ("phone", "phone"),
            ("signed_up_at", "signed_up_at"),
            ("birth_date", "birth_date"),
            ("loyalty_points", "loyalty_points"),
            ("lifetime_value", "lifetime_value"),
            ("opted_in", "opted_in"),
        ]),
    }
}

const HEADER: &str =
    "email,first_name,phone,signed_up_at,birth_date,loyalty_points,lifetime_value,opted_in,website";

/// Every mode's edge cases, one row each, CRLF, behind a BOM.
fn edge_cases() -> Vec<u8> {
    let rows = [
        "ann@example.com,Ann,+14155550123,2026-04-21T10:00:00Z,1990-01-02,10,12.5,true,https://a.io",
        " Bob@Example.COM ,Bob,+44 7700 900123,2026-04-21T10:00:00+02:00,1990-02-29,+5,1e3,TRUE,www.b.io",
        "carol@example.com,,0044 7700 900124,2026-04-21 10:00,04/21/1990,\"1,234\",\".5\",yes,",
        "dave@example.com, Dave ,(415) 555-0123,2026-04-21T10:00:00,21.04.1990,1.0,NaN,1,http://d.io",
        "eve@example.com,Eve,4155550123,2026-04-21,1990/04/21, 7 ,\"1,234.5\",on,HTTPS://E.IO",
        "frank@example.com,Frank,+1 415 555 0125,04/21/2026 10:00 PM,1990-4-2,99999999999999999999,5.,T,e.io",
        "gina@example.com,\"Gina, \"\"G\"\"\",+14155550126,2026-04-21T10:00:00.123456Z,2026-02-30,abc,-0.0,false,ftp://g.io",
        "not-an-email,Hal,+14155550127,2026-04-21T10:00:60Z,1990-01-01,3,3,false,",
        ",Ivy,,,,,,,",
        "   ,Jo,,,,,,,",
        "kim@example.com,\"Kim\r\nLee\",+14155550128,2026-04-21T23:59:59-12:00,2000-02-29,-42,-1.5E-3,False,https://k.io/a?b=c",
        "lee@example.com,Lee,+14155550129,2026-04-21T10:00:00z,1990-01-01,0,0,no,https://l.io",
        "mo@example.com,Mo,+14155550130",
        "nina@example.com,Nina,+14155550131,2026-04-21T10:00:00Z,1990-01-01,1,1,true,https://n.io,extra",
        "ola@example.com,Ola,+0155550132,2026-04-21T10:00:00 UTC,1990-01-01,2,2,n,https://o.io",
    ];
    let mut s = String::from("\u{feff}");
    s.push_str(HEADER);
    s.push_str("\r\n");
    for r in rows {
        s.push_str(r);
        s.push_str("\r\n");
    }
    s.into_bytes()
}

/// Empty cells, blank lines, ragged rows, LF line ends, no final newline.
fn ragged_and_empty() -> Vec<u8> {
    let mut s = format!("{HEADER}\n\n");
    s.push_str("a@x.io,,,,,,,,\n");
    s.push_str("b@x.io,B\n\n\n");
    s.push_str("c@x.io,C,,,,,,,,,,,\n");
    s.push_str(",,,,,,,,\n");
    s.push_str("d@x.io,\"quoted, comma\",,,,,,,\n");
    s.push_str("e@x.io,E,,,,,,,");
    s.into_bytes()
}

/// The same key several times (updates within a file; every row valid).
fn duplicate_keys() -> Vec<u8> {
    let mut s = format!("{HEADER}\r\n");
    for (i, e) in [
        "dup@x.io",
        "DUP@x.io",
        " dup@x.io",
        "other@x.io",
        "dup@x.io",
        "Other@X.io",
    ]
    .iter()
    .enumerate()
    {
        s.push_str(&format!("{e},N{i},,,,{i},,,\r\n"));
    }
    s.into_bytes()
}

/// Invalid UTF-8 in a value and in a later row; an unclosed quote at the end.
fn bad_bytes() -> Vec<u8> {
    let mut b = format!("{HEADER}\n").into_bytes();
    b.extend_from_slice(b"a@x.io,A");
    b.push(0xFF);
    b.extend_from_slice(b",,,,,,,\n");
    b.extend_from_slice(b"b@x.io,B,,,,,,,\n");
    b.extend_from_slice(b"c@x.io,\xC3\x28,,,,,,,\n");
    b.extend_from_slice(b"d@x.io,\"never closed,,,,,,,\ne@x.io,E,,,,,,,\n");
    b
}

/// A header with a column `sourceFields` does not declare (strict rejects
/// every row), and a row of more than 10,000 fields.
fn undeclared_and_wide() -> Vec<u8> {
    let mut s = format!("{HEADER},notes\n");
    s.push_str("a@x.io,A,,,,,,,,n\n");
    s.push_str(&format!("b@x.io{}\n", ",".repeat(12_000)));
    s.push_str("c@x.io,C,,,,,,,,n\n");
    s.into_bytes()
}

fn orders_case() -> Case {
    Case {
        name: "orders (append, duplicate ids)",
        object: "orders",
        bytes: b"order_id,email,amount,currency,ordered_at,quantity,status\n\
            o1,a@x.io,10.5,EUR,2026-04-21T10:00:00Z,1,paid\n\
            o1,a@x.io,10.5,EUR,2026-04-21T10:00:00Z,1,paid\n\
            o2,not-mail,3,USD,2026-04-21T10:00:00Z,2,shipped\n\
            o3,c@x.io,abc,GBP,2026-04-21,x,placed\n\
            ,d@x.io,1,USD,2026-04-21T10:00:00Z,1,paid\n"
            .to_vec(),
        source_fields: map(&[
            ("order_id", "string"),
            ("email", "email"),
            ("amount", "number"),
            ("currency", "string"),
            ("ordered_at", "datetime"),
            ("quantity", "integer"),
            ("status", "string"),
        ]),
        field_map: map(&[
            ("order_id", "order_id"),
            ("email", "email"),
            ("amount", "amount"),
            ("currency", "currency"),
            ("ordered_at", "ordered_at"),
            ("quantity", "quantity"),
            ("status", "status"),
        ]),
    }
}

/// Files the job fails on.
fn failing_cases() -> Vec<Case> {
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend((0..5000u32).map(|i| (i * 31 % 256) as u8));
    let utf16: Vec<u8> = format!("{HEADER}\r\na@x.io,A,,,,,,,\r\n")
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let mut cases = vec![
        profiles_case("zip archive", zip),
        profiles_case("UTF-16 without a BOM", utf16),
        profiles_case("blank lines only", b"\r\n\r\n\n".to_vec()),
        profiles_case(
            "header not UTF-8",
            b"email,first\xFFname\na@x.io,A\n".to_vec(),
        ),
        profiles_case(
            "semicolons read as commas",
            format!("{}\r\na@x.io;A;;;;;;;\r\n", HEADER.replace(',', ";")),
        ),
        profiles_case(
            "mapped column twice",
            format!("{HEADER},email\na@x.io,A,,,,,,,,b@x.io\n"),
        ),
    ];
    let mut no_key = profiles_case("key not mapped", format!("{HEADER}\na@x.io,A,,,,,,,\n"));
    no_key.field_map.shift_remove("email");
    cases.push(no_key);
    cases
}

/// 1,000,000 rows: one in 1,000 with an invalid e-mail, one in 997 with a
/// non-integer, one in 10,007 short.
fn million_rows() -> Vec<u8> {
    let mut s = String::with_capacity(40 << 20);
    s.push_str("email,first_name,loyalty_points,opted_in\n");
    for i in 0..1_000_000u32 {
        if i % 10_007 == 5 {
            s.push_str(&format!("u{i}@example.com,N{i}\n"));
            continue;
        }
        let email = if i % 1000 == 7 {
            format!("u{i}.example.com")
        } else {
            format!("u{i}@example.com")
        };
        let points = if i % 997 == 3 {
            "1.5".to_string()
        } else {
            (i % 5000).to_string()
        };
        s.push_str(&format!("{email},N{i},{points},{}\n", i % 2 == 0));
    }
    s.into_bytes()
}

/// The preflight of `bytes`, fed in 64 KiB chunks (the emulator reads
/// 256 KiB at a time: the chunking must not matter).
fn preflight(case_bytes: &[u8], options: PreflightOptions) -> Preflight {
    let mut p = Preflighter::new(options);
    for chunk in case_bytes.chunks(64 * 1024) {
        p.feed(chunk);
    }
    p.finish()
}

/// Options predicting the verdict on `case`'s bytes uploaded as they are:
/// read with `,`, as the API reads them (a `;` file is sniffed as such,
/// and then predicted as its normalised upload: see the semicolon test).
fn options(schema: &ObjectSchema, case: &Case, mode: ImportMode) -> PreflightOptions {
    PreflightOptions {
        dialect: DialectOverrides {
            delimiter: Some(','),
            ..DialectOverrides::default()
        },
        mapping: Some(MappingChoice {
            source_fields: case.source_fields.clone(),
            field_map: case.field_map.clone(),
        }),
        first_errors: COMPARED_ERRORS,
        ..PreflightOptions::for_schema(schema.clone(), mode)
    }
}

/// A whole job over HTTP: create, upload with one Put Blob, the mapping
/// (sent as written: `fieldMap` order decides which problem of a row is
/// reported, and a `json!` object would sort it), start, poll until it
/// ends. Returns the job id and its final status.
async fn run_job(emu: &Emu, case: &Case, upload: &[u8], mode: ImportMode) -> (String, Value) {
    let id = submit(emu, case, upload, mode).await;
    let status = wait_end(emu, &id).await;
    (id, status)
}

/// Creates, uploads, maps and starts a job; returns its id.
async fn submit(emu: &Emu, case: &Case, upload: &[u8], mode: ImportMode) -> String {
    let create =
        json!({"objectName": case.object, "fileName": "data.csv", "fileSize": upload.len()});
    let (s, b) = emu.post("/import-jobs", W, &create).await;
    assert_eq!(s, 201, "{b}");
    let d = &b["data"];
    let id = d["jobId"].as_str().unwrap().to_string();
    let mut put = emu.http.put(d["uploadUrl"].as_str().unwrap());
    for (k, v) in d["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    let r = put.body(upload.to_vec()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let body = MappingRequest {
        source_fields: Some(case.source_fields.clone()),
        field_map: Some(case.field_map.clone()),
        import_mode: Some(mode.as_str().into()),
        ..MappingRequest::default()
    };
    let r = emu
        .http
        .post(emu.api(&format!("/import-jobs/{id}/mapping")))
        .bearer_auth(W)
        .header("content-type", "application/json")
        .body(serde_json::to_string(&body).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    start_job(emu, W, &id).await;
    id
}

/// Polls a job's status until it ends.
async fn wait_end(emu: &Emu, id: &str) -> Value {
    // Generous: a debug build merges a million rows in tens of seconds.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (s, b) = emu.get(&format!("/import-jobs/{id}"), W).await;
        assert_eq!(s, 200, "{b}");
        let state = b["data"]["state"].as_str().unwrap();
        if state == "completed" || state == "failed" {
            return b["data"].clone();
        }
        assert!(Instant::now() < deadline, "job still {state}: {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `upload` (the bytes the API receives) on the emulator under `mode`
/// and checks the prediction `p` against its verdict.
async fn check(emu: &Emu, case: &Case, upload: &[u8], mode: ImportMode, p: &Preflight) {
    let (id, status) = run_job(emu, case, upload, mode).await;
    verify(emu, case, mode, &id, &status, p).await;
}

/// Checks a finished job's status and error file against the prediction.
async fn verify(emu: &Emu, case: &Case, mode: ImportMode, id: &str, status: &Value, p: &Preflight) {
    let what = format!("{} ({mode})", case.name);
    let pr = &p.prediction;
    if let Some(f) = &pr.failure {
        assert_eq!(
            status["state"], "failed",
            "{what}: predicted {f:?}, got {status}"
        );
        assert_eq!(status["errorMessage"], f.message.as_str(), "{what}");
        assert_eq!(status["readRows"], 0, "{what}");
        return;
    }
    assert_eq!(status["state"], "completed", "{what}: {status}");
    assert_eq!(status["readRows"], pr.read_rows, "{what}");
    assert_eq!(status["validRows"], pr.valid_rows, "{what}");
    assert_eq!(status["invalidRows"], pr.invalid_rows, "{what}");
    assert_eq!(
        status["errorSummary"],
        serde_json::to_value(&pr.error_summary).unwrap(),
        "{what}"
    );
    let lines = if pr.invalid_rows > 0 {
        error_lines(emu, id).await
    } else {
        Vec::new()
    };
    assert_eq!(lines.len() as u64, pr.invalid_rows, "{what}");
    let predicted: Vec<Value> = pr
        .first_errors
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let n = predicted.len();
    assert_eq!(
        n as u64,
        pr.invalid_rows.min(COMPARED_ERRORS as u64),
        "{what}"
    );
    assert_eq!(lines[..n], predicted[..], "{what}");
}

#[tokio::test]
async fn the_whole_file_prediction_equals_the_emulators_verdict_in_every_mode() {
    let emu = emu().await;
    let profiles = schema(&emu, "profiles").await;
    let orders = schema(&emu, "orders").await;
    let mut cases = vec![
        profiles_case("edge cases, BOM, CRLF, quoted line break", edge_cases()),
        profiles_case("ragged rows, empty cells, blank lines", ragged_and_empty()),
        profiles_case("duplicate keys", duplicate_keys()),
        profiles_case("invalid UTF-8, unclosed quote", bad_bytes()),
        profiles_case("undeclared column, 12,000 fields", undeclared_and_wide()),
        profiles_case("header only", format!("{HEADER}\r\n")),
        orders_case(),
    ];
    cases.extend(failing_cases());
    let mut compared = 0;
    let mut failed_jobs = 0;
    for case in &cases {
        let schema = if case.object == "orders" {
            &orders
        } else {
            &profiles
        };
        for mode in ImportMode::ALL {
            let p = preflight(&case.bytes, options(schema, case, mode));
            assert!(!p.sampled);
            check(&emu, case, &case.bytes, mode, &p).await;
            compared += 1;
            failed_jobs += usize::from(p.prediction.failure.is_some());
        }
    }
    assert_eq!(compared, cases.len() * 3);
    // The corpus does exercise both outcomes.
    assert_eq!(failed_jobs, failing_cases().len() * 3);
}

#[tokio::test]
async fn the_prediction_holds_with_the_suggested_mapping() {
    let emu = emu().await;
    let profiles = schema(&emu, "profiles").await;
    let text = "E-Mail Address,First Name,Points,Signup Date,Email consent\r\n\
        ann@example.com,Ann,10,2026-04-21T10:00:00Z,true\r\n\
        bob@example.com,Bob,x,2026-04-21T10:00:00Z,false\r\n\
        bad,Carl,3,2026-04-21,true\r\n";
    for mode in ImportMode::ALL {
        let p = preflight(
            text.as_bytes(),
            PreflightOptions::for_schema(profiles.clone(), mode),
        );
        assert_eq!(p.mapping.field_map["E-Mail Address"], "email");
        assert_eq!(p.mapping.field_map["Email consent"], "opted_in");
        let case = Case {
            name: "suggested mapping",
            object: "profiles",
            bytes: text.as_bytes().to_vec(),
            source_fields: p.mapping.source_fields.clone(),
            field_map: p.mapping.field_map.clone(),
        };
        assert!(p.prediction.first_errors.len() <= FIRST_ERRORS);
        check(&emu, &case, &case.bytes, mode, &p).await;
    }
}

#[tokio::test]
async fn a_semicolon_file_uploaded_normalised_imports_as_predicted() {
    let emu = emu().await;
    let profiles = schema(&emu, "profiles").await;
    let mut text = String::from("\u{feff}email;first_name;lifetime_value;loyalty_points\r\n");
    for i in 0..2000 {
        let email = if i % 101 == 0 {
            format!("u{i}")
        } else {
            format!("u{i}@example.com")
        };
        text.push_str(&format!("{email};\"Name; {i}\";{i}.5;\"{i}\"\r\n\r\n"));
    }
    let case = Case {
        name: "semicolons, normalised on upload",
        object: "profiles",
        bytes: text.clone().into_bytes(),
        source_fields: map(&[
            ("email", "email"),
            ("first_name", "string"),
            ("lifetime_value", "number"),
            ("loyalty_points", "integer"),
        ]),
        field_map: map(&[
            ("email", "email"),
            ("first_name", "first_name"),
            ("lifetime_value", "lifetime_value"),
            ("loyalty_points", "loyalty_points"),
        ]),
    };
    for mode in ImportMode::ALL {
        let sniffed = PreflightOptions {
            dialect: DialectOverrides::default(),
            ..options(&profiles, &case, mode)
        };
        let p = preflight(&case.bytes, sniffed);
        assert_eq!(p.dialect.delimiter, ';');
        assert!(p.needs_normalising);
        let mut n = Normaliser::new(&p.dialect);
        let mut upload = Vec::new();
        for chunk in case.bytes.chunks(1000) {
            n.push(chunk, &mut upload);
        }
        n.finish(&mut upload);
        assert_eq!(p.normalised_size, Some(upload.len() as u64));
        check(&emu, &case, &upload, mode, &p).await;
    }
}

#[tokio::test]
async fn a_million_generated_rows_are_predicted_exactly() {
    let emu = emu().await;
    let profiles = schema(&emu, "profiles").await;
    let case = Case {
        name: "1,000,000 rows",
        object: "profiles",
        bytes: million_rows(),
        source_fields: map(&[
            ("email", "string"),
            ("first_name", "string"),
            ("loyalty_points", "integer"),
            ("opted_in", "boolean"),
        ]),
        field_map: map(&[
            ("email", "email"),
            ("first_name", "first_name"),
            ("loyalty_points", "loyalty_points"),
            ("opted_in", "opted_in"),
        ]),
    };
    // The three jobs run in the emulator while the three preflights run
    // here, on other threads.
    let mut ids = Vec::new();
    for mode in ImportMode::ALL {
        ids.push(submit(&emu, &case, &case.bytes, mode).await);
    }
    let case = std::sync::Arc::new(case);
    let predictions: Vec<_> = ImportMode::ALL
        .iter()
        .map(|&mode| {
            let (case, schema) = (case.clone(), profiles.clone());
            tokio::task::spawn_blocking(move || {
                preflight(&case.bytes, options(&schema, &case, mode))
            })
        })
        .collect();
    for ((mode, id), p) in ImportMode::ALL.into_iter().zip(&ids).zip(predictions) {
        let p = p.await.unwrap();
        assert_eq!(p.prediction.read_rows, 1_000_000);
        // landing_friendly nulls the non-integers instead of rejecting them.
        let least = if mode == ImportMode::LandingFriendly {
            1100
        } else {
            2100
        };
        assert!(
            p.prediction.invalid_rows >= least,
            "{:?}",
            p.prediction.error_summary
        );
        let status = wait_end(&emu, id).await;
        verify(&emu, &case, mode, id, &status, &p).await;
    }
}
