//! `cargo xtask bench upload [quick|SIZE…] [--link=local,sink,wan] …`: how
//! fast a browser uploads a large file to Azure block storage with this
//! package's engine, compared with the fastest hand-written `fetch` code and
//! with Microsoft's `@azure/storage-blob` written as its documentation
//! recommends, over three links, and how much memory the page takes.
//!
//! Links (`--link=`, several separated by commas; default all three):
//!
//! | link | where the upload URL points |
//! |---|---|
//! | `local` | Azurite on loopback (a real Azure block protocol peer, one Node process) |
//! | `sink` | a discard sink speaking the block protocol ([`crate::bench_link::Sink`]): what the client itself can do |
//! | `wan` | Azurite behind a proxy ([`crate::bench_link::Proxy`]) adding a round trip (`--rtt=MS`, default 40) and a per-connection rate cap (`--conn-rate=MiB/s`, default 16; `0`: none) |
//!
//! For every measurement it starts fresh peers: Azurite (npm `azurite`,
//! data in a fresh directory, deleted when the measurement ends: Azurite
//! keeps deleted blobs' disk for about ten minutes) for `local` and `wan`,
//! the proxy in front of it for `wan`, the sink for `sink`, and a fresh
//! emulator in `--storage azurite=URL` mode whose URL is Azurite's, the
//! proxy's or the sink's endpoint, so the job's upload URL is a real
//! service SAS (`sp=cw`) pointing at that host (the SAS signs the blob's
//! path, not the host, so it is valid through the proxy). The emulator
//! serves the page (`bench/upload/`) and the package (`pkg/`).
//! `bench/upload/driver.mjs` then launches Debian's Chromium headless
//! through `playwright-core`, puts the file in the page's file input and
//! times one upload with one method (the table is in `bench/upload/page.mjs`,
//! one entry per method; [`METHODS`] lists them in table order).
//!
//! Runs: `--runs=N` (default 3) rounds, each measuring every method once
//! in turn (A B C D A B C D …), so a drift of the machine's speed spreads
//! over all methods; the table prints each method's median, min and max.
//! After each upload the committed length is read back through the
//! emulator's read-back extension (`HEAD /public/v1/import-jobs/{id}/upload`,
//! answered by Azurite or by the sink's count of the bytes it received), and
//! on `local` for files up to 256 MiB the SHA-256 of the bytes too.
//!
//! Memory: the page's JS heap (CDP `Performance.getMetrics`) and the
//! renderer's resident set (`VmRSS`), sampled every 100 ms; the table shows
//! the medians of each run's peak and of the RSS growth over the idle page.
//!
//! Sizes: `quick` is 64 MiB; otherwise sizes such as `1GiB 4GiB 512MiB` or
//! bytes (default `1GiB 4GiB`). Every method runs on the first size; the
//! later sizes run only the engine (the memory targets are about it)
//! unless `--methods=` names the methods. `--part=MiB` and
//! `--concurrency=N` set the part size and parts in flight of the engine,
//! `raw-blocks` and `sdk-tuned` rows (default: the engine's own defaults).
//! On `wan` the engine's part size × concurrency grid
//! ([`GRID_PARTS`] × [`GRID_CONCURRENCY`]) runs on the first size,
//! `--grid-runs=N` rounds (default 1; `0` skips it). Then the issue's
//! targets are printed with the measured ratios, met or missed.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::json;

use import_core::plan::{default_part_size, DEFAULT_CONCURRENCY};

