//! Test suites as `cargo xtask test` runs them: each is one command whose
//! output is streamed to the terminal and parsed for libtest's
//! `test result: … N passed; M failed` lines. A suite passes only when the
//! command succeeds, nothing failed, and more than zero tests passed (the
//! wasm runner silently skips everything in some modes).

use std::process::Command;
use std::time::Instant;

use crate::process::run_streamed;

/// Counts parsed from a suite's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
}

/// Sums every `test result: ok. N passed; M failed; …` line.
pub fn parse_counts(output: &str) -> Counts {
    let mut c = Counts::default();
    for line in output.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        for part in rest.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            // "ok. 3 passed" / "FAILED. 1 passed" / " 0 failed"
            let n = words.len();
            if n < 2 {
                continue;
            }
            let Ok(num) = words[n - 2].parse::<u64>() else {
                continue;
            };
            match words[n - 1] {
                "passed" => c.passed += num,
                "failed" => c.failed += num,
                _ => {}
            }
        }
    }
    c
}

/// One suite's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub counts: Counts,
    pub seconds: f64,
    /// Why the suite failed, when it did.
    pub problem: Option<String>,
}

impl Outcome {
    /// A suite that could not run at all.
    pub fn not_run(name: &str, why: String) -> Self {
        Outcome {
            name: name.to_string(),
            counts: Counts::default(),
            seconds: 0.0,
            problem: Some(why),
        }
    }
}

/// Runs one suite, streaming its output.
pub fn run(name: &str, cmd: &mut Command) -> Outcome {
    println!("\n==== suite: {name} ====");
    let started = Instant::now();
    let result = run_streamed(cmd);
    let seconds = started.elapsed().as_secs_f64();
    let (status, output) = match result {
        Ok(r) => r,
        Err(e) => return Outcome::not_run(name, format!("{e:#}")),
    };
    let counts = parse_counts(&output);
    let problem = if counts.failed > 0 {
        Some(format!("{} test(s) failed", counts.failed))
    } else if !status.success() {
        Some(format!("the command failed ({status})"))
    } else if counts.passed == 0 {
        Some("no test ran (0 passed)".to_string())
    } else {
        None
    };
    Outcome {
        name: name.to_string(),
        counts,
        seconds,
        problem,
    }
}

/// The summary table.
pub fn print_table(outcomes: &[Outcome]) {
    println!();
    println!(
        "{:<16} {:>8} {:>8} {:>9}  result",
        "suite", "passed", "failed", "seconds"
    );
    for o in outcomes {
        println!(
            "{:<16} {:>8} {:>8} {:>9.1}  {}",
            o.name,
            o.counts.passed,
            o.counts.failed,
            o.seconds,
            o.problem.as_deref().unwrap_or("ok")
        );
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_libtest_and_wasm_runner_lines() {
        let out = "\
running 2 tests
test a ... ok
test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s

test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 filtered out; finished in 1.20s
   Doc-tests x
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";
        assert_eq!(
            parse_counts(out),
            Counts {
                passed: 5,
                failed: 1
            }
        );
    }

    #[test]
    fn no_result_line_is_zero() {
        assert_eq!(parse_counts("running 0 tests\n"), Counts::default());
    }

    #[test]
    fn a_failing_command_fails_the_suite() {
        let o = run("false", &mut Command::new("false"));
        assert!(o.problem.is_some());
        let o = run(
            "echo",
            Command::new("echo").arg("test result: ok. 1 passed; 0 failed"),
        );
        assert_eq!(o.problem, None);
        assert_eq!(o.counts.passed, 1);
    }
}
