//! The emulator (`import-devserver`) as a child process for the test suites:
//! started on an ephemeral port with a fresh data directory, its URL read
//! from the `listening on http://…` line it prints, and stopped (data
//! directory removed) when the guard drops — also when a suite fails.
//!
//! The wasm suites use several at once ([`Emulators`]): the default one
//! (Azure Block Blob storage), one per other storage mode (`local-s3`,
//! `local-gcs`), one whose storage injects faults (503s and dropped
//! connections), one whose API does (500s, dropped connections, a rate
//! limit, short-lived OAuth tokens), and one that hands out real SAS URLs
//! of an Azurite started from the workspace's `node_modules`; faults are
//! seeded so a run is reproducible.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::setup::Workspace;

/// How long the emulator may take to bind and print its URL.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running emulator; dropping it stops it.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where its log (stderr) goes.
    pub log: PathBuf,
    data_dir: PathBuf,
    /// Whether dropping the guard removes `data_dir`.
    remove_data: bool,
}

impl Emulator {
    /// Starts `binary` on 127.0.0.1:0 with a fresh data directory under the
    /// xtask's scratch directory.
    pub fn start(ws: &Workspace, binary: &Path) -> Result<Emulator> {
        Self::start_named(ws, binary, "emulator", &[])
    }

    /// Like [`Emulator::start`], with extra flags; `name` names its log
    /// (`NAME.log`) and data directory.
    pub fn start_named(
        ws: &Workspace,
        binary: &Path,
        name: &str,
        extra_args: &[&str],
    ) -> Result<Emulator> {
        let stamp = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let data_dir = ws.scratch_dir().join(format!("{name}-data-{stamp}"));
        Self::spawn(ws, binary, name, &data_dir, true, extra_args)
    }

    /// Starts `binary` with `--data-dir data_dir` (kept when the guard
    /// drops, unlike the fresh directories of the test emulators): the demo's
    /// emulator, whose jobs survive restarts. `extra_args` may set `--addr`
    /// (default `127.0.0.1:0`).
    pub fn start_with_data(
        ws: &Workspace,
        binary: &Path,
        name: &str,
        data_dir: &Path,
        extra_args: &[&str],
    ) -> Result<Emulator> {
        Self::spawn(ws, binary, name, data_dir, false, extra_args)
    }