use crate::bench_link::{self, Proxy, Sink};
use crate::emulator::{Azurite, Emulator};
use crate::setup::{self, Workspace};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// Files up to this size are also checked by SHA-256 on `local` (the page
/// reads the whole upload back into memory to digest it).
const SHA_LIMIT: u64 = 256 * MIB;
/// The method rows, in table order: each is one entry of the `methods`
/// table of `bench/upload/page.mjs`.
const METHODS: [&str; 8] = [
    "engine",
    "engine-no-checksum",
    "raw-put",
    "raw-blocks",
    "raw-blocks-xhr",
    "raw-blocks-read",
    "sdk",
    "sdk-tuned",
];
/// The methods measured when `--methods=` is not given: the four.
const DEFAULT_METHODS: [&str; 4] = ["engine", "raw-put", "raw-blocks", "sdk"];
/// `raw-blocks-read` holds each part in memory: small files only.
const READ_LIMIT: u64 = 256 * MIB;
/// The grid of the engine's part size (MiB) × concurrency, on `wan`.
pub const GRID_PARTS: [u64; 4] = [4, 8, 16, 32];
pub const GRID_CONCURRENCY: [u32; 5] = [2, 4, 6, 8, 12];
/// The `wan` link's defaults.
const DEFAULT_RTT_MS: u64 = 40;
const DEFAULT_CONN_RATE_MIB: f64 = 16.0;
/// Rounds of every method by default.
const DEFAULT_RUNS: usize = 3;

/// Where the upload URL points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkKind {
    Local,
    Sink,
    Wan,
}

impl LinkKind {
    fn name(self) -> &'static str {
        match self {
            LinkKind::Local => "local",
            LinkKind::Sink => "sink",
            LinkKind::Wan => "wan",
        }
    }
}

/// What `bench upload` was asked to do.
#[derive(Debug, Clone)]
struct Options {
    links: Vec<LinkKind>,
    sizes: Vec<u64>,
    methods: Vec<&'static str>,
    /// `--methods=` was given: every size runs them.
    methods_given: bool,
    part: Option<u64>,
    concurrency: u32,
    runs: usize,
    grid_runs: usize,
    wan: bench_link::Link,
    source: Source,
    /// `--azurite=stock`: Azurite without the faster CRC-64.
    stock_azurite: bool,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        links: vec![LinkKind::Local, LinkKind::Sink, LinkKind::Wan],
        sizes: Vec::new(),
        methods: DEFAULT_METHODS.to_vec(),
        methods_given: false,
        part: None,
        concurrency: DEFAULT_CONCURRENCY,
        runs: DEFAULT_RUNS,
        grid_runs: 1,
        wan: bench_link::Link {
            rtt: Duration::from_millis(DEFAULT_RTT_MS),
            rate: Some(DEFAULT_CONN_RATE_MIB * MIB as f64),
        },
        source: Source::File,
        stock_azurite: false,
    };
    let mut size_args = Vec::new();
    let count = |flag: &str, v: &str, min: usize| -> Result<usize> {
        v.parse::<usize>()
            .ok()
            .filter(|n| *n >= min)
            .with_context(|| format!("`{flag}` takes a whole number of at least {min}; got `{v}`"))
    };
    for a in args {
        let Some((flag, v)) = a.split_once('=').filter(|_| a.starts_with("--")) else {
            if a.starts_with("--") {
                bail!("unknown flag `{a}`; see `cargo xtask help`");
            }
            size_args.push(a.clone());
            continue;
        };
        match flag {
            "--source" => {
                o.source = match v {
                    "file" => Source::File,
                    "memory" => Source::Memory,
                    _ => bail!("unknown source `{v}`: use --source=file or --source=memory"),
                }
            }
            "--azurite" => {
                o.stock_azurite = match v {
                    "fast-crc64" => false,
                    "stock" => true,
                    _ => bail!("unknown `--azurite={v}`: use fast-crc64 (the default) or stock"),
                }
            }
            "--link" => {
                o.links = v
                    .split(',')
                    .map(|l| match l.trim() {
                        "local" => Ok(LinkKind::Local),
                        "sink" => Ok(LinkKind::Sink),
                        "wan" => Ok(LinkKind::Wan),
                        other => bail!(
                            "unknown link `{other}`: use local, sink or wan (e.g. --link=sink,wan)"
                        ),
                    })
                    .collect::<Result<_>>()?;
                o.links.dedup();
            }
            "--methods" => {
                let wanted: Vec<&str> = v.split(',').map(str::trim).collect();
                if let Some(bad) = wanted.iter().find(|m| !METHODS.contains(m)) {
                    bail!("unknown method `{bad}`; methods: {}", METHODS.join(", "));
                }
                o.methods = METHODS
                    .iter()
                    .copied()
                    .filter(|m| wanted.contains(m))
                    .collect();
                o.methods_given = true;
            }
            "--part" => {
                o.part = Some(
                    v.trim_end_matches("MiB")
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .with_context(|| {
                            format!("`--part=` takes MiB, such as --part=16; got `{a}`")
                        })?
                        * MIB,
                )
            }
            "--concurrency" => o.concurrency = count(flag, v, 1)? as u32,
            "--runs" => o.runs = count(flag, v, 1)?,
            "--grid-runs" => o.grid_runs = count(flag, v, 0)?,
            "--rtt" => {
                let ms: u64 = v.trim_end_matches("ms").parse().with_context(|| {
                    format!("`--rtt=` takes milliseconds, such as --rtt=40; got `{a}`")
                })?;
                o.wan.rtt = Duration::from_millis(ms);
            }
            "--conn-rate" => {
                let r: f64 = v
                    .trim_end_matches("MiB/s")
                    .parse()
                    .ok()
                    .filter(|r: &f64| r.is_finite() && *r >= 0.0)
                    .with_context(|| {
                        format!("`--conn-rate=` takes MiB/s per connection, such as --conn-rate=16 (0: no cap); got `{a}`")
                    })?;
                o.wan.rate = (r > 0.0).then_some(r * MIB as f64);
            }
            _ => bail!("unknown flag `{a}`; see `cargo xtask help`"),
        }
    }
    o.sizes = parse_sizes(&size_args)?;
    Ok(o)
}

