//! `cargo xtask <demo|test|build|bench|fuzz>`: the project's only entry points.
//!
//! * `demo`  — set up, build the npm package, run the emulator and, in
//!   front of it on 127.0.0.1:8787, the package's broker serving `www/` and
//!   `pkg/`.
//! * `test`  — set up, build, then every suite (or those `--suites=…`
//!   names), the `lint` checks among them; fails unless each suite passes
//!   with more than zero tests.
//! * `build` — set up, build the npm package into `pkg/`, print its sizes;
//!   fails when a build is over its size budget.
//! * `bench` — benchmarks (programs that print tables).
//! * `chaos` — uploads through injected faults and server restarts, each
//!   checked end to end; prints a table ([`chaos`]).
//! * `fuzz`  — the generated-input tests with a million cases each, in
//!   release; prints a table ([`fuzz`]).
//!
//! Set-up ([`setup`]) installs what a fresh machine lacks: the
//! `wasm32-unknown-unknown` target, the pinned `wasm-bindgen-cli`, the npm
//! packages of the committed lockfile. Everything is cached, so a second run
//! starts in seconds.

mod bench;
mod bench_link;
mod bench_preflight;
mod bench_upload;
mod build;
mod bundlers;
mod chaos;
mod cli_suite;
mod demo;
mod emulator;
mod fuzz;
mod js_suites;
mod lint;
mod package;
mod process;
mod setup;
mod suites;
mod test;

use anyhow::Result;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo            install what is missing, build pkg/, run the emulator and
                  the broker on http://127.0.0.1:8787 serving the demo page
  test [--suites=NAME,…]
                  install what is missing, build pkg/, run every test suite
                  (or only the named ones: lint, native, wasm-node,
                  wasm-chromium, wasm-worker, js-node, js-deno, js-workerd,
                  broker-node, broker-deno, broker-workerd, bundlers, chaos)
  build           install what is missing, build the npm package into pkg/,
                  print its sizes; fails when a build is over its size budget
  fuzz [CASES]    run every generated-input test (proptest property) with
                  CASES cases (default 1000000) in release; print a table of
                  cases, failures and seconds per property
  bench [NAME]    run a benchmark (`processing`, `upload`, `preflight`); no NAME lists them
  chaos [--uploads N] [--max-size SIZE] [--seed S] [--part-size SIZE]
                  N uploads (default 100) of generated CSV files of 0 B to
                  SIZE (default 300MiB) through injected faults and restarts
                  of the emulator and Azurite, each read back and its import
                  checked; prints a table, fails unless every upload passed
  bench upload [quick|SIZE…] [--link=local,sink,wan] [--methods=M,…] [--runs=N]
               [--rtt=MS] [--conn-rate=MiB/s] [--grid-runs=N] [--part=MiB] [--concurrency=N]
                  upload speed and page memory in headless Chromium: this
                  package vs raw fetch vs @azure/storage-blob, each link
                  (default all three: Azurite on loopback, a discard sink, and
                  Azurite behind a 40 ms, 16 MiB/s-per-connection proxy), N
                  runs (default 3) with the methods in turns, medians, the
                  part size × concurrency grid on wan, and the targets
                  (default 1GiB 4GiB, the engine alone at 4GiB; `quick` is 64 MiB)
  bench preflight [quick|SIZE…] [--runs N]
                  import-uploader/preflight in headless Chromium on generated
                  CSVs vs Papa Parse in a Worker: MB/s, first answer (cold,
                  warm), the main thread's longest task, memory, and the
                  element's drop → preview; medians of N runs (default 3)
                  and the targets met or missed (default 100MB 1GB;
                  `quick` is 100 MB)
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("\nxtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: &[String]) -> Result<()> {
    let ws = setup::Workspace::locate()?;
    match args.first().map(String::as_str) {
        Some("demo") => demo::run_demo(&ws),
        Some("test") => test::run(&ws, &args[1..]),
        Some("build") => {
            setup::ensure(&ws)?;
            build::run(&ws)
        }
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&ws, &args[1..]),
        Some("chaos") => chaos::run(&ws, &args[1..]),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => anyhow::bail!("unknown command `{other}`\n\n{USAGE}"),
        None => anyhow::bail!("no command given\n\n{USAGE}"),
    }
}
