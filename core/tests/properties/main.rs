//! Generated-input tests (proptest) of import-core: the CSV reader against
//! plain `csv_core`, the value rules under every import mode, the broker's
//! upload tickets and the wire contract's shape checker.
//!
//! Each property runs a case count sized for CI (the whole target takes
//! about a minute in the test profile); `PROPTEST_CASES` raises it, which is
//! what `cargo xtask fuzz` does (a million cases each, release profile).
//! Every test of this target is a property: `cargo xtask fuzz` runs them all
//! by name.

mod broker;
mod contract;
mod csv;
mod validate;

use proptest::test_runner::Config as ProptestConfig;

/// `ci_cases` cases, or `PROPTEST_CASES` when it is set.
pub fn config(ci_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ci_cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}
