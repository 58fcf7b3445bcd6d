//! Retry and polling schedules, and which failures are worth retrying.
//!
//! Pure functions: the caller supplies the random numbers and the time, so
//! the same decisions are made (and tested) natively and in WebAssembly.
//!
//! * [`RetryPolicy`] — how long to wait before retrying a failed request:
//!   exponential backoff with full jitter, seeded by `Retry-After`, as the
//!   API's rate-limit guide recommends (sample: 6 attempts).
//! * [`classify_status`] / [`classify_network_error`] — whether a failure is
//!   retried, answered by fetching a new token, reported as an expired upload
//!   URL, or reported at once.
//! * [`parse_retry_after`] — both forms of the `Retry-After` header.
//! * [`PollSchedule`] — how often to poll a job's status: the Import Jobs
//!   page's "exponential backoff starting at 5 s, cap at 60 s".
//!
//! ```
//! use import_core::retry::{classify_status, RetryDecision, RetryPolicy, Target};
//!
//! let policy = RetryPolicy::default();
//! assert_eq!(classify_status(429, Some("CDP_ETL.RATE.LIMITED"), Target::Api), RetryDecision::Retry);
//! // `Retry-After: 2` on the first retry: at least 2 s, at most 2 s + 500 ms.
//! let wait = policy.delay_ms(0, Some(2.0), 0.5);
//! assert!((2000..=2500).contains(&wait));
//! ```

use serde::{Deserialize, Serialize};

use crate::codes;

// ---------------------------------------------------------------------------
// Backoff
// ---------------------------------------------------------------------------

/// How many times to try a request and how long to wait in between.
///
/// Deserialises from camelCase JSON (`maxAttempts`, `baseDelayMs`,
/// `maxDelayMs`); missing fields take the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (default 6, the API
    /// documentation's sample). 1 means "never retry".
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry (default 500 ms); doubles with
    /// every further retry.
    pub base_delay_ms: u64,
    /// Largest backoff ceiling (default 30 s).
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay_ms: 500,
            max_delay_ms: 30_000,
        }
    }
}

impl RetryPolicy {
    /// Whether another attempt may be made after `attempts_made` attempts
    /// (the first request counts as one).
    pub fn may_retry(&self, attempts_made: u32) -> bool {
        attempts_made < self.max_attempts
    }

    /// The exponential backoff ceiling before retry number `retry + 1`:
    /// `min(max_delay_ms, base_delay_ms · 2^retry)`.
    pub fn ceiling_ms(&self, retry: u32) -> u64 {
        let factor = 1u64.checked_shl(retry).unwrap_or(u64::MAX);
        self.base_delay_ms
            .saturating_mul(factor)
            .min(self.max_delay_ms)
    }

    /// Milliseconds to wait before the next attempt.
    ///
    /// * `retry`: 0 before the first retry (after the first failure), 1
    ///   before the second, and so on.
    /// * `retry_after_secs`: the response's `Retry-After`, if any (see
    ///   [`parse_retry_after`]); negative, infinite or NaN values are
    ///   ignored.
    /// * `rand01`: a uniform random number in `[0, 1)` (e.g.
    ///   `Math.random()`); values outside are clamped.
    ///
    /// Without `Retry-After` this is *full jitter*:
    /// `uniform(0, ceiling_ms(retry))`.
    ///
    /// With `Retry-After` the delay is `retry_after + uniform(0,
    /// ceiling_ms(retry))`: **`Retry-After` is a floor**. The documentation's
    /// sample sleeps `uniform(0, retry_after)`, which sends most retries
    /// *before* the time the server asked for, each likely to draw another
    /// 429 and burn the attempt budget (HTTP says `Retry-After` is how long
    /// the client ought to wait). Adding the jitter on top keeps the
    /// "full jitter" property the guide asks for: clients throttled
    /// together with the same `Retry-After` do not all return at the same
    /// instant. `Retry-After` itself is not capped by `max_delay_ms`; a
    /// caller with a deadline (an upload URL's `expiresAt`) should compare
    /// the delay with it and give up with a clear error rather than wait.
    pub fn delay_ms(&self, retry: u32, retry_after_secs: Option<f64>, rand01: f64) -> u64 {
        let rand01 = if rand01.is_nan() {
            0.0
        } else {
            rand01.clamp(0.0, 1.0)
        };
        let jitter = (self.ceiling_ms(retry) as f64 * rand01).floor() as u64;
        let floor = match retry_after_secs {
            Some(s) if s.is_finite() && s > 0.0 => (s * 1000.0).ceil().min(u64::MAX as f64) as u64,
            _ => 0,
        };
        floor.saturating_add(jitter)
    }
}

