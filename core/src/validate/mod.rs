//! The row rules: how each CSV row of an import is checked, typed and
//! normalised under the job's `importMode`. The emulator decides every row
//! with this module, and the client's preflight ([`crate::preflight`])
//! predicts with the very same rules.
//!
//! [`row`] resolves the mapping against the header and decides each row
//! ([`RowValidator`], [`RowError`], [`HeaderError`]); [`values`] checks one
//! value as its data type ([`check_value`]). The codes, [`Value`] and the
//! message helpers both use are here.
//!
//! This page is the reference for the rules.
//!
//! # Before the first row
//!
//! [`RowValidator::new`] resolves the mapping against the file's header once.
//! The job fails (no row is read) with a [`HeaderError`] when:
//!
//! * a column named in `fieldMap` is not in the header (in every mode: the
//!   mapping says the column exists, so a file without it is the wrong file,
//!   or is read with the wrong delimiter; importing it would silently blank a
//!   whole field). Names match exactly, case and spaces included;
//! * a key field of the object (e.g. `email` of `profiles`) has no column
//!   mapped to it, so no row could be merged;
//! * a mapped column appears twice in the header.
//!
//! # Row outcomes
//!
//! Each data row is either accepted, giving one [`Value`] per `fieldMap`
//! entry ([`ValidRow`]), or rejected with one [`RowError`]: the first problem
//! found, checking the row's shape, then (strict) undeclared columns, then
//! the mapped columns in `fieldMap` order.
//!
//! | Situation | `strict` | `balanced` (default) | `landing_friendly` |
//! |---|---|---|---|
//! | row with more or fewer fields than the header | reject `ROW_MALFORMED` | reject `ROW_MALFORMED` | reject `ROW_MALFORMED` |
//! | row of more than 10,000 fields ([`crate::csv::MAX_FIELDS`]; its values are not kept) | reject `ROW_MALFORMED` | reject `ROW_MALFORMED` | reject `ROW_MALFORMED` |
//! | field that is not valid UTF-8 | reject `INVALID_ENCODING` | reject `INVALID_ENCODING` | reject `INVALID_ENCODING` |
//! | header column not declared in `sourceFields` | reject `EXTRA_COLUMN` | ignored | ignored |
//! | key field empty | reject `REQUIRED_FIELD_MISSING` | reject `REQUIRED_FIELD_MISSING` | reject `REQUIRED_FIELD_MISSING` |
//! | other mapped field empty | reject `REQUIRED_FIELD_MISSING` | null | null |
//! | typed value with surrounding spaces (`" 42"`) | reject `VALIDATION_TYPE_MISMATCH` | trimmed | trimmed |
//! | keyword in another case (`TRUE`, `t`/`z` in a datetime) | reject `VALIDATION_TYPE_MISMATCH` (except `t`/`z`, which RFC 3339 allows) | accepted | accepted |
//! | integer written `1.0`, `1,234` or `+5` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced (`1`, `1234`, `5`) |
//! | number written `1,234.5`, `.5` or `+5` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced |
//! | boolean written `yes`/`no`, `y`/`n`, `1`/`0`, `t`/`f`, `on`/`off` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced |
//! | date written `04/21/2026`, `21.04.2026`, `2026/04/21` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced to `2026-04-21` |
//! | datetime without a timezone (`2026-04-21T10:00:00`) | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | read as UTC |
//! | datetime written `2026-04-21 10:00`, `04/21/2026 10:00 AM` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | coerced (UTC unless an offset is given) |
//! | date alone in a datetime column | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | midnight UTC |
//! | value that is not its type at all (`abc` for integer, invalid email, `2026-02-30`, integer beyond i64, non-finite number) | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | null |
//! | key value that is not its type | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` | reject `VALIDATION_TYPE_MISMATCH` |
//! | `string` value with surrounding spaces | kept as written | kept as written | trimmed |
//!
//! A field is *empty* when it is empty or holds only whitespace. A key value
//! cannot be nulled, so in `landing_friendly` a key that cannot be read still
//! rejects the row.
//!
//! # Accepted forms per data type
//!
//! `strict` takes values exactly as written; `balanced` takes the same forms
//! after trimming surrounding whitespace, with keywords case-insensitive;
//! `landing_friendly` additionally coerces the forms listed.
//!
//! | Type | `strict` / `balanced` | `landing_friendly` also accepts | Value |
//! |---|---|---|---|
//! | `string` | any text | (trims it) | [`Value::String`] |
//! | `integer` | `-?[0-9]+` within i64 | `+`, thousands separators `1,234`, integral decimals `1.0` | [`Value::Integer`] |
//! | `number` | `-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`, finite | `+`, thousands separators, `.5`, `5.` | [`Value::Number`] |
//! | `boolean` | `true`, `false` | `yes/no`, `y/n`, `1/0`, `t/f`, `on/off` (any case) | [`Value::Boolean`] |
//! | `date` | `YYYY-MM-DD`, a real calendar date | `YYYY/MM/DD`, `YYYY.MM.DD`, `MM/DD/YYYY`, `DD.MM.YYYY` (1- or 2-digit month and day), or a datetime's date part | [`Value::Date`] `YYYY-MM-DD` |
//! | `datetime` | RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z\|±HH:MM)` | any accepted date form, then `T` or a space, `H:MM[:SS[.fraction]]`, optional `AM`/`PM`, optional `Z`, `±HH:MM`, `±HHMM`, `±HH` or `UTC`/`GMT`; no timezone means UTC; a date alone means midnight UTC | [`Value::Datetime`], converted to UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]Z` |
//! | `email` | one `@`, something before it, a domain with a dot and no empty label, no whitespace | (trims it) | [`Value::String`] |
//! | `phone` | E.164: `+`, then 2 to 15 digits, the first not 0 | spaces, dashes, dots and parentheses dropped, a leading `00` read as `+` (a number without its country code is not guessed) | [`Value::String`] `+14155550123` |
//! | `url` | `http://` or `https://` and a host, no whitespace (scheme lower case in `strict`) | a bare host with a dot gets `https://` (`www.example.com` → `https://www.example.com`) | [`Value::String`] |
//!
//! Ambiguities are settled one way, always: dates with slashes and a
//! trailing year are US month/day (`04/05/2026` is April 5), dates with dots
//! are day.month (`04.05.2026` is 4 May), dates with dashes and a trailing
//! year (`04-05-2026`) are not read at all, commas in numbers are thousands
//! separators (never decimal commas). Leap seconds (`:60`) are refused.
//!
//! # Keys and the destination type
//!
//! * Key values are trimmed in `balanced` and `landing_friendly` (in `strict`
//!   surrounding spaces reject the row), and e-mail keys are lower-cased:
//!   `" Ann@Example.COM "` and `ann@example.com` are the same profile.
//! * When a column is declared `string` in `sourceFields` but its
//!   destination field has another type in the object's schema (see
//!   [`Mapping::destination_types`]), the destination type is checked: the
//!   API documentation's own example maps a `string` column to `email` and
//!   reports `invalid email format`.
//! * A `fieldMap` column missing from `sourceFields` is read as `string`
//!   (and, being undeclared, rejects every row in `strict`).
//!
//! # Messages
//!
//! Every [`RowError`] names the column (when there is one) and says why in
//! words a person can act on, e.g.
//! `column "signup_ts": "2026-04-21 10:00" is not a datetime with a timezone (expected e.g. 2026-04-21T10:00:00Z)`
//! or `column "email_address": invalid email format: "not-an-email" has no @`.
//! Values longer than 60 characters are shortened in messages.

