//! The JavaScript end-to-end suites: the built npm package (`pkg/`) imported
//! by its name in Node, Deno and Cloudflare workerd, running the one suite
//! in `tests/js/suite.mjs` against emulators on ephemeral ports: the same
//! set as the wasm suites ([`Emulators`]: Azure Block Blob, S3-style and
//! GCS-style storage, and storage faults), their URLs passed in the same
//! `IMPORT_EMULATOR_URL*` variables, at run time.
//!
//! | suite      | command |
//! |------------|---------|
//! | js-node    | `node tests/js/run-node.mjs` |
//! | js-deno    | `node tests/js/run-deno.mjs` (runs `deno` from `node_modules`) |
//! | js-workerd | `node tests/js/run-workerd.mjs` (runs `workerd` from `node_modules`) |
//!
//! The broker suites ([`run_broker`]) serve the package's `createBroker`
//! in each runtime in front of two emulators of their own, and drive a
//! whole import through it from headless Chromium (`tests/broker/`):
//!
//! | suite          | command |
//! |----------------|---------|
//! | broker-node    | `node tests/broker/run-node.mjs` (and the Node adapter's cases, the demo page's smoke test) |
//! | broker-deno    | `node tests/broker/run-deno.mjs` |
//! | broker-workerd | `node tests/broker/run-workerd.mjs` |
//! | element        | `node tests/element/run.mjs`: `<import-uploader>` on a bare page and the demo page, in headless Chromium (Playwright), with axe-core |
//!
//! Each runner prints `ok - …` / `not ok - …` per case and closes with the
//! plain line `N passed, M failed`, which is what is counted here. A suite
//! passes only when the runner succeeds, nothing failed and more than zero
//! cases passed.

use std::process::Command;
use std::time::Instant;

use crate::emulator::{Emulator, Emulators};
use crate::process::{self, run_streamed};
use crate::setup::Workspace;
use crate::suites::{Counts, Outcome};

/// Suite names and their runner scripts (relative to the workspace root).
pub const SUITES: [(&str, &str); 4] = [
    ("js-node", "tests/js/run-node.mjs"),
    ("js-deno", "tests/js/run-deno.mjs"),
    ("js-workerd", "tests/js/run-workerd.mjs"),
    // The wire contract from outside: `/openapi.json` validated, the
    // generated `.d.ts` complete and compiling.
    ("contract", "tests/contract/run.mjs"),
];

/// The broker suites and their runner scripts, and the element's suite,
/// which runs on the same emulators (its own broker in Node, the demo's).
pub const BROKER_SUITES: [(&str, &str); 4] = [
    ("broker-node", "tests/broker/run-node.mjs"),
    ("broker-deno", "tests/broker/run-deno.mjs"),
    ("broker-workerd", "tests/broker/run-workerd.mjs"),
    ("element", "tests/element/run.mjs"),
];

/// The OAuth client (`ID:SECRET`) both broker emulators know: a distinctive
/// secret, so the suites can assert it never reaches the page.
pub const BROKER_CLIENT: &str = "broker-e2e:client-secret-4e1f0b9d2c7a51e6";
/// A static workspace token both broker emulators know (likewise distinctive).
pub const BROKER_TOKEN: &str = "ws-token-broker-e2e-83c1a5f7d20b94e1";
/// The scopes the broker's credentials get.
const BROKER_SCOPES: &str = "cdp:imports:write,cdp:imports:read,cdp:metadata:read";
/// Lifetime of the `broker-expiring` emulator's OAuth tokens, seconds (the
/// runner waits this long for its token to expire; see `runner.mjs`).
const EXPIRING_TOKEN_TTL: &str = "2";

/// Counts from the last `N passed, M failed` line (`, K skipped` may follow),
/// or `None` when the output has no such line.
pub fn parse_summary(output: &str) -> Option<Counts> {
    output.lines().rev().find_map(|line| {
        let mut parts = line.trim().split(", ");
        let passed = parts.next()?.strip_suffix(" passed")?.parse().ok()?;
        let failed = parts.next()?.strip_suffix(" failed")?.parse().ok()?;
        match parts.next() {
            None => {}
            Some(rest) => {
                rest.strip_suffix(" skipped")?.parse::<u64>().ok()?;
            }
        }
        parts.next().is_none().then_some(Counts { passed, failed })
    })
}

/// What a runner's exit status and output amount to.
fn judge(success: bool, status: &str, counts: Option<Counts>) -> Option<String> {
    match counts {
        None => Some(format!(
            "no `N passed, M failed` line (the runner ended with {status})"
        )),
        Some(c) if c.failed > 0 => Some(format!("{} test(s) failed", c.failed)),
        Some(_) if !success => Some(format!("the runner failed ({status})")),
        Some(c) if c.passed == 0 => Some("no test ran (0 passed)".to_string()),
        Some(_) => None,
    }
}

/// Runs one runner, streaming its output.
pub(crate) fn run_one(name: &str, cmd: &mut Command) -> Outcome {
    println!("\n==== suite: {name} ====");
    let started = Instant::now();
    let result = run_streamed(cmd);
    let seconds = started.elapsed().as_secs_f64();
    let (status, output) = match result {
        Ok(r) => r,
        Err(e) => return Outcome::not_run(name, format!("{e:#}")),
    };
    let counts = parse_summary(&output);
    Outcome {
        name: name.to_string(),
        counts: counts.unwrap_or_default(),
        seconds,
        problem: judge(status.success(), &status.to_string(), counts),
    }
}

