//! `cargo xtask bench upload [quick|SIZE…]`: how fast a browser uploads a
//! large file to real Azure block storage (Azurite) with this package's
//! engine, compared with the fastest hand-written `fetch` code and with
//! Microsoft's `@azure/storage-blob`, and how much memory the page takes.
//!
//! For every measurement it starts a fresh Azurite (npm `azurite`, data in
//! a fresh directory under the xtask's scratch directory, deleted when the
//! run ends: Azurite keeps deleted blobs' disk for about ten minutes, so a
//! series of 4 GiB uploads would otherwise fill the disk) and a fresh
//! emulator in `--storage azurite=URL` mode that serves the benchmark page
//! (`bench/upload/`) and the package (`pkg/`). `bench/upload/driver.mjs`
//! then launches Debian's Chromium headless through `playwright-core` (the
//! binary and flags of `webdriver.json`), builds the file in the page, and
//! times one upload:
//!
//! | method | what runs in the page |
//! |---|---|
//! | `engine` | this package: `client.upload(job, blob, {partSize, concurrency})` (Content-MD5 per part, XMLHttpRequest progress) |
//! | `engine-no-md5` | the same with `checksum: false` |
//! | `raw-blocks` | `bench/upload/raw.mjs`: `fetch` Put Block of `Blob.slice()` parts, same part size and concurrency, then Put Block List; no checksum, retry or progress |
//! | `raw-blocks-read` | the same, each part first read into an `ArrayBuffer` (as code that checksums parts must) and sent as bytes (files up to 256 MiB only) |
//! | `raw-put` | one `fetch` PUT of the whole Blob (Put Blob) |
//! | `sdk` | `@azure/storage-blob` `BlockBlobClient.uploadData(blob)` with its defaults (bundled for the browser by esbuild) |
//! | `sdk-tuned` | the same with our part size and concurrency |
//!
//! Every upload goes to a job's upload URL: a real service SAS of the
//! Azurite blob (`sp=cw`), signed by the emulator as Azure documents. The
//! file is a Blob built in the page from references to one random chunk of
//! 1 MiB + 7 B (so the page holds ~1 MiB of distinct data whatever the
//! size). After each upload the committed length is checked through the
//! emulator's read-back extension (`HEAD /public/v1/import-jobs/{id}/upload`,
//! answered from Azurite), and for files up to 256 MiB the SHA-256 of the
//! bytes read back against the Blob's.
//!
//! Memory: the page's JS heap (CDP `Performance.getMetrics`,
//! `JSHeapUsedSize`) and the renderer's resident set (`VmRSS` of the pid
//! CDP `SystemInfo.getProcessInfo` names), sampled every 100 ms; the table
//! shows each peak and the RSS growth over the idle page. Code size: gzip
//! -9 of what each approach loads (the package's `.wasm` + JS glue + entry;
//! `raw.mjs`; the minified SDK bundle).
//!
//! `--methods=engine,sdk,…` measures only those rows; `--part=MiB` and
//! `--concurrency=N` set the part size and parts in flight of the engine,
//! `raw-blocks` and `sdk-tuned` rows (default: the engine's own defaults,
//! `import_core::plan::default_part_size` and 4). Sizes: `quick` is
//! 64 MiB; otherwise sizes such as `1GiB 4GiB 512MiB` or
//! bytes (default `1GiB 4GiB`). Part size × concurrency of the engine
//! (4/8/16 MiB × 2/4/8) is measured on the first size when it is at most
//! 256 MiB (so with `quick`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use import_core::plan::default_part_size;

