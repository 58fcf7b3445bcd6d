//! The `lint` suite of `cargo xtask test`: checks of the code that are not
//! tests but fail the run as a failing test does. Each check is one
//! command and counts as one test, passed or failed; the suite ends with a
//! libtest-style `test result:` line, so it is counted like the others.
//!
//! | check | command |
//! |-------|---------|
//! | unused-dependencies | `cargo-machete .` (installed by set-up, see [`crate::setup::ensure_lint_tools`]) |
//! | clippy-native | `cargo clippy --workspace --all-targets -- -D warnings` |
//! | clippy-wasm | `cargo clippy -p import-uploader -p import-uploader-preflight --target wasm32-unknown-unknown --all-targets -- -D warnings` |
//! | clippy-wasm-browser | the same for the browser build's features (`--no-default-features --lib`) |
//! | fmt | `cargo fmt --all --check` |
//!
//! Every check runs even when an earlier one fails; the failed ones are
//! named at the end.

use std::process::Command;
use std::time::Instant;

use crate::process::describe;
use crate::setup::{self, Workspace, WASM_TARGET};
use crate::suites::{Counts, Outcome};

/// The suite's name in `cargo xtask test --suites=…`.
pub const SUITE: &str = "lint";

/// The checks, by name, as commands in the workspace root.
fn checks(ws: &Workspace) -> Vec<(&'static str, Command)> {
    let cargo = |args: &[&str]| {
        let mut c = ws.cargo();
        c.args(args);
        c
    };
    // `cargo-machete` itself, not `cargo machete`: run from this xtask
    // (whose environment has `CARGO_PKG_NAME`), it would not know it was
    // called through cargo and would take `machete` for the directory.
    let mut machete = ws.cmd("cargo-machete");
    machete.arg(".");
    vec![
        ("unused-dependencies", machete),
        (
            "clippy-native",
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        (
            "clippy-wasm",
            cargo(&[
                "clippy",
                "-p",
                "import-uploader",
                "-p",
                "import-uploader-preflight",
                "--target",
                WASM_TARGET,
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        (
            "clippy-wasm-browser",
            cargo(&[
                "clippy",
                "-p",
                "import-uploader",
                "--target",
                WASM_TARGET,
                "--no-default-features",
                "--lib",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        ("fmt", cargo(&["fmt", "--all", "--check"])),
    ]
}

/// Runs every check (after installing the tools they need).
pub fn run(ws: &Workspace) -> Outcome {
    println!("\n==== suite: {SUITE} ====");
    let started = Instant::now();
    if let Err(e) = setup::ensure_lint_tools(ws) {
        let mut o = Outcome::not_run(SUITE, format!("lint tools not installed: {e:#}"));
        o.seconds = started.elapsed().as_secs_f64();
        return o;
    }
    let mut results = Vec::new();
    for (name, mut cmd) in checks(ws) {
        println!("\n---- lint: {name} ----\n$ {}", describe(&cmd));
        let t = Instant::now();
        let ok = match cmd.status() {
            Ok(status) => status.success(),
            Err(e) => {
                println!("cannot run `{}`: {e}", describe(&cmd));
                false
            }
        };
        let seconds = t.elapsed().as_secs_f64();
        if !ok {
            println!("lint: {name} FAILED: `{}`", describe(&cmd));
        }
        results.push((name, ok, seconds));
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("\n{}", summary(&results, seconds));
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(n, _, _)| *n)
        .collect();
    Outcome {
        name: SUITE.to_string(),
        counts: Counts {
            passed: (results.len() - failed.len()) as u64,
            failed: failed.len() as u64,
        },
        seconds,
        problem: (!failed.is_empty()).then(|| format!("check(s) failed: {}", failed.join(", "))),
    }
}

/// One `test NAME ... ok|FAILED` line per check, then libtest's
/// `test result:` line.
fn summary(results: &[(&str, bool, f64)], seconds: f64) -> String {
    let mut s = String::new();
    for (name, ok, t) in results {
        let verdict = if *ok { "ok" } else { "FAILED" };
        s.push_str(&format!("test {name} ... {verdict} ({t:.1} s)\n"));
    }
    let failed = results.iter().filter(|(_, ok, _)| !ok).count();
    s.push_str(&format!(
        "test result: {}. {} passed; {failed} failed; finished in {seconds:.1}s",
        if failed == 0 { "ok" } else { "FAILED" },
        results.len() - failed,
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suites::parse_counts;

    #[test]
    fn the_summary_is_counted_like_a_test_suite() {
        let s = summary(&[("fmt", true, 0.5), ("clippy-native", false, 9.0)], 9.5);
        assert!(s.contains("test clippy-native ... FAILED"), "{s}");
        assert!(s.ends_with("test result: FAILED. 1 passed; 1 failed; finished in 9.5s"));
        assert_eq!(
            parse_counts(&s),
            Counts {
                passed: 1,
                failed: 1
            }
        );
    }

    #[test]
    fn every_check_is_named_once() {
        let ws = Workspace::locate().unwrap();
        let names: Vec<&str> = checks(&ws).into_iter().map(|(n, _)| n).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert!(names.contains(&"unused-dependencies") && names.contains(&"fmt"));
    }
}
