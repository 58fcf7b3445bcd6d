//! Per-type value checks: one raw value read as its column's data type
//! under an import mode ([`check_value`]), with the accepted forms of the
//! module's reference (integers, numbers, booleans, dates, datetimes,
//! e-mail addresses, phone numbers, URLs).

use std::fmt;

use super::*;
use crate::rules::{DataType, ImportMode};

/// Why a single value was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// The field is empty or only whitespace.
    Empty,
    /// Not the type (or, in strict, not in its canonical form): why, in
    /// words, without the column name.
    Invalid(String),
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Empty => f.write_str("value is empty"),
            ValueError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ValueError {}

/// Checks and normalises one raw value as `data_type` under `mode` (no key
/// handling: see [`RowValidator`]). Also usable on its own, e.g. to infer a
/// column's type from a sample.
pub fn check_value(data_type: DataType, raw: &str, mode: ImportMode) -> Result<Value, ValueError> {
    check_value_with(data_type, raw, mode, &mut Vec::new(), Keep::Everything)
}

/// Whether [`check_value`] accepts the value: the same checks, without
/// the value or the message of a rejection (for type inference and
/// sniffing, which try many values against many types and only count).
pub fn accepts(data_type: DataType, raw: &str, mode: ImportMode) -> bool {
    check_value_with(data_type, raw, mode, &mut Vec::new(), Keep::Nothing).is_ok()
}

/// What [`check_value_with`] answers besides accepting or rejecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// The value, and the message of a rejection.
    Everything,
    /// The message of a rejection; an accepted value of text (a string,
    /// an e-mail, a date) is answered as [`Value::Null`] rather than
    /// copied (a datetime is still written out: writing it checks it).
    Messages,
    /// Neither: a rejection's message is empty.
    Nothing,
}

/// `s.trim()`, answered without decoding characters when both ends are
/// ASCII and not whitespace (most values).
pub(super) fn trim(s: &str) -> &str {
    // Every whitespace character is either at most b' ' or not ASCII.
    let plain = |b: u8| b > b' ' && b.is_ascii();
    match s.as_bytes() {
        [first, .., last] if plain(*first) && plain(*last) => s,
        [only] if plain(*only) => s,
        _ => s.trim(),
    }
}

/// The text an accepted `string` or `email` value keeps: a `string` as
/// written (trimmed in `landing_friendly`), an `email` trimmed. The value
/// is the field's own text, so it can be kept without a copy.
pub(super) fn kept_text(data_type: DataType, raw: &str, mode: ImportMode) -> &str {
    if data_type == DataType::String && mode != ImportMode::LandingFriendly {
        raw
    } else {
        trim(raw)
    }
}

/// A string holding `text`, reusing one of `spare` when there is one.
pub(super) fn spare_string(spare: &mut Vec<String>, text: &str) -> String {
    let mut s = spare.pop().unwrap_or_default();
    s.clear();
    s.push_str(text);
    s
}