/// The three JavaScript suites, sharing fresh emulators (fresh, so the
/// seeded storage faults are the same on every run). Runs those `wants`
/// names; expects `pkg/` to be built.
pub fn run(ws: &Workspace, wants: &dyn Fn(&str) -> bool) -> Vec<Outcome> {
    let chosen: Vec<_> = SUITES.iter().filter(|(n, _)| wants(n)).collect();
    if chosen.is_empty() {
        return Vec::new();
    }
    let emulators =
        process::run(ws.cargo().args(["build", "-p", "import-devserver"])).and_then(|()| {
            let bin = ws.target_dir.join("debug").join("import-devserver");
            Emulators::start(ws, &bin)
        });
    let emulators = match emulators {
        Ok(e) => e,
        Err(e) => {
            let why = format!("emulator not started: {e:#}");
            return chosen
                .iter()
                .map(|(n, _)| Outcome::not_run(n, why.clone()))
                .collect();
        }
    };
    let scratch = ws.scratch_dir().join("js");
    let outcomes = chosen
        .iter()
        .map(|(name, script)| {
            let mut cmd = ws.cmd("node");
            cmd.arg(script);
            for (var, url) in emulators.env() {
                cmd.env(var, url);
            }
            cmd.env("IMPORT_JS_SCRATCH", &scratch)
                .env_remove("IMPORT_JS_ONLY");
            run_one(name, &mut cmd)
        })
        .collect();
    drop(emulators);
    outcomes
}

/// The broker suites and the element suite, sharing two fresh emulators: `broker` (the
/// upstream of every broker) and `broker-expiring`, whose OAuth tokens live
/// 2 s (the upstream of the broker given an expired token). Both know
/// [`BROKER_CLIENT`] and [`BROKER_TOKEN`]. Runs those `wants` names;
/// expects `pkg/` to be built and Chromium to be installed.
pub fn run_broker(ws: &Workspace, wants: &dyn Fn(&str) -> bool) -> Vec<Outcome> {
    let chosen: Vec<_> = BROKER_SUITES.iter().filter(|(n, _)| wants(n)).collect();
    if chosen.is_empty() {
        return Vec::new();
    }
    let client = format!("{BROKER_CLIENT}={BROKER_SCOPES}");
    let token = format!("{BROKER_TOKEN}={BROKER_SCOPES}");
    // The element suite also starts an emulator of its own (one that holds
    // its jobs in processing) from this binary.
    let bin = ws.target_dir.join("debug").join("import-devserver");
    let started =
        process::run(ws.cargo().args(["build", "-p", "import-devserver"])).and_then(|()| {
            let credentials = ["--client", &client, "--token", &token];
            let main = Emulator::start_named(ws, &bin, "emulator-broker", &credentials)?;
            let mut args = credentials.to_vec();
            args.extend(["--token-ttl", EXPIRING_TOKEN_TTL]);
            let expiring = Emulator::start_named(ws, &bin, "emulator-broker-expiring", &args)?;
            Ok((main, expiring))
        });
    let (main, expiring) = match started {
        Ok(e) => e,
        Err(e) => {
            let why = format!("emulator not started: {e:#}");
            return chosen
                .iter()
                .map(|(n, _)| Outcome::not_run(n, why.clone()))
                .collect();
        }
    };
    let scratch = ws.scratch_dir().join("js");
    let outcomes = chosen
        .iter()
        .map(|(name, script)| {
            let mut cmd = ws.cmd("node");
            cmd.arg(script)
                .env("IMPORT_EMULATOR_URL", &main.url)
                .env("IMPORT_EMULATOR_URL_EXPIRING", &expiring.url)
                .env("IMPORT_BROKER_CLIENT", BROKER_CLIENT)
                .env("IMPORT_BROKER_TOKEN", BROKER_TOKEN)
                .env("IMPORT_BROKER_SCOPES", BROKER_SCOPES)
                .env("IMPORT_DEVSERVER_BIN", &bin)
                .env("IMPORT_JS_SCRATCH", &scratch)
                .env_remove("IMPORT_JS_ONLY");
            run_one(name, &mut cmd)
        })
        .collect();
    drop((main, expiring));
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_last_plain_summary_line() {
        let out = "\
# node 20: import-uploader resolved to pkg/entry-node.js
ok - a
not ok - b: AssertionError: 1 passed, 2 failed is not a summary here
ok - c
2 passed, 1 failed
";
        assert_eq!(
            parse_summary(out),
            Some(Counts {
                passed: 2,
                failed: 1
            })
        );
        assert_eq!(
            parse_summary("7 passed, 0 failed, 1 skipped\n"),
            Some(Counts {
                passed: 7,
                failed: 0
            })
        );
    }

    #[test]
    fn no_summary_line_is_none() {
        assert_eq!(parse_summary("ok - a\n"), None);
        assert_eq!(parse_summary("test result: ok. 3 passed; 0 failed\n"), None);
        assert_eq!(parse_summary("3 passed, 0 failed, soon\n"), None);
    }

    #[test]
    fn a_suite_passes_only_with_passes_and_no_failures() {
        let c = |passed, failed| Some(Counts { passed, failed });
        assert_eq!(judge(true, "exit status: 0", c(3, 0)), None);
        assert!(judge(false, "exit status: 1", c(3, 1)).is_some());
        assert!(judge(false, "exit status: 1", c(3, 0)).is_some());
        assert!(judge(true, "exit status: 0", c(0, 0)).is_some());
        assert!(judge(true, "exit status: 0", None).is_some());
    }
}
