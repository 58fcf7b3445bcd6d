//! `cargo xtask chaos [--uploads N] [--max-size SIZE] [--seed S] [--part-size SIZE]`:
//! uploads and imports of generated CSV files of random sizes through
//! injected faults and server restarts, each checked end to end; prints a
//! table and fails unless every upload passed every check.
//!
//! # What runs
//!
//! * Azurite, and two emulators (release builds): one with its own storage
//!   (Azure Block Blob), one handing out Azurite's SAS URLs. Both inject
//!   faults on their API ([`API_FAULTS`]) and the first on its storage
//!   ([`STORAGE_FAULTS`]): 503s, dropped connections and stalls (a request
//!   held before it is served; the upload engine has no per-part timeout,
//!   so a stalled part simply holds its slot until it is answered).
//! * Per upload, a file of a size drawn from the seed: the edge sizes
//!   (0 B, one part less one byte, one part, one part and one byte) and
//!   then uniformly up to `--max-size`. Its rows have unique keys
//!   (`uNNN-RRRRRRRR`), some repeated at once (an update), some with an
//!   empty key (rejected), some with quoted commas; the generator knows the
//!   exact counts and the sum of the final values. The API takes no empty
//!   file: the 0-byte upload passes when the client refuses it before
//!   sending anything (`CDP_ETL.VALIDATION.REQUEST_INVALID`, rule
//!   `FILE_SIZE_OUT_OF_RANGE`).
//! * The upload runs in Node through the built package
//!   (`tests/chaos/upload.mjs`: `ImportClient.importFile`, a retry budget of
//!   15 attempts). Some uploads meet a restart, chosen from the seed: the
//!   emulator killed with SIGKILL and started again on the same port and
//!   data directory mid-upload or mid-job; Azurite stopped and started
//!   again mid-upload or mid-job ([`crate::emulator::Azurite::restart`]
//!   says why not SIGKILL). A job failed by a restart says to import the
//!   file again on a new job, and the driver does so (a re-import).
//!
//! # The checks (the table's columns)
//!
//! * **uploads**: the import ended without an error in the client;
//! * **read back identical**: the SHA-256 of the bytes read back through the
//!   emulator (`GET …/upload`) is the file's;
//! * **completed exactly once**: exactly one job of the upload ended as the
//!   file calls for (`completed`), every other one failed asking for a new
//!   job, and only that job is recorded as merged;
//! * **merged counts exact**: the job's `readRows`, `validRows`,
//!   `invalidRows`, `mergedInserts` and `mergedUpdates` are the file's, and
//!   the object's records of the upload are exactly `mergedInserts` rows
//!   whose values sum to the file's final values, all created by that job.
//!
//! Retries (parts sent again, counted from the client's `part` events),
//! injected faults (from the emulators' logs), restarts and re-imports are
//! counted too. Each upload's file, stored blobs and records are deleted
//! once checked, so disk use stays at about one file's size.
//!
//! `cargo xtask test` runs a short version (suite `chaos`: 10 uploads of at
//! most 3 MiB with 1 MiB parts, the debug emulator) whose output ends with
//! a libtest-style `test result:` line, one test per upload.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::emulator::{Azurite, Emulator};
use crate::setup::{self, Workspace};
use crate::suites::Outcome;
use crate::{build, process};

/// The suite name of the short version in `cargo xtask test`.
pub const SUITE: &str = "chaos";

/// API faults of both emulators: 3 % 503 (with `Retry-After: 1`), 2 %
/// dropped connections, 1 % held 1.5 s; one call fails at most twice in a
/// row (a restart adds its own failures).
pub const API_FAULTS: &str = "api:503=3%,reset=2%,delay=1500ms@1%,streak=2";
/// Storage faults of the emulator's own storage.
pub const STORAGE_FAULTS: &str = "storage:503=4%,reset=3%,delay=1500ms@1%,streak=2";

/// The object the files are imported into (given to the emulators with
/// `--schema`): upserts on `key`.
const OBJECT: &str = "chaos_rows";
const SCHEMA: &str = r#"{"objects": [{
  "objectName": "chaos_rows", "displayName": "Chaos row", "pluralDisplayName": "Chaos rows",
  "objectType": "profile", "activeVersion": 1, "primaryProfileRoot": false,
  "ingestion": {"single": true, "jsonBatch": true, "fileImport": true, "defaultWriteMode": "upsert"},
  "description": "Rows of cargo xtask chaos.", "identityKeys": ["key"],
  "fields": [
    {"name": "key", "type": "string", "nullable": false, "identityKey": true},
    {"name": "n", "type": "integer", "nullable": true},
    {"name": "payload", "type": "string", "nullable": true}
  ]}]}"#;
