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
    values: impl Iterator<Item = &'a str> + Clone,
    mode: ImportMode,
) -> Column {
    let mut examples: Vec<String> = Vec::new();
    let (mut empty, mut filled) = (0u64, 0u64);
    for v in values.clone() {
        if v.trim().is_empty() {
            empty += 1;
            continue;
        }
        filled += 1;
        if examples.len() < EXAMPLES && !examples.iter().any(|e| e == v) {
            examples.push(v.to_owned());
        }
    }
    let non_empty = || values.clone().filter(|v| !v.trim().is_empty());
    let share = |t: DataType, m: ImportMode| {
        let fit = non_empty().filter(|v| accepts(t, v, m)).count();
        fit as f32 / filled.max(1) as f32
    };
    let mut chosen = DataType::String;
    if filled > 0 {
        if let Some(t) = CANDIDATES
            .into_iter()
            .find(|t| share(*t, ImportMode::Balanced) >= FIT_SHARE)
        {
            chosen = t;
        } else if mode == ImportMode::LandingFriendly {
            let decimal_commas = non_empty().any(has_decimal_comma);
            if let Some(t) = LANDING_CANDIDATES.into_iter().find(|t| {
                !(decimal_commas && matches!(t, DataType::Integer | DataType::Number))
                    && share(*t, mode) >= FIT_SHARE
            }) {
                chosen = t;
            }
        }
    }
    let (mut misfits, mut misfit_count) = (Vec::new(), 0u64);
    if chosen != DataType::String {
        for v in non_empty() {
            if !accepts(chosen, v, mode) {
                misfit_count += 1;
                if misfits.len() < EXAMPLES && !misfits.iter().any(|m| m == v) {
                    misfits.push(v.to_owned());
                }
            }
        }
    }
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