/// One measured upload.
#[derive(Debug, Clone)]
struct Row {
    link: LinkKind,
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

    fn ok(&self) -> bool {
        self.check().ends_with("ok")
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
}

/// What one upload measures: the link, the file (none: a Blob built in the
/// page), the method, and the size, part size and parts in flight.
#[derive(Debug, Clone, Copy)]
struct Measurement<'a> {
    link: LinkKind,
    file: Option<&'a Path>,
    method: &'a str,
    size: u64,
    part: u64,
    concurrency: u32,
}

impl Measurement<'_> {
    /// A row for this measurement with nothing measured yet (no time, no
    /// memory, nothing committed, no error).
    fn row(&self) -> Row {
        Row {
            link: self.link,
            method: self.method.to_string(),
            size: self.size,
            part: self.part,
            concurrency: self.concurrency,
            seconds: f64::NAN,
            peak_heap: f64::NAN,
            peak_rss: f64::NAN,
            idle_rss: f64::NAN,
            committed: None,
            sha_ok: None,
            error: None,
        }
    }
}

/// Part size and concurrency as they apply to the method.
fn shape(method: &str, part: u64, concurrency: u32) -> String {
    match method {
        "raw-put" => "1 request".into(),
        "sdk" => "SDK defaults".into(),
        _ => format!("{} MiB × {}", part / MIB, concurrency),
    }
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    let o = parse_options(args)?;
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
    let bench = Bench {
        ws: &ws,
        emulator_bin: &emulator_bin,
        www: &www,
        wan: o.wan,
        preload: (!o.stock_azurite).then(|| ws.root.join("bench/upload/azurite-crc64.cjs")),
    };

    let mut rows = Vec::new();
    let mut grid = Vec::new();
    for &link in &o.links {
        for (i, &size) in o.sizes.iter().enumerate() {
            let file = match o.source {
                Source::File => Some(ensure_file(&ws, size)?),
                Source::Memory => None,
            };
            let file = file.as_deref();
            let methods: Vec<&str> = o
                .methods
                .iter()
                .copied()
                .filter(|m| i == 0 || o.methods_given || *m == "engine")
                .filter(|m| *m != "raw-blocks-read" || size <= READ_LIMIT)
                .collect();
            let part = o.part.unwrap_or_else(|| default_part_size(size));
            for run in 1..=o.runs {
                for &method in &methods {
                    println!("\n== {} run {run}/{}", link.name(), o.runs);
                    rows.push(bench.measure_or_record(&Measurement {
                        link,
                        file,
                        method,
                        size,
                        part,
                        concurrency: o.concurrency,
                    }));
                }
            }
            if link == LinkKind::Wan && i == 0 {
                for run in 1..=o.grid_runs {
                    for part in GRID_PARTS {
                        for conc in GRID_CONCURRENCY {
                            println!("\n== wan grid run {run}/{}", o.grid_runs);
                            grid.push(bench.measure_or_record(&Measurement {
                                link,
                                file,
                                method: "engine",
                                size,
                                part: part * MIB,
                                concurrency: conc,
                            }));
                        }
                    }
                }
            }
        }
    }
    print_tables(&o, &rows, &grid, &code);
    if rows.iter().chain(&grid).any(|r| !r.ok()) {
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

/// What every measurement needs.
struct Bench<'a> {
    ws: &'a Workspace,
    emulator_bin: &'a Path,
    www: &'a Path,
    wan: bench_link::Link,
    /// Loaded into every Azurite (`bench/upload/azurite-crc64.cjs`), unless
    /// `--azurite=stock`.
    preload: Option<PathBuf>,
}

/// The storage peers of one measurement; dropped (stopped, data removed)
/// when it ends.
enum Peers {
    Local(Azurite),
    Sink(Sink),
    Wan {
        proxy: Proxy,
        /// Behind the proxy; kept until the measurement ends.
        _azurite: Azurite,
    },
}

impl Peers {
    fn start(
        ws: &Workspace,
        link: LinkKind,
        wan: bench_link::Link,
        preload: Option<&Path>,
    ) -> Result<Peers> {
        let azurite = || -> Result<Azurite> {
            let az = Azurite::start_with_preload(ws, preload)?;
            if preload.is_some() {
                let log = fs::read_to_string(&az.log).unwrap_or_default();
                if !log.contains("CRC-64 replaced") {
                    bail!(
                        "Azurite did not take the faster CRC-64 (see {}); run with --azurite=stock to measure without it",
                        az.log.display()
                    );
                }
            }
            Ok(az)
        };
        Ok(match link {
            LinkKind::Local => Peers::Local(azurite()?),
            LinkKind::Sink => Peers::Sink(Sink::start()?),
            LinkKind::Wan => {
                let az = azurite()?;
                let upstream = azurite_addr(&az.url)?;
                let proxy = Proxy::start(upstream, wan)?;
                Peers::Wan {
                    proxy,
                    _azurite: az,
                }
            }
        })
    }

    /// The blob endpoint the emulator signs upload URLs for.
    fn endpoint(&self) -> String {
        match self {
            Peers::Local(az) => az.url.clone(),
            Peers::Sink(sink) => sink.url(),
            Peers::Wan { proxy, .. } => format!("http://{}/{}", proxy.addr, bench_link::ACCOUNT),
        }
    }
}

/// `127.0.0.1:PORT` of Azurite's `http://127.0.0.1:PORT/account` URL.
fn azurite_addr(url: &str) -> Result<SocketAddr> {
    url.strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("Azurite's URL `{url}` has no address"))
}