use crate::emulator::{Azurite, Emulator};
use crate::setup::{self, Workspace};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// The engine's defaults (`import_core::plan`): 4 parts in flight, of
/// [`default_part_size`] (8 MiB up to 1 GiB, about a 128th of larger files,
/// at most 32 MiB).
const DEFAULT_CONCURRENCY: u32 = 4;
/// Files up to this size are also checked by SHA-256 (the page reads the
/// whole upload back into memory to digest it).
const SHA_LIMIT: u64 = 256 * MIB;
/// The method rows, in table order.
const METHODS: [&str; 7] = [
    "engine",
    "engine-no-md5",
    "raw-blocks",
    "raw-blocks-read",
    "raw-put",
    "sdk",
    "sdk-tuned",
];
/// The grid runs on the first size when it is no larger than this (nine
/// uploads: at the engine's checksummed speed a larger file takes too long).
const GRID_MAX: u64 = 256 * MIB;
/// The engine's configurations measured in the grid: with and without
/// per-part Content-MD5.
const GRID_METHODS: [&str; 2] = ["engine", "engine-no-md5"];
/// The grid of the engine's part size (MiB) × concurrency.
const GRID_PARTS: [u64; 3] = [4, 8, 16];
const GRID_CONCURRENCY: [u32; 3] = [2, 4, 8];

/// One measured upload.
#[derive(Debug, Clone)]
struct Row {
    method: String,
    size: u64,
    part: u64,
    concurrency: u32,
    seconds: f64,
    peak_heap: f64,
    peak_rss: f64,
    idle_rss: f64,
    committed: Option<u64>,
    sha_ok: Option<bool>,
    /// Why the measurement failed, when it did.
    error: Option<String>,
}

impl Row {
    fn mib_s(&self) -> f64 {
        self.size as f64 / MIB as f64 / self.seconds.max(1e-9)
    }

    fn check(&self) -> &'static str {
        if self.error.is_some() {
            return "FAILED (see above)";
        }
        match (self.committed == Some(self.size), self.sha_ok) {
            (false, _) => "LENGTH MISMATCH",
            (true, Some(false)) => "SHA-256 MISMATCH",
            (true, Some(true)) => "length+sha256 ok",
            (true, None) => "length ok",
        }
    }

    /// Part size and concurrency as they apply to the method.
    fn shape(&self) -> String {
        match self.method.as_str() {
            "raw-put" => "1 request".into(),
            "sdk" => "SDK defaults".into(),
            _ => format!("{} MiB × {}", self.part / MIB, self.concurrency),
        }
    }
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    let (source_args, args): (Vec<String>, Vec<String>) = args
        .iter()
        .cloned()
        .partition(|a| a.starts_with("--source="));
    let source = match source_args.last().map(|a| &a["--source=".len()..]) {
        None | Some("file") => Source::File,
        Some("memory") => Source::Memory,
        Some(other) => bail!("unknown source `{other}`: use --source=file or --source=memory"),
    };
    let (shape_args, args): (Vec<String>, Vec<String>) = args
        .iter()
        .cloned()
        .partition(|a| a.starts_with("--part=") || a.starts_with("--concurrency="));
    let mut part = None;
    let mut concurrency = DEFAULT_CONCURRENCY;
    for a in &shape_args {
        if let Some(v) = a.strip_prefix("--part=") {
            part = Some(
                v.trim_end_matches("MiB")
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| {
                        format!("`--part=` takes MiB, such as --part=16; got `{a}`")
                    })?
                    * MIB,
            );
        } else if let Some(v) = a.strip_prefix("--concurrency=") {
            concurrency = v.parse().ok().filter(|n| *n > 0).with_context(|| {
                format!("`--concurrency=` takes a number, such as --concurrency=4; got `{a}`")
            })?;
        }
    }
    let (method_args, size_args): (Vec<String>, Vec<String>) = args
        .iter()
        .cloned()
        .partition(|a| a.starts_with("--methods="));
    let methods: Vec<&str> = match method_args.last() {
        None => METHODS.to_vec(),
        Some(a) => {
            let wanted: Vec<&str> = a["--methods=".len()..].split(',').collect();
            if let Some(bad) = wanted.iter().find(|m| !METHODS.contains(m)) {
                bail!("unknown method `{bad}`; methods: {}", METHODS.join(", "));
            }
            METHODS
                .iter()
                .copied()
                .filter(|m| wanted.contains(m))
                .collect()
        }
    };
    let sizes = parse_sizes(&size_args)?;
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
    let code = code_sizes(&ws, &www)?;

    let mut rows = Vec::new();
    let mut grid = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let file = match source {
            Source::File => Some(ensure_file(&ws, size)?),
            Source::Memory => None,
        };
        let file = file.as_deref();
        for &method in &methods {
            // A diagnostic row (as slow as the checksummed engine): small
            // files only.
            if method == "raw-blocks-read" && size > GRID_MAX {
                continue;
            }
            rows.push(measure_or_record(
                &ws,
                &emulator_bin,
                &www,
                file,
                method,
                size,
                part.unwrap_or_else(|| default_part_size(size)),
                concurrency,
            ));
        }
        if i == 0 && size <= GRID_MAX {
            for method in GRID_METHODS {
                for part in GRID_PARTS {
                    for conc in GRID_CONCURRENCY {
                        let row = match rows.iter().find(|r| {
                            r.method == method
                                && r.size == size
                                && r.part == part * MIB
                                && r.concurrency == conc
                        }) {
                            Some(r) => r.clone(),
                            None => measure_or_record(
                                &ws,
                                &emulator_bin,
                                &www,
                                file,
                                method,
                                size,
                                part * MIB,
                                conc,
                            ),
                        };
                        grid.push(row);
                    }
                }
            }
        }
    }
    print_tables(&rows, &grid, &code);
    if rows.iter().chain(&grid).any(|r| !r.check().ends_with("ok")) {
        bail!("an upload did not commit the file it was given (see the check column)");
    }
    Ok(())
}

