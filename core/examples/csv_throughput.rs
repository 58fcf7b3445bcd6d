//! Throughput of the streaming CSV reader, alone and followed by the row
//! validator, on a generated profiles file held in memory and fed in 1 MiB
//! chunks (as the processor feeds it from storage). The reader alone also
//! runs on the same file without its one quoted field per row, which it
//! reads without csv_core's state machine.
//!
//! ```text
//! cargo run --release -p import-core --example csv_throughput [ROWS]
//! ```
//!
//! A benchmark program, not a test: it prints a table and asserts nothing.

use std::time::Instant;

use import_core::csv::{CsvStream, RecordEvent};
use import_core::rules::{DataType, ImportMode};
use import_core::validate::{Mapping, RowValidator, ValidRow};
use indexmap::IndexMap;

const CHUNK: usize = 1 << 20;

const COLUMNS: [(&str, DataType, &str); 8] = [
    ("email_address", DataType::Email, "email"),
    ("first_name", DataType::String, "first_name"),
    ("last_name", DataType::String, "last_name"),
    ("age", DataType::Integer, "age"),
    ("score", DataType::Number, "score"),
    ("active", DataType::Boolean, "is_active"),
    ("birthday", DataType::Date, "birthday"),
    ("signup_ts", DataType::Datetime, "signed_up_at"),
];

/// The profiles file; `quoted`: each row's first name is a quoted field
/// holding a comma.
fn generate(rows: usize, quoted: bool) -> Vec<u8> {
    use std::fmt::Write;
    let mut s = String::with_capacity(rows * 110);
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    s.push_str(&names.join(","));
    s.push_str("\r\n");
    for i in 0..rows {
        let _ = write!(
            s,
            "User{i}@Example.com,{},Smith,{},{}.{},{},19{:02}-{:02}-{:02},2026-04-{:02}T{:02}:{:02}:00+02:00\r\n",
            if quoted { format!("\"Ann, {i}\"") } else { format!("Ann {i}") },
            18 + i % 60,
            i % 1000,
            i % 100,
            if i % 2 == 0 { "true" } else { "false" },
            50 + i % 50,
            1 + i % 12,
            1 + i % 28,
            1 + i % 28,
            i % 24,
            i % 60,
        );
    }
    s.into_bytes()
}

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let data = generate(rows, true);
    let plain = generate(rows, false);
    let mb = data.len() as f64 / 1e6;
    let plain_mb = plain.len() as f64 / 1e6;

    // Reader alone.
    let read_only = |data: &[u8]| {
        let start = Instant::now();
        let mut stream = CsvStream::default();
        let mut seen = 0u64;
        let mut field_bytes = 0usize;
        let mut on_event = |e: RecordEvent<'_>| {
            if let RecordEvent::Row(r) = e {
                seen += 1;
                field_bytes += r.fields[0].len();
            }
        };
        for chunk in data.chunks(CHUNK) {
            stream.feed(chunk, &mut on_event);
        }
        stream.finish(&mut on_event);
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(seen as usize, rows);
        std::hint::black_box(field_bytes);
        secs
    };
    let csv_secs = read_only(&data);
    let plain_secs = read_only(&plain);

    // Reader + validator (balanced, email key).
    let sf: IndexMap<String, DataType> = COLUMNS.iter().map(|c| (c.0.into(), c.1)).collect();
    let fm: IndexMap<String, String> = COLUMNS.iter().map(|c| (c.0.into(), c.2.into())).collect();
    let start = Instant::now();
    let mut stream = CsvStream::default();
    let mut validator: Option<RowValidator> = None;
    let mut row = ValidRow::default();
    let (mut valid, mut invalid) = (0u64, 0u64);
    let mut on_event = |e: RecordEvent<'_>| match e {
        RecordEvent::Header(h) => {
            validator = Some(
                RowValidator::new(
                    h.fields,
                    Mapping::new(&sf, &fm),
                    ImportMode::Balanced,
                    &["email"],
                )
                .expect("header"),
            );
        }
        RecordEvent::Row(r) => {
            let v = validator.as_ref().expect("header first");
            match v.validate_into(r.row_number, r.fields, &mut row) {
                Ok(()) => valid += 1,
                Err(_) => invalid += 1,
            }
        }
        RecordEvent::Error(_) => invalid += 1,
    };
    for chunk in data.chunks(CHUNK) {
        stream.feed(chunk, &mut on_event);
    }
    stream.finish(&mut on_event);
    let full_secs = start.elapsed().as_secs_f64();
    assert_eq!((valid + invalid) as usize, rows);

    println!(
        "rows: {rows}, file: {mb:.1} MB, chunks of {} KiB",
        CHUNK / 1024
    );
    println!(
        "{:<22} {:>10} {:>14} {:>10}",
        "stage", "seconds", "rows/s", "MB/s"
    );
    for (name, secs, mb) in [
        ("csv reader", csv_secs, mb),
        ("csv reader, no quotes", plain_secs, plain_mb),
        ("csv + validate", full_secs, mb),
    ] {
        println!(
            "{name:<22} {secs:>10.3} {:>14.0} {:>10.1}",
            rows as f64 / secs,
            mb / secs
        );
    }
    println!("valid rows: {valid}, rejected: {invalid}");
}