// ---------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------

/// Who answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The Import Jobs API (or the broker in front of it).
    Api,
    /// The storage behind a pre-signed upload URL.
    Storage {
        /// Whether the URL's `expiresAt` has passed by the caller's clock.
        past_expiry: bool,
    },
}

/// What to do about a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RetryDecision {
    /// Wait ([`RetryPolicy::delay_ms`]) and try again, while the policy
    /// allows.
    Retry,
    /// The bearer token expired (401 `CDP_ETL.AUTH.TOKEN_EXPIRED`): get a new
    /// one (`getToken()`) and retry once.
    RefreshToken,
    /// The upload URL has expired: retrying cannot help; the job must be
    /// created again. Reported with kind `expired`.
    Expired,
    /// Report the error now: retrying would get the same answer.
    Fail,
}

/// Classifies an HTTP error answer.
///
/// `code` is the API's `error.code` (for storage: Azure's
/// `x-ms-error-code`, S3's `Code`, GCS's `reason`, if known).
///
/// | answer | API | storage |
/// |---|---|---|
/// | 408, 429, 500, 502–504, 506–510 | `Retry` | `Retry` (`Expired` once past `expiresAt`) |
/// | 401 `CDP_ETL.AUTH.TOKEN_EXPIRED` or `BROKER.TICKET.EXPIRED` | `RefreshToken` | — |
/// | 401, 403, 404, 410 past `expiresAt` | — | `Expired` |
/// | 409 (state conflict) | `Fail` | `Fail` |
/// | any other 4xx, 501, 505, 511 | `Fail` | `Fail` |
/// | below 400 (not an error) | `Fail` | `Fail` |
///
/// Notes on choices the documentation leaves open:
/// * 409: the error-handling guide calls 409 a retryable write race, but
///   every 409 of the Import Jobs API is a state conflict (the job is not
///   in a state that allows the call, the upload is incomplete, the
///   workspace runs 10 jobs, an idempotency key was reused), which the
///   Import Jobs page says will not succeed on retry. Not retried.
/// * 501 Not Implemented, 505 HTTP Version Not Supported and 511 Network
///   Authentication Required are permanent; other 5xx are retried.
/// * Storage 403 *before* `expiresAt` is a signature or header problem
///   (wrong headers, a bearer token sent to storage): `Fail`. After
///   `expiresAt`, 401/403 (Azure, S3) and 404/410 (an expired GCS session)
///   are `Expired`. Retryable statuses also become `Expired` once the URL
///   has expired, since a retry would be refused anyway.
pub fn classify_status(status: u16, code: Option<&str>, target: Target) -> RetryDecision {
    let retryable = matches!(status, 408 | 429)
        || ((500..=599).contains(&status) && !matches!(status, 501 | 505 | 511));
    match target {
        Target::Api => {
            if retryable {
                RetryDecision::Retry
            } else if status == 401
                && matches!(
                    code,
                    Some(codes::TOKEN_EXPIRED | codes::broker::TICKET_EXPIRED)
                )
            {
                RetryDecision::RefreshToken
            } else {
                RetryDecision::Fail
            }
        }
        Target::Storage { past_expiry } => {
            if past_expiry && (retryable || matches!(status, 401 | 403 | 404 | 410)) {
                RetryDecision::Expired
            } else if retryable {
                RetryDecision::Retry
            } else {
                RetryDecision::Fail
            }
        }
    }
}

