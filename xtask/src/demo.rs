//! `cargo xtask demo`: set-up, the package build, then the demo:
//!
//! ```text
//! browser ──(page, /api with an upload ticket)──▶ broker on 127.0.0.1:8787 ──(workspace token)──▶ emulator on 127.0.0.1:PORT
//!    └──────────────────(file bytes, pre-signed URLs)────────────────────────────────────────────▶ emulator's storage
//! ```
//!
//! * the emulator (release build) on an ephemeral port, its data in
//!   `.emulator-data/` (jobs survive restarts), its log under
//!   `target/xtask/`;
//! * in front of it, in the foreground, `node www/server.mjs`: the package's
//!   broker (`createBroker`, through the Node adapter of
//!   `import-uploader/node`) on 127.0.0.1:8787 under `/api`, which
//!   gets the workspace token itself from the emulator's OAuth endpoint
//!   (client `dev-client`), plus the demo page (`www/`), the package
//!   (`/pkg/`) and a ticket endpoint standing in for an app's backend
//!   (`POST /app/ticket`).
//!
//! The page only ever holds upload tickets. It prints the URL; Ctrl-C stops
//! both processes.

use anyhow::{Context, Result};

use crate::build;
use crate::emulator::Emulator;
use crate::process::{describe, run};
use crate::setup::{self, Workspace};

/// Where the demo (the broker and the page) listens.
pub const DEMO_ADDR: &str = "127.0.0.1:8787";

/// Builds and runs the demo until interrupted.
pub fn run_demo(ws: &Workspace) -> Result<()> {
    setup::ensure(ws)?;
    build::run(ws)?;
    run(ws
        .cargo()
        .args(["build", "--release", "-p", "import-devserver"]))?;
    let bin = ws.target_dir.join("release").join("import-devserver");
    let emulator = Emulator::start_with_data(
        ws,
        &bin,
        "emulator-demo",
        &ws.root.join(".emulator-data"),
        &[],
    )?;

    let mut cmd = ws.cmd("node");
    cmd.arg("www/server.mjs")
        .env("DEMO_API", &emulator.url)
        .env("DEMO_ADDR", DEMO_ADDR)
        .env("DEMO_PKG", ws.pkg_dir())
        .env_remove("DEMO_CLIENT");
    println!("$ {}", describe(&cmd));
    // In the foreground: Ctrl-C reaches the server and the emulator (one
    // process group); the emulator guard stops it if the server ends first.
    let status = cmd
        .status()
        .context("starting the demo server with `node`")?;
    drop(emulator);
    if status.success() || stopped_by_user(&status) {
        println!("demo stopped");
        return Ok(());
    }
    anyhow::bail!("the demo server exited ({status})")
}

/// Whether the server ended on Ctrl-C (SIGINT) or a plain SIGTERM.
fn stopped_by_user(status: &std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        matches!(status.signal(), Some(2 | 15))
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        false
    }
}
