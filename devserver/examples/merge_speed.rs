//! Times the records merge alone (no HTTP, no CSV): `cargo run --release
//! -p import-devserver --example merge_speed -- [ROWS]` validates ROWS
//! generated profile rows and merges them into a fresh records database in
//! one transaction, printing the best of three runs per phase.

use std::time::{Duration, Instant};

use import_core::rules::{DataType, ImportMode};
use import_core::validate::{Mapping, RowValidator, ValidRow};
use import_devserver::metadata::Catalog;
use import_devserver::processor::merge::{ensure_table, Merger, Records};
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
    let mut best = [Duration::MAX; 3];
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
        let t = Instant::now();
        let mut row = ValidRow::default();
        let mut validate = Duration::ZERO;
        for (n, l) in lines.iter().enumerate() {
            let fields: Vec<&str> = l.iter().map(String::as_str).collect();
            let v0 = Instant::now();
            validator
                .validate_into(n as u64 + 1, &fields, &mut row)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            validate += v0.elapsed();
            let values = std::mem::take(&mut row.values);
            row.values = merger.push(values)?;
        }
        merger.finish()?;
        let merged = t.elapsed() - validate;
        drop(merger);
        let c = Instant::now();
        conn.execute_batch("COMMIT")?;
        let commit = c.elapsed();
        for (b, d) in best.iter_mut().zip([validate, merged, commit]) {
            *b = (*b).min(d);
        }
    }
    let total: Duration = best.iter().sum();
    println!(
        "{rows} rows: validate {:?}, merge {:?}, commit {:?}; total {:?} = {:.0} rows/s",
        best[0],
        best[1],
        best[2],
        total,
        rows as f64 / total.as_secs_f64()
    );
    Ok(())
}