/// [`check_value`], taking the strings of the values it returns from
/// `spare` when it can, and answering what `what` asks for: the same
/// checks, the same accepted and rejected values, whatever it is.
pub(super) fn check_value_with(
    data_type: DataType,
    raw: &str,
    mode: ImportMode,
    spare: &mut Vec<String>,
    what: Keep,
) -> Result<Value, ValueError> {
    let keep = what == Keep::Everything;
    let trimmed = trim(raw);
    if trimmed.is_empty() {
        return Err(ValueError::Empty);
    }
    if data_type == DataType::String {
        if !keep {
            return Ok(Value::Null);
        }
        return Ok(Value::String(spare_string(
            spare,
            kept_text(data_type, raw, mode),
        )));
    }
    if mode == ImportMode::Strict && trimmed.len() != raw.len() {
        if what == Keep::Nothing {
            return Err(ValueError::Invalid(String::new()));
        }
        return Err(ValueError::Invalid(format!(
            "{} has surrounding spaces (strict mode takes values exactly as written)",
            quote(raw)
        )));
    }
    let strict = mode == ImportMode::Strict;
    let exact = match data_type {
        DataType::String => unreachable!("handled above"),
        DataType::Integer => parse_integer(trimmed),
        // The verdict and inference keep no number: checked without
        // parsing it where it cannot overflow.
        DataType::Number if !keep => number_fits(trimmed).map(|()| Value::Null),
        DataType::Number => parse_number(trimmed),
        DataType::Boolean => parse_boolean(trimmed, strict),
        DataType::Date => parse_iso_date(trimmed).map(|d| {
            if !keep {
                return Value::Null;
            }
            let mut s = spare_string(spare, "");
            d.push_iso(&mut s);
            Value::Date(s)
        }),
        DataType::Datetime => {
            let mut s = spare_string(spare, "");
            match parse_rfc3339_into(trimmed, &mut s) {
                Ok(()) if !keep => {
                    spare.push(s);
                    Ok(Value::Null)
                }
                Ok(()) => Ok(Value::Datetime(s)),
                Err(p) => {
                    spare.push(s);
                    Err(p)
                }
            }
        }
        DataType::Email if !keep => check_email(trimmed).map(|()| Value::Null),
        DataType::Email => check_email(trimmed)
            .map(|()| Value::String(spare_string(spare, kept_text(data_type, raw, mode)))),
        DataType::Phone => parse_phone(trimmed),
        DataType::Url => parse_url(trimmed, strict),
    };
    let problem = match exact {
        Ok(v) => return Ok(v),
        Err(p) => p,
    };
    // Only landing_friendly takes a coerced form, and only messages name
    // one: neither is wanted here.
    if what == Keep::Nothing && mode != ImportMode::LandingFriendly {
        return Err(ValueError::Invalid(String::new()));
    }
    // Not in the canonical form: landing_friendly tries harder; the other
    // modes say what a coercion would have given.
    let lenient = match (&problem, data_type) {
        // Out of range or impossible calendar values stay wrong whatever the form.
        (Problem::Range(_), _) => None,
        (_, DataType::Integer) => lenient_integer(trimmed).map(Value::Integer),
        (_, DataType::Number) => lenient_number(trimmed).map(Value::Number),
        (_, DataType::Boolean) => lenient_boolean(trimmed).map(Value::Boolean),
        (_, DataType::Date) => lenient_date(trimmed).map(|d| Value::Date(d.iso())),
        (_, DataType::Datetime) => lenient_datetime(trimmed).map(Value::Datetime),
        (_, DataType::Phone) => lenient_phone(trimmed).map(Value::String),
        (_, DataType::Url) => lenient_url(trimmed).map(Value::String),
        _ => None,
    };
    if mode == ImportMode::LandingFriendly {
        if let Some(v) = lenient {
            return Ok(v);
        }
    }
    if what == Keep::Nothing {
        return Err(ValueError::Invalid(String::new()));
    }
    // The least lenient mode that would accept the value, for the message.
    let suggestion = match (mode, &problem) {
        (ImportMode::LandingFriendly, _) | (_, Problem::Range(_)) => None,
        (ImportMode::Strict, _) => check_value(data_type, raw, ImportMode::Balanced)
            .ok()
            .map(|v| ("balanced", v))
            .or(lenient.map(|v| ("landing_friendly", v))),
        (ImportMode::Balanced, _) => lenient.map(|v| ("landing_friendly", v)),
    };
    Err(ValueError::Invalid(
        problem.describe(raw, data_type, suggestion),
    ))
}

