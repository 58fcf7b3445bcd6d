//! `cargo xtask bench preflight [quick|SIZE…] [--runs N]`: how fast
//! `import-uploader/preflight` reads a large CSV in a browser, against
//! Papa Parse, what it costs the page, and how soon `<import-uploader>`
//! shows a dropped file's preview.
//!
//! It generates profiles CSV files (`target/bench-preflight/`, kept and
//! reused; unique e-mails, one row in 1,000 with a bad value), starts the
//! emulator serving the benchmark pages (`bench/preflight/`, with Papa
//! Parse from `node_modules` beside them) and the package (`pkg/`), and
//! runs every method on every size `--runs` times (default 3), the methods
//! in turns (run 1 of each, then run 2 of each, …), each in a fresh
//! headless Chromium (`bench/preflight/driver.mjs`, `playwright-core`, the
//! flags of `webdriver.json`) with the file chosen through the page's file
//! input. The tables give the median of the runs.
//!
//! | method | page | what runs |
//! |---|---|---|
//! | `preflight` | `index.html` | the first answer (`preflight(file, { schema })`, the 1 MiB sample) on a page that has not loaded the preflight (cold: the module imported, its Worker started, its wasm loaded), the same again (warm: the kept Worker), a warm call on a tiny file, then `preflight(file, { schema, full: true, onProgress })` |
//! | `papaparse` | `index.html` | Papa Parse 5 in a Worker: `Papa.parse(file, { header: true, chunk })`, streaming, with a per-row type check of each value against its field's type (`bench/preflight/papa-worker.js`) |
//! | `preview` | `element.html` | `<import-uploader>`: a file dropped with no drag before it; the time until the document holds the preview's rows and the detected dialect |
//! | `preview-dragenter-100`, `preview-dragenter-300` | `element.html` | the same, the drop 100 or 300 ms after a drag entered the drop zone (which starts loading the preflight) |
//!
//! Columns of the whole-file table: MB/s (1 MB = 10^6 bytes) and seconds;
//! rows read, valid and invalid (both must read every row); the first
//! answer, cold and warm; the main thread's longest task (PerformanceObserver
//! `longtask`, which reports tasks of 50 ms and more; 0 means none) and the
//! largest delay of a 10 ms timer; the renderer's resident memory (Workers
//! included) at its peak and its growth over the idle page. Then the
//! targets, PASS or MISS: at least 4× Papa Parse's speed, the first answer
//! under 100 ms (cold and warm), no main-thread task over 50 ms, memory
//! flat from the smallest size to the largest (the peak growth of the
//! largest within 1.25× of the smallest's, plus 16 MiB), and the preview
//! within 100 ms of the drop.
//!
//! "Cold" is cold: every run is a fresh Chromium with a fresh temporary
//! profile, so neither the HTTP cache nor V8's code cache holds the
//! package's scripts or the `.wasm` from an earlier run; the pages are
//! served from 127.0.0.1, so a fetch costs no network time. The preview's
//! table also gives the longest the main thread was held at once between
//! the drop and the preview (the largest delay of a 5 ms timer: the
//! preview's sample is read on the page itself).
//!
//! Sizes: `quick` is 100 MB; otherwise sizes such as `100MB 1GB` or bytes
//! (default `100MB 1GB`). The preview is also timed on a 1 MB file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::emulator::Emulator;
use crate::setup::{self, Workspace};

const MB: u64 = 1_000_000;
const MIB: f64 = 1024.0 * 1024.0;
/// The whole-file methods (the sizes given).
const METHODS: [&str; 2] = ["preflight", "papaparse"];
/// The element's drop → preview (the sizes given, and [`PREVIEW_EXTRA_SIZE`]).
const PREVIEW_METHODS: [&str; 3] = ["preview", "preview-dragenter-100", "preview-dragenter-300"];

