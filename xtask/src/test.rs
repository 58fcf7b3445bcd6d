//! `cargo xtask test`: set-up, the package build, then every suite:
//!
//! | suite          | command |
//! |----------------|---------|
//! | native         | `cargo test --workspace` |
//! | wasm-node      | `cargo test --target wasm32-unknown-unknown -p import-uploader` |
//! | wasm-chromium  | the same with `WASM_BINDGEN_USE_BROWSER=1` (headless Chromium) |
//! | wasm-worker    | the same with `WASM_BINDGEN_USE_DEDICATED_WORKER=1` |
//! | js-node, js-deno, js-workerd | the package's JS suite in each runtime ([`crate::js_suites`]) |
//! | broker-node, broker-deno, broker-workerd | the broker in each runtime, driven from headless Chromium ([`crate::js_suites::run_broker`]) |
//!
//! The wasm suites talk to emulators started on ephemeral ports; their URLs
//! reach the tests at compile time: `IMPORT_EMULATOR_URL` (Azure Block Blob
//! storage), `IMPORT_EMULATOR_URL_S3`, `IMPORT_EMULATOR_URL_GCS`,
//! `IMPORT_EMULATOR_URL_FAULTS` (storage faults),
//! `IMPORT_EMULATOR_URL_FLAKY` (API faults and limits) and
//! `IMPORT_EMULATOR_URL_AZURITE` (real SAS URLs of an Azurite); see
//! [`crate::emulator`]. The last line printed is `N passed, M failed`.

use std::process::Command;

use anyhow::Result;

use crate::emulator::Emulators;
use crate::setup::{self, Chromium, Workspace, WASM_TARGET};
use crate::suites::{self, Outcome};
use crate::{build, process};

/// Runs everything; exits non-zero when any suite fails.
pub fn run(ws: &Workspace) -> Result<()> {
    setup::ensure(ws)?;
    let chromium = setup::ensure_chromium(ws)?;
    build::run(ws)?;

    let mut outcomes = vec![suites::run(
        "native",
        ws.cargo().args(["test", "--workspace"]),
    )];
    outcomes.extend(wasm_suites(ws, &chromium));
    outcomes.extend(crate::js_suites::run(ws));
    outcomes.extend(crate::js_suites::run_broker(ws));

    suites::print_table(&outcomes);
    let passed: u64 = outcomes.iter().map(|o| o.counts.passed).sum();
    let failed: u64 = outcomes.iter().map(|o| o.counts.failed).sum();
    let bad: Vec<&Outcome> = outcomes.iter().filter(|o| o.problem.is_some()).collect();
    for o in &bad {
        println!(
            "suite {} failed: {}",
            o.name,
            o.problem.as_deref().unwrap_or_default()
        );
    }
    println!("{passed} passed, {failed} failed");
    if !bad.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// The three wasm suites, sharing the emulators.
fn wasm_suites(ws: &Workspace, chromium: &Chromium) -> Vec<Outcome> {
    const NAMES: [&str; 3] = ["wasm-node", "wasm-chromium", "wasm-worker"];
    let emulator =
        process::run(ws.cargo().args(["build", "-p", "import-devserver"])).and_then(|()| {
            let bin = ws.target_dir.join("debug").join("import-devserver");
            Emulators::start(ws, &bin)
        });
    let emulator = match emulator {
        Ok(e) => e,
        Err(e) => {
            let why = format!("emulator not started: {e:#}");
            return NAMES
                .iter()
                .map(|n| Outcome::not_run(n, why.clone()))
                .collect();
        }
    };
    let wasm_test = |mode: Option<(&str, &Chromium)>| -> Command {
        let mut c = ws.cargo();
        // Every test file runs even when an earlier one fails.
        c.args([
            "test",
            "--no-fail-fast",
            "--target",
            WASM_TARGET,
            "-p",
            "import-uploader",
        ]);
        for (var, url) in emulator.env() {
            c.env(var, url);
        }
        c.env_remove("WASM_BINDGEN_USE_BROWSER")
            .env_remove("WASM_BINDGEN_USE_DEDICATED_WORKER")
            .env_remove("WASM_BINDGEN_USE_SHARED_WORKER")
            .env_remove("WASM_BINDGEN_USE_SERVICE_WORKER");
        // The headless runner gives a whole test file 20 s by default; the
        // upload suite (every size in every storage mode, each read back)
        // needs more on a busy machine.
        c.env("WASM_BINDGEN_TEST_TIMEOUT", "300");
        if let Some((var, chromium)) = mode {
            c.env(var, "1").env("CHROMEDRIVER", &chromium.chromedriver);
        }
        c
    };
    let outcomes = vec![
        suites::run(NAMES[0], &mut wasm_test(None)),
        suites::run(
            NAMES[1],
            &mut wasm_test(Some(("WASM_BINDGEN_USE_BROWSER", chromium))),
        ),
        suites::run(
            NAMES[2],
            &mut wasm_test(Some(("WASM_BINDGEN_USE_DEDICATED_WORKER", chromium))),
        ),
    ];
    drop(emulator);
    outcomes
}