/// Where the uploaded file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A generated file on disk, chosen through the page's file input (the
    /// default: what users upload).
    File,
    /// A Blob built in the page from references to one random chunk.
    Memory,
}

/// `target/bench-upload/files/bench-SIZE.bin`: `size` pseudo-random bytes
/// (xorshift64*, so they do not compress), generated once and kept.
fn ensure_file(ws: &Workspace, size: u64) -> Result<PathBuf> {
    let dir = ws.target_dir.join("bench-upload/files");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("bench-{size}.bin"));
    if fs::metadata(&path)
        .map(|m| m.len() == size)
        .unwrap_or(false)
    {
        return Ok(path);
    }
    println!("generating {} ({})", path.display(), human(size));
    let tmp = path.with_extension("part");
    let mut out = std::io::BufWriter::with_capacity(
        MIB as usize,
        fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?,
    );
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ size;
    let mut left = size;
    let mut buf = vec![0u8; MIB as usize];
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        let n = left.min(MIB) as usize;
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    drop(out);
    fs::rename(&tmp, &path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(path)
}

fn parse_sizes(args: &[String]) -> Result<Vec<u64>> {
    if args.is_empty() {
        return Ok(vec![GIB, 4 * GIB]);
    }
    if args.len() == 1 && args[0] == "quick" {
        return Ok(vec![64 * MIB]);
    }
    args.iter()
        .map(|a| {
            let s = a.trim().to_ascii_lowercase().replace('_', "");
            let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
                Some(i) => s.split_at(i),
                None => (s.as_str(), ""),
            };
            let n: u64 = num.parse().ok().filter(|n| *n > 0).with_context(|| {
                format!("`bench upload` takes `quick` or sizes such as 1GiB, 512MiB or bytes; got `{a}`")
            })?;
            let mult = match unit {
                "" | "b" => 1,
                "k" | "kib" => 1024,
                "m" | "mib" => MIB,
                "g" | "gib" => GIB,
                _ => bail!("unknown size unit in `{a}`: use KiB, MiB or GiB"),
            };
            Ok(n * mult)
        })
        .collect()
}