mod row;
mod values;

pub use row::{HeaderError, MappedField, Mapping, RowError, RowValidator, Stored, ValidRow};
pub(crate) use values::civil_from_days;
pub use values::{accepts, check_value, ValueError};

use std::fmt;

/// A value cannot be read as its column's data type (or, in `strict`, is not
/// written exactly in the type's canonical form).
pub const VALIDATION_TYPE_MISMATCH: &str = "VALIDATION_TYPE_MISMATCH";
/// A key field is empty (every mode), or any mapped field is empty (`strict`).
pub const REQUIRED_FIELD_MISSING: &str = "REQUIRED_FIELD_MISSING";
/// The row has more or fewer fields than the header, or is larger than the
/// reader's record limit (usually an unclosed quote).
pub const ROW_MALFORMED: &str = "ROW_MALFORMED";
/// `strict` only: the file has a column that `sourceFields` does not declare.
pub const EXTRA_COLUMN: &str = "EXTRA_COLUMN";
/// A field is not valid UTF-8.
pub const INVALID_ENCODING: &str = "INVALID_ENCODING";

/// Longest value (in characters) quoted in full in a message.
const MAX_QUOTED_CHARS: usize = 60;

/// A typed, normalised destination value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (an empty field, or one `landing_friendly` could not coerce).
    Null,
    /// Text (also e-mail addresses).
    String(String),
    /// A whole number.
    Integer(i64),
    /// A finite number.
    Number(f64),
    /// `true` or `false`.
    Boolean(bool),
    /// A calendar date, `YYYY-MM-DD`.
    Date(String),
    /// An instant, RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
    Datetime(String),
}

