//! `cargo xtask fuzz [CASES]`: the generated-input tests (proptest) as a
//! long search. Every property of the property test targets runs with
//! CASES cases (default 1,000,000) in the release profile, one property
//! at a time; then a table: property, cases, failures, seconds.
//!
//! The properties are the tests of [`TARGETS`], found by listing them, so
//! a new property is fuzzed without a change here. Each reads its case
//! count from `PROPTEST_CASES` (in `cargo test` they run the few thousand
//! cases CI affords). proptest stops a property at its first failing case
//! and shrinks it to a minimal input, which is printed: `failures` is 0 or
//! 1, and `cases` counts the cases tried. The failing case is also saved
//! under the crate's `tests/proptest-regressions/`, so that `cargo test`
//! tries it first from then on.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::setup::Workspace;

/// The property test targets: package, its directory, test target.
const TARGETS: &[(&str, &str, &str)] = &[
    ("import-core", "core", "properties"),
    ("import-devserver", "devserver", "block_list_properties"),
];

/// Cases per property when none are given.
const DEFAULT_CASES: u64 = 1_000_000;

/// One property's run.
struct Outcome {
    name: String,
    cases: u64,
    failures: u64,
    seconds: f64,
}

pub fn run(ws: &Workspace, args: &[String]) -> Result<()> {
    let cases = match args {
        [] => DEFAULT_CASES,
        [n] => parse_count(n)?,
        _ => bail!("usage: cargo xtask fuzz [CASES]"),
    };
    let mut outcomes = Vec::new();
    for &(package, dir, target) in TARGETS {
        let exe = build(ws, package, target)?;
        for name in list(&exe)? {
            println!("{dir}: {name}: {cases} cases…");
            let mut outcome = fuzz(ws, &exe, dir, &name, cases)?;
            outcome.name = format!("{dir}: {name}");
            outcomes.push(outcome);
        }
    }
    print_table(&outcomes);
    let failed = outcomes.iter().filter(|o| o.failures > 0).count();
    if failed > 0 {
        bail!("{failed} of {} properties failed", outcomes.len());
    }
    println!("{} properties, no failure", outcomes.len());
    Ok(())
}

/// `1000000`, `1_000_000` or `1,000,000`.
fn parse_count(arg: &str) -> Result<u64> {
    let digits: String = arg.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    match digits.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("CASES must be a positive whole number, got `{arg}`"),
    }
}

/// Builds the target's test binary in release and returns its path.
fn build(ws: &Workspace, package: &str, target: &str) -> Result<PathBuf> {
    let mut cmd = ws.cargo();
    cmd.args([
        "test",
        "--release",
        "-p",
        package,
        "--test",
        target,
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .stderr(Stdio::inherit());
    println!("$ {}", crate::process::describe(&cmd));
    let out = cmd.output().context("cannot run cargo")?;
    if !out.status.success() {
        bail!("building {package}'s {target} tests failed");
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"] == target
                && m["profile"]["test"] == true
        })
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built no test binary for {package}'s {target}"))
}

/// The names of the tests in a test binary.
fn list(exe: &PathBuf) -> Result<Vec<String>> {
    let out = Command::new(exe)
        .args(["--list", "--format=terse"])
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect();
    if !out.status.success() || names.is_empty() {
        bail!("{} lists no tests", exe.display());
    }
    Ok(names)
}

/// Runs one property with `cases` cases, in the package's directory as
/// `cargo test` does.
fn fuzz(ws: &Workspace, exe: &PathBuf, dir: &str, name: &str, cases: u64) -> Result<Outcome> {
    let started = Instant::now();
    let out = Command::new(exe)
        .args(["--exact", name, "--test-threads=1"])
        .env("PROPTEST_CASES", cases.to_string())
        .current_dir(ws.root.join(dir))
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let passed = out.status.success() && stdout.contains("1 passed");
    if !passed {
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let tried = if passed {
        cases
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        cases_before_failure(&stdout)
            .or_else(|| cases_before_failure(&stderr))
            .map_or(0, |n| n + 1)
    };
    Ok(Outcome {
        name: name.to_string(),
        cases: tried,
        failures: u64::from(!passed),
        seconds,
    })
}

/// The `successes: N` of proptest's failure report.
fn cases_before_failure(output: &str) -> Option<u64> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("successes: "))
        .and_then(|n| n.trim().parse().ok())
}

fn print_table(outcomes: &[Outcome]) {
    let width = outcomes
        .iter()
        .map(|o| o.name.len())
        .max()
        .unwrap_or(0)
        .max("property".len());
    println!();
    println!(
        "{:<width$} {:>10} {:>9} {:>9}",
        "property", "cases", "failures", "seconds"
    );
    for o in outcomes {
        println!(
            "{:<width$} {:>10} {:>9} {:>9.1}",
            o.name, o.cases, o.failures, o.seconds
        );
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_counts_may_be_grouped() {
        assert_eq!(parse_count("1000000").unwrap(), 1_000_000);
        assert_eq!(parse_count("1_000_000").unwrap(), 1_000_000);
        assert_eq!(parse_count("1,000").unwrap(), 1_000);
        assert!(parse_count("0").is_err());
        assert!(parse_count("many").is_err());
    }

    #[test]
    fn reads_the_cases_before_a_failure_from_proptests_report() {
        let report = "minimal failing input: input = []\n\tsuccesses: 50\n\tlocal rejects: 0\n";
        assert_eq!(cases_before_failure(report), Some(50));
        assert_eq!(cases_before_failure("test result: FAILED."), None);
    }
}