/// What is wrong with a value.
pub(super) enum Problem {
    /// Not the type's (canonical) form.
    Form,
    /// The right form, but not a valid value: the reason.
    Range(String),
    /// E-mail: the reason.
    Email(&'static str),
}

impl Problem {
    fn describe(
        &self,
        raw: &str,
        data_type: DataType,
        suggestion: Option<(&str, Value)>,
    ) -> String {
        let q = quote(raw.trim());
        match self {
            Problem::Email(why) => format!("invalid email format: {q} {why}"),
            Problem::Range(why) => format!("{q} {why}"),
            Problem::Form => {
                let (noun, expected) = match data_type {
                    DataType::Integer => ("an integer", "whole digits, e.g. 42"),
                    DataType::Number => ("a number", "e.g. 42 or -3.75"),
                    DataType::Boolean => ("a boolean", "true or false"),
                    DataType::Date => ("a date", "YYYY-MM-DD, e.g. 2026-04-21"),
                    DataType::Datetime => {
                        ("a datetime with a timezone", "e.g. 2026-04-21T10:00:00Z")
                    }
                    DataType::Phone => (
                        "a phone number in E.164 form",
                        "+ and the country code, then up to 15 digits in all, e.g. +14155550123",
                    ),
                    DataType::Url => ("an http or https URL", "e.g. https://example.com/page"),
                    DataType::String | DataType::Email => ("text", "text"),
                };
                let mut msg = format!("{q} is not {noun} (expected {expected})");
                // Suggest the mode that would accept it, except for naive
                // datetimes: assuming UTC is a guess a person should make.
                let naive = data_type == DataType::Datetime && !has_timezone(raw.trim());
                if let (Some((mode, v)), false) = (suggestion, naive) {
                    msg.push_str(&format!("; {mode} mode would read it as {v}"));
                }
                msg
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Integers and numbers

pub(super) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn parse_integer(s: &str) -> Result<Value, Problem> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !all_digits(digits) {
        return Err(Problem::Form);
    }
    s.parse::<i64>().map(Value::Integer).map_err(|_| {
        Problem::Range(format!(
            "is out of range for an integer ({} to {})",
            i64::MIN,
            i64::MAX
        ))
    })
}

/// `-?\d+(\.\d+)?([eE][+-]?\d+)?`, with `allow_loose` also `+`, `.5`, `5.`.
pub(super) fn is_decimal(s: &str, allow_loose: bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || (allow_loose && b[i] == b'+')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - start;
        if frac_digits == 0 && !allow_loose {
            return false;
        }
        if int_digits == 0 && !allow_loose {
            return false;
        }
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

pub(super) fn finite(s: &str) -> Result<f64, Problem> {
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(n),
        _ => Err(Problem::Range("is out of range for a number".to_owned())),
    }
}

/// What [`parse_number`] says of `s`, without the number: a canonical
/// number with no exponent and at most 308 digits before its point is
/// below 10^308, under `f64::MAX`, so finite without parsing it.
fn number_fits(s: &str) -> Result<(), Problem> {
    if !is_decimal(s, false) {
        return Err(Problem::Form);
    }
    let b = s.as_bytes();
    let int_digits = b
        .iter()
        .skip(usize::from(b.first() == Some(&b'-')))
        .take_while(|c| c.is_ascii_digit())
        .count();
    if int_digits <= 308 && !b.iter().any(|&c| c == b'e' || c == b'E') {
        return Ok(());
    }
    finite(s).map(|_| ())
}

pub(super) fn parse_number(s: &str) -> Result<Value, Problem> {
    if !is_decimal(s, false) {
        return Err(Problem::Form);
    }
    finite(s).map(Value::Number)
}

/// Removes thousands separators when they are placed correctly
/// (`1,234,567.5`); `None` for misplaced ones (`1,23`).
pub(super) fn strip_thousands(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.contains(',') {
        return Some(std::borrow::Cow::Borrowed(s));
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'-') | Some(b'+') => s.split_at(1),
        _ => ("", s),
    };
    let (int_part, tail) = match rest.find(['.', 'e', 'E']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut groups = int_part.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !all_digits(first) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    out.push_str(sign);
    out.push_str(first);
    for g in groups {
        if g.len() != 3 || !all_digits(g) {
            return None;
        }
        out.push_str(g);
    }
    if tail.contains(',') {
        return None;
    }
    out.push_str(tail);
    Some(std::borrow::Cow::Owned(out))
}

pub(super) fn lenient_integer(s: &str) -> Option<i64> {
    let s = strip_thousands(s)?;
    let s = s.strip_prefix('+').unwrap_or(&s);
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if let Some(frac) = frac {
        if !frac.bytes().all(|b| b == b'0') {
            return None;
        }
    }
    let digits = int_part.strip_prefix('-').unwrap_or(int_part);
    if !all_digits(digits) {
        return None;
    }
    int_part.parse().ok()
}

pub(super) fn lenient_number(s: &str) -> Option<f64> {
    let s = strip_thousands(s)?;
    if !is_decimal(&s, true) {
        return None;
    }
    finite(&s).ok()
}

// ---------------------------------------------------------------------------
// Booleans

pub(super) fn parse_boolean(s: &str, strict: bool) -> Result<Value, Problem> {
    let (t, f) = if strict {
        (s == "true", s == "false")
    } else {
        (
            s.eq_ignore_ascii_case("true"),
            s.eq_ignore_ascii_case("false"),
        )
    };
    match (t, f) {
        (true, _) => Ok(Value::Boolean(true)),
        (_, true) => Ok(Value::Boolean(false)),
        _ => Err(Problem::Form),
    }
}

pub(super) fn lenient_boolean(s: &str) -> Option<bool> {
    const TRUE: [&str; 6] = ["true", "t", "yes", "y", "1", "on"];
    const FALSE: [&str; 6] = ["false", "f", "no", "n", "0", "off"];
    if TRUE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(true)
    } else if FALSE.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        Some(false)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Dates and datetimes

/// A calendar date (years 0000–9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Date {
    pub(super) year: i64,
    pub(super) month: u32,
    pub(super) day: u32,
}

/// Appends `n` as exactly `width` decimal digits (zero-padded).
/// Writes `n` as `out.len()` decimal digits (leading zeros; higher digits
/// dropped).
pub(super) fn put_digits(out: &mut [u8], mut n: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Appends `YYYY-MM-DD` (years are 0000–9999 here) and, with a time of day
/// in seconds, `THH:MM:SS`: built in place, then appended at once.
pub(super) fn push_iso_parts(out: &mut String, date: Date, seconds: Option<u32>) {
    let mut b = *b"0000-00-00T00:00:00";
    put_digits(&mut b[0..4], date.year as u32);
    put_digits(&mut b[5..7], date.month);
    put_digits(&mut b[8..10], date.day);
    let len = match seconds {
        Some(s) => {
            put_digits(&mut b[11..13], s / 3600);
            put_digits(&mut b[14..16], s % 3600 / 60);
            put_digits(&mut b[17..19], s % 60);
            19
        }
        None => 10,
    };
    // One copy of ASCII bytes: a character at a time was the datetime
    // and date checks' largest cost in the size-optimised wasm build
    // (each `String::push` an out-of-line call encoding UTF-8).
    if let Ok(text) = std::str::from_utf8(&b[..len]) {
        out.push_str(text);
    }
}

impl Date {
    /// Appends `YYYY-MM-DD` (years are 0000–9999 here).
    fn push_iso(self, out: &mut String) {
        push_iso_parts(out, self, None);
    }

    /// `YYYY-MM-DD`.
    fn iso(self) -> String {
        let mut out = String::with_capacity(10);
        self.push_iso(&mut out);
        out
    }
}

pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(super) fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(super) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// Checks the calendar; the error says why in words.
    pub(super) fn new(year: i64, month: u32, day: u32) -> Result<Date, String> {
        if !(1..=12).contains(&month) {
            return Err(format!(
                "is not a valid calendar date (there is no month {month})"
            ));
        }
        let max = days_in_month(year, month);
        if day == 0 || day > max {
            return Err(format!(
                "is not a valid calendar date ({} {year} has {max} days)",
                MONTHS[month as usize - 1]
            ));
        }
        Ok(Date { year, month, day })
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub(super) fn days_since_epoch(self) -> i64 {
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The inverse of [`days_since_epoch`](Self::days_since_epoch).
    pub(super) fn from_days(z: i64) -> Date {
        let (year, month, day) = civil_from_days(z);
        Date { year, month, day }
    }
}

/// Parses exactly `n` ASCII digits.
pub(super) fn digits_n(s: &[u8], n: usize) -> Option<u32> {
    if s.len() != n || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0')))
}

/// 1 or 2 ASCII digits.
pub(super) fn digits_1_2(s: &str) -> Option<u32> {
    match s.len() {
        1 => digits_n(s.as_bytes(), 1),
        2 => digits_n(s.as_bytes(), 2),
        _ => None,
    }
}

/// `YYYY-MM-DD`.
pub(super) fn parse_iso_date(s: &str) -> Result<Date, Problem> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(Problem::Form);
    }
    let (Some(y), Some(m), Some(d)) = (
        digits_n(&b[..4], 4),
        digits_n(&b[5..7], 2),
        digits_n(&b[8..], 2),
    ) else {
        return Err(Problem::Form);
    };
    Date::new(i64::from(y), m, d).map_err(Problem::Range)
}

/// The landing_friendly date forms; `None` when unreadable or invalid.
pub(super) fn lenient_date(s: &str) -> Option<Date> {
    if let Some(d) = lenient_date_only(s) {
        return Some(d);
    }
    // A datetime's date part, as written.
    split_datetime(s).and_then(|(date, time)| {
        let d = lenient_date_only(date)?;
        parse_lenient_time(time)?;
        Some(d)
    })
}

pub(super) fn lenient_date_only(s: &str) -> Option<Date> {
    let sep = s.bytes().find(|b| matches!(b, b'-' | b'/' | b'.'))?;
    let mut parts = s.split(sep as char);
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (y, m, d) = if a.len() == 4 {
        (digits_n(a.as_bytes(), 4)?, digits_1_2(b)?, digits_1_2(c)?)
    } else if c.len() == 4 {
        let y = digits_n(c.as_bytes(), 4)?;
        match sep {
            b'/' => (y, digits_1_2(a)?, digits_1_2(b)?), // US: month/day/year
            b'.' => (y, digits_1_2(b)?, digits_1_2(a)?), // day.month.year
            _ => return None,                            // 04-05-2026: ambiguous
        }
    } else {
        return None;
    };
    Date::new(i64::from(y), m, d).ok()
}

/// Splits `date[T| ]time` at the first `T`, `t` or space.
pub(super) fn split_datetime(s: &str) -> Option<(&str, &str)> {
    let i = s.find(['T', 't', ' '])?;
    Some((&s[..i], s[i + 1..].trim_start()))
}

/// A time of day with an optional UTC offset.
#[derive(Debug, Clone, Copy)]
pub(super) struct Time<'a> {
    pub(super) hour: u32,
    pub(super) minute: u32,
    pub(super) second: u32,
    /// Fraction digits, without the dot (may be empty).
    pub(super) fraction: &'a str,
    /// Offset east of UTC in minutes, `None` when not given.
    pub(super) offset: Option<i64>,
}

pub(super) fn has_timezone(s: &str) -> bool {
    split_datetime(s)
        .and_then(|(_, t)| parse_lenient_time(t))
        .is_some_and(|t| t.offset.is_some())
}

/// `HH:MM:SS[.f](Z|±HH:MM)` (RFC 3339 `full-time`, `z` allowed).
pub(super) fn parse_rfc3339_time(s: &str) -> Option<Time<'_>> {
    let b = s.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let hour = digits_n(&b[..2], 2)?;
    let minute = digits_n(&b[3..5], 2)?;
    let second = digits_n(&b[6..8], 2)?;
    let mut rest = &s[8..];
    let mut fraction = "";
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        fraction = &r[..n];
        rest = &r[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => parse_offset_colon(rest)?,
    };
    Some(Time {
        hour,
        minute,
        second,
        fraction,
        offset: Some(offset),
    })
}

/// `±HH:MM` in minutes.
pub(super) fn parse_offset_colon(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    offset_minutes(b[0], digits_n(&b[1..3], 2)?, digits_n(&b[4..], 2)?)
}

pub(super) fn offset_minutes(sign: u8, hours: u32, minutes: u32) -> Option<i64> {
    if hours > 23 || minutes > 59 {
        return None;
    }
    let m = i64::from(hours * 60 + minutes);
    match sign {
        b'+' => Some(m),
        b'-' => Some(-m),
        _ => None,
    }
}

/// The landing_friendly time forms: `H:MM[:SS[.f]]`, optional `AM`/`PM`,
/// optional zone (`Z`, `±HH:MM`, `±HHMM`, `±HH`, `UTC`, `GMT`), spaces allowed
/// between the parts.
pub(super) fn parse_lenient_time(s: &str) -> Option<Time<'_>> {
    let s = s.trim();
    let clock_len = s
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b':' || *b == b'.')
        .count();
    let (clock, mut rest) = s.split_at(clock_len);
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) if !f.is_empty() && f.len() <= 9 && all_digits(f) => (hms, f),
        Some(_) => return None,
        None => (clock, ""),
    };
    let mut parts = hms.split(':');
    let mut hour = digits_1_2(parts.next()?)?;
    let minute = digits_n(parts.next()?.as_bytes(), 2)?;
    let second = match parts.next() {
        Some(p) => digits_n(p.as_bytes(), 2)?,
        None if fraction.is_empty() => 0,
        None => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    rest = rest.trim_start();
    let upper = rest.get(..2).map(str::to_ascii_uppercase);
    if let Some(ampm) = upper.as_deref().filter(|u| *u == "AM" || *u == "PM") {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = match (ampm, hour) {
            ("AM", 12) => 0,
            ("AM", h) => h,
            ("PM", 12) => 12,
            (_, h) => h + 12,
        };
        rest = rest[2..].trim_start();
    }
    let offset = if rest.is_empty() {
        None
    } else if rest.eq_ignore_ascii_case("z")
        || rest.eq_ignore_ascii_case("utc")
        || rest.eq_ignore_ascii_case("gmt")
    {
        Some(0)
    } else {
        let b = rest.as_bytes();
        match b.len() {
            6 => parse_offset_colon(rest),
            5 => offset_minutes(b[0], digits_n(&b[1..3], 2)?, digits_n(&b[3..], 2)?),
            3 => offset_minutes(b[0], digits_n(&b[1..], 2)?, 0),
            _ => None,
        }
        .map(Some)?
    };
    Some(Time {
        hour,
        minute,
        second,
        fraction,
        offset,
    })
}