impl Value {
    /// The text of a `String`, `Date` or `Datetime` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Date(s) | Value::Datetime(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Text form: empty for `Null`, numbers in their shortest round-trip form.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::String(s) | Value::Date(s) | Value::Datetime(s) => f.write_str(s),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::Boolean(b) => write!(f, "{b}"),
        }
    }
}
// ---------------------------------------------------------------------------
// Message helpers

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// Escapes quotes, backslashes, control and invisible characters (a byte
/// order mark, a zero-width space) for a message, so a person sees them.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || values::is_invisible(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A value in double quotes, shortened when long.
fn quote(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!(
            "\"{}…\" ({} characters)",
            escape(&s[..cut]),
            s.chars().count()
        ),
        None => format!("\"{}\"", escape(s)),
    }
}

fn quoted_list(items: &[String]) -> String {
    let mut out = items
        .iter()
        .take(LISTED_ITEMS)
        .map(|i| {
            let mut shown: String = i.chars().take(LISTED_CHARS).collect();
            if shown.len() < i.len() {
                shown.push('…');
            }
            format!("\"{}\"", escape(&shown))
        })
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LISTED_ITEMS {
        out.push_str(&format!(" and {} more", items.len() - LISTED_ITEMS));
    }
    out
}

/// Names a message lists at most (a header may have 10,000 columns)…
const LISTED_ITEMS: usize = 20;
/// …and characters of each name it shows.
const LISTED_CHARS: usize = 64;