const HEADER: &str = "key,n,payload\n";
/// `errorMessage`s of jobs that ask for the file on a new job (a restart
/// mid-job; storage unreachable while the file was read).
const RETRY_MESSAGES: [&str; 2] = [
    "Processing was interrupted by a server restart before its rows were merged; nothing was \
     imported. Create a new job and upload the file again.",
    "The import failed because of an unexpected error in the import processor; nothing was \
     imported. Start a new job with the same file; if it fails again, contact support with the \
     job id.",
];
/// The code the client refuses an empty file with, and the start of its
/// message.
const EMPTY_FILE_CODE: &str = "CDP_ETL.VALIDATION.REQUEST_INVALID";
const EMPTY_FILE_MESSAGE: &str = "fileSize is 0: an empty file cannot be imported";
/// Jobs tried per upload at most.
const MAX_IMPORTS: u32 = 4;
/// How long one upload may take, whatever its size.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Azurite's published development key.
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const MIB: u64 = 1024 * 1024;
/// Random letters that payloads are cut from.
const LETTER_POOL: usize = 64 * 1024;

/// The command's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub uploads: usize,
    pub max_size: u64,
    pub seed: u64,
    /// The engine's part size (None: its default, 8 MiB for these sizes).
    pub part_size: Option<u64>,
    /// Use the debug build of the emulator (the test suite's).
    pub debug: bool,
}

fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mult) = [("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", 1024), ("B", 1)]
        .iter()
        .find_map(|(suffix, m)| t.strip_suffix(suffix).map(|n| (n, *m)))
        .unwrap_or((t, 1));
    let n: f64 = num
        .trim()
        .parse()
        .with_context(|| format!("`{s}` is not a size (e.g. 300MiB, 64KiB, 1000)"))?;
    if !(0.0..=1e13).contains(&n) {
        bail!("`{s}` is out of range");
    }
    Ok((n * mult as f64) as u64)
}

impl Settings {
    fn parse(args: &[String]) -> Result<Settings> {
        let mut s = Settings {
            uploads: 100,
            max_size: 300 * MIB,
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 % 1_000_000)
                .unwrap_or(1),
            part_size: None,
            debug: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let (name, inline) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (a.as_str(), None),
            };
            let mut value = || -> Result<String> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => it
                        .next()
                        .cloned()
                        .with_context(|| format!("{name} needs a value")),
                }
            };
            match name {
                "--uploads" => {
                    s.uploads = value()?
                        .parse()
                        .context("--uploads takes a whole number")?;
                    if s.uploads == 0 {
                        bail!("--uploads must be at least 1");
                    }
                }
                "--max-size" => s.max_size = parse_size(&value()?)?,
                "--seed" => s.seed = value()?.parse().context("--seed takes a whole number")?,
                "--part-size" => s.part_size = Some(parse_size(&value()?)?),
                other => bail!(
                    "unknown argument `{other}` (expected --uploads N, --max-size SIZE, --seed S, --part-size SIZE)"
                ),
            }
        }
        if s.max_size < 4096 {
            bail!("--max-size must be at least 4KiB");
        }
        Ok(s)
    }
}

/// splitmix64: a small seeded generator (the same seed gives the same run).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Where an upload goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The emulator's own storage (Azure Block Blob protocol).
    Local,
    /// Azurite, through the SAS URLs the second emulator hands out.
    Azurite,
}

/// Which server is restarted, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Restart {
    None,
    /// The emulator, once this fraction of the file is uploaded.
    EmulatorUpload(f64),
    /// The emulator, once the job is seen being processed.
    EmulatorJob,
    /// Azurite, once this fraction is uploaded.
    AzuriteUpload(f64),
    /// Azurite, once the job is seen being processed.
    AzuriteJob,
}

impl Restart {
    fn label(&self) -> &'static str {
        match self {
            Restart::None => "none",
            Restart::EmulatorUpload(_) => "emulator mid-upload",
            Restart::EmulatorJob => "emulator mid-job",
            Restart::AzuriteUpload(_) => "azurite mid-upload",
            Restart::AzuriteJob => "azurite mid-job",
        }
    }
}

#[derive(Debug, Clone)]
struct Plan {
    index: usize,
    size: u64,
    mode: Mode,
    restart: Restart,
    seed: u64,
}

