//! `cargo xtask demo`: set-up, the package build, then the emulator (release
//! build) in the foreground on 127.0.0.1:8787, serving the API, its OAuth
//! token endpoint, storage, the demo page (`www/`) and the package (`pkg/`).
//! It prints its URL and the dev tokens; Ctrl-C stops it.

use anyhow::{Context, Result};

use crate::build;
use crate::process::{describe, run};
use crate::setup::{self, Workspace};

/// Where the demo listens.
pub const DEMO_ADDR: &str = "127.0.0.1:8787";

/// Builds and runs the demo until interrupted.
pub fn run_demo(ws: &Workspace) -> Result<()> {
    setup::ensure(ws)?;
    build::run(ws)?;
    run(ws
        .cargo()
        .args(["build", "--release", "-p", "import-devserver"]))?;
    let bin = ws.target_dir.join("release").join("import-devserver");
    let mut cmd = ws.cmd(&bin);
    cmd.args([
        "--addr",
        DEMO_ADDR,
        "--data-dir",
        ".emulator-data",
        "--www",
        "www",
        "--pkg",
        "pkg",
    ]);
    println!("$ {}", describe(&cmd));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Replace this process: Ctrl-C and exit codes go straight to the emulator.
        let err = cmd.exec();
        Err(err).with_context(|| format!("starting {}", bin.display()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .with_context(|| format!("starting {}", bin.display()))?;
        anyhow::ensure!(status.success(), "the emulator exited ({status})");
        Ok(())
    }
}