/// Classifies a request that got no answer at all (connection refused or
/// reset, DNS failure, timeout): retried, except against storage whose URL
/// has expired.
pub fn classify_network_error(target: Target) -> RetryDecision {
    match target {
        Target::Storage { past_expiry: true } => RetryDecision::Expired,
        _ => RetryDecision::Retry,
    }
}

// ---------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------

/// Reads a `Retry-After` header value as seconds to wait from `now_epoch_ms`
/// (milliseconds since the Unix epoch, e.g. `Date.now()`).
///
/// Accepts delta-seconds (`120`; a decimal such as `1.5` is tolerated) and
/// the three HTTP-date forms every recipient must accept (RFC 9110 §5.6.7):
/// `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT` and
/// `Sun Nov  6 08:49:37 1994`. A date in the past gives `0.0`. `None` for
/// anything else (negative numbers included).
pub fn parse_retry_after(value: &str, now_epoch_ms: u64) -> Option<f64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_seconds(value);
    }
    let at_ms = parse_http_date(value, now_epoch_ms)?;
    Some(((at_ms - now_epoch_ms as i64).max(0)) as f64 / 1000.0)
}

/// Digits with at most one `.` (and at least one digit) as seconds.
///
/// Exact (the correctly rounded `f64`, as `str::parse` gives) for up to 15
/// significant digits and 22 decimals, within a few units in the last place
/// beyond: hand-written so that the client's wasm build links no general
/// float parser (its tables alone are 17 KB).
fn parse_seconds(value: &str) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.contains('.') || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    // The significant digits as an integer (the first 19), and the power of
    // ten that scales it.
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let mut scale: i32 = 0;
    for (i, b) in int.bytes().chain(frac.bytes()).enumerate() {
        let in_frac = i >= int.len();
        if digits < 19 {
            mantissa = mantissa * 10 + u64::from(b - b'0');
            if mantissa > 0 {
                digits += 1;
            }
            if in_frac {
                scale -= 1;
            }
        } else if !in_frac {
            scale += 1;
        }
    }
    let m = mantissa as f64;
    let secs = if scale >= 0 {
        let mut v = m;
        for _ in 0..scale / 22 {
            v *= POW10[22];
        }
        v * POW10[(scale % 22) as usize]
    } else if -scale <= 22 {
        m / POW10[(-scale) as usize]
    } else {
        let mut v = m;
        let mut left = -scale;
        while left > 22 {
            v /= POW10[22];
            left -= 22;
        }
        v / POW10[left as usize]
    };
    secs.is_finite().then_some(secs)
}

/// Parses an HTTP-date into milliseconds since the epoch.
fn parse_http_date(value: &str, now_epoch_ms: u64) -> Option<i64> {
    let cleaned: String = value
        .chars()
        .map(|c| if c == ',' || c == '-' { ' ' } else { c })
        .collect();
    let tokens: Vec<&str> = cleaned.split_whitespace().collect();
    let weekday = tokens.first()?;
    if weekday.len() < 3 || !weekday.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let (day, month, year, time) = match tokens.get(1..)? {
        // IMF-fixdate and RFC 850: DAY MON YEAR TIME GMT
        [day, month, year, time, zone] if day.bytes().all(|b| b.is_ascii_digit()) => {
            if !zone.eq_ignore_ascii_case("GMT") && !zone.eq_ignore_ascii_case("UTC") {
                return None;
            }
            (*day, *month, *year, *time)
        }
        // asctime: MON DAY TIME YEAR
        [month, day, time, year] => (*day, *month, *year, *time),
        _ => return None,
    };
    let day: u32 = parse_digits(day, 1, 2)?;
    let month = month_number(month)?;
    let year: i64 = match year.len() {
        4 => i64::from(parse_digits(year, 4, 4)?),
        2 => {
            // RFC 9110: a two-digit year more than 50 years in the future
            // is the most recent past year with the same last two digits.
            let now_year = crate::validate::civil_from_days((now_epoch_ms / 86_400_000) as i64).0;
            let yy = i64::from(parse_digits(year, 2, 2)?);
            let mut y = now_year - now_year.rem_euclid(100) + yy;
            if y > now_year + 50 {
                y -= 100;
            }
            y
        }
        _ => return None,
    };
    let mut hms = time.split(':');
    let h: u32 = parse_digits(hms.next()?, 2, 2)?;
    let m: u32 = parse_digits(hms.next()?, 2, 2)?;
    let s: u32 = parse_digits(hms.next()?, 2, 2)?;
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400) + i64::from(h * 3600 + m * 60 + s)) * 1000)
}