fn plans(s: &Settings, part: u64) -> Vec<Plan> {
    let mut rng = Rng(s.seed);
    let mut sizes: Vec<u64> = vec![0, part - 1, part, part + 1]
        .into_iter()
        .filter(|&n| n <= s.max_size)
        .collect();
    while sizes.len() < s.uploads {
        sizes.push(64 + rng.below(s.max_size - 63));
    }
    sizes.truncate(s.uploads);
    // Shuffle (Fisher-Yates).
    for i in (1..sizes.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        sizes.swap(i, j);
    }
    // The first four non-empty uploads meet each kind of restart once; the
    // others draw (the empty file, refused before anything is sent, meets
    // none).
    let mut forced = 1u64;
    (0..s.uploads)
        .map(|index| {
            let drawn = [0, 0, 0, 1, 1, 2, 2, 3, 4][rng.below(9) as usize];
            let kind = if sizes[index] == 0 {
                0
            } else if forced <= 4 {
                forced += 1;
                forced - 1
            } else {
                drawn
            };
            let f = 0.1 + 0.8 * rng.unit();
            let restart = match kind {
                0 => Restart::None,
                1 => Restart::EmulatorUpload(f),
                2 => Restart::EmulatorJob,
                3 => Restart::AzuriteUpload(f),
                _ => Restart::AzuriteJob,
            };
            let mode = match restart {
                Restart::AzuriteUpload(_) | Restart::AzuriteJob => Mode::Azurite,
                _ if rng.below(3) == 0 => Mode::Azurite,
                _ => Mode::Local,
            };
            Plan {
                index,
                size: sizes[index],
                mode,
                restart,
                seed: rng.next(),
            }
        })
        .collect()
}

/// What a generated file holds.
#[derive(Debug, Clone, Default, PartialEq)]
struct Expected {
    read: u64,
    valid: u64,
    invalid: u64,
    inserts: u64,
    updates: u64,
    /// Sum of `n` over the records the file leaves (last row of a key wins).
    sum: i64,
    sha256: String,
}

/// Writes a CSV file of exactly `size` bytes (0: an empty file) for upload
/// `index`; returns what it holds.
fn generate(path: &Path, index: usize, size: u64, seed: u64) -> Result<Expected> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hash = Sha256::new();
    let mut e = Expected::default();
    let mut put = |bytes: &[u8], out: &mut std::io::BufWriter<std::fs::File>| -> Result<()> {
        hash.update(bytes);
        out.write_all(bytes)?;
        Ok(())
    };
    let mut rng = Rng(seed);
    let mut written = 0u64;
    if size > 0 {
        put(HEADER.as_bytes(), &mut out)?;
        written += HEADER.len() as u64;
    }
    let mut row = Vec::with_capacity(1024);
    let mut slot = 0u64;
    // Letters are cut from one random buffer at random offsets (one draw
    // per value, not per byte).
    let pool: Vec<u8> = (0..LETTER_POOL)
        .map(|_| b'a' + rng.below(26) as u8)
        .collect();
    let letters = |rng: &mut Rng, n: usize, row: &mut Vec<u8>| {
        let mut left = n;
        while left > 0 {
            let take = left.min(LETTER_POOL / 2);
            let at = rng.below((LETTER_POOL - take) as u64 + 1) as usize;
            row.extend_from_slice(&pool[at..at + take]);
            left -= take;
        }
    };
    // Rows of at most ~260 bytes while at least 700 bytes are left, then one
    // last row filling the rest exactly.
    while size > written && size - written >= 700 {
        let key = format!("u{index:03}-{slot:08}");
        slot += 1;
        let n = rng.below(1_000_000) as i64;
        row.clear();
        row.extend_from_slice(format!("{key},{n},").as_bytes());
        let len = 20 + rng.below(200) as usize;
        if rng.below(8) == 0 {
            row.push(b'"');
            letters(&mut rng, len / 2, &mut row);
            row.extend_from_slice(b", \"\"quoted\"\" ");
            letters(&mut rng, len / 2, &mut row);
            row.push(b'"');
        } else {
            letters(&mut rng, len, &mut row);
        }
        row.push(b'\n');
        e.inserts += 1;
        e.sum += n;
        let mut last = n;
        // An update of the same key, right after.
        if rng.below(16) == 0 {
            let m = rng.below(1_000_000) as i64;
            row.extend_from_slice(format!("{key},{m},updated\n").as_bytes());
            e.updates += 1;
            e.sum += m - last;
            last = m;
        }
        let _ = last;
        // A row the import rejects: no key.
        if rng.below(128) == 0 {
            row.extend_from_slice(b",1,no key\n");
            e.invalid += 1;
        }
        written += row.len() as u64;
        put(&row, &mut out)?;
    }
    if size > written {
        let left = size - written;
        let key = format!("u{index:03}-{slot:08}");
        let n = 7i64;
        let fixed = key.len() as u64 + 4; // ",7," and "\n"
        row.clear();
        row.extend_from_slice(format!("{key},{n},").as_bytes());
        if left < fixed {
            bail!("upload {index}: {size} bytes is too small for a row");
        }
        letters(&mut rng, (left - fixed) as usize, &mut row);
        row.push(b'\n');
        e.inserts += 1;
        e.sum += n;
        written += row.len() as u64;
        put(&row, &mut out)?;
    }
    out.flush()?;
    if written != size {
        bail!("upload {index}: wrote {written} bytes, meant {size}");
    }
    e.valid = e.inserts + e.updates;
    e.read = e.valid + e.invalid;
    e.sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(e)
}