impl Bench<'_> {
    /// [`Bench::measure`], a failure recorded as a row (so one failed upload
    /// does not lose the others' numbers).
    fn measure_or_record(&self, m: &Measurement) -> Row {
        self.measure(m).unwrap_or_else(|e| {
            println!("   FAILED: {e:#}");
            Row {
                error: Some(format!("{e:#}")),
                ..m.row()
            }
        })
    }

    /// One upload with fresh peers and emulator (all removed afterwards).
    fn measure(&self, m: &Measurement) -> Result<Row> {
        let &Measurement {
            link,
            file,
            method,
            size,
            part,
            concurrency,
        } = m;
        println!(
            "   {method}, {}, {}",
            human(size),
            shape(method, part, concurrency)
        );
        let ws = self.ws;
        let peers = Peers::start(ws, link, self.wan, self.preload.as_deref())?;
        let storage = format!("azurite={}", peers.endpoint());
        let pkg = ws.pkg_dir();
        let args = [
            "--storage",
            storage.as_str(),
            "--www",
            self.www.to_str().context("a UTF-8 path")?,
            "--pkg",
            pkg.to_str().context("a UTF-8 path")?,
            "--workers",
            "0",
        ];
        let emulator =
            Emulator::start_named(ws, self.emulator_bin, "bench-upload-emulator", &args)?;
        let mut opts = json!({
            "url": format!("{}/index.html", emulator.url),
            "method": method,
            "size": size,
            "partSize": part,
            "concurrency": concurrency,
            "verifySha": link == LinkKind::Local && size <= SHA_LIMIT,
        });
        if let Some(f) = file {
            opts["file"] = json!(f.to_str().context("a UTF-8 path")?);
        }
        let driven = crate::bench::run_driver(ws, "bench/upload/driver.mjs", &opts);
        drop(emulator);
        let seen = match &peers {
            Peers::Local(_) => None,
            Peers::Sink(sink) => Some(format!("sink saw {}", sink.stats.summary())),
            Peers::Wan { proxy, .. } => Some(format!("proxy saw {}", proxy.stats.summary())),
        };
        drop(peers);
        let v = driven?;
        let num = |k: &str| v[k].as_f64().unwrap_or(0.0);
        let row = Row {
            seconds: num("seconds"),
            peak_heap: num("peakHeap"),
            peak_rss: num("peakRss"),
            idle_rss: num("idleRss"),
            committed: v["committed"].as_u64(),
            sha_ok: v["shaOk"].as_bool(),
            ..m.row()
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
        if let Some(seen) = seen {
            println!("   {seen} (the emulator's own set-up and read-back included)");
        }
        Ok(row)
    }
}