    fn spawn(
        ws: &Workspace,
        binary: &Path,
        name: &str,
        data_dir: &Path,
        remove_data: bool,
        extra_args: &[&str],
    ) -> Result<Emulator> {
        let scratch = ws.scratch_dir();
        std::fs::create_dir_all(&scratch)?;
        let log = scratch.join(format!("{name}.log"));
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = ws.cmd(binary);
        if !extra_args.contains(&"--addr") {
            cmd.args(["--addr", "127.0.0.1:0"]);
        }
        let mut child = cmd
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;

        // Read stdout on a thread (it keeps draining after the URL is found,
        // so the emulator never blocks on a full pipe).
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut guard = Emulator {
            child,
            url: String::new(),
            log,
            data_dir: data_dir.to_path_buf(),
            remove_data,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.trim().strip_prefix("listening on ") {
                        guard.url = url.trim().to_string();
                        println!("{name}: {} (log: {})", guard.url, guard.log.display());
                        return Ok(guard);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                    "{name} printed no `listening on` line within {}s; see {}",
                    START_TIMEOUT.as_secs(),
                    guard.log.display()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = guard.child.wait()?;
                    bail!(
                        "{name} exited ({status}) before listening; see {}",
                        guard.log.display()
                    )
                }
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.remove_data {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// How long Azurite may take to listen.
const AZURITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Azurite's blob service (`node_modules/azurite`), on a free port with a
/// fresh location; dropping it stops it and removes its data.
#[derive(Debug)]
pub struct Azurite {
    child: Child,
    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    pub url: String,
    /// Where its output goes.
    pub log: PathBuf,
    data_dir: PathBuf,
    /// A script Node loads before Azurite (`node --require`), if any.
    preload: Option<PathBuf>,
}

impl Azurite {
    /// Starts Azurite and waits until it accepts connections.
    pub fn start(ws: &Workspace) -> Result<Azurite> {
        Self::start_with_preload(ws, None)
    }

    /// [`Azurite::start`], with Node loading `preload` first (`--require`).
    pub fn start_with_preload(ws: &Workspace, preload: Option<&Path>) -> Result<Azurite> {
        let scratch = ws.scratch_dir();
        std::fs::create_dir_all(&scratch)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data_dir = scratch.join(format!("azurite-data-{}-{port}", std::process::id()));
        let log = scratch.join("azurite.log");
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Self::spawn(ws, port, &data_dir, out, &log, preload)?;
        let az = Azurite {
            child,
            url: format!("http://127.0.0.1:{port}/devstoreaccount1"),
            log,
            data_dir,
            preload: preload.map(Path::to_path_buf),
        };
        println!("azurite: {} (log: {})", az.url, az.log.display());
        Ok(az)
    }

    /// Starts Azurite on `port` with its data in `data_dir`, its output
    /// going to `out`, and waits until it accepts connections.
    fn spawn(
        ws: &Workspace,
        port: u16,
        data_dir: &Path,
        out: File,
        log: &Path,
        preload: Option<&Path>,
    ) -> Result<Child> {
        let main = ws.root.join("node_modules/azurite/dist/src/blob/main.js");
        if !main.is_file() {
            bail!(
                "Azurite is not installed ({} is missing): run `npm ci` in the repository root",
                main.display()
            );
        }
        let mut node = ws.cmd("node");
        if let Some(p) = preload {
            node.arg("--require").arg(p);
        }
        let mut child = node
            .arg(&main)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "-l",
            ])
            .arg(data_dir)
            .args(["--skipApiVersionCheck", "--loose", "--disableTelemetry"])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting Azurite with `node`")?;
        let deadline = Instant::now() + AZURITE_TIMEOUT;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(child);
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "Azurite exited ({status}) before listening; see {}",
                    log.display()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "Azurite did not listen within {}s; see {}",
                    AZURITE_TIMEOUT.as_secs(),
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops Azurite and starts it again on the same port and data, waiting
    /// until it listens. It is stopped with SIGTERM, not SIGKILL: Azurite
    /// saves its metadata (which blocks are staged, which blobs exist) only
    /// every 5 seconds and on a clean stop, so a SIGKILL loses writes it has
    /// acknowledged, which real storage never does. Requests in flight are
    /// cut all the same.
    pub fn restart(&mut self, ws: &Workspace) -> Result<()> {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = Instant::now() + AZURITE_TIMEOUT;
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.wait();
        let port: u16 = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse().ok())
            .context("Azurite's port")?;
        let out = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        self.child = Self::spawn(
            ws,
            port,
            &self.data_dir,
            out,
            &self.log,
            self.preload.as_deref(),
        )?;
        Ok(())
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Storage faults of the `faults` emulator: 10 % answered 503 (with
/// `Retry-After: 1`), 5 % dropped connections, and never the same request
/// more than 3 times in a row, so every part succeeds within 4 attempts
/// (the engine's default budget is 6) whatever the order of the requests.
pub const STORAGE_FAULTS: &str = "storage:503=10%,reset=5%,streak=3";
/// Seed of the `faults` emulator (the same faults on every run for the same
/// request sequence).
pub const FAULT_SEED: &str = "42";

/// Flags of the `flaky` emulator: API faults (at most 3 in a row for one
/// call, see the fault spec's `streak`), OAuth tokens that expire after
/// 2 s. No rate limit: 429s would spend the same retry budget as the
/// faults, and that sum is not bounded; the `limited` emulator has it.
pub const FLAKY_API_ARGS: [&str; 6] = [
    "--faults",
    "api:500=25%,reset=10%,streak=3",
    "--seed",
    "7",
    "--token-ttl",
    "2",
];

/// Flags of the `limited` emulator: a per-token rate limit of 20 requests
/// a second and a token of its own for the rate-limit tests; no faults.
pub const LIMITED_API_ARGS: [&str; 4] = [
    "--rate-limit",
    "20/1",
    "--token",
    "burst=cdp:imports:read,cdp:imports:write,cdp:metadata:read",
];

/// The emulators of the wasm suites, and the compile-time variables that
/// hand their URLs to the tests.
#[derive(Debug)]
pub struct Emulators {
    /// `--storage local` (Azure Block Blob): `IMPORT_EMULATOR_URL`.
    pub main: Emulator,
    /// `--storage local-s3`: `IMPORT_EMULATOR_URL_S3`.
    pub s3: Emulator,
    /// `--storage local-gcs`: `IMPORT_EMULATOR_URL_GCS`.
    pub gcs: Emulator,
    /// `--storage local` with storage faults: `IMPORT_EMULATOR_URL_FAULTS`.
    pub faults: Emulator,
    /// API faults ([`FLAKY_API_ARGS`]): `IMPORT_EMULATOR_URL_FLAKY`.
    pub flaky: Emulator,
    /// A rate limit ([`LIMITED_API_ARGS`]): `IMPORT_EMULATOR_URL_LIMITED`.
    pub limited: Emulator,
    /// `--storage azurite=URL`: `IMPORT_EMULATOR_URL_AZURITE`. Declared
    /// before `azurite` so it stops first.
    pub with_azurite: Emulator,
    /// The Azurite behind `with_azurite`.
    pub azurite: Azurite,
}

impl Emulators {
    /// Starts all seven, and Azurite.
    pub fn start(ws: &Workspace, binary: &Path) -> Result<Emulators> {
        let azurite = Azurite::start(ws)?;
        let storage = format!("azurite={}", azurite.url);
        Ok(Emulators {
            main: Emulator::start(ws, binary)?,
            s3: Emulator::start_named(ws, binary, "emulator-s3", &["--storage", "local-s3"])?,
            gcs: Emulator::start_named(ws, binary, "emulator-gcs", &["--storage", "local-gcs"])?,
            faults: Emulator::start_named(
                ws,
                binary,
                "emulator-faults",
                &["--faults", STORAGE_FAULTS, "--seed", FAULT_SEED],
            )?,
            flaky: Emulator::start_named(ws, binary, "emulator-flaky", &FLAKY_API_ARGS)?,
            limited: Emulator::start_named(ws, binary, "emulator-limited", &LIMITED_API_ARGS)?,
            with_azurite: Emulator::start_named(
                ws,
                binary,
                "emulator-azurite",
                &["--storage", &storage],
            )?,
            azurite,
        })
    }

    /// `(variable, URL)` pairs to set on the test build (`AZURITE_BLOB_URL`
    /// is Azurite's own blob endpoint).
    pub fn env(&self) -> [(&'static str, &str); 8] {
        [
            ("IMPORT_EMULATOR_URL", &self.main.url),
            ("IMPORT_EMULATOR_URL_S3", &self.s3.url),
            ("IMPORT_EMULATOR_URL_GCS", &self.gcs.url),
            ("IMPORT_EMULATOR_URL_FAULTS", &self.faults.url),
            ("IMPORT_EMULATOR_URL_FLAKY", &self.flaky.url),
            ("IMPORT_EMULATOR_URL_LIMITED", &self.limited.url),
            ("IMPORT_EMULATOR_URL_AZURITE", &self.with_azurite.url),
            ("AZURITE_BLOB_URL", &self.azurite.url),
        ]
    }
}