/// `target/bench-upload/www`: the page, the raw baseline and the SDK bundle.
fn prepare_www(ws: &Workspace) -> Result<PathBuf> {
    let src = ws.root.join("bench/upload");
    let www = ws.target_dir.join("bench-upload/www");
    fs::create_dir_all(&www).with_context(|| format!("creating {}", www.display()))?;
    for f in ["index.html", "page.mjs", "raw.mjs"] {
        fs::copy(src.join(f), www.join(f)).with_context(|| format!("copying {f}"))?;
    }
    let esbuild = ws.root.join("node_modules/.bin/esbuild");
    crate::process::run(
        ws.cmd(&esbuild)
            .arg(src.join("sdk-entry.mjs"))
            .args([
                "--bundle",
                "--format=esm",
                "--platform=browser",
                "--minify",
                "--log-level=warning",
            ])
            .arg(format!("--outfile={}", www.join("sdk.js").display())),
    )
    .context("bundling @azure/storage-blob with esbuild")?;
    Ok(www)
}

/// gzip -9 bytes of what each approach loads.
struct CodeSizes {
    engine: usize,
    raw: usize,
    sdk: usize,
}

impl CodeSizes {
    fn of(&self, method: &str) -> usize {
        match method {
            m if m.starts_with("engine") => self.engine,
            m if m.starts_with("raw") => self.raw,
            _ => self.sdk,
        }
    }
}

fn gzip_file(path: &Path) -> Result<usize> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(&bytes)?;
    Ok(enc.finish()?.len())
}

fn code_sizes(ws: &Workspace, www: &Path) -> Result<CodeSizes> {
    let pkg = ws.pkg_dir();
    let mut engine = 0;
    let meta = crate::package::read_meta(&ws.root_manifest()?)?;
    for f in [
        crate::package::browser_wasm(&meta),
        "import_uploader.js".to_string(),
        "entry-browser.js".to_string(),
    ] {
        engine += gzip_file(&pkg.join(f))?;
    }
    Ok(CodeSizes {
        engine,
        raw: gzip_file(&www.join("raw.mjs"))?,
        sdk: gzip_file(&www.join("sdk.js"))?,
    })
}

/// [`measure`], a failure recorded as a row (so one failed upload does not
/// lose the others' numbers).
#[allow(clippy::too_many_arguments)]
fn measure_or_record(
    ws: &Workspace,
    emulator_bin: &Path,
    www: &Path,
    file: Option<&Path>,
    method: &str,
    size: u64,
    part: u64,
    concurrency: u32,
) -> Row {
    measure(ws, emulator_bin, www, file, method, size, part, concurrency).unwrap_or_else(|e| {
        println!("   FAILED: {e:#}");
        Row {
            method: method.to_string(),
            size,
            part,
            concurrency,
            seconds: f64::NAN,
            peak_heap: f64::NAN,
            peak_rss: f64::NAN,
            idle_rss: f64::NAN,
            committed: None,
            sha_ok: None,
            error: Some(format!("{e:#}")),
        }
    })
}

/// One upload with a fresh Azurite and emulator (both removed afterwards).
#[allow(clippy::too_many_arguments)]
fn measure(
    ws: &Workspace,
    emulator_bin: &Path,
    www: &Path,
    file: Option<&Path>,
    method: &str,
    size: u64,
    part: u64,
    concurrency: u32,
) -> Result<Row> {
    println!(
        "\n== {method}, {}, {} MiB × {concurrency}",
        human(size),
        part / MIB
    );
    let azurite = Azurite::start(ws)?;
    let storage = format!("azurite={}", azurite.url);
    let pkg = ws.pkg_dir();
    let args = [
        "--storage",
        storage.as_str(),
        "--www",
        www.to_str().context("a UTF-8 path")?,
        "--pkg",
        pkg.to_str().context("a UTF-8 path")?,
        "--workers",
        "0",
    ];
    let emulator = Emulator::start_named(ws, emulator_bin, "bench-upload-emulator", &args)?;
    let mut opts = json!({
        "url": format!("{}/index.html", emulator.url),
        "method": method,
        "size": size,
        "partSize": part,
        "concurrency": concurrency,
        "verifySha": size <= SHA_LIMIT,
    });
    if let Some(f) = file {
        opts["file"] = json!(f.to_str().context("a UTF-8 path")?);
    }
    let out = ws
        .cmd("node")
        .arg(ws.root.join("bench/upload/driver.mjs"))
        .arg(opts.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running bench/upload/driver.mjs with node")?;
    drop(emulator);
    drop(azurite);
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
        part,
        concurrency,
        seconds: num("seconds"),
        peak_heap: num("peakHeap"),
        peak_rss: num("peakRss"),
        idle_rss: num("idleRss"),
        committed: v["committed"].as_u64(),
        sha_ok: v["shaOk"].as_bool(),
        error: None,
    };
    println!(
        "   {:.2} s, {:.1} MiB/s, heap peak {:.1} MiB, renderer RSS peak {:.0} MiB (+{:.0}), {}",
        row.seconds,
        row.mib_s(),
        row.peak_heap / MIB as f64,
        row.peak_rss / MIB as f64,
        (row.peak_rss - row.idle_rss) / MIB as f64,
        row.check()
    );
    Ok(row)
}