/// Combines a date and time into the normalised UTC form.
pub(super) fn to_utc(date: Date, time: Time<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(21 + time.fraction.len());
    to_utc_into(date, time, &mut out).map(|()| out)
}

/// [`to_utc`], written to `out` (emptied first).
pub(super) fn to_utc_into(date: Date, time: Time<'_>, out: &mut String) -> Result<(), String> {
    out.clear();
    if time.hour > 23 || time.minute > 59 || time.second > 59 {
        return Err(
            "has an invalid time of day (hours 00-23, minutes and seconds 00-59)".to_owned(),
        );
    }
    let local_secs = time.hour * 3600 + time.minute * 60 + time.second;
    let (day, secs) = match time.offset.unwrap_or(0) {
        // Already UTC (the usual case): no calendar arithmetic.
        0 if (0..=9999).contains(&date.year) => (date, local_secs),
        offset => {
            let local = date.days_since_epoch() * 86_400 + i64::from(local_secs);
            let utc = local - offset * 60;
            let day = Date::from_days(utc.div_euclid(86_400));
            if !(0..=9999).contains(&day.year) {
                return Err("is out of range for a datetime (years 0000 to 9999)".to_owned());
            }
            (day, utc.rem_euclid(86_400) as u32)
        }
    };
    push_iso_parts(out, day, Some(secs));
    if !time.fraction.is_empty() {
        out.push('.');
        out.push_str(time.fraction);
    }
    out.push('Z');
    Ok(())
}

