//! The emulator (`import-devserver`) as a child process for the test suites:
//! started on an ephemeral port with a fresh data directory, its URL read
//! from the `listening on http://…` line it prints, and stopped (data
//! directory removed) when the guard drops — also when a suite fails.

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
}

impl Emulator {
    /// Starts `binary` on 127.0.0.1:0 with a fresh data directory under the
    /// xtask's scratch directory.
    pub fn start(ws: &Workspace, binary: &Path) -> Result<Emulator> {
        let scratch = ws.scratch_dir();
        std::fs::create_dir_all(&scratch)?;
        let stamp = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let data_dir = scratch.join(format!("emulator-data-{stamp}"));
        let log = scratch.join("emulator.log");
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = ws
            .cmd(binary)
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
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
            data_dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.trim().strip_prefix("listening on ") {
                        guard.url = url.trim().to_string();
                        println!("emulator: {} (log: {})", guard.url, guard.log.display());
                        return Ok(guard);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                    "the emulator printed no `listening on` line within {}s; see {}",
                    START_TIMEOUT.as_secs(),
                    guard.log.display()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = guard.child.wait()?;
                    bail!(
                        "the emulator exited ({status}) before listening; see {}",
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
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