/// How a preview method drops: "no drag before", or "N ms after a dragenter".
fn drop_label(method: &str) -> String {
    match method.strip_prefix("preview-dragenter-") {
        Some(ms) => format!("{ms} ms after a dragenter"),
        None => "no drag before".to_string(),
    }
}
/// The preview is also timed on a file this small.
const PREVIEW_EXTRA_SIZE: u64 = MB;
/// Runs of each method and size, by default.
const DEFAULT_RUNS: usize = 3;
/// The targets, in milliseconds: the first answer, the preview.
const FIRST_ANSWER_TARGET_MS: f64 = 100.0;
const PREVIEW_TARGET_MS: f64 = 100.0;
const LONG_TASK_TARGET_MS: f64 = 50.0;
/// Every this-many-th row has a bad value (an integer that is not one).
const BAD_EVERY: u64 = 1000;

/// One measurement.
#[derive(Debug, Clone, Default)]
struct Row {
    method: String,
    size: u64,
    ms: f64,
    rows: u64,
    valid: u64,
    invalid: u64,
    first_answer_ms: Option<f64>,
    warm_first_answer_ms: Option<f64>,
    overhead_ms: Option<f64>,
    longest_task_ms: f64,
    timer_lag_ms: f64,
    peak_rss: f64,
    idle_rss: f64,
    preview_ms: Option<f64>,
    preview_frame_ms: Option<f64>,
    preview_rows: u64,
    error: Option<String>,
}

impl Row {
    fn mb_s(&self) -> f64 {
        if self.ms > 0.0 {
            self.size as f64 / MB as f64 / (self.ms / 1000.0)
        } else {
            0.0
        }
    }
    fn rss_growth(&self) -> f64 {
        (self.peak_rss - self.idle_rss).max(0.0)
    }
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    let (sizes, runs) = parse_args(args)?;
    let ws = Workspace::locate()?;
    setup::ensure(&ws)?;
    setup::ensure_chromium(&ws)?;
    crate::build::run(&ws)?;
    crate::process::run(
        ws.cargo()
            .args(["build", "--quiet", "-p", "import-devserver"]),
    )?;
    let emulator_bin = ws.target_dir.join("debug").join("import-devserver");
    let www = prepare_www(&ws)?;
    let pkg = ws.pkg_dir();
    let args = [
        "--www",
        www.to_str().context("a UTF-8 path")?,
        "--pkg",
        pkg.to_str().context("a UTF-8 path")?,
    ];
    let emulator = Emulator::start_named(&ws, &emulator_bin, "bench-preflight-emulator", &args)?;
    // Every (method, size) once per run, methods in turns.
    let mut plan: Vec<(&str, u64)> = Vec::new();
    let mut preview_sizes = vec![PREVIEW_EXTRA_SIZE];
    preview_sizes.extend(sizes.iter().copied().filter(|s| *s != PREVIEW_EXTRA_SIZE));
    for &size in &preview_sizes {
        for method in PREVIEW_METHODS {
            plan.push((method, size));
        }
    }
    for &size in &sizes {
        for method in METHODS {
            plan.push((method, size));
        }
    }
    let mut files = std::collections::BTreeMap::new();
    for &(_, size) in &plan {
        if let std::collections::btree_map::Entry::Vacant(e) = files.entry(size) {
            e.insert(ensure_file(&ws, size)?);
        }
    }
    let mut rows = Vec::new();
    for run in 1..=runs {
        for &(method, size) in &plan {
            let (file, exact) = &files[&size];
            println!("\n== run {run}/{runs}: {method}, {}", human(*exact));
            let row = measure(&ws, &emulator.url, file, method, *exact).unwrap_or_else(|e| {
                println!("   FAILED: {e:#}");
                Row {
                    method: method.to_string(),
                    size: *exact,
                    error: Some(format!("{e:#}")),
                    ..Row::default()
                }
            });
            rows.push(row);
        }
    }
    drop(emulator);
    print_tables(&rows, runs);
    if rows.iter().any(|r| r.error.is_some()) {
        bail!("a measurement failed (see above)");
    }
    Ok(())
}

/// Sizes and `--runs N`.
fn parse_args(args: &[String]) -> Result<(Vec<u64>, usize)> {
    let mut runs = DEFAULT_RUNS;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--runs" {
            let n = it.next().context("--runs takes a number, e.g. --runs 5")?;
            runs = n
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .with_context(|| format!("--runs takes a number of at least 1; got `{n}`"))?;
        } else {
            rest.push(a.clone());
        }
    }
    Ok((parse_sizes(&rest)?, runs))
}