/// The smallest file [`generate`] can write besides the empty one.
fn min_size() -> u64 {
    HEADER.len() as u64 + "u000-00000000,7,\n".len() as u64
}

/// One emulator that can be killed and started again on the same port and
/// data directory.
struct Server {
    name: String,
    binary: PathBuf,
    data_dir: PathBuf,
    args: Vec<String>,
    seed: u64,
    emulator: Option<Emulator>,
    port: u16,
    /// Faults injected by the processes before the current one.
    faults_before: u64,
    restarts: u64,
}

impl Server {
    fn start(
        ws: &Workspace,
        binary: &Path,
        name: &str,
        data_dir: PathBuf,
        args: Vec<String>,
        seed: u64,
    ) -> Result<Server> {
        let mut s = Server {
            name: name.to_string(),
            binary: binary.to_path_buf(),
            data_dir,
            args,
            seed,
            emulator: None,
            port: 0,
            faults_before: 0,
            restarts: 0,
        };
        s.spawn(ws)?;
        Ok(s)
    }

    fn spawn(&mut self, ws: &Workspace) -> Result<()> {
        let addr = format!("127.0.0.1:{}", self.port);
        let seed = (self.seed + self.restarts).to_string();
        let mut args: Vec<&str> = vec!["--addr", &addr, "--seed", &seed];
        args.extend(self.args.iter().map(String::as_str));
        let emu = Emulator::start_with_data(ws, &self.binary, &self.name, &self.data_dir, &args)?;
        self.port = emu
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .context("the emulator's port")?;
        self.emulator = Some(emu);
        Ok(())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Faults injected so far, from the logs.
    fn faults(&self) -> u64 {
        self.faults_before + self.emulator.as_ref().map_or(0, |e| count_faults(&e.log))
    }

    /// SIGKILL, then the same binary on the same port and data directory.
    fn kill_and_restart(&mut self, ws: &Workspace) -> Result<()> {
        self.faults_before = self.faults();
        // Dropping the guard kills the process (SIGKILL) and waits for it.
        drop(self.emulator.take());
        self.restarts += 1;
        let started = Instant::now();
        let mut last = None;
        // The port is free again at once; try a few times all the same.
        for _ in 0..20 {
            match self.spawn(ws) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last.unwrap()).with_context(|| {
            format!(
                "{} did not start again within {:.1}s",
                self.name,
                started.elapsed().as_secs_f64()
            )
        })
    }
}

fn count_faults(log: &Path) -> u64 {
    std::fs::read_to_string(log)
        .map(|t| t.lines().filter(|l| l.contains("injected fault")).count() as u64)
        .unwrap_or(0)
}

/// How one upload went.
#[derive(Debug, Default)]
struct Result1 {
    uploaded: bool,
    identical: bool,
    once: bool,
    counts: bool,
    part_retries: u64,
    reimports: u64,
    restarts: u64,
    /// How long the restart took (kill to listening again).
    restart_seconds: f64,
    problems: Vec<String>,
    seconds: f64,
}

/// Runs `cargo xtask chaos`.
pub fn run(ws: &Workspace, args: &[String]) -> Result<()> {
    let settings = Settings::parse(args)?;
    setup::ensure(ws)?;
    build::run(ws)?;
    let (ok, results) = run_with(ws, &settings)?;
    let _ = results;
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

/// The short version as a suite of `cargo xtask test`.
pub fn suite(ws: &Workspace) -> Outcome {
    println!("\n==== suite: {SUITE} ====");
    let started = Instant::now();
    let settings = Settings {
        uploads: 10,
        max_size: 3 * MIB,
        seed: 20261207,
        part_size: Some(MIB),
        debug: true,
    };
    let outcome = run_with(ws, &settings);
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok((_, results)) => {
            let passed = results.iter().filter(|r| r.problems.is_empty()).count() as u64;
            let failed = results.len() as u64 - passed;
            // The libtest-style line the other suites print.
            println!(
                "test result: {}. {passed} passed; {failed} failed",
                if failed == 0 { "ok" } else { "FAILED" }
            );
            Outcome {
                name: SUITE.to_string(),
                counts: crate::suites::Counts { passed, failed },
                seconds,
                problem: if failed > 0 {
                    Some(format!("{failed} upload(s) failed a check"))
                } else if passed == 0 {
                    Some("no upload ran".into())
                } else {
                    None
                },
            }
        }
        Err(e) => Outcome {
            seconds,
            ..Outcome::not_run(SUITE, format!("{e:#}"))
        },
    }
}

fn run_with(ws: &Workspace, s: &Settings) -> Result<(bool, Vec<Result1>)> {
    let profile = if s.debug { "debug" } else { "release" };
    let mut build = ws.cargo();
    build.args(["build", "-p", "import-devserver"]);
    if !s.debug {
        build.arg("--release");
    }
    process::run(&mut build)?;
    let binary = ws.target_dir.join(profile).join("import-devserver");
    let part = s.part_size.unwrap_or(8 * MIB);
    println!(
        "chaos: {} uploads of 0 B to {:.1} MiB, seed {} (replay: cargo xtask chaos --uploads {} --max-size {} --seed {}{})",
        s.uploads,
        s.max_size as f64 / MIB as f64,
        s.seed,
        s.uploads,
        s.max_size,
        s.seed,
        s.part_size.map(|p| format!(" --part-size {p}")).unwrap_or_default()
    );

    let scratch = ws
        .scratch_dir()
        .join(format!("chaos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let _cleanup = RemoveOnDrop(scratch.clone());
    let schema = scratch.join("schema.json");
    std::fs::write(&schema, SCHEMA)?;
    let driver = node_project(ws, &scratch)?;

    let mut azurite = Azurite::start(ws)?;
    let schema_arg = schema.display().to_string();
    let common = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["--schema".into(), schema_arg.clone()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let faults_local = format!("{STORAGE_FAULTS};{API_FAULTS}");
    let mut local = Server::start(
        ws,
        &binary,
        &format!("chaos-{}-emulator", std::process::id()),
        scratch.join("emulator-data"),
        common(&["--faults", &faults_local]),
        s.seed,
    )?;
    let storage = format!("azurite={}", azurite.url);
    let mut remote = Server::start(
        ws,
        &binary,
        &format!("chaos-{}-emulator-azurite", std::process::id()),
        scratch.join("emulator-azurite-data"),
        common(&["--storage", &storage, "--faults", API_FAULTS]),
        s.seed + 1_000_000,
    )?;

    let plans = plans(s, part);
    let mut results = Vec::new();
    let mut azurite_restarts = 0u64;
    for plan in &plans {
        let started = Instant::now();
        let mut r = Result1::default();
        let file = scratch.join(format!("upload-{:03}.csv", plan.index));
        let size = if plan.size == 0 {
            0
        } else {
            plan.size.max(min_size())
        };
        let expected = generate(&file, plan.index, size, plan.seed)?;
        let (server, other) = match plan.mode {
            Mode::Local => (&mut local, None),
            Mode::Azurite => (&mut remote, Some(&azurite.url)),
        };
        let settings = json!({
            "baseUrl": format!("{}/public/v1", server.url()),
            "token": "dev-write",
            "file": file,
            "objectName": OBJECT,
            "mapping": {
                "sourceFields": {"key": "string", "n": "integer", "payload": "string"},
                "fieldMap": {"key": "key", "n": "n", "payload": "payload"},
                "importMode": "balanced"
            },
            "partSize": s.part_size,
            "maxImports": MAX_IMPORTS,
            "retryMessages": RETRY_MESSAGES,
            "azurite": other.map(|url| json!({"url": url, "container": "imports", "key": AZURITE_KEY})),
        });
        let outcome = drive(
            ws,
            &driver,
            &settings,
            plan,
            server,
            &mut azurite,
            &mut r,
            &mut azurite_restarts,
        );
        let _ = std::fs::remove_file(&file);
        match outcome {
            Ok(done) => check(&done, &expected, size, server, plan, &mut r),
            Err(e) => r.problems.push(format!("{e:#}")),
        }
        r.seconds = started.elapsed().as_secs_f64();
        println!(
            "chaos: upload {:>3} {:>10} B {:<7} restart: {:<26} retries {:>3} re-imports {} {:>6.1}s {}",
            plan.index,
            size,
            match plan.mode {
                Mode::Local => "local",
                Mode::Azurite => "azurite",
            },
            match plan.restart {
                Restart::None => "-".to_string(),
                other => format!("{} ({:.2}s)", other.label(), r.restart_seconds),
            },
            r.part_retries,
            r.reimports,
            r.seconds,
            if r.problems.is_empty() {
                "ok".to_string()
            } else {
                format!("FAILED: {}", r.problems.join("; "))
            }
        );
        results.push(r);
    }
    let faults = local.faults() + remote.faults();
    let emulator_restarts = local.restarts + remote.restarts;
    let logs: Vec<PathBuf> = [&local, &remote]
        .iter()
        .filter_map(|s| s.emulator.as_ref().map(|e| e.log.clone()))
        .collect();
    drop(local);
    drop(remote);
    drop(azurite);
    let ok = print_table(s, &results, faults, emulator_restarts, azurite_restarts);
    if ok {
        for log in logs {
            let _ = std::fs::remove_file(log);
        }
    } else {
        for log in logs {
            println!("chaos: emulator log kept: {}", log.display());
        }
    }
    Ok((ok, results))
}

/// A directory removed when the guard drops.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The driver in a scratch project where `import-uploader` resolves to the
/// built package and `@azure/storage-blob` to the workspace's.
fn node_project(ws: &Workspace, scratch: &Path) -> Result<PathBuf> {
    let dir = scratch.join("node");
    let modules = dir.join("node_modules");
    std::fs::create_dir_all(&modules)?;
    let pkg = ws.pkg_dir();
    if !pkg.join("package.json").is_file() {
        bail!(
            "the package is not built ({} has no package.json): run `cargo xtask build`",
            pkg.display()
        );
    }
    std::os::unix::fs::symlink(&pkg, modules.join("import-uploader"))?;
    std::os::unix::fs::symlink(ws.root.join("node_modules/@azure"), modules.join("@azure"))?;
    std::fs::write(
        dir.join("package.json"),
        "{ \"private\": true, \"type\": \"module\" }\n",
    )?;
    let script = dir.join("upload.mjs");
    std::fs::copy(ws.root.join("tests/chaos/upload.mjs"), &script)?;
    Ok(script)
}

/// Runs the Node driver for one upload, restarting a server when the plan
/// says; returns its last line.
#[allow(clippy::too_many_arguments)]
fn drive(
    ws: &Workspace,
    driver: &Path,
    settings: &Value,
    plan: &Plan,
    server: &mut Server,
    azurite: &mut Azurite,
    r: &mut Result1,
    azurite_restarts: &mut u64,
) -> Result<Value> {
    let mut child = ws
        .cmd("node")
        .arg(driver)
        .arg(settings.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the Node driver")?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + UPLOAD_TIMEOUT;
    let mut restarted = false;
    let mut done = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(l) => l,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the upload did not end within {}s",
                    UPLOAD_TIMEOUT.as_secs()
                );
            }
        };
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            println!("chaos: driver: {line}");
            continue;
        };
        let kind = event["e"].as_str().unwrap_or("");
        if kind == "done" {
            done = Some(event);
            continue;
        }
        if restarted {
            continue;
        }
        let uploaded = |f: f64| -> bool {
            match kind {
                "progress" => {
                    let total = event["total"].as_f64().unwrap_or(0.0);
                    let loaded = event["loaded"].as_f64().unwrap_or(0.0);
                    event["phase"] != "upload" || loaded >= f * total
                }
                "status" => true,
                _ => false,
            }
        };
        let processing =
            kind == "status" && event["state"] == "running" && event["stage"] != "queued"
                || kind == "status" && event["state"] != "running";
        let fire = match plan.restart {
            Restart::None => false,
            Restart::EmulatorUpload(f) | Restart::AzuriteUpload(f) => uploaded(f),
            Restart::EmulatorJob | Restart::AzuriteJob => processing,
        };
        if fire {
            restarted = true;
            r.restarts += 1;
            let began = Instant::now();
            match plan.restart {
                Restart::EmulatorUpload(_) | Restart::EmulatorJob => server.kill_and_restart(ws)?,
                _ => {
                    azurite.restart(ws)?;
                    *azurite_restarts += 1;
                }
            }
            r.restart_seconds = began.elapsed().as_secs_f64();
        }
    }
    let status = child.wait()?;
    let done = done.with_context(|| format!("the Node driver printed no outcome ({status})"))?;
    if plan.restart != Restart::None && !restarted {
        bail!("the planned restart never came (the driver reported no progress or status)");
    }
    Ok(done)
}