fn human(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else {
        format!("{} MiB", bytes as f64 / MIB as f64)
    }
}

/// The runs of one method, link, size and shape, summarised.
#[derive(Debug, Clone)]
struct Summary {
    link: LinkKind,
    method: String,
    size: u64,
    part: u64,
    concurrency: u32,
    runs: usize,
    ok: usize,
    mib_s: f64,
    min: f64,
    max: f64,
    heap: f64,
    rss_over_idle: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Groups `rows` by link, method, size and shape (in the order they first
/// appear) and takes the medians of the successful runs.
fn summarise(rows: &[Row]) -> Vec<Summary> {
    let mut out: Vec<Summary> = Vec::new();
    let same = |s: &Summary, r: &Row| {
        s.link == r.link
            && s.method == r.method
            && s.size == r.size
            && s.part == r.part
            && s.concurrency == r.concurrency
    };
    for r in rows {
        if out.iter().any(|s| same(s, r)) {
            continue;
        }
        let group: Vec<&Row> = rows
            .iter()
            .filter(|x| {
                x.link == r.link
                    && x.method == r.method
                    && x.size == r.size
                    && x.part == r.part
                    && x.concurrency == r.concurrency
            })
            .collect();
        let good: Vec<&Row> = group.iter().copied().filter(|x| x.ok()).collect();
        let speeds: Vec<f64> = good.iter().map(|x| x.mib_s()).collect();
        out.push(Summary {
            link: r.link,
            method: r.method.clone(),
            size: r.size,
            part: r.part,
            concurrency: r.concurrency,
            runs: group.len(),
            ok: good.len(),
            mib_s: median(speeds.clone()),
            min: speeds.iter().copied().fold(f64::INFINITY, f64::min),
            max: speeds.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            heap: median(good.iter().map(|x| x.peak_heap).collect()),
            rss_over_idle: median(good.iter().map(|x| x.peak_rss - x.idle_rss).collect()),
        });
    }
    out
}

fn link_title(o: &Options, link: LinkKind) -> String {
    match link {
        LinkKind::Local => "local: Azurite on loopback".into(),
        LinkKind::Sink => "sink: discard sink on loopback (bytes counted, not kept)".into(),
        LinkKind::Wan => format!(
            "wan: Azurite behind the proxy, {} ms round trip, {} per connection and direction",
            o.wan.rtt.as_millis(),
            match o.wan.rate {
                Some(r) => format!("{:.1} MiB/s", r / MIB as f64),
                None => "no rate cap".into(),
            }
        ),
    }
}

fn print_tables(o: &Options, rows: &[Row], grid: &[Row], code: &CodeSizes) {
    let mib = |b: f64| b / MIB as f64;
    let sums = summarise(rows);
    for &link in &o.links {
        println!();
        println!(
            "{} (median of {} runs per row, methods in turns)",
            link_title(o, link),
            o.runs
        );
        println!();
        println!(
            "| method | size | parts | MiB/s (median) | min–max | JS heap peak (MiB) | renderer RSS over idle (MiB) | code (gzip KiB) | check |"
        );
        println!("|---|---|---|---:|---:|---:|---:|---:|---|");
        for s in sums.iter().filter(|s| s.link == link) {
            println!(
                "| {} | {} | {} | {:.1} | {:.1}–{:.1} | {:.1} | {:.0} | {:.1} | {}/{} ok |",
                s.method,
                human(s.size),
                shape(&s.method, s.part, s.concurrency),
                s.mib_s,
                s.min,
                s.max,
                mib(s.heap),
                mib(s.rss_over_idle),
                code.of(&s.method) as f64 / 1024.0,
                s.ok,
                s.runs,
            );
        }
    }
    let cells = summarise(grid);
    if let Some(first) = cells.first() {
        println!();
        println!(
            "{}\nengine, {}: MiB/s by part size (rows) × concurrency (columns), median of {} run(s) per cell",
            link_title(o, LinkKind::Wan),
            human(first.size),
            o.grid_runs
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
                    .find(|s| s.part == p * MIB && s.concurrency == c)
                {
                    Some(s) if s.ok > 0 => print!(" {:.1} |", s.mib_s),
                    Some(_) => print!(" failed |"),
                    None => print!(" – |"),
                }
            }
            println!();
        }
        if let Some(best) = cells
            .iter()
            .filter(|s| s.ok > 0)
            .max_by(|a, b| a.mib_s.total_cmp(&b.mib_s))
        {
            println!(
                "\nfastest cell: {} MiB × {} at {:.1} MiB/s",
                best.part / MIB,
                best.concurrency,
                best.mib_s
            );
        }
    }
    println!();
    println!("targets (issue 19 §3, on the medians above):");
    for line in targets(&sums) {
        println!("  {line}");
    }
}

/// The targets, one line each: the measured ratio or value and
/// met / missed; a target whose rows were not measured says so.
fn targets(sums: &[Summary]) -> Vec<String> {
    let find = |link: LinkKind, method: &str, size: u64| {
        sums.iter()
            .find(|s| s.link == link && s.method == method && s.size == size && s.ok > 0)
    };
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let mut sizes: Vec<u64> = sums.iter().map(|s| s.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut out = Vec::new();
    for &size in &sizes {
        let h = human(size);
        // A speed ratio of the engine to the named peers' best.
        let ratio = |link: LinkKind, peers: &[&str], want: f64, what: &str| -> Option<String> {
            // A link that did not run at this size has no target line.
            if !sums.iter().any(|s| s.link == link && s.size == size) {
                return None;
            }
            let engine = find(link, "engine", size);
            let best = peers
                .iter()
                .filter_map(|p| find(link, p, size))
                .max_by(|a, b| a.mib_s.total_cmp(&b.mib_s));
            Some(match best {
                Some(b)
                    if engine.is_some() && peers.iter().all(|p| find(link, p, size).is_some()) =>
                {
                    let e = engine?;
                    let r = e.mib_s / b.mib_s;
                    format!(
                        "{}, {h}: engine ≥ {want} × {what}: {r:.2} × (engine {:.1}, {} {:.1} MiB/s) {}",
                        link.name(),
                        e.mib_s,
                        b.method,
                        b.mib_s,
                        verdict(r >= want)
                    )
                }
                _ => format!(
                    "{}, {h}: engine ≥ {want} × {what}: not measured (needs --methods=engine,{})",
                    link.name(),
                    peers.join(",")
                ),
            })
        };
        out.extend(ratio(
            LinkKind::Sink,
            &["raw-put", "raw-blocks"],
            0.9,
            "max(raw-put, raw-blocks)",
        ));
        out.extend(ratio(LinkKind::Local, &["raw-put"], 1.0, "raw-put"));
        out.extend(ratio(LinkKind::Wan, &["raw-put"], 3.0, "raw-put"));
        out.extend(ratio(LinkKind::Wan, &["sdk"], 1.5, "sdk (defaults)"));
        for s in sums
            .iter()
            .filter(|s| s.method == "engine" && s.size == size && s.ok > 0)
        {
            let heap = s.heap / MIB as f64;
            let rss = s.rss_over_idle / MIB as f64;
            out.push(format!(
                "{}, {h}: engine JS heap peak ≤ 8 MiB: {heap:.1} MiB {}",
                s.link.name(),
                verdict(heap <= 8.0)
            ));
            out.push(format!(
                "{}, {h}: engine renderer RSS over idle ≤ 32 MiB: {rss:.0} MiB {}",
                s.link.name(),
                verdict(rss <= 32.0)
            ));
        }
    }
    if !sizes.iter().any(|&s| s >= 4 * GIB) {
        out.push(
            "4 GiB: engine renderer RSS over idle ≤ 32 MiB: not measured (add the size 4GiB)"
                .into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sizes_parse() {
        let s = |v: &[&str]| parse_sizes(&args(v));
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

    #[test]
    fn options_parse() {
        let o = parse_options(&args(&[])).unwrap();
        assert_eq!(
            o.links,
            vec![LinkKind::Local, LinkKind::Sink, LinkKind::Wan]
        );
        assert_eq!(o.methods, DEFAULT_METHODS.to_vec());
        assert_eq!(o.runs, 3);
        assert_eq!(o.wan.rtt, Duration::from_millis(40));
        assert_eq!(o.wan.rate, Some(16.0 * MIB as f64));
        let o = parse_options(&args(&[
            "quick",
            "--link=sink,wan",
            "--rtt=0",
            "--conn-rate=0",
            "--runs=1",
            "--methods=sdk,engine",
        ]))
        .unwrap();
        assert_eq!(o.links, vec![LinkKind::Sink, LinkKind::Wan]);
        assert_eq!(o.sizes, vec![64 * MIB]);
        assert_eq!(o.wan.rtt, Duration::ZERO);
        assert_eq!(o.wan.rate, None);
        assert_eq!(o.methods, vec!["engine", "sdk"], "table order");
        for bad in [
            "--link=moon",
            "--runs=0",
            "--rtt=fast",
            "--conn-rate=-1",
            "--methods=ftp",
            "--bogus=1",
        ] {
            assert!(parse_options(&args(&[bad])).is_err(), "{bad}");
        }
    }

    fn row(link: LinkKind, method: &str, seconds: f64) -> Row {
        let m = Measurement {
            link,
            file: None,
            method,
            size: GIB,
            part: 8 * MIB,
            concurrency: 4,
        };
        Row {
            seconds,
            peak_heap: 4.0 * MIB as f64,
            peak_rss: 200.0 * MIB as f64,
            idle_rss: 180.0 * MIB as f64,
            committed: Some(GIB),
            ..m.row()
        }
    }

    #[test]
    fn medians_and_targets() {
        let mut rows = vec![
            row(LinkKind::Sink, "engine", 4.0),
            row(LinkKind::Sink, "engine", 8.0),
            row(LinkKind::Sink, "engine", 5.0),
            row(LinkKind::Sink, "raw-put", 4.0),
            row(LinkKind::Sink, "raw-blocks", 2.0),
        ];
        // A run whose length did not match does not count.
        rows.push(row(LinkKind::Local, "raw-put", 4.0));
        let mut bad = row(LinkKind::Sink, "raw-blocks", 0.5);
        bad.committed = Some(GIB - 1);
        rows.push(bad);
        let sums = summarise(&rows);
        assert_eq!(sums.len(), 4);
        assert_eq!(sums[0].mib_s, 1024.0 / 5.0);
        assert_eq!((sums[0].min, sums[0].max), (128.0, 256.0));
        assert_eq!((sums[2].ok, sums[2].runs), (1, 2));
        assert_eq!(sums[3].link, LinkKind::Local);
        let lines = targets(&sums);
        let sink = lines.iter().find(|l| l.starts_with("sink")).unwrap();
        // 204.8 / 512 = 0.40.
        assert!(
            sink.contains("0.40 ×") && sink.ends_with("MISSED"),
            "{sink}"
        );
        assert!(lines
            .iter()
            .any(|l| l.starts_with("local") && l.contains("not measured")));
        assert!(lines
            .iter()
            .any(|l| l.contains("RSS over idle ≤ 32 MiB: 20 MiB met")));
    }
}
