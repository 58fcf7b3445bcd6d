//! The bundlers suite: the package as a new user gets it. `pkg/` is packed
//! with `npm pack`, the tarball installed into small apps generated under
//! `target/xtask/bundlers/apps/` (templates in `tests/bundlers/apps/`),
//! each built with its bundler's default configuration (Vite 6's dev server
//! and `vite build`, webpack 5, esbuild, Rollup with its usual plugins; the
//! bundlers come from the workspace's dev dependencies) and loaded in
//! headless Chromium; the tarball is also imported by its name in Node, in
//! Deno, and in a workerd bundle. Every app runs the same checks
//! (`tests/bundlers/checks.js`) against one emulator on an ephemeral port.
//!
//! | suite    | command |
//! |----------|---------|
//! | bundlers | `node tests/bundlers/run.mjs` |
//!
//! The runner prints `ok - app: check` / `not ok - …` and closes with
//! `N passed, M failed`, counted as for the JS suites
//! ([`crate::js_suites::run_one`]): an app that cannot be built counts as
//! a failure, and a run with no passing check fails.

use crate::emulator::Emulator;
use crate::process;
use crate::setup::Workspace;
use crate::suites::Outcome;

/// The suite's name in `cargo xtask test --suites=…`.
pub const SUITE: &str = "bundlers";

/// Runs the suite when `wants` it; expects `pkg/` to be built and Chromium
/// to be installed.
pub fn run(ws: &Workspace, wants: &dyn Fn(&str) -> bool) -> Vec<Outcome> {
    if !wants(SUITE) {
        return Vec::new();
    }
    let emulator =
        process::run(ws.cargo().args(["build", "-p", "import-devserver"])).and_then(|()| {
            let bin = ws.target_dir.join("debug").join("import-devserver");
            Emulator::start_named(ws, &bin, "emulator-bundlers", &[])
        });
    let emulator = match emulator {
        Ok(e) => e,
        Err(e) => {
            return vec![Outcome::not_run(
                SUITE,
                format!("emulator not started: {e:#}"),
            )]
        }
    };
    let mut cmd = ws.cmd("node");
    cmd.arg("tests/bundlers/run.mjs")
        .env("IMPORT_EMULATOR_URL", &emulator.url)
        .env("IMPORT_BUNDLERS_SCRATCH", ws.scratch_dir().join("bundlers"))
        .env_remove("IMPORT_BUNDLERS_ONLY");
    let outcome = crate::js_suites::run_one(SUITE, &mut cmd);
    drop(emulator);
    vec![outcome]
}