/// The checks of one upload (see the module documentation).
fn check(done: &Value, e: &Expected, size: u64, server: &Server, plan: &Plan, r: &mut Result1) {
    r.part_retries = done["partRetries"].as_u64().unwrap_or(0);
    let jobs = done["jobs"].as_array().cloned().unwrap_or_default();
    if size == 0 {
        // The API takes no empty file: the client refuses it before
        // sending anything, with a code a program can branch on.
        let refused = done["error"]
            .as_str()
            .is_some_and(|e| e.contains(EMPTY_FILE_CODE) && e.contains(EMPTY_FILE_MESSAGE));
        if refused && jobs.is_empty() {
            (r.uploaded, r.identical, r.once, r.counts) = (true, true, true, true);
        } else {
            r.problems.push(format!(
                "the empty file was not refused with {EMPTY_FILE_CODE}: {done}"
            ));
        }
        return;
    }
    r.reimports = jobs.len().saturating_sub(1) as u64;
    if let Some(err) = done["error"].as_str() {
        r.problems.push(format!("the client failed: {err}"));
    } else {
        r.uploaded = true;
    }
    if done["sha256"].as_str() == Some(e.sha256.as_str()) && done["readBackBytes"] == size {
        r.identical = true;
    } else {
        r.problems.push(format!(
            "read back {} bytes, SHA-256 {}; the file has {size}, {}",
            done["readBackBytes"], done["sha256"], e.sha256
        ));
    }
    let Some((last, earlier)) = jobs.split_last() else {
        r.problems.push("no job ran".into());
        return;
    };
    let ids: Vec<String> = jobs
        .iter()
        .filter_map(|j| j["jobId"].as_str().map(str::to_string))
        .collect();
    let st = &last["status"];
    let last_ok = st["state"] == "completed";
    let earlier_ok = earlier.iter().all(|j| {
        j["state"] == "failed"
            && j["errorMessage"]
                .as_str()
                .is_some_and(|m| RETRY_MESSAGES.contains(&m))
    });
    let records = records_of(
        server,
        plan.index,
        &ids,
        last["jobId"].as_str().unwrap_or(""),
    );
    let records = match records {
        Ok(rec) => rec,
        Err(err) => {
            r.problems.push(format!("reading the records: {err:#}"));
            return;
        }
    };
    let merged_ok = records.merged_jobs == [last["jobId"].as_str().unwrap_or("").to_string()];
    if last_ok && earlier_ok && merged_ok {
        r.once = true;
    } else {
        r.problems.push(format!(
            "jobs ended {:?}; merged: {:?}",
            jobs.iter()
                .map(|j| format!("{} {} {}", j["jobId"], j["state"], j["errorMessage"]))
                .collect::<Vec<_>>(),
            records.merged_jobs
        ));
    }
    let (inserts, updates) = (e.inserts, e.updates);
    let want = [
        ("readRows", e.read),
        ("validRows", e.valid),
        ("invalidRows", e.invalid),
        ("mergedInserts", inserts),
        ("mergedUpdates", updates),
    ];
    let mut bad: Vec<String> = want
        .iter()
        .filter(|(k, v)| st[*k].as_u64() != Some(*v))
        .map(|(k, v)| format!("{k} {} (file: {v})", st[*k]))
        .collect();
    let sum = e.sum;
    if records.rows != inserts || records.sum != sum || records.by_job != inserts {
        bad.push(format!(
            "records: {} rows summing to {}, {} created by the job (file: {inserts} rows summing to {sum})",
            records.rows, records.sum, records.by_job
        ));
    }
    if bad.is_empty() {
        r.counts = true;
    } else {
        r.problems.push(bad.join(", "));
    }
    if let Err(err) = clean_up(server, plan.index, &ids) {
        r.problems.push(format!("cleaning up: {err:#}"));
    }
}

