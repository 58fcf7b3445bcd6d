//! The processor over real HTTP: whole jobs run through the emulator
//! (create → upload to the signed URL → mapping → start → poll) to
//! `completed` or `failed`, with exact counters per import mode, upserts
//! within a file and across jobs, append objects, rejected rows in the error
//! file served by its signed URL, and the failure messages.

mod common;

use std::time::Duration;

use common::{
    add_other_workspace, error_lines, errors, ready_job, ready_job_with, records, run,
    start_job as start, wait, Emu, OTHER,
};
use import_devserver::processor;
use rusqlite::OptionalExtension;
use serde_json::{json, Value};

const W: &str = "dev-write";

/// An emulator with its processor running.
async fn emu() -> Emu {
    common::start_processing_with(add_other_workspace).await
}

fn profiles_mapping(mode: &str) -> Value {
    json!({
        "sourceFields": {
            "email": "string", "first_name": "string", "loyalty_points": "integer",
            "opted_in": "boolean", "signup_ts": "datetime"
        },
        "fieldMap": {
            "email": "email", "first_name": "first_name", "loyalty_points": "loyalty_points",
            "opted_in": "opted_in", "signup_ts": "signed_up_at"
        },
        "importMode": mode
    })
}

/// Eleven data rows; what each mode makes of them is listed per row.
const MIXED: &str = "email,first_name,loyalty_points,opted_in,signup_ts\r\n\
ann@example.com,Ann,10,true,2026-04-21T10:00:00Z\r\n\
bob@example.com,Bob,,false,2026-04-21T10:00:00Z\r\n\
carol@example.com,Carol,1.0,true,2026-04-21T10:00:00Z\r\n\
dave@example.com,Dave,5,yes,2026-04-21T10:00:00Z\r\n\
not-an-email,Eve,5,true,2026-04-21T10:00:00Z\r\n\
,Frank,5,true,2026-04-21T10:00:00Z\r\n\
gina@example.com,Gina,7,true,2026-04-21 10:00\r\n\
hal@example.com,Hal,abc,true,2026-04-21T10:00:00Z\r\n\
ivy@example.com,Ivy,3,true\r\n\
 Jo@Example.COM ,Jo, 4 ,TRUE,2026-04-21T10:00:00Z\r\n\
kim@example.com,\"Kim, \"\"K\"\"\r\nLee\",2,false,2026-04-21T10:00:00+02:00\r\n";
// Row: strict / balanced / landing_friendly
//  1 ann   valid / valid / valid
//  2 bob   REQUIRED_FIELD_MISSING (empty) / valid (null) / valid (null)
//  3 carol VALIDATION_TYPE_MISMATCH (1.0) / VTM / valid (1)
//  4 dave  VTM (yes) / VTM / valid (true)
//  5 eve   VTM (key not an email) in every mode
//  6 frank REQUIRED_FIELD_MISSING (empty key) in every mode
//  7 gina  VTM (no timezone) / VTM / valid (UTC)
//  8 hal   VTM (abc) / VTM / valid (null)
//  9 ivy   ROW_MALFORMED (4 fields) in every mode
// 10 jo    VTM (spaces) / valid (trimmed, lower-cased key) / valid
// 11 kim   valid everywhere (quoted comma, quotes and line break)