fn human(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else {
        format!("{} MiB", bytes as f64 / MIB as f64)
    }
}

fn print_tables(rows: &[Row], grid: &[Row], code: &CodeSizes) {
    let mib = |b: f64| b / MIB as f64;
    println!();
    println!(
        "| method | size | parts | seconds | MiB/s | JS heap peak (MiB) | renderer RSS peak (MiB) | RSS over idle (MiB) | code (gzip KiB) | check |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1} | {} |",
            r.method,
            human(r.size),
            r.shape(),
            r.seconds,
            r.mib_s(),
            mib(r.peak_heap),
            mib(r.peak_rss),
            mib(r.peak_rss - r.idle_rss),
            code.of(&r.method) as f64 / 1024.0,
            r.check()
        );
    }
    for method in GRID_METHODS {
        let cells: Vec<&Row> = grid.iter().filter(|r| r.method == method).collect();
        let Some(first) = cells.first() else { continue };
        println!();
        println!(
            "{method}, {}: MiB/s by part size (rows) × concurrency (columns)",
            human(first.size)
        );
        println!();
        print!("| part size |");
        for c in GRID_CONCURRENCY {
            print!(" ×{c} |");
        }
        println!();
        println!("|---|{}", "---:|".repeat(GRID_CONCURRENCY.len()));
        for p in GRID_PARTS {
            print!("| {p} MiB |");
            for c in GRID_CONCURRENCY {
                match cells
                    .iter()
                    .find(|r| r.part == p * MIB && r.concurrency == c)
                {
                    Some(r) => print!(" {:.1} |", r.mib_s()),
                    None => print!(" – |"),
                }
            }
            println!();
        }
    }
    // Ratios the issue sets targets for, per size.
    println!();
    let mut sizes: Vec<u64> = rows.iter().map(|r| r.size).collect();
    sizes.dedup();
    for size in sizes {
        let speed = |m: &str| {
            rows.iter()
                .find(|r| r.method == m && r.size == size)
                .map(Row::mib_s)
        };
        if let (Some(e), Some(raw), Some(put), Some(sdk)) = (
            speed("engine"),
            speed("raw-blocks"),
            speed("raw-put"),
            speed("sdk"),
        ) {
            println!(
                "{}: engine = {:.2} × raw-blocks, {:.2} × raw-put, {:.2} × sdk (defaults)",
                human(size),
                e / raw,
                e / put,
                e / sdk
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        let s = |v: &[&str]| parse_sizes(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&[]).unwrap(), vec![GIB, 4 * GIB]);
        assert_eq!(s(&["quick"]).unwrap(), vec![64 * MIB]);
        assert_eq!(
            s(&["1GiB", "512MiB", "1000"]).unwrap(),
            vec![GIB, 512 * MIB, 1000]
        );
        assert!(s(&["1TiB"]).is_err());
        assert!(s(&["0"]).is_err());
        assert!(s(&["fast"]).is_err());
    }
}