struct Records {
    rows: u64,
    sum: i64,
    by_job: u64,
    merged_jobs: Vec<String>,
}

fn key_range(index: usize) -> (String, String) {
    // '.' sorts right after '-'.
    (format!("u{index:03}-"), format!("u{index:03}."))
}

fn records_db(server: &Server) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(server.data_dir.join("records.sqlite3"))?;
    conn.busy_timeout(Duration::from_secs(120))?;
    Ok(conn)
}

fn table_exists(conn: &rusqlite::Connection, name: &str) -> Result<bool> {
    Ok(conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
        .exists([name])?)
}

fn records_of(server: &Server, index: usize, ids: &[String], last: &str) -> Result<Records> {
    let conn = records_db(server)?;
    let table = format!("obj_{OBJECT}");
    let mut rec = Records {
        rows: 0,
        sum: 0,
        by_job: 0,
        merged_jobs: Vec::new(),
    };
    if table_exists(&conn, &table)? {
        let (lo, hi) = key_range(index);
        let (rows, sum): (i64, i64) = conn.query_row(
            &format!(
                "SELECT COUNT(*), COALESCE(SUM(n), 0) FROM {table} \
                 WHERE _workspace = 'ws_dev' AND key >= ?1 AND key < ?2"
            ),
            [&lo, &hi],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let by_job: i64 = conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM {table} WHERE _workspace = 'ws_dev' AND key >= ?1 \
                 AND key < ?2 AND _created_job = (SELECT num FROM _jobs WHERE job_id = ?3)"
            ),
            [&lo, &hi, &last.to_string()],
            |r| r.get(0),
        )?;
        rec.rows = rows as u64;
        rec.sum = sum;
        rec.by_job = by_job as u64;
    }
    if table_exists(&conn, "_merged_jobs")? {
        for id in ids {
            let merged = conn
                .prepare("SELECT 1 FROM _merged_jobs WHERE job_id = ?1")?
                .exists([id])?;
            if merged {
                rec.merged_jobs.push(id.clone());
            }
        }
    }
    Ok(rec)
}