fn parse_sizes(args: &[String]) -> Result<Vec<u64>> {
    if args.is_empty() {
        return Ok(vec![100 * MB, 1000 * MB]);
    }
    if args.len() == 1 && args[0] == "quick" {
        return Ok(vec![100 * MB]);
    }
    args.iter()
        .map(|a| {
            let (num, unit) = match a.find(|c: char| !c.is_ascii_digit()) {
                Some(i) => a.split_at(i),
                None => (a.as_str(), ""),
            };
            let n: u64 = num
                .parse()
                .with_context(|| format!("a size such as 100MB, 1GB or bytes; got `{a}`"))?;
            let unit = match unit {
                "" => 1,
                "MB" => MB,
                "GB" => 1000 * MB,
                _ => bail!("a size such as 100MB, 1GB or bytes; got `{a}`"),
            };
            Ok(n * unit)
        })
        .collect()
}

/// The page, its Worker and Papa Parse, in a scratch directory the
/// emulator serves.
fn prepare_www(ws: &Workspace) -> Result<PathBuf> {
    let www = ws.scratch_dir().join("bench-preflight-www");
    fs::create_dir_all(&www)?;
    let src = ws.root.join("bench/preflight");
    for f in [
        "index.html",
        "page.mjs",
        "papa-worker.js",
        "element.html",
        "element.mjs",
        "timer-lag.mjs",
    ] {
        fs::copy(src.join(f), www.join(f)).with_context(|| format!("copying {f}"))?;
    }
    let papa = ws.root.join("node_modules/papaparse/papaparse.min.js");
    fs::copy(&papa, www.join("papaparse.min.js"))
        .with_context(|| format!("copying {} (npm ci)", papa.display()))?;
    Ok(www)
}