/// RFC 3339 `date-time`, normalised to UTC.
/// An RFC 3339 datetime with a timezone, normalised to UTC into `out`.
pub(super) fn parse_rfc3339_into(s: &str, out: &mut String) -> Result<(), Problem> {
    let b = s.as_bytes();
    if b.len() < 11 || !matches!(b[10], b'T' | b't') || !s.is_char_boundary(10) {
        return Err(Problem::Form);
    }
    let date = parse_iso_date(&s[..10])?;
    let time = parse_rfc3339_time(&s[11..]).ok_or(Problem::Form)?;
    to_utc_into(date, time, out).map_err(Problem::Range)
}

/// The landing_friendly datetime forms, normalised to UTC.
pub(super) fn lenient_datetime(s: &str) -> Option<String> {
    if let Some(date) = lenient_date_only(s) {
        return to_utc(
            date,
            Time {
                hour: 0,
                minute: 0,
                second: 0,
                fraction: "",
                offset: Some(0),
            },
        )
        .ok();
    }
    let (date, time) = split_datetime(s)?;
    to_utc(lenient_date_only(date)?, parse_lenient_time(time)?).ok()
}

// ---------------------------------------------------------------------------
// E-mail

/// Characters that show as nothing: a byte order mark or a zero-width
/// space inside an address makes it another address that looks the same.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