/// Deletes the upload's records and stored files (Azurite's blobs are
/// deleted by the driver).
fn clean_up(server: &Server, index: usize, ids: &[String]) -> Result<()> {
    let conn = records_db(server)?;
    let table = format!("obj_{OBJECT}");
    if table_exists(&conn, &table)? {
        let (lo, hi) = key_range(index);
        conn.execute(
            &format!("DELETE FROM {table} WHERE _workspace = 'ws_dev' AND key >= ?1 AND key < ?2"),
            [&lo, &hi],
        )?;
    }
    drop(conn);
    for id in ids {
        for sub in ["data/jobs", "meta/jobs"] {
            let dir = server.data_dir.join("blobs").join(sub).join(id);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", dir.display())),
            }
        }
    }
    Ok(())
}

fn print_table(
    s: &Settings,
    results: &[Result1],
    faults: u64,
    emulator_restarts: u64,
    azurite_restarts: u64,
) -> bool {
    let n = results.len();
    let count = |f: &dyn Fn(&Result1) -> bool| results.iter().filter(|r| f(r)).count();
    let uploads = count(&|r| r.uploaded);
    let identical = count(&|r| r.identical);
    let once = count(&|r| r.once);
    let counts = count(&|r| r.counts);
    let retries: u64 = results.iter().map(|r| r.part_retries).sum();
    let retried = count(&|r| r.part_retries > 0);
    let reimports: u64 = results.iter().map(|r| r.reimports).sum();
    let seconds: f64 = results.iter().map(|r| r.seconds).sum();
    println!();
    println!(
        "chaos (seed {}, {} uploads of 0 B to {:.1} MiB)",
        s.seed,
        n,
        s.max_size as f64 / MIB as f64
    );
    println!();
    println!("| {:<34} | {:>14} |", "check", "result");
    println!("|{:-<36}|{:->16}|", "", "");
    println!("| {:<34} | {:>14} |", "uploads", format!("{uploads}/{n}"));
    println!(
        "| {:<34} | {:>14} |",
        "parts retried (in uploads)",
        format!("{retries} ({retried}/{n})")
    );
    println!(
        "| {:<34} | {:>14} |",
        "bytes read back identical",
        format!("{identical}/{n}")
    );
    println!(
        "| {:<34} | {:>14} |",
        "jobs completed exactly once",
        format!("{once}/{n}")
    );
    println!(
        "| {:<34} | {:>14} |",
        "merged counts exact",
        format!("{counts}/{n}")
    );
    println!();
    println!(
        "faults injected {faults}, emulator restarts (SIGKILL) {emulator_restarts}, Azurite restarts {azurite_restarts}, re-imports {reimports}, {seconds:.0} s"
    );
    let ok = uploads == n && identical == n && once == n && counts == n && faults > 0;
    if faults == 0 {
        println!("chaos: FAILED: no fault was injected (the emulators' fault logs are empty)");
    }
    println!("chaos: {}", if ok { "ok" } else { "FAILED" });
    ok
}