fn parse_digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    if name.len() != 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as u32 + 1)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------

/// When to poll a running job's status: `start_ms · factor^poll_index`,
/// capped at `cap_ms`. Defaults: 5 s, doubling, capped at 60 s (the Import
/// Jobs page: "exponential backoff starting at 5 s, cap at 60 s"), i.e.
/// 5, 10, 20, 40, 60, 60, … seconds.
///
/// Deserialises from camelCase JSON (`startMs`, `capMs`, `factor`); missing
/// fields take the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PollSchedule {
    /// Delay before the first poll after start (default 5000 ms).
    pub start_ms: u64,
    /// Longest delay between polls (default 60 000 ms).
    pub cap_ms: u64,
    /// Growth per poll (default 2.0). Values below 1 (or NaN) mean a fixed
    /// interval of `start_ms`.
    pub factor: f64,
}

impl Default for PollSchedule {
    fn default() -> Self {
        PollSchedule {
            start_ms: 5_000,
            cap_ms: 60_000,
            factor: 2.0,
        }
    }
}

impl PollSchedule {
    /// Milliseconds to wait before poll number `poll_index` (0 for the
    /// first).
    pub fn next_delay(&self, poll_index: u32) -> u64 {
        let factor = if self.factor.is_nan() || self.factor < 1.0 {
            1.0
        } else {
            self.factor
        };
        let delay = self.start_ms as f64 * factor.powi(poll_index.min(i32::MAX as u32) as i32);
        if !delay.is_finite() || delay >= self.cap_ms as f64 {
            self.cap_ms
        } else {
            delay.round() as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    /// Equal to `str::parse` up to 15 significant digits, close beyond.
    #[test]
    fn parse_seconds_matches_the_float_parser() {
        let mut cases: Vec<String> = [
            "0",
            "120",
            "1.5",
            ".5",
            "5.",
            "0.1",
            "0.3",
            "007",
            "1.000",
            "123456789012345",
            "0.000000000000000000000000123",
            "99999999999999999999999",
            "1e3",
            ".",
            "",
            "1.2.3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = format!("{}", x >> (x % 50));
            let dot = (x >> 50) as usize % (digits.len() + 2);
            let mut s = digits.clone();
            if dot <= digits.len() {
                s.insert(dot, '.');
            }
            cases.push(s);
        }
        for s in cases {
            // The caller hands over digits and dots only.
            let (ours, std) = if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                (parse_seconds(&s), s.parse::<f64>().ok())
            } else {
                (None, None)
            };
            let significant = s.trim_start_matches(['0', '.']).replace('.', "").len();
            match (ours, std) {
                (Some(a), Some(b)) if significant <= 15 => assert_eq!(a, b, "{s}"),
                (Some(a), Some(b)) => assert!((a - b).abs() <= b * 1e-15, "{s}: {a} {b}"),
                (a, b) => assert_eq!(a, b, "{s}"),
            }
        }
    }
}
