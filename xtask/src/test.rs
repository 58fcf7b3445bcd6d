//! `cargo xtask test`: set-up, the package build, then every suite:
//!
//! | suite          | command |
//! |----------------|---------|
//! | lint           | unused dependencies (`cargo machete`), `cargo clippy -D warnings` native and wasm, `cargo fmt --check` ([`crate::lint`]) |
//! | native         | `cargo test --workspace` |
//! | wasm-node      | `cargo test --target wasm32-unknown-unknown -p import-uploader` |
//! | wasm-chromium  | the same with `WASM_BINDGEN_USE_BROWSER=1` (headless Chromium) |
//! | wasm-worker    | the same with `WASM_BINDGEN_USE_DEDICATED_WORKER=1` |
//! | js-node, js-deno, js-workerd | the package's JS suite in each runtime ([`crate::js_suites`]) |
//! | contract       | `/openapi.json` validated (`@readme/openapi-parser`), the generated `.d.ts` complete and compiling under `tsc --strict` |
//! | broker-node, broker-deno, broker-workerd | the broker in each runtime, driven from headless Chromium ([`crate::js_suites::run_broker`]) |
//! | element        | `<import-uploader>` on a bare page and on the demo page, driven by Playwright in headless Chromium through the Node broker ([`crate::js_suites::run_broker`]) |
//! | bundlers       | the packed package installed into apps built with Vite, webpack, esbuild and Rollup (loaded in headless Chromium) and imported in Node, Deno and a workerd bundle ([`crate::bundlers`]) |
//! | cli            | the packed package's `import-uploader` command line against emulators and Azurite, and its file sources on 5 GiB and 2 GiB + 1 byte sparse files ([`crate::cli_suite`]) |
//! | chaos          | 10 uploads of up to 3 MiB through injected faults and restarts of the emulator and Azurite, each read back and its import checked ([`crate::chaos`]) |
//!
//! The wasm suites talk to emulators started on ephemeral ports; their URLs
//! reach the tests at compile time: `IMPORT_EMULATOR_URL` (Azure Block Blob
//! storage), `IMPORT_EMULATOR_URL_S3`, `IMPORT_EMULATOR_URL_GCS`,
//! `IMPORT_EMULATOR_URL_FAULTS` (storage faults),
//! `IMPORT_EMULATOR_URL_FLAKY` (API faults, short-lived OAuth tokens),
//! `IMPORT_EMULATOR_URL_LIMITED` (a per-token rate limit) and
//! `IMPORT_EMULATOR_URL_AZURITE` (real SAS URLs of an Azurite); see
//! [`crate::emulator`]. The last line printed is `N passed, M failed`.
//!
//! `cargo xtask test --suites=wasm-node,js-node` runs only the named suites
//! (for a quick check of one area); the suites left out are listed before
//! the first and after the last line, so a partial run never reads as a
//! full one.

use std::process::Command;

use anyhow::{bail, Result};

use crate::emulator::Emulators;
use crate::setup::{self, Chromium, Workspace, WASM_TARGET};
use crate::suites::{self, Outcome};
use crate::{build, process};

/// Every suite, in the order they run.
pub const ALL_SUITES: [&str; 16] = [
    "lint",
    "native",
    "wasm-node",
    "wasm-chromium",
    "wasm-worker",
    "js-node",
    "js-deno",
    "js-workerd",
    "contract",
    "broker-node",
    "broker-deno",
    "broker-workerd",
    "element",
    crate::bundlers::SUITE,
    crate::cli_suite::SUITE,
    crate::chaos::SUITE,
];

/// Which suites to run: all, or those `--suites=a,b,…` names.
#[derive(Debug, Clone)]
pub struct Selection(Option<Vec<String>>);

impl Selection {
    /// Reads the `test` command's arguments.
    pub fn parse(args: &[String]) -> Result<Selection> {
        let mut chosen = None;
        for arg in args {
            let Some(list) = arg.strip_prefix("--suites=") else {
                bail!("unknown argument `{arg}` (expected --suites=NAME,…)");
            };
            let names: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect();
            if let Some(bad) = names.iter().find(|n| !ALL_SUITES.contains(&n.as_str())) {
                bail!(
                    "unknown suite `{bad}`; the suites are {}",
                    ALL_SUITES.join(", ")
                );
            }
            if names.is_empty() {
                bail!("--suites= names no suite");
            }
            chosen = Some(names);
        }
        Ok(Selection(chosen))
    }

    /// Whether `name` runs.
    pub fn wants(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|n| n.iter().any(|s| s == name))
    }

    /// The suites left out.
    pub fn skipped(&self) -> Vec<&'static str> {
        ALL_SUITES
            .iter()
            .copied()
            .filter(|n| !self.wants(n))
            .collect()
    }

    /// Says which suites are left out (nothing for a full run).
    fn announce(&self) {
        let skipped = self.skipped();
        if !skipped.is_empty() {
            println!(
                "test: PARTIAL RUN (--suites): skipped {} of {} suites: {}",
                skipped.len(),
                ALL_SUITES.len(),
                skipped.join(", ")
            );
        }
    }
}

/// Runs every suite (or those `args` select); exits non-zero when any
/// suite fails.
pub fn run(ws: &Workspace, args: &[String]) -> Result<()> {
    let selection = Selection::parse(args)?;
    selection.announce();
    setup::ensure(ws)?;
    let chromium = setup::ensure_chromium(ws)?;
    build::run(ws)?;

    let mut outcomes = Vec::new();
    if selection.wants(crate::lint::SUITE) {
        outcomes.push(crate::lint::run(ws));
    }
    if selection.wants("native") {
        outcomes.push(suites::run(
            "native",
            ws.cargo().args(["test", "--workspace"]),
        ));
    }
    outcomes.extend(wasm_suites(ws, &chromium, &selection));
    outcomes.extend(crate::js_suites::run(ws, &|n| selection.wants(n)));
    outcomes.extend(crate::js_suites::run_broker(ws, &|n| selection.wants(n)));
    outcomes.extend(crate::bundlers::run(ws, &|n| selection.wants(n)));
    outcomes.extend(crate::cli_suite::run(ws, &|n| selection.wants(n)));
    if selection.wants(crate::chaos::SUITE) {
        outcomes.push(crate::chaos::suite(ws));
    }

    suites::print_table(&outcomes);
    selection.announce();
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

/// The three wasm suites (those `selection` wants), sharing the emulators.
fn wasm_suites(ws: &Workspace, chromium: &Chromium, selection: &Selection) -> Vec<Outcome> {
    const NAMES: [&str; 3] = ["wasm-node", "wasm-chromium", "wasm-worker"];
    if !NAMES.iter().any(|n| selection.wants(n)) {
        return Vec::new();
    }
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
                .filter(|n| selection.wants(n))
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
    let modes = [
        None,
        Some(("WASM_BINDGEN_USE_BROWSER", chromium)),
        Some(("WASM_BINDGEN_USE_DEDICATED_WORKER", chromium)),
    ];
    let outcomes = NAMES
        .iter()
        .zip(modes)
        .filter(|(name, _)| selection.wants(name))
        .map(|(name, mode)| suites::run(name, &mut wasm_test(mode)))
        .collect();
    drop(emulator);
    outcomes
}
