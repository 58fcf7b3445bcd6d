//! The `cli` suite: the `import-uploader` command line as a user gets it.
//! `pkg/` is packed with `npm pack` and the tarball installed into a
//! scratch app (as the `bundlers` suite does); the runner
//! (`tests/cli/run.mjs`) runs the installed `bin` against emulators of its
//! own, and the package's file sources on large sparse files (5 GiB and
//! 2 GiB + 1 byte) through the package's `upload`:
//!
//! | emulator     | flags | for |
//! |--------------|-------|-----|
//! | `cli`        | defaults (Azure Block Blob storage) | imports, globs, exit codes, `--json`, the large files |
//! | `cli-slow`   | every storage request delayed 60 ms | `kill -9` in the middle of a many-part upload, then `resume` (the storage requests counted in its log) |
//! | `cli-expiry` | upload URLs valid 8 s, storage delayed 150 ms | an upload URL expired on `resume` |
//! | `cli-azurite`| `--storage azurite=URL` | an import through Azurite |
//!
//! | suite | command |
//! |-------|---------|
//! | cli   | `node tests/cli/run.mjs` |
//!
//! Counted as the JS suites are ([`crate::js_suites::run_one`]): the
//! runner prints `ok - …` / `not ok - …` and `N passed, M failed`; zero
//! passes fail the suite.

use anyhow::Result;

use crate::emulator::{Azurite, Emulator};
use crate::process;
use crate::setup::Workspace;
use crate::suites::Outcome;

/// The suite's name in `cargo xtask test --suites=…`.
pub const SUITE: &str = "cli";

/// A static token only the CLI's emulators know: distinctive, so the
/// runner can check it is written nowhere (journal, output, error files).
pub const CLI_TOKEN: &str = "ws-token-cli-e2e-5d2a9c71f04e8b36";
const SCOPES: &str = "cdp:imports:write,cdp:imports:read,cdp:metadata:read";

struct Peers {
    main: Emulator,
    slow: Emulator,
    expiry: Emulator,
    /// Declared before `azurite`, so it stops first.
    with_azurite: Emulator,
    _azurite: Azurite,
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn start(ws: &Workspace) -> Result<Peers> {
    process::run(ws.cargo().args(["build", "-p", "import-devserver"]))?;
    let bin = ws.target_dir.join("debug").join("import-devserver");
    let token = format!("{CLI_TOKEN}={SCOPES}");
    let base = ["--token", token.as_str()];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let azurite = Azurite::start(ws)?;
    let storage = format!("azurite={}", azurite.url);
    let slow = with(&["--faults", "storage:delay=60ms@100%"]);
    let expiry = with(&[
        "--upload-url-ttl",
        "8",
        "--faults",
        "storage:delay=150ms@100%",
    ]);
    let az = with(&["--storage", &storage]);
    Ok(Peers {
        main: Emulator::start_named(ws, &bin, "emulator-cli", &args(&with(&[])))?,
        slow: Emulator::start_named(ws, &bin, "emulator-cli-slow", &args(&slow))?,
        expiry: Emulator::start_named(ws, &bin, "emulator-cli-expiry", &args(&expiry))?,
        with_azurite: Emulator::start_named(ws, &bin, "emulator-cli-azurite", &args(&az))?,
        _azurite: azurite,
    })
}

/// Runs the suite when `wants` it; expects `pkg/` to be built.
pub fn run(ws: &Workspace, wants: &dyn Fn(&str) -> bool) -> Vec<Outcome> {
    if !wants(SUITE) {
        return Vec::new();
    }
    let peers = match start(ws) {
        Ok(p) => p,
        Err(e) => {
            return vec![Outcome::not_run(
                SUITE,
                format!("emulators not started: {e:#}"),
            )]
        }
    };
    let mut cmd = ws.cmd("node");
    cmd.arg("tests/cli/run.mjs")
        .env("IMPORT_EMULATOR_URL", &peers.main.url)
        .env("IMPORT_EMULATOR_URL_SLOW", &peers.slow.url)
        .env("IMPORT_EMULATOR_LOG_SLOW", &peers.slow.log)
        .env("IMPORT_EMULATOR_URL_EXPIRY", &peers.expiry.url)
        .env("IMPORT_EMULATOR_URL_AZURITE", &peers.with_azurite.url)
        .env("IMPORT_CLI_TOKEN", CLI_TOKEN)
        .env("IMPORT_CLI_SCRATCH", ws.scratch_dir().join("cli"))
        .env_remove("IMPORT_CLI_ONLY")
        .env_remove("IMPORT_TOKEN")
        .env_remove("IMPORT_API_URL")
        .env_remove("IMPORT_CLIENT_ID")
        .env_remove("IMPORT_CLIENT_SECRET")
        .env_remove("IMPORT_TOKEN_URL")
        .env_remove("IMPORT_TICKET");
    let outcome = crate::js_suites::run_one(SUITE, &mut cmd);
    drop(peers);
    vec![outcome]
}
