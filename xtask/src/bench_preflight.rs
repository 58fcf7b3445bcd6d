//! `cargo xtask bench preflight [quick|SIZE…]`: how fast
//! `import-uploader/preflight` reads a large CSV in a browser, against
//! Papa Parse, and what it costs the page.
//!
//! It generates profiles CSV files (`target/bench-preflight/`, kept and
//! reused; unique e-mails, one row in 1,000 with a bad value), starts the
//! emulator serving the benchmark page (`bench/preflight/`, with Papa
//! Parse from `node_modules` beside it) and the package (`pkg/`), and for
//! every size and method runs `bench/preflight/driver.mjs`: a fresh
//! headless Chromium (`playwright-core`, the flags of `webdriver.json`)
//! with the file chosen through the page's file input.
//!
//! | method | what runs in the page |
//! |---|---|
//! | `preflight` | `preflight(tiny, { schema })` (what a call costs: a Worker started, the module loaded), `preflight(file, { schema })` (the first answer, the 1 MiB sample) twice, then `preflight(file, { schema, full: true, onProgress })` |
//! | `papaparse` | Papa Parse 5 in a Worker: `Papa.parse(file, { header: true, step })`, streaming, with a per-row type check of each value against its field's type (`bench/preflight/papa-worker.js`) |
//!
//! Columns: whole-file MB/s (1 MB = 10^6 bytes) and seconds; rows read,
//! valid and invalid (both must read every row); the first answer's time;
//! the main thread's longest task (PerformanceObserver `longtask`, which
//! reports tasks of 50 ms and more; 0 means none) and the largest delay of
//! a 10 ms timer; the renderer's resident memory (Workers included) at its
//! peak and its growth over the idle page. Then the targets, PASS or MISS:
//! at least 4× Papa Parse's speed, the first answer under 100 ms, no
//! main-thread task over 50 ms, and memory flat from the smallest size to
//! the largest (the peak growth of the largest within 1.25× of the
//! smallest's, plus 16 MiB).
//!
//! Sizes: `quick` is 100 MB; otherwise sizes such as `100MB 1GB` or bytes
//! (default `100MB 1GB`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::emulator::Emulator;
use crate::setup::{self, Workspace};

const MB: u64 = 1_000_000;
const MIB: f64 = 1024.0 * 1024.0;
const METHODS: [&str; 2] = ["preflight", "papaparse"];
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
    let sizes = parse_sizes(args)?;
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
    let mut rows = Vec::new();
    for &size in &sizes {
        let (file, exact) = ensure_file(&ws, size)?;
        for method in METHODS {
            println!("\n== {method}, {}", human(exact));
            let row = measure(&ws, &emulator.url, &file, method, exact).unwrap_or_else(|e| {
                println!("   FAILED: {e:#}");
                Row {
                    method: method.to_string(),
                    size: exact,
                    error: Some(format!("{e:#}")),
                    ..Row::default()
                }
            });
            rows.push(row);
        }
    }
    drop(emulator);
    print_table(&rows);
    if rows.iter().any(|r| r.error.is_some()) {
        bail!("a measurement failed (see above)");
    }
    Ok(())
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
    for f in ["index.html", "page.mjs", "papa-worker.js"] {
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
    let opts = json!({
        "url": format!("{url}/index.html"),
        "method": method,
        "file": file.to_str().context("a UTF-8 path")?,
        "size": size,
    });
    let out = ws
        .cmd("node")
        .arg(ws.root.join("bench/preflight/driver.mjs"))
        .arg(opts.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running bench/preflight/driver.mjs with node")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
        bail!(
            "the driver printed no RESULT line ({}):\n{stdout}",
            out.status
        );
    };
    let v: Value = serde_json::from_str(line).context("parsing the driver's RESULT")?;
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
        error: None,
    };
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

fn print_table(rows: &[Row]) {
    println!();
    println!("| file | method | MB/s | s | rows | valid | invalid | first answer ms (after a call / again) | a call on a tiny file ms | longest main-thread task ms | timer lag ms | renderer RSS peak MiB (+ over idle) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        if let Some(e) = &r.error {
            println!(
                "| {} | {} | FAILED: {} |",
                human(r.size),
                r.method,
                e.lines().next().unwrap_or("")
            );
            continue;
        }
        println!(
            "| {} | {} | {:.1} | {:.2} | {} | {} | {} | {} / {} | {} | {:.0} | {:.0} | {:.0} (+{:.0}) |",
            human(r.size),
            r.method,
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
    }
    println!();
    let ok = |b: bool| if b { "PASS" } else { "MISS" };
    fn of<'a>(rows: &'a [Row], method: &'static str) -> impl Iterator<Item = &'a Row> + 'a {
        rows.iter()
            .filter(move |r| r.method == method && r.error.is_none())
    }
    for ours in of(rows, "preflight") {
        if let Some(papa) = of(rows, "papaparse").find(|p| p.size == ours.size) {
            println!(
                "{} {}: both read every row ({} and {} rows)",
                ok(ours.rows == papa.rows && ours.rows > 0),
                human(ours.size),
                ours.rows,
                papa.rows
            );
            let x = ours.mb_s() / papa.mb_s().max(f64::MIN_POSITIVE);
            println!(
                "{} {}: {x:.1}× Papa Parse (target ≥ 4×)",
                ok(x >= 4.0),
                human(ours.size)
            );
        }
        if let Some(first) = ours.first_answer_ms {
            println!(
                "{} {}: first answer {first:.0} ms (target < 100 ms)",
                ok(first < 100.0),
                human(ours.size)
            );
        }
        println!(
            "{} {}: longest main-thread task {:.0} ms (target: none over 50 ms)",
            ok(ours.longest_task_ms <= 50.0),
            human(ours.size),
            ours.longest_task_ms
        );
    }
    let ours: Vec<&Row> = of(rows, "preflight").collect();
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