/// The practical check: one `@`, a non-empty local part, a domain with a dot
/// and no empty label, no whitespace, no control or invisible characters.
pub(super) fn check_email(s: &str) -> Result<(), Problem> {
    // One pass over the bytes: whitespace, the `@`s, the first `@`. Every
    // whitespace character is either ASCII or not ASCII at all, and `@` is
    // ASCII, so the bytes of other characters never match.
    let mut space = false;
    let mut ats = 0usize;
    let mut at = 0usize;
    let mut ascii = true;
    let mut control = false;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        match b {
            // The ASCII whitespace characters (`u8::is_ascii_whitespace`
            // leaves out the vertical tab, which `char::is_whitespace`
            // counts).
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => space = true,
            b'@' => {
                if ats == 0 {
                    at = i;
                }
                ats += 1;
            }
            0x80.. => ascii = false,
            0x00..=0x1f | 0x7f => control = true,
            _ => {}
        }
    }
    if space || (!ascii && s.chars().any(char::is_whitespace)) {
        return Err(Problem::Email("contains a space"));
    }
    if control || (!ascii && s.chars().any(|c| c.is_control() || is_invisible(c))) {
        return Err(Problem::Email(
            "contains a control or invisible character (such as a NUL byte or a byte order mark)",
        ));
    }
    match ats {
        0 => return Err(Problem::Email("has no @")),
        1 => {}
        _ => return Err(Problem::Email("has more than one @")),
    }
    let domain = &s.as_bytes()[at + 1..];
    if at == 0 {
        return Err(Problem::Email("has nothing before the @"));
    }
    if domain.is_empty() {
        return Err(Problem::Email("has nothing after the @"));
    }
    if !domain.contains(&b'.') {
        return Err(Problem::Email("has no dot in the domain after the @"));
    }
    if domain.first() == Some(&b'.')
        || domain.last() == Some(&b'.')
        || domain.windows(2).any(|w| w == b"..")
    {
        return Err(Problem::Email(
            "has an empty part in the domain (a leading, trailing or doubled dot)",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Phone numbers and URLs

/// E.164: `+`, a non-zero digit, up to 15 digits in all.
pub(super) fn is_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (2..=15).contains(&d.len()) && all_digits(d) && !d.starts_with('0'))
}

pub(super) fn parse_phone(s: &str) -> Result<Value, Problem> {
    if is_e164(s) {
        Ok(Value::String(s.to_owned()))
    } else {
        Err(Problem::Form)
    }
}

/// Drops spaces, dashes, dots and parentheses and reads a leading `00` as
/// `+`; a number without its country code cannot be completed.
pub(super) fn lenient_phone(s: &str) -> Option<String> {
    let compact: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let e164 = match compact.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => compact,
    };
    is_e164(&e164).then_some(e164)
}

