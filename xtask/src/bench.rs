//! `cargo xtask bench [NAME]`: benchmarks are programs that print tables.
//! None exist yet; later work adds `processing` and `upload`.

use anyhow::{bail, Result};

/// Benchmarks that exist, by name.
const BENCHMARKS: &[&str] = &[];

/// Runs the named benchmark, or lists them.
pub fn run(args: &[String]) -> Result<()> {
    match args.first() {
        None => {
            if BENCHMARKS.is_empty() {
                println!(
                    "no benchmarks yet: later issues add `bench processing` and `bench upload`"
                );
            } else {
                println!("benchmarks: {}", BENCHMARKS.join(", "));
            }
            Ok(())
        }
        Some(name) => bail!(
            "unknown benchmark `{name}`; available: {}",
            if BENCHMARKS.is_empty() {
                "none yet".to_string()
            } else {
                BENCHMARKS.join(", ")
            }
        ),
    }
}