#[tokio::test]
async fn each_mode_gives_exact_counts_on_the_same_mixed_file() {
    let cases = [
        (
            "strict",
            2,
            json!({"REQUIRED_FIELD_MISSING": 2, "VALIDATION_TYPE_MISMATCH": 6, "ROW_MALFORMED": 1}),
            0.1818,
        ),
        (
            "balanced",
            4,
            json!({"REQUIRED_FIELD_MISSING": 1, "VALIDATION_TYPE_MISMATCH": 5, "ROW_MALFORMED": 1}),
            0.3636,
        ),
        (
            "landing_friendly",
            8,
            json!({"REQUIRED_FIELD_MISSING": 1, "VALIDATION_TYPE_MISMATCH": 1, "ROW_MALFORMED": 1}),
            0.7272,
        ),
    ];
    for (mode, valid, summary, rate) in cases {
        let emu = emu().await;
        let (id, st) = run(
            &emu,
            W,
            "profiles",
            MIXED.as_bytes(),
            profiles_mapping(mode),
        )
        .await;
        assert_eq!(st["state"], "completed", "{mode}: {st}");
        assert_eq!(st["stage"], "merge", "{mode}");
        assert_eq!(st["readRows"], 11, "{mode}");
        assert_eq!(st["rowsTotal"], 11, "{mode}");
        assert_eq!(st["validRows"], valid, "{mode}");
        assert_eq!(st["rowsImported"], valid, "{mode}");
        assert_eq!(st["invalidRows"], 11 - valid, "{mode}");
        assert_eq!(st["rowsRejected"], 11 - valid, "{mode}");
        assert_eq!(st["mergedInserts"], valid, "{mode}");
        assert_eq!(st["mergedUpdates"], 0, "{mode}");
        assert_eq!(st["successRate"], rate, "{mode}");
        let got = st["errorSummary"].as_object().unwrap();
        let want = summary.as_object().unwrap();
        assert_eq!(got.len(), want.len(), "{mode}: {st}");
        for (code, n) in want {
            assert_eq!(&got[code], n, "{mode}: {code} in {st}");
        }
        assert!(st["startedAt"].is_string());
        assert!(st.get("errorMessage").is_none(), "{st}");
        let e = errors(&emu, &id).await;
        assert_eq!(e["errorCount"], 11 - valid, "{mode}: {e}");
        assert!(e["expiresAt"].is_string());
        let n: i64 = records(&emu)
            .query_row("SELECT COUNT(*) FROM obj_profiles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, valid as i64, "{mode}");
        if mode == "landing_friendly" {
            let c = records(&emu);
            let (points, opted): (Option<i64>, Option<i64>) = c
                .query_row(
                    "SELECT loyalty_points, opted_in FROM obj_profiles WHERE email = 'carol@example.com'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((points, opted), (Some(1), Some(1)));
            let hal: Option<i64> = c
                .query_row(
                    "SELECT loyalty_points FROM obj_profiles WHERE email = 'hal@example.com'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(hal, None);
            let gina: String = c
                .query_row(
                    "SELECT signed_up_at FROM obj_profiles WHERE email = 'gina@example.com'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(gina, "2026-04-21T10:00:00Z");
        }
        if mode == "balanced" {
            let c = records(&emu);
            let (jo, kim): (String, String) = (
                c.query_row(
                    "SELECT first_name FROM obj_profiles WHERE email = 'jo@example.com'",
                    [],
                    |r| r.get(0),
                )
                .unwrap(),
                c.query_row(
                    "SELECT first_name FROM obj_profiles WHERE email = 'kim@example.com'",
                    [],
                    |r| r.get(0),
                )
                .unwrap(),
            );
            assert_eq!((jo.as_str(), kim.as_str()), ("Jo", "Kim, \"K\"\r\nLee"));
        }
    }
}

#[tokio::test]
async fn error_file_lists_each_rejected_row_with_its_source_columns() {
    let emu = emu().await;
    let (id, st) = run(
        &emu,
        W,
        "profiles",
        MIXED.as_bytes(),
        profiles_mapping("balanced"),
    )
    .await;
    assert_eq!(st["invalidRows"], 7, "{st}");
    let lines = error_lines(&emu, &id).await;
    let rows: Vec<u64> = lines
        .iter()
        .map(|l| l["rowNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [3, 4, 5, 6, 7, 8, 9]);
    let codes: Vec<&str> = lines.iter().map(|l| l["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "VALIDATION_TYPE_MISMATCH",
            "VALIDATION_TYPE_MISMATCH",
            "VALIDATION_TYPE_MISMATCH",
            "REQUIRED_FIELD_MISSING",
            "VALIDATION_TYPE_MISMATCH",
            "VALIDATION_TYPE_MISMATCH",
            "ROW_MALFORMED",
        ]
    );
    let eve = &lines[2];
    assert_eq!(
        eve["sourceRow"],
        json!({"email": "not-an-email", "first_name": "Eve", "loyalty_points": "5",
               "opted_in": "true", "signup_ts": "2026-04-21T10:00:00Z"})
    );
    assert_eq!(eve["column"], "email");
    assert!(
        eve["error"]
            .as_str()
            .unwrap()
            .contains("invalid email format"),
        "{eve}"
    );
    let carol = &lines[0];
    assert_eq!(carol["column"], "loyalty_points");
    assert!(
        carol["error"].as_str().unwrap().contains("loyalty_points"),
        "{carol}"
    );
    let frank = &lines[3];
    assert_eq!(frank["sourceRow"]["email"], "");
    assert_eq!(frank["column"], "email");
    let ivy = &lines[6];
    assert_eq!(
        ivy["sourceRow"],
        json!({"email": "ivy@example.com", "first_name": "Ivy", "loyalty_points": "3", "opted_in": "true"})
    );
    assert!(ivy.get("column").is_none(), "{ivy}");
    assert!(
        ivy["error"].as_str().unwrap().contains("4 columns"),
        "{ivy}"
    );
}

#[tokio::test]
async fn duplicate_keys_update_within_a_file_and_across_jobs() {
    let emu = emu().await;
    let m1 = json!({
        "sourceFields": {"email": "string", "first_name": "string", "loyalty_points": "integer"},
        "fieldMap": {"email": "email", "first_name": "first_name", "loyalty_points": "loyalty_points"}
    });
    let f1 = b"email,first_name,loyalty_points\n\
ann@example.com,Ann,10\n\
bob@example.com,Bob,20\n \
ANN@example.com ,Annie,\n";
    let (id1, st) = run(&emu, W, "profiles", f1, m1).await;
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(
        (
            &st["readRows"],
            &st["validRows"],
            &st["mergedInserts"],
            &st["mergedUpdates"]
        ),
        (&json!(3), &json!(3), &json!(2), &json!(1)),
        "{st}"
    );
    assert_eq!(st["errorSummary"], Value::Null);
    assert_eq!(st["successRate"], 1.0);
    assert_eq!(errors(&emu, &id1).await, json!({"hasErrors": false}));

    // A second job mapping other fields: unmapped fields are left unchanged.
    let m2 = json!({
        "sourceFields": {"email": "string", "last_name": "string"},
        "fieldMap": {"email": "email", "last_name": "last_name"}
    });
    let f2 = b"email,last_name\nbob@example.com,Builder\ncat@example.com,Cat\n";
    let (_, st) = run(&emu, W, "profiles", f2, m2.clone()).await;
    assert_eq!(
        (&st["mergedInserts"], &st["mergedUpdates"]),
        (&json!(1), &json!(1)),
        "{st}"
    );

    // Another workspace has records of its own: the same key is new there.
    let (_, st) = run(&emu, OTHER, "profiles", f2, m2).await;
    assert_eq!(
        (&st["mergedInserts"], &st["mergedUpdates"]),
        (&json!(2), &json!(0)),
        "{st}"
    );

    let c = records(&emu);
    let row = |email: &str| -> (Option<String>, Option<String>, Option<i64>) {
        c.query_row(
            "SELECT first_name, last_name, loyalty_points FROM obj_profiles \
             WHERE _workspace = 'ws_dev' AND email = ?1",
            [email],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    // The empty cell of the duplicate did not erase Ann's points.
    assert_eq!(
        row("ann@example.com"),
        (Some("Annie".into()), None, Some(10))
    );
    assert_eq!(
        row("bob@example.com"),
        (Some("Bob".into()), Some("Builder".into()), Some(20))
    );
    assert_eq!(row("cat@example.com"), (None, Some("Cat".into()), None));
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM obj_profiles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3 + 2);
}

#[tokio::test]
async fn append_objects_insert_every_row() {
    let emu = emu().await;
    let mapping = json!({
        "sourceFields": {"order_id": "string", "email": "email", "amount": "number",
                         "currency": "string", "ordered_at": "datetime"},
        "fieldMap": {"order_id": "order_id", "email": "email", "amount": "amount",
                     "currency": "currency", "ordered_at": "ordered_at"}
    });
    let csv = b"order_id,email,amount,currency,ordered_at\n\
o-1,ann@example.com,10.5,USD,2026-04-21T10:00:00Z\n\
o-1,ann@example.com,10.5,USD,2026-04-21T10:00:00Z\n\
o-2,bob@example.com,3,EUR,2026-04-22T10:00:00Z\n\
o-3,bob@example.com,lots,EUR,2026-04-22T10:00:00Z\n";
    for round in 1..=2 {
        let (_, st) = run(&emu, W, "orders", csv, mapping.clone()).await;
        assert_eq!(st["state"], "completed", "{st}");
        assert_eq!(
            (&st["readRows"], &st["validRows"], &st["invalidRows"]),
            (&json!(4), &json!(3), &json!(1)),
            "{st}"
        );
        assert_eq!(
            (&st["mergedInserts"], &st["mergedUpdates"]),
            (&json!(3), &json!(0)),
            "round {round}: {st}"
        );
        assert_eq!(st["errorSummary"], json!({"VALIDATION_TYPE_MISMATCH": 1}));
        assert_eq!(st["successRate"], 0.75);
    }
    let n: i64 = records(&emu)
        .query_row(
            "SELECT COUNT(*) FROM obj_orders WHERE order_id = 'o-1' AND amount = 10.5",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 4);
}

#[tokio::test]
async fn header_only_file_completes_with_nothing_imported() {
    let emu = emu().await;
    let mapping = json!({
        "sourceFields": {"email": "string", "first_name": "string"},
        "fieldMap": {"email": "email", "first_name": "first_name"}
    });
    let (id, st) = run(
        &emu,
        W,
        "profiles",
        b"\xEF\xBB\xBFemail,first_name\r\n",
        mapping,
    )
    .await;
    assert_eq!(st["state"], "completed", "{st}");
    for k in [
        "readRows",
        "validRows",
        "invalidRows",
        "mergedInserts",
        "mergedUpdates",
    ] {
        assert_eq!(st[k], 0, "{k}: {st}");
    }
    assert_eq!(st["successRate"], 0.0);
    assert_eq!(st["errorSummary"], Value::Null);
    assert_eq!(errors(&emu, &id).await, json!({"hasErrors": false}));
}

/// Runs a job expected to fail; returns its errorMessage.
async fn failed(emu: &Emu, csv: &[u8], mapping: Value) -> String {
    let (id, st) = run(emu, W, "profiles", csv, mapping).await;
    assert_eq!(st["state"], "failed", "{st}");
    assert_eq!(st["mergedInserts"], 0, "{st}");
    assert_eq!(errors(emu, &id).await, json!({"hasErrors": false}));
    st["errorMessage"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn files_that_cannot_be_imported_fail_with_a_clear_message() {
    let emu = emu().await;
    let mapping = json!({
        "sourceFields": {"email": "string", "first_name": "string"},
        "fieldMap": {"email": "email", "first_name": "first_name"}
    });

    // A mapped column missing from the header: named, with the header.
    let msg = failed(
        &emu,
        b"email,firstname\nann@example.com,Ann\n",
        mapping.clone(),
    )
    .await;
    assert!(msg.contains("\"first_name\""), "{msg}");
    assert!(msg.contains("\"firstname\""), "{msg}");
    assert!(msg.contains("header"), "{msg}");

    // Another delimiter: one column, and the message says so.
    let msg = failed(
        &emu,
        b"email;first_name\nann@example.com;Ann\n",
        mapping.clone(),
    )
    .await;
    assert!(msg.contains("\";\""), "{msg}");

    // The key field is not mapped.
    let msg = failed(
        &emu,
        b"email,first_name\nann@example.com,Ann\n",
        json!({"sourceFields": {"first_name": "string"}, "fieldMap": {"first_name": "first_name"}}),
    )
    .await;
    assert!(msg.contains("\"email\""), "{msg}");

    // Not CSV at all.
    let msg = failed(&emu, b"PK\x03\x04\x14\x00\x06\x00binary", mapping.clone()).await;
    assert!(msg.contains("not CSV") && msg.contains("zip"), "{msg}");
    let msg = failed(&emu, b"email,first_name\n\x00\x01\x02\x00", mapping.clone()).await;
    assert!(msg.contains("NUL"), "{msg}");

    let utf16: Vec<u8> = "email,first_name\r\nann@example.com,Ann\r\n"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let msg = failed(&emu, &utf16, mapping.clone()).await;
    assert!(msg.contains("UTF-16"), "{msg}");

    // Nothing but blank lines.
    let msg = failed(&emu, b"\r\n\r\n\n", mapping.clone()).await;
    assert!(msg.contains("no header row"), "{msg}");

    let n: Option<i64> = records(&emu)
        .query_row("SELECT COUNT(*) FROM obj_profiles", [], |r| r.get(0))
        .optional()
        .unwrap_or(None);
    assert!(n.is_none() || n == Some(0), "nothing merged: {n:?}");
}

#[tokio::test]
async fn an_upload_missing_at_processing_time_fails_the_job() {
    // The processor starts only after the blob has gone.
    let emu = common::start_with(|c| c.workers = 0).await;
    let mapping = json!({
        "sourceFields": {"email": "string"},
        "fieldMap": {"email": "email"}
    });
    let (id, landing) = ready_job(&emu, W, "profiles", b"email\na@example.com\n", mapping).await;
    start(&emu, W, &id).await;
    emu.server.state.storage.remove(&landing).unwrap();
    processor::spawn(&emu.server.state).unwrap();
    let st = wait(&emu, W, &id).await;
    assert_eq!(st["state"], "failed", "{st}");
    let msg = st["errorMessage"].as_str().unwrap();
    assert!(msg.contains("missing") && msg.contains("upload"), "{msg}");
}

#[tokio::test]
async fn a_long_job_shows_progress_and_readers_see_no_partial_merge() {
    let emu = emu().await;
    const ROWS: usize = 150_000;
    let mut csv = String::from("email,first_name,loyalty_points\n");
    for i in 0..ROWS {
        // Every 1000th row has a bad integer.
        let points = if i % 1000 == 999 {
            "x".to_string()
        } else {
            i.to_string()
        };
        csv.push_str(&format!("user{i}@example.com,Name {i},{points}\n"));
    }
    let mapping = json!({
        "sourceFields": {"email": "string", "first_name": "string", "loyalty_points": "integer"},
        "fieldMap": {"email": "email", "first_name": "first_name", "loyalty_points": "loyalty_points"}
    });
    let (id, _) = ready_job(&emu, W, "profiles", csv.as_bytes(), mapping).await;
    start(&emu, W, &id).await;
    let reader = records(&emu);
    let mut last_read = 0;
    let mut seen_mid_job = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let st = loop {
        let (_, b) = emu.get(&format!("/import-jobs/{id}"), W).await;
        let st = b["data"].clone();
        let read = st["readRows"].as_u64().unwrap();
        assert!(read >= last_read, "readRows went back: {st}");
        last_read = read;
        if st["state"] != "running" {
            break st;
        }
        if read > 0 && read < ROWS as u64 {
            seen_mid_job += 1;
            assert_eq!(st["stage"], "validate", "{st}");
            assert_eq!(
                st["validRows"].as_u64().unwrap() + st["invalidRows"].as_u64().unwrap(),
                read,
                "{st}"
            );
            // Nothing is merged as far as readers can see until the commit.
            assert_eq!(st["mergedInserts"], 0, "{st}");
            let merged: i64 = reader
                .query_row("SELECT COUNT(*) FROM obj_profiles", [], |r| r.get(0))
                .unwrap_or(0);
            assert_eq!(merged, 0, "partial merge visible at {st}");
        }
        assert!(std::time::Instant::now() < deadline, "still running: {st}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(st["state"], "completed", "{st}");
    assert!(seen_mid_job > 0, "no poll saw the job mid-way");
    let bad = (ROWS / 1000) as u64;
    assert_eq!(st["readRows"], ROWS as u64);
    assert_eq!(st["validRows"], ROWS as u64 - bad);
    assert_eq!(st["mergedInserts"], ROWS as u64 - bad);
    assert_eq!(st["errorSummary"], json!({"VALIDATION_TYPE_MISMATCH": bad}));
    // Rejected rows in file order, though batches were validated by
    // several threads (rows are numbered from 1 after the header).
    let lines = error_lines(&emu, &id).await;
    let got: Vec<(u64, String)> = lines
        .iter()
        .map(|l| {
            (
                l["rowNumber"].as_u64().unwrap(),
                l["sourceRow"]["email"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = (0..ROWS as u64)
        .filter(|i| i % 1000 == 999)
        .map(|i| (i + 1, format!("user{i}@example.com")))
        .collect();
    assert_eq!(got, want);
    let merged: i64 = reader
        .query_row("SELECT COUNT(*) FROM obj_profiles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(merged as u64, ROWS as u64 - bad);
}

#[tokio::test]
async fn rows_of_one_key_across_many_batches_merge_in_file_order() {
    let emu = emu().await;
    // 20,000 rows over 5,000 keys: each key's rows are 5,000 rows apart, in
    // different batches of the parser and validators; the last one wins.
    const ROWS: u64 = 20_000;
    const KEYS: u64 = 5_000;
    let mut csv = String::from("email,first_name\n");
    for i in 0..ROWS {
        csv.push_str(&format!("user{}@example.com,Name {i}\n", i % KEYS));
    }
    let mapping = json!({
        "sourceFields": {"email": "string", "first_name": "string"},
        "fieldMap": {"email": "email", "first_name": "first_name"}
    });
    let (id, _) = ready_job(&emu, W, "profiles", csv.as_bytes(), mapping).await;
    start(&emu, W, &id).await;
    let st = wait(&emu, W, &id).await;
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(st["mergedInserts"], KEYS, "{st}");
    assert_eq!(st["mergedUpdates"], ROWS - KEYS, "{st}");
    let c = records(&emu);
    let names: Vec<(String, String)> = c
        .prepare("SELECT email, first_name FROM obj_profiles")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(names.len() as u64, KEYS);
    for (email, name) in names {
        let k: u64 = email
            .strip_prefix("user")
            .and_then(|e| e.strip_suffix("@example.com"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(name, format!("Name {}", ROWS - KEYS + k), "{email}");
    }
}

#[tokio::test]
async fn the_processor_ends_when_the_server_stops() {
    let emu = emu().await;
    let weak = std::sync::Arc::downgrade(&emu.server.state);
    emu.server.stop().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while weak.upgrade().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the emulator's state is still held"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_restart_mid_job_fails_it_and_merges_nothing() {
    let emu = emu().await;
    const ROWS: usize = 150_000;
    let mut csv = String::from("email,first_name\n");
    for i in 0..ROWS {
        csv.push_str(&format!("user{i}@example.com,Name {i}\n"));
    }
    let mapping = json!({
        "sourceFields": {"email": "string", "first_name": "string"},
        "fieldMap": {"email": "email", "first_name": "first_name"}
    });
    let (id, _) = ready_job(&emu, W, "profiles", csv.as_bytes(), mapping.clone()).await;
    start(&emu, W, &id).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, b) = emu.get(&format!("/import-jobs/{id}"), W).await;
        let read = b["data"]["readRows"].as_u64().unwrap();
        assert_eq!(
            b["data"]["state"], "running",
            "finished before the restart: {b}"
        );
        if read > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{b}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    // A new emulator on the same data directory, while the old one's job is
    // still being processed.
    let Emu { server, dir, .. } = emu;
    server.stop().await;
    let data_dir = dir.path().to_path_buf();
    let emu2 = common::start_processing_with(|c| c.data_dir = data_dir).await;
    let st = wait(&emu2, W, &id).await;
    assert_eq!(st["state"], "failed", "{st}");
    assert_eq!(
        st["errorMessage"],
        import_devserver::jobs::INTERRUPTED_MESSAGE,
        "{st}"
    );

    // Once the old job's transaction has ended, none of its rows is there.
    let mut c =
        rusqlite::Connection::open(dir.path().join(processor::merge::RECORDS_FILE)).unwrap();
    c.busy_timeout(Duration::from_secs(20)).unwrap();
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let merged: i64 = tx
        .query_row("SELECT COUNT(*) FROM obj_profiles", [], |r| r.get(0))
        .unwrap_or(0);
    assert_eq!(merged, 0);
    drop(tx);

    // The new emulator processes jobs as usual.
    let (_, st) = run(
        &emu2,
        W,
        "profiles",
        b"email,first_name\na@example.com,A\n",
        mapping,
    )
    .await;
    assert_eq!(
        (&st["state"], &st["mergedInserts"]),
        (&json!("completed"), &json!(1)),
        "{st}"
    );
}

/// Creates a job with extra create options, uploads, maps and runs it.
async fn run_with_options(emu: &Emu, csv: &[u8], options: Value) -> Value {
    let mapping = json!({
        "sourceFields": {"email": "email", "first_name": "string"},
        "fieldMap": {"email": "email", "first_name": "first_name"}
    });
    let (id, _) = ready_job_with(emu, W, "profiles", csv, mapping, options).await;
    start(emu, W, &id).await;
    wait(emu, W, &id).await
}

#[tokio::test]
async fn lists_and_audiences_are_filled_on_completion() {
    let emu = emu().await;
    let csv = b"email,first_name\nAnn@Example.com,Ann\nbob@example.com,Bob\nnot-an-email,X\n";

    // createList: found by name through the Lists API once the job completes.
    let status = run_with_options(
        &emu,
        csv,
        json!({"createList": true, "listName": "Spring 2026 Backfill"}),
    )
    .await;
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(status["validRows"], 2);
    let (s, b) = emu.get("/lists?name=Spring%202026%20Backfill", W).await;
    assert_eq!(s, 200, "{b}");
    let items = b["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{b}");
    assert_eq!(items[0]["memberCount"], 2);
    assert_eq!(items[0]["populationSource"], "import");
    let list_id = items[0]["id"].as_str().unwrap().to_string();
    let (_, m) = emu.get(&format!("/lists/{list_id}/members"), W).await;
    let mut keys: Vec<&str> = m["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["contactKey"].as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["ann@example.com", "bob@example.com"]);

    // targetListId: a second job adds its records to that list.
    let status = run_with_options(
        &emu,
        b"email,first_name\ncid@example.com,Cid\nann@example.com,Ann\n",
        json!({"targetListId": list_id}),
    )
    .await;
    assert_eq!(status["state"], "completed", "{status}");
    let (_, b) = emu.get(&format!("/lists/{list_id}"), W).await;
    assert_eq!(b["data"]["memberCount"], 3, "{b}");

    // createAudience: found by name (emulator extension), previewed.
    let status = run_with_options(
        &emu,
        csv,
        json!({"createAudience": true, "audienceName": "Spring buyers"}),
    )
    .await;
    assert_eq!(status["state"], "completed", "{status}");
    let (s, b) = emu.get("/audiences?name=Spring%20buyers", W).await;
    assert_eq!(s, 200, "{b}");
    let aud = b["data"]["items"][0]["id"].as_str().unwrap().to_string();
    let (s, p) = emu
        .post(
            &format!("/audiences/{aud}/preview"),
            W,
            &json!({"limit": 10}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["data"]["matchCount"], 2, "{p}");
    assert_eq!(p["data"]["sampleRecords"].as_array().unwrap().len(), 2);
}

fn email_name_mapping() -> Value {
    json!({
        "sourceFields": {"email": "string", "first_name": "string"},
        "fieldMap": {"email": "email", "first_name": "first_name"}
    })
}

#[tokio::test]
async fn a_file_of_only_a_bom_or_blank_lines_fails_for_want_of_a_header() {
    let emu = emu().await;
    for csv in [
        &b"\xEF\xBB\xBF"[..],
        b"\xEF\xBB\xBF\r\n\r\n",
        b"\n\n\n",
        b"\r\n",
    ] {
        let msg = failed(&emu, csv, email_name_mapping()).await;
        assert!(msg.contains("no header row"), "{csv:?}: {msg}");
    }
}

#[tokio::test]
async fn bom_crlf_and_quoted_line_breaks_make_one_row_each() {
    let emu = emu().await;
    // A BOM before the header, CRLF line ends, and quoted values holding
    // CRLF and LF line breaks, commas and quotes; row 3 is rejected and
    // keeps its line break in the error file.
    let csv = b"\xEF\xBB\xBFemail,first_name\r\n\
ann@example.com,\"Ann\r\nMarie\"\r\n\
bob@example.com,\"Bob \"\"B\"\", Jr\nthe second\"\r\n\
not-an-email,\"Eve\r\nline two\"\r\n\
cid@example.com,Cid\r\n";
    let (id, st) = run(&emu, W, "profiles", csv, email_name_mapping()).await;
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(
        (&st["readRows"], &st["validRows"], &st["invalidRows"]),
        (&json!(4), &json!(3), &json!(1)),
        "{st}"
    );
    assert_eq!(st["errorSummary"], json!({"VALIDATION_TYPE_MISMATCH": 1}));
    let c = records(&emu);
    let name = |email: &str| -> String {
        c.query_row(
            "SELECT first_name FROM obj_profiles WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(name("ann@example.com"), "Ann\r\nMarie");
    assert_eq!(name("bob@example.com"), "Bob \"B\", Jr\nthe second");
    assert_eq!(name("cid@example.com"), "Cid");
    let lines = error_lines(&emu, &id).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["rowNumber"], 3, "{}", lines[0]);
    assert_eq!(
        lines[0]["sourceRow"],
        json!({"email": "not-an-email", "first_name": "Eve\r\nline two"})
    );
}

#[tokio::test]
async fn invalid_utf8_rows_are_rejected_and_the_rest_imported() {
    let emu = emu().await;
    let csv = b"email,first_name\n\
ann@example.com,Ann\n\
bob@example.com,B\xFFb\n\
cid@example.com,Cid\n\
d\xC3@example.com,Dan\n";
    let (id, st) = run(&emu, W, "profiles", csv, email_name_mapping()).await;
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(
        (&st["readRows"], &st["validRows"], &st["invalidRows"]),
        (&json!(4), &json!(2), &json!(2)),
        "{st}"
    );
    assert_eq!(st["mergedInserts"], 2);
    assert_eq!(st["errorSummary"], json!({"INVALID_ENCODING": 2}));
    let lines = error_lines(&emu, &id).await;
    let rows: Vec<u64> = lines
        .iter()
        .map(|l| l["rowNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [2, 4]);
    assert_eq!(lines[0]["code"], "INVALID_ENCODING");
    assert_eq!(lines[0]["column"], "first_name");
    assert_eq!(lines[0]["sourceRow"]["first_name"], "B\u{FFFD}b");
    assert!(
        lines[0]["error"].as_str().unwrap().contains("UTF-8"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1]["column"], "email");
    let n: i64 = records(&emu)
        .query_row("SELECT COUNT(*) FROM obj_profiles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn a_one_megabyte_field_is_imported_whole() {
    let emu = emu().await;
    const BIG: usize = 1024 * 1024;
    let big: String = "abcdefghij".repeat(BIG / 10 + 1)[..BIG].to_string();
    // Quoted, with a comma and a line break inside, between two small rows.
    let big_quoted = format!("\"{},\n{}\"", &big[..BIG / 2], &big[BIG / 2 + 2..]);
    let csv = format!(
        "email,first_name\nann@example.com,Ann\nbig@example.com,{big_quoted}\ncid@example.com,Cid\n"
    );
    let (_, st) = run(&emu, W, "profiles", csv.as_bytes(), email_name_mapping()).await;
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(
        (&st["readRows"], &st["validRows"], &st["mergedInserts"]),
        (&json!(3), &json!(3), &json!(3)),
        "{st}"
    );
    let stored: String = records(&emu)
        .query_row(
            "SELECT first_name FROM obj_profiles WHERE email = 'big@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored.len(), BIG);
    assert_eq!(
        stored,
        format!("{},\n{}", &big[..BIG / 2], &big[BIG / 2 + 2..])
    );
}

fn identity_mapping() -> Value {
    json!({
        "sourceFields": {"email": "email", "customer_id": "string", "phone": "phone"},
        "fieldMap": {"email": "email", "customer_id": "customer_id", "phone": "phone"},
        "importMode": "landing_friendly"
    })
}

/// Runs a profiles job with `identity_mapping` and the given create options.
async fn run_identity_job(emu: &Emu, csv: &[u8], options: Value) -> (String, Value) {
    let mut options = options;
    options["fileName"] = json!("ids.csv");
    let (id, _) = ready_job_with(emu, W, "profiles", csv, identity_mapping(), options).await;
    start(emu, W, &id).await;
    let st = wait(emu, W, &id).await;
    (id, st)
}

fn unified_ids(emu: &Emu) -> Vec<(String, Option<String>)> {
    let c = records(emu);
    let mut stmt = c
        .prepare("SELECT email, _unified_id FROM obj_profiles WHERE _workspace = 'ws_dev' ORDER BY email")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

#[tokio::test]
async fn auto_profile_after_import_links_profiles_sharing_an_identifier() {
    let emu = emu().await;
    // Without the flag: no unification, stage `merge`, no extension field.
    let first = b"email,customer_id,phone\n\
ann@example.com,C-1,\n\
bob@example.com,,+1 415 555 0123\n\
dan@example.com,C-9,\n";
    let (_, st) = run_identity_job(&emu, first, json!({})).await;
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(st["stage"], "merge");
    assert!(st.get("profileUnification").is_none(), "{st}");

    // With it: cid shares Ann's customer id and Bob's phone (written in
    // another form), so Ann, Bob and Cid become one profile; Dan and Eve
    // share nothing.
    let second = b"email,customer_id,phone\n\
cid@example.com, C-1 ,001 (415) 555-0123\n\
eve@example.com,C-5,\n";
    let (_, st) = run_identity_job(&emu, second, json!({"autoProfileAfterImport": true})).await;
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(st["stage"], "profile", "{st}");
    assert_eq!(
        st["profileUnification"],
        json!({"profilesExamined": 5, "profilesMerged": 3, "clusters": 1}),
        "{st}"
    );
    assert_eq!(
        (&st["mergedInserts"], &st["mergedUpdates"]),
        (&json!(2), &json!(0))
    );
    let ids = unified_ids(&emu);
    let id_of = |email: &str| {
        ids.iter()
            .find(|(e, _)| e == email)
            .and_then(|(_, u)| u.clone())
            .unwrap()
    };
    let ann = id_of("ann@example.com");
    assert!(ann.starts_with("up_"), "{ann}");
    assert_eq!(id_of("bob@example.com"), ann);
    assert_eq!(id_of("cid@example.com"), ann);
    assert_ne!(id_of("dan@example.com"), ann);
    assert_ne!(id_of("eve@example.com"), id_of("dan@example.com"));

    // Records of another workspace are neither examined nor linked.
    let other_csv = b"email,customer_id,phone\nzed@example.com,C-1,\n";
    let mut body = json!({"objectName": "profiles", "fileName": "o.csv", "fileSize": other_csv.len(),
                          "autoProfileAfterImport": true});
    body["fileSize"] = json!(other_csv.len());
    let (s, b) = emu.post("/import-jobs", OTHER, &body).await;
    assert_eq!(s, 201, "{b}");
    let oid = b["data"]["jobId"].as_str().unwrap().to_string();
    let mut put = emu.http.put(b["data"]["uploadUrl"].as_str().unwrap());
    for (k, v) in b["data"]["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert_eq!(
        put.body(other_csv.to_vec()).send().await.unwrap().status(),
        201
    );
    let (s, _) = emu
        .post(
            &format!("/import-jobs/{oid}/mapping"),
            OTHER,
            &identity_mapping(),
        )
        .await;
    assert_eq!(s, 200);
    start(&emu, OTHER, &oid).await;
    let st = wait(&emu, OTHER, &oid).await;
    assert_eq!(
        st["profileUnification"],
        json!({"profilesExamined": 1, "profilesMerged": 0, "clusters": 0}),
        "{st}"
    );
    assert_eq!(unified_ids(&emu), ids);
}

#[tokio::test]
async fn the_profile_stage_is_visible_while_unification_runs() {
    let emu = emu().await;
    const ROWS: usize = 60_000;
    let mut csv = String::from("email,customer_id,phone\n");
    for i in 0..ROWS {
        // Pairs of records share a customer id.
        csv.push_str(&format!("user{i}@example.com,C-{},\n", i / 2));
    }
    let body = json!({"objectName": "profiles", "fileName": "ids.csv", "fileSize": csv.len(),
                      "autoProfileAfterImport": true});
    let (s, b) = emu.post("/import-jobs", W, &body).await;
    assert_eq!(s, 201, "{b}");
    let id = b["data"]["jobId"].as_str().unwrap().to_string();
    let mut put = emu.http.put(b["data"]["uploadUrl"].as_str().unwrap());
    for (k, v) in b["data"]["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert_eq!(put.body(csv.clone()).send().await.unwrap().status(), 201);
    let (s, _) = emu
        .post(
            &format!("/import-jobs/{id}/mapping"),
            W,
            &identity_mapping(),
        )
        .await;
    assert_eq!(s, 200);
    start(&emu, W, &id).await;
    let mut stages: Vec<String> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let st = loop {
        let (_, b) = emu.get(&format!("/import-jobs/{id}"), W).await;
        let st = b["data"].clone();
        let stage = st["stage"].as_str().unwrap().to_string();
        if st["state"] != "running" {
            break st;
        }
        if stage == "profile" {
            // The rows are all read; nothing is committed yet.
            assert_eq!(st["readRows"], ROWS as u64, "{st}");
            assert_eq!(st["mergedInserts"], 0, "{st}");
        }
        if stages.last() != Some(&stage) {
            stages.push(stage);
        }
        assert!(std::time::Instant::now() < deadline, "still running: {st}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(st["stage"], "profile");
    assert!(
        stages.contains(&"profile".to_string()),
        "stages seen: {stages:?}"
    );
    let order = ["queued", "parse", "validate", "merge", "profile"];
    let pos: Vec<usize> = stages
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "stages out of order: {stages:?}"
    );
    assert_eq!(
        st["profileUnification"],
        json!({"profilesExamined": ROWS, "profilesMerged": ROWS, "clusters": ROWS / 2}),
        "{st}"
    );
    assert_eq!(st["mergedInserts"], ROWS as u64);
}

// --------------------------------------------- CSV limits (columns)

/// Peak resident memory of this process (the tests and the emulator),
/// bytes; `None` where `/proc` does not say.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak to the current resident memory (Linux); false when it
/// cannot.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A file of `lines` lines of `commas` commas each (the header too).
fn commas_only(lines: usize, commas: usize) -> Vec<u8> {
    let mut line = vec![b','; commas];
    line.push(b'\n');
    line.repeat(lines)
}

/// Runs a job of a file of only commas: it fails on its header, naming the
/// column limit, and the emulator's memory grows by less than `budget`.
async fn commas_only_job_fails(lines: usize, commas: usize, budget: u64) {
    let emu = emu().await;
    let csv = commas_only(lines, commas);
    let (id, _) = ready_job(&emu, W, "profiles", &csv, email_name_mapping()).await;
    drop(csv);
    let measured = reset_peak_rss();
    let before = peak_rss().unwrap_or(0);
    let t = std::time::Instant::now();
    start(&emu, W, &id).await;
    let st = wait(&emu, W, &id).await;
    let took = t.elapsed();
    assert_eq!(st["state"], "failed", "{st}");
    let msg = st["errorMessage"].as_str().unwrap();
    assert!(
        msg.contains(&format!("has {} columns", commas + 1))
            && msg.contains("at most 10000")
            && msg.len() < 400,
        "{msg}"
    );
    assert_eq!(st["mergedInserts"], 0, "{st}");
    if measured {
        let grew = peak_rss().unwrap_or(0).saturating_sub(before);
        eprintln!(
            "{lines} lines of {commas} commas: failed in {took:?}, memory grew by {} MB",
            grew >> 20
        );
        assert!(
            grew < budget,
            "memory grew by {} MB reading {lines} lines of {commas} commas ({took:?})",
            grew >> 20
        );
    }
}

#[tokio::test]
async fn a_file_of_commas_fails_on_its_header_with_memory_bounded() {
    // 16 lines of a quarter of a million commas (4 MB): each line would be
    // 250,001 columns; one 8 MB line of commas.
    commas_only_job_fails(16, 250_000, 64 << 20).await;
    commas_only_job_fails(1, 8 << 20, 64 << 20).await;
}

/// The same with about 100 MB of commas (slow in a debug build; run with
/// `cargo test --release -p import-devserver --test processing -- --ignored`).
#[tokio::test]
#[ignore]
async fn a_100_mb_file_of_commas_fails_on_its_header_with_memory_bounded() {
    commas_only_job_fails(100, 1 << 20, 64 << 20).await;
    commas_only_job_fails(1, 100 << 20, 64 << 20).await;
}

/// A file of a header and `lines` lines of `commas` commas: each line is
/// rejected, and the emulator's memory grows by less than `budget`.
async fn comma_rows_are_rejected(lines: usize, commas: usize, budget: u64) {
    let emu = emu().await;
    let mut csv = b"email,first_name\n".to_vec();
    csv.extend(commas_only(lines, commas));
    let (id, _) = ready_job(&emu, W, "profiles", &csv, email_name_mapping()).await;
    drop(csv);
    let measured = reset_peak_rss();
    let before = peak_rss().unwrap_or(0);
    let t = std::time::Instant::now();
    start(&emu, W, &id).await;
    let st = wait(&emu, W, &id).await;
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(st["invalidRows"], lines, "{st}");
    assert_eq!(st["errorSummary"], json!({"ROW_MALFORMED": lines}));
    if measured {
        let grew = peak_rss().unwrap_or(0).saturating_sub(before);
        eprintln!(
            "a header and {lines} lines of {commas} commas: completed in {:?}, memory grew by {} MB",
            t.elapsed(),
            grew >> 20
        );
        assert!(grew < budget, "memory grew by {} MB", grew >> 20);
    }
}

#[tokio::test]
async fn data_rows_of_commas_are_rejected_with_memory_bounded() {
    comma_rows_are_rejected(4, 1 << 20, 64 << 20).await;
}

/// About 100 MB of comma rows (see the test above; run with `--ignored`).
#[tokio::test]
#[ignore]
async fn a_100_mb_file_of_comma_rows_is_rejected_with_memory_bounded() {
    comma_rows_are_rejected(100, 1 << 20, 64 << 20).await;
}

#[tokio::test]
async fn a_data_row_of_too_many_fields_is_rejected_and_the_rest_imported() {
    let emu = emu().await;
    let mut csv = b"email,first_name\nann@example.com,Ann\n".to_vec();
    csv.extend(commas_only(1, 20_000));
    csv.extend_from_slice(b"bob@example.com,Bob\n");
    let (id, st) = run(&emu, W, "profiles", &csv, email_name_mapping()).await;
    assert_eq!(st["state"], "completed", "{st}");
    assert_eq!(
        (&st["readRows"], &st["validRows"], &st["invalidRows"]),
        (&json!(3), &json!(2), &json!(1)),
        "{st}"
    );
    assert_eq!(st["errorSummary"], json!({"ROW_MALFORMED": 1}));
    let lines = error_lines(&emu, &id).await;
    assert_eq!(lines[0]["rowNumber"], 2);
    assert_eq!(lines[0]["code"], "ROW_MALFORMED");
    let error = lines[0]["error"].as_str().unwrap();
    assert!(
        error.contains("20001 columns") && error.contains("10000"),
        "{error}"
    );
    assert_eq!(lines[0]["sourceRow"], json!({}));
}