/// `http://` or `https://` (scheme in any case unless `strict`), a host, no
/// whitespace.
pub(super) fn parse_url(s: &str, strict: bool) -> Result<Value, Problem> {
    let rest = ["https://", "http://"].iter().find_map(|scheme| {
        let head = s.get(..scheme.len())?;
        let matches = if strict {
            head == *scheme
        } else {
            head.eq_ignore_ascii_case(scheme)
        };
        matches.then(|| &s[scheme.len()..])
    });
    let Some(rest) = rest else {
        return Err(Problem::Form);
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(Problem::Form);
    }
    Ok(Value::String(s.to_owned()))
}

/// A bare host name with a dot (`www.example.com/page`) gets `https://`.
pub(super) fn lenient_url(s: &str) -> Option<String> {
    let host = s.split(['/', '?', '#']).next().unwrap_or("");
    // A window of bytes, not `contains("://")`: a string pattern builds a
    // searcher on every call (inference tries this on every value).
    let scheme = s.as_bytes().windows(3).any(|w| w == b"://");
    if scheme || !host.contains('.') || host.starts_with('.') || host.ends_with('.') {
        return None;
    }
    let url = format!("https://{s}");
    parse_url(&url, false).ok()?;
    Some(url)
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian;
/// Howard Hinnant's `civil_from_days`). Also the retry module's clock.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