/// `column "name"`, or `column 3 (unnamed)` for an empty header cell.
fn column_label(name: Option<&str>, index: usize) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("column \"{}\"", escape(n)),
        _ => format!("column {} (unnamed)", index + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::values::*;

    #[test]
    fn the_fast_trim_trims_exactly_as_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\r\n",
            "\u{b}a\u{c}",
            "\u{1}a\u{1f}",
            "a\u{a0}",
            "\u{2003}a",
            "\u{a0}",
            "é",
            " é ",
            "ab",
            "a b",
            "\u{85}x\u{85}",
            "x\u{3000}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    /// The e-mail check as it was written before its one-pass form.
    fn check_email_by_splitting(s: &str) -> Option<&'static str> {
        if s.chars().any(char::is_whitespace) {
            return Some("contains a space");
        }
        if s.chars().any(|c| c.is_control() || is_invisible(c)) {
            return Some(
                "contains a control or invisible character (such as a NUL byte or a byte order mark)",
            );
        }
        let mut parts = s.split('@');
        let local = parts.next().unwrap_or("");
        let Some(domain) = parts.next() else {
            return Some("has no @");
        };
        if parts.next().is_some() {
            return Some("has more than one @");
        }
        if local.is_empty() {
            return Some("has nothing before the @");
        }
        if domain.is_empty() {
            return Some("has nothing after the @");
        }
        if !domain.contains('.') {
            return Some("has no dot in the domain after the @");
        }
        if domain.split('.').any(str::is_empty) {
            return Some("has an empty part in the domain (a leading, trailing or doubled dot)");
        }
        None
    }

    #[test]
    fn the_one_pass_e_mail_check_answers_as_splitting_did() {
        let mut cases = vec![
            "a@x.io",
            "",
            "@",
            "a@",
            "@x.io",
            "a",
            "a.b",
            "a@b",
            "a@@x.io",
            "a@x@y.io",
            "a@.x.io",
            "a@x.io.",
            "a@x..io",
            "a@.",
            "a@x.",
            "a@..",
            ".a@x.io",
            "a.@x.io",
            "a b@x.io",
            "a@x .io",
            "a@@",
            "é@x.io",
            "a@é.io",
            "a@x.é",
            "a\u{a0}@x.io",
            "a@x\u{2003}.io",
            "a\u{85}@x.io",
            "a@x.i\u{b}o",
            "ü@@x.io",
            "a@x..é",
            " @x.io",
            "a@x.io ",
            "\u{3000}",
            "@@",
            "a@b.c.d",
            "a@b.c..d",
        ];
        // Every string of up to four characters from a small alphabet.
        let alphabet = ['a', '@', '.', ' ', 'é', '\u{a0}'];
        let mut generated = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = generated
                .iter()
                .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
                .collect();
            generated.extend(longer.into_iter().filter(|s| s.chars().count() <= 4));
            generated.sort();
            generated.dedup();
        }
        cases.extend(generated.iter().map(String::as_str));
        for s in cases {
            let now = match check_email(s) {
                Ok(()) => None,
                Err(Problem::Email(why)) => Some(why),
                Err(_) => Some("another problem"),
            };
            assert_eq!(now, check_email_by_splitting(s), "{s:?}");
        }
    }

    #[test]
    fn datetimes_already_in_utc_come_out_as_the_calendar_arithmetic_gives() {
        for (date, hms) in [
            ((2026, 4, 1), (10, 0, 0)),
            ((2024, 2, 29), (23, 59, 59)),
            ((0, 1, 1), (0, 0, 0)),
            ((9999, 12, 31), (23, 59, 59)),
            ((1970, 1, 1), (0, 0, 1)),
            ((1900, 3, 1), (12, 30, 5)),
        ] {
            let d = Date::new(date.0, date.1, date.2).unwrap();
            let t = |offset| Time {
                hour: hms.0,
                minute: hms.1,
                second: hms.2,
                fraction: "25",
                offset,
            };
            let mut utc = String::new();
            to_utc_into(d, t(Some(0)), &mut utc).unwrap();
            // The same instant written one minute east of UTC takes the
            // calendar path.
            let (mut shifted, mut from_east) = (String::new(), String::new());
            let later =
                d.days_since_epoch() * 86_400 + i64::from(hms.0 * 3600 + hms.1 * 60 + hms.2) + 60;
            let day = Date::from_days(later.div_euclid(86_400));
            let secs = later.rem_euclid(86_400) as u32;
            let east = Time {
                hour: secs / 3600,
                minute: secs % 3600 / 60,
                second: secs % 60,
                fraction: "25",
                offset: Some(1),
            };
            if (0..=9999).contains(&day.year) {
                to_utc_into(day, east, &mut from_east).unwrap();
                assert_eq!(utc, from_east);
            }
            shifted.push_str(&format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.25Z",
                date.0, date.1, date.2, hms.0, hms.1, hms.2
            ));
            assert_eq!(utc, shifted);
            // No offset given counts as UTC.
            let mut none = String::new();
            to_utc_into(d, t(None), &mut none).unwrap();
            assert_eq!(none, utc);
        }
    }

    #[test]
    fn e_mail_addresses_with_any_whitespace_are_refused() {
        for s in [
            "a b@x.io",
            "a\tb@x.io",
            "a@x.io\u{b}z",
            "a@x\u{c}.io",
            "a\u{a0}b@x.io",
        ] {
            assert!(
                matches!(check_email(s), Err(Problem::Email("contains a space"))),
                "{s:?}"
            );
        }
        for s in [
            "a\u{1}b@x.io",
            "a@x.io\u{0}",
            "a@\u{feff}x.io",
            "a\u{200b}@x.io",
        ] {
            assert!(
                matches!(check_email(s), Err(Problem::Email(m)) if m.contains("invisible")),
                "{s:?}"
            );
        }
        assert!(check_email("é@x.io").is_ok());
    }
}
