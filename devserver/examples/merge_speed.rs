//! Times the records merge alone (no HTTP, no CSV): `cargo run --release
//! -p import-devserver --example merge_speed -- [ROWS]` validates ROWS
//! generated profile rows and merges them into a fresh records database in
//! one transaction, printing the best of three runs per phase, in wall time
//! and in CPU time.

use std::time::{Duration, Instant};

use import_core::rules::{DataType, ImportMode};
use import_core::validate::{Mapping, RowValidator, ValidRow};
use import_devserver::metadata::Catalog;
use import_devserver::processor::merge::{encode_row, ensure_table, Merger, Records};
use import_devserver::processor::thread_cpu as cpu;
use indexmap::IndexMap;

fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(124_532);
    let columns = [
        ("email", DataType::Email, "email"),
        ("customer_id", DataType::String, "customer_id"),
        ("first_name", DataType::String, "first_name"),
        ("last_name", DataType::String, "last_name"),
        ("loyalty_points", DataType::Integer, "loyalty_points"),
        ("opted_in", DataType::Boolean, "opted_in"),
        ("signup_ts", DataType::Datetime, "signed_up_at"),
    ];
    let source: IndexMap<String, DataType> = columns
        .iter()
        .map(|(c, t, _)| (c.to_string(), *t))
        .collect();
    let map: IndexMap<String, String> = columns
        .iter()
        .map(|(c, _, f)| (c.to_string(), f.to_string()))
        .collect();
    let header: Vec<&str> = columns.iter().map(|(c, _, _)| *c).collect();
    let validator = RowValidator::new(
        &header,
        Mapping::new(&source, &map),
        ImportMode::Balanced,
        &["email"],
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let lines: Vec<Vec<String>> = (0..rows as u64)
        .map(|i| {
            let k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
            vec![
                format!("u{k:011x}.{i}@example.com"),
                format!("C-{i:08}"),
                "Ann".into(),
                "Smith".into(),
                (i % 5000).to_string(),
                "true".into(),
                format!("2026-04-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
            ]
        })
        .collect();
    let catalog = Catalog::defaults();
    let profiles = catalog.get("profiles").expect("profiles");
    let mut best = [(Duration::MAX, Duration::MAX); 3];
    for _ in 0..3 {
        let dir = tempfile::tempdir()?;
        let records = Records::open(dir.path())?;
        let conn = records.connect()?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        ensure_table(&conn, profiles)?;
        let mut merger = Merger::new(
            &conn,
            "profiles",
            validator.fields(),
            Some("email"),
            "ws_dev",
            "imp_01HXYZ0000000000000000000",
            0,
        )?;
        // Validation first (all rows), then the merge: each phase timed on
        // its own, in wall time and in this thread's CPU time (the figure
        // that matters when other processes share the machine).
        let (t, c0) = (Instant::now(), cpu().unwrap_or_default());
        // Valid rows are encoded one after another, as the processor's
        // reader thread hands them to the merge.
        let mut encoded = Vec::new();
        let mut lengths = Vec::with_capacity(lines.len());
        let mut row = ValidRow::default();
        for (n, l) in lines.iter().enumerate() {
            let fields: Vec<&str> = l.iter().map(String::as_str).collect();
            validator
                .validate_into(n as u64 + 1, &fields, &mut row)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let start = encoded.len();
            encode_row(&row.values, &mut encoded);
            lengths.push(encoded.len() - start);
        }
        let validate = (t.elapsed(), cpu().unwrap_or_default() - c0);
        let (t, c0) = (Instant::now(), cpu().unwrap_or_default());
        let mut at = 0;
        for len in lengths {
            merger.push_encoded(&encoded[at..at + len])?;
            at += len;
        }
        merger.finish()?;
        let merged = (t.elapsed(), cpu().unwrap_or_default() - c0);
        drop(merger);
        let (t, c0) = (Instant::now(), cpu().unwrap_or_default());
        conn.execute_batch("COMMIT")?;
        let commit = (t.elapsed(), cpu().unwrap_or_default() - c0);
        for (b, d) in best.iter_mut().zip([validate, merged, commit]) {
            b.0 = b.0.min(d.0);
            b.1 = b.1.min(d.1);
        }
    }
    let wall: Duration = best.iter().map(|b| b.0).sum();
    let cpu: Duration = best.iter().map(|b| b.1).sum();
    println!(
        "{rows} rows, best of three, wall (cpu): validate {:?} ({:?}), merge {:?} ({:?}), \
         commit {:?} ({:?}); total {:?} ({:?}) = {:.0} rows/s ({:.0} rows per CPU second)",
        best[0].0,
        best[0].1,
        best[1].0,
        best[1].1,
        best[2].0,
        best[2].1,
        wall,
        cpu,
        rows as f64 / wall.as_secs_f64(),
        rows as f64 / cpu.as_secs_f64()
    );
    Ok(())
}
