//! Type inference: each column's `sourceFields` type, from its first
//! values, with the validator's own value checks
//! ([`crate::validate::check_value`]); no second set of parsers.
//!
//! A column's type is the first of [`CANDIDATES`] that at least
//! [`FIT_SHARE`] of its non-empty values are, read as `balanced` reads them
//! (canonical forms, where the types do not overlap: `1` is no boolean,
//! a date no datetime). When none is, and the job is `landing_friendly`,
//! the forms that mode coerces are tried too (`yes`, `04/21/2026`,
//! `1,234`), except that a column of decimal commas (`1,5`) is never made
//! a number: that mode would read `1,5` as 15. Otherwise the column is
//! `string`. Confidence and misfits are then counted under the job's own
//! mode.

use super::{Column, EXAMPLES};
use crate::rules::{DataType, ImportMode};
use crate::validate::accepts;

/// The types tried, most specific first.
pub const CANDIDATES: [DataType; 8] = [
    DataType::Boolean,
    DataType::Integer,
    DataType::Number,
    DataType::Date,
    DataType::Datetime,
    DataType::Email,
    DataType::Phone,
    DataType::Url,
];

/// The order `landing_friendly`'s coerced forms are tried in (a column of
/// `1` and `0` is an integer before it is a boolean).
const LANDING_CANDIDATES: [DataType; 8] = [
    DataType::Integer,
    DataType::Number,
    DataType::Boolean,
    DataType::Date,
    DataType::Datetime,
    DataType::Email,
    DataType::Phone,
    DataType::Url,
];

/// Share of a column's non-empty values that must be of a type for the
/// column to be declared that type.
pub const FIT_SHARE: f32 = 0.9;

/// Infers one column from its values (`None` for a row too short to have
/// it, skipped).
pub fn infer_column<'a>(
    name: &str,
    index: usize,
    values: impl Iterator<Item = &'a str>,
    mode: ImportMode,
) -> Column {
    let mut examples: Vec<String> = Vec::new();
    let mut non_empty: Vec<&str> = Vec::new();
    let mut empty = 0u64;
    for v in values {
        if v.trim().is_empty() {
            empty += 1;
            continue;
        }
        non_empty.push(v);
        if examples.len() < EXAMPLES && !examples.iter().any(|e| e == v) {
            examples.push(v.to_owned());
        }
    }
    let filled = non_empty.len() as u64;
    let mut chosen = DataType::String;
    // The misfits of the chosen type, when it was chosen in the job's mode.
    let mut found = None;
    if filled > 0 {
        if let Some((t, m)) = CANDIDATES
            .into_iter()
            .find_map(|t| misfits_of(&non_empty, t, ImportMode::Balanced, true).map(|m| (t, m)))
        {
            chosen = t;
            found = (mode == ImportMode::Balanced).then_some(m);
        } else if mode == ImportMode::LandingFriendly {
            let decimal_commas = non_empty.iter().any(|v| has_decimal_comma(v));
            if let Some((t, m)) = LANDING_CANDIDATES.into_iter().find_map(|t| {
                if decimal_commas && matches!(t, DataType::Integer | DataType::Number) {
                    return None;
                }
                misfits_of(&non_empty, t, mode, true).map(|m| (t, m))
            }) {
                chosen = t;
                found = Some(m);
            }
        }
    }
    let (misfit_count, misfits) = match found {
        Some(m) => m,
        None if chosen != DataType::String => {
            misfits_of(&non_empty, chosen, mode, false).expect("never given up on")
        }
        None => (0, Vec::new()),
    };
    let confidence = if filled == 0 {
        1.0
    } else {
        (filled - misfit_count) as f32 / filled as f32
    };
    Column {
        name: name.to_owned(),
        index,
        inferred_type: chosen,
        confidence,
        examples,
        misfits,
        misfit_count,
        empty_count: empty,
    }
}

/// The misfits of type `t` among `values` (non-empty) read in mode `m`:
/// their count and the first few. With `give_up`, None as soon as they are
/// too many for the column to be of that type (more than 1 - FIT_SHARE of
/// the values: most candidates fail on a string column within its first
/// tenth).
fn misfits_of(
    values: &[&str],
    t: DataType,
    m: ImportMode,
    give_up: bool,
) -> Option<(u64, Vec<String>)> {
    let filled = values.len() as u64;
    let fit_share = |misfits: u64| (filled - misfits) as f32 / filled.max(1) as f32;
    let (mut count, mut firsts) = (0u64, Vec::new());
    for &v in values {
        if !accepts(t, v, m) {
            count += 1;
            if give_up && fit_share(count) < FIT_SHARE {
                return None;
            }
            if firsts.len() < EXAMPLES && !firsts.iter().any(|f| f == v) {
                firsts.push(v.to_owned());
            }
        }
    }
    Some((count, firsts))
}

/// `1,5` or `-12,75`: digits, one comma, then one, two or more than three
/// digits (a thousands separator is followed by exactly three).
pub fn has_decimal_comma(v: &str) -> bool {
    let v = v.trim();
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    let Some((int, frac)) = v.split_once(',') else {
        return false;
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b.is_ascii_digit())
        && frac.len() != 3
}