/// `target/bench-preflight/preflight-SIZE.csv`: a profiles CSV of about
/// `size` bytes (whole rows), generated once and kept. Answers its path
/// and exact size.
fn ensure_file(ws: &Workspace, size: u64) -> Result<(PathBuf, u64)> {
    let dir = ws.target_dir.join("bench-preflight");
    fs::create_dir_all(&dir)?;
    let path = dir.join(format!("preflight-{size}.csv"));
    let done = path.with_extension("csv.done");
    if let (Ok(m), Ok(stamp)) = (fs::metadata(&path), fs::read_to_string(&done)) {
        if stamp.trim() == m.len().to_string() {
            return Ok((path, m.len()));
        }
    }
    println!("generating {} ({})", path.display(), human(size));
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    );
    let header = "email,first_name,last_name,loyalty_points,signed_up_at,birth_date,lifetime_value,opted_in,tier\n";
    out.write_all(header.as_bytes())?;
    let mut written = header.len() as u64;
    let mut i: u64 = 0;
    let mut line = String::with_capacity(256);
    while written < size {
        line.clear();
        let points = if i % BAD_EVERY == 7 {
            "lots".to_string()
        } else {
            (i % 100_000).to_string()
        };
        use std::fmt::Write as _;
        let _ = writeln!(
            line,
            "person{i}@example.com,First{},Last{},{points},2024-{:02}-{:02}T{:02}:{:02}:00Z,19{:02}-{:02}-{:02},{}.{:02},{},{}",
            i % 977,
            i % 1009,
            i % 12 + 1,
            i % 28 + 1,
            i % 24,
            i % 60,
            i % 100,
            i % 12 + 1,
            i % 28 + 1,
            i % 10_000,
            i % 100,
            if i.is_multiple_of(2) { "true" } else { "false" },
            ["bronze", "silver", "gold"][(i % 3) as usize],
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    out.flush()?;
    drop(out);
    fs::write(&done, written.to_string())?;
    Ok((path, written))
}

fn measure(ws: &Workspace, url: &str, file: &Path, method: &str, size: u64) -> Result<Row> {
    let page = if PREVIEW_METHODS.contains(&method) {
        "element.html"
    } else {
        "index.html"
    };
    let opts = json!({
        "url": format!("{url}/{page}"),
        "method": method,
        "file": file.to_str().context("a UTF-8 path")?,
        "size": size,
    });
    let v = crate::bench::run_driver(ws, "bench/preflight/driver.mjs", &opts)?;
    let num = |k: &str| v[k].as_f64().unwrap_or(0.0);
    let row = Row {
        method: method.to_string(),
        size,
        ms: num("ms"),
        rows: v["rows"].as_u64().unwrap_or(0),
        valid: v["valid"].as_u64().unwrap_or(0),
        invalid: v["invalid"].as_u64().unwrap_or(0),
        first_answer_ms: v["firstAnswerMs"].as_f64(),
        warm_first_answer_ms: v["warmFirstAnswerMs"].as_f64(),
        overhead_ms: v["overheadMs"].as_f64(),
        longest_task_ms: num("longestTaskMs"),
        timer_lag_ms: num("timerLagMs"),
        peak_rss: num("peakRss"),
        idle_rss: num("idleRss"),
        preview_ms: v["previewMs"].as_f64(),
        preview_frame_ms: v["previewFrameMs"].as_f64(),
        preview_rows: v["previewRows"].as_u64().unwrap_or(0),
        error: None,
    };
    if let Some(p) = row.preview_ms {
        println!(
            "   preview ({} rows, {}) in {p:.0} ms, {:.0} ms to the next frame, main thread held at most {:.0} ms",
            row.preview_rows,
            v["detected"].as_str().unwrap_or("no dialect shown"),
            row.preview_frame_ms.unwrap_or(0.0),
            row.timer_lag_ms
        );
        return Ok(row);
    }
    println!(
        "   {:.2} s, {:.1} MB/s, {} rows ({} valid, {} invalid), longest main-thread task {:.0} ms, renderer RSS peak {:.0} MiB (+{:.0})",
        row.ms / 1000.0,
        row.mb_s(),
        row.rows,
        row.valid,
        row.invalid,
        row.longest_task_ms,
        row.peak_rss / MIB,
        row.rss_growth() / MIB,
    );
    Ok(row)
}

fn human(bytes: u64) -> String {
    if bytes >= 1000 * MB {
        format!("{:.2} GB", bytes as f64 / (1000 * MB) as f64)
    } else {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    }
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".into())
}

/// The median of some values (the mean of the middle two of an even count).
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median row of the successful runs of one method and size: each
/// figure the median of its runs; rows read are the same in every run (or
/// the row says so).
fn median_row(rows: &[&Row]) -> Option<Row> {
    let ok: Vec<&&Row> = rows.iter().filter(|r| r.error.is_none()).collect();
    let first = ok.first()?;
    let m = |f: &dyn Fn(&Row) -> f64| median(ok.iter().map(|r| f(r)).collect()).unwrap_or(0.0);
    let mo = |f: &dyn Fn(&Row) -> Option<f64>| median(ok.iter().filter_map(|r| f(r)).collect());
    let same = ok
        .iter()
        .all(|r| (r.rows, r.valid, r.invalid) == (first.rows, first.valid, first.invalid));
    Some(Row {
        method: first.method.clone(),
        size: first.size,
        ms: m(&|r| r.ms),
        rows: first.rows,
        valid: first.valid,
        invalid: first.invalid,
        first_answer_ms: mo(&|r| r.first_answer_ms),
        warm_first_answer_ms: mo(&|r| r.warm_first_answer_ms),
        overhead_ms: mo(&|r| r.overhead_ms),
        longest_task_ms: m(&|r| r.longest_task_ms),
        timer_lag_ms: m(&|r| r.timer_lag_ms),
        peak_rss: m(&|r| r.peak_rss),
        idle_rss: m(&|r| r.idle_rss),
        preview_ms: mo(&|r| r.preview_ms),
        preview_frame_ms: mo(&|r| r.preview_frame_ms),
        preview_rows: first.preview_rows,
        error: (!same).then(|| "the runs read different row counts".to_string()),
    })
}

/// Min–max of one figure over the successful runs, for the spread column.
fn spread(rows: &[&Row], f: impl Fn(&Row) -> Option<f64>) -> String {
    let v: Vec<f64> = rows
        .iter()
        .filter(|r| r.error.is_none())
        .filter_map(|r| f(r))
        .collect();
    match (
        v.iter().copied().reduce(f64::min),
        v.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => format!("{lo:.0}–{hi:.0}"),
        _ => "–".into(),
    }
}

fn print_tables(all: &[Row], runs: usize) {
    // (method, size) in the order first measured.
    let mut keys: Vec<(String, u64)> = Vec::new();
    for r in all {
        let k = (r.method.clone(), r.size);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let runs_of = |method: &str, size: u64| -> Vec<&Row> {
        all.iter()
            .filter(|r| r.method == method && r.size == size)
            .collect()
    };
    let failures = |rs: &[&Row]| rs.iter().filter(|r| r.error.is_some()).count();
    let mut medians: Vec<Row> = Vec::new();

    println!();
    println!("Whole file and first answer: medians of {runs} runs (methods in turns, a fresh browser each)");
    println!();
    println!("| file | method | MB/s | s | MB/s min–max | rows | valid | invalid | first answer ms, cold / warm | a warm call on a tiny file ms | longest main-thread task ms | timer lag ms | renderer RSS peak MiB (+ over idle) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (method, size) in keys.iter().filter(|(m, _)| METHODS.contains(&m.as_str())) {
        let rs = runs_of(method, *size);
        let Some(r) = median_row(&rs) else {
            println!(
                "| {} | {method} | FAILED in every run: {} |",
                human(*size),
                first_error(&rs)
            );
            continue;
        };
        let mbs = spread(&rs, |r| Some(r.mb_s()));
        println!(
            "| {} | {}{} | {:.1} | {:.2} | {mbs} | {} | {} | {} | {} / {} | {} | {:.0} | {:.0} | {:.0} (+{:.0}) |",
            human(r.size),
            r.method,
            failed_note(failures(&rs), rs.len()),
            r.mb_s(),
            r.ms / 1000.0,
            r.rows,
            r.valid,
            r.invalid,
            ms(r.first_answer_ms),
            ms(r.warm_first_answer_ms),
            ms(r.overhead_ms),
            r.longest_task_ms,
            r.timer_lag_ms,
            r.peak_rss / MIB,
            r.rss_growth() / MIB,
        );
        medians.push(r);
    }

    println!();
    println!("<import-uploader>: drop → preview (the first rows and the detected dialect in the document), medians of {runs} runs");
    println!();
    println!("| file | drop | preview ms | min–max | to the next frame ms | main thread held at most ms | rows shown |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (method, size) in keys
        .iter()
        .filter(|(m, _)| PREVIEW_METHODS.contains(&m.as_str()))
    {
        let rs = runs_of(method, *size);
        let what = drop_label(method);
        let Some(r) = median_row(&rs) else {
            println!(
                "| {} | {what} | FAILED in every run: {} |",
                human(*size),
                first_error(&rs)
            );
            continue;
        };
        println!(
            "| {} | {what}{} | {} | {} | {} | {:.0} | {} |",
            human(r.size),
            failed_note(failures(&rs), rs.len()),
            ms(r.preview_ms),
            spread(&rs, |r| r.preview_ms),
            ms(r.preview_frame_ms),
            r.timer_lag_ms,
            r.preview_rows,
        );
        medians.push(r);
    }

    println!();
    println!("Targets (issue 16 §3, issue 17), on the medians:");
    let ok = |b: bool| if b { "met   " } else { "MISSED" };
    fn of<'a>(rows: &'a [Row], method: &'static str) -> impl Iterator<Item = &'a Row> + 'a {
        rows.iter()
            .filter(move |r| r.method == method && r.error.is_none())
    }
    for ours in of(&medians, "preflight") {
        if let Some(papa) = of(&medians, "papaparse").find(|p| p.size == ours.size) {
            println!(
                "{} {}: both read every row ({} and {} rows)",
                ok(ours.rows == papa.rows && ours.rows > 0),
                human(ours.size),
                ours.rows,
                papa.rows
            );
            let x = ours.mb_s() / papa.mb_s().max(f64::MIN_POSITIVE);
            println!(
                "{} {}: whole file {x:.1}× Papa Parse ({:.1} vs {:.1} MB/s; target ≥ 4×)",
                ok(x >= 4.0),
                human(ours.size),
                ours.mb_s(),
                papa.mb_s()
            );
        }
        for (what, v) in [
            ("cold", ours.first_answer_ms),
            ("warm", ours.warm_first_answer_ms),
        ] {
            if let Some(first) = v {
                println!(
                    "{} {}: first answer, {what}, {first:.0} ms (target < {FIRST_ANSWER_TARGET_MS:.0} ms)",
                    ok(first < FIRST_ANSWER_TARGET_MS),
                    human(ours.size)
                );
            }
        }
        println!(
            "{} {}: longest main-thread task {:.0} ms (target: none over {LONG_TASK_TARGET_MS:.0} ms)",
            ok(ours.longest_task_ms <= LONG_TASK_TARGET_MS),
            human(ours.size),
            ours.longest_task_ms
        );
    }
    let ours: Vec<&Row> = of(&medians, "preflight").collect();
    if let (Some(small), Some(large)) = (
        ours.iter().min_by_key(|r| r.size),
        ours.iter().max_by_key(|r| r.size),
    ) {
        if large.size > small.size {
            let flat = large.rss_growth() <= small.rss_growth() * 1.25 + 16.0 * MIB;
            println!(
                "{} memory: +{:.0} MiB at {} vs +{:.0} MiB at {} (target: flat)",
                ok(flat),
                large.rss_growth() / MIB,
                human(large.size),
                small.rss_growth() / MIB,
                human(small.size)
            );
        } else {
            println!("–      memory: one size only (flat is judged on two, e.g. 100MB 1GB)");
        }
    }
    for method in PREVIEW_METHODS {
        for r in of(&medians, method) {
            if let Some(p) = r.preview_ms {
                let what = drop_label(method);
                println!(
                    "{} {}: preview {p:.0} ms after the drop, {what} (target < {PREVIEW_TARGET_MS:.0} ms)",
                    ok(p < PREVIEW_TARGET_MS),
                    human(r.size),
                );
                println!(
                    "{} {}: main thread held at most {:.0} ms from the drop to the preview, {what} (target: none over {LONG_TASK_TARGET_MS:.0} ms)",
                    ok(r.timer_lag_ms <= LONG_TASK_TARGET_MS),
                    human(r.size),
                    r.timer_lag_ms,
                );
            }
        }
    }
}

fn failed_note(failed: usize, of: usize) -> String {
    if failed == 0 {
        String::new()
    } else {
        format!(" ({failed} of {of} runs failed)")
    }
}

fn first_error(rows: &[&Row]) -> String {
    rows.iter()
        .find_map(|r| r.error.as_deref())
        .and_then(|e| e.lines().next())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_counted_and_medians_taken() {
        assert_eq!(
            parse_args(&["quick".into(), "--runs".into(), "5".into()]).unwrap(),
            (vec![100 * MB], 5)
        );
        assert_eq!(parse_args(&[]).unwrap().1, DEFAULT_RUNS);
        assert!(parse_args(&["--runs".into(), "0".into()]).is_err());
        assert!(parse_args(&["--runs".into()]).is_err());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn sizes_are_read_in_decimal_units() {
        assert_eq!(parse_sizes(&[]).unwrap(), vec![100 * MB, 1000 * MB]);
        assert_eq!(parse_sizes(&["quick".into()]).unwrap(), vec![100 * MB]);
        assert_eq!(
            parse_sizes(&["5MB".into(), "2GB".into(), "1234".into()]).unwrap(),
            vec![5 * MB, 2000 * MB, 1234]
        );
        assert!(parse_sizes(&["5MiB".into()]).is_err());
        assert!(parse_sizes(&["lots".into()]).is_err());
    }
}
