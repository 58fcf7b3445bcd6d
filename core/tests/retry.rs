//! Retry and polling schedules: delay bounds over many random draws,
//! `Retry-After` as a floor, the classification table, both `Retry-After`
//! forms, and the spec's polling backoff.

use import_core::codes;
use import_core::retry::{
    classify_network_error, classify_status, parse_retry_after, PollSchedule, RetryDecision,
    RetryPolicy, Target,
};

/// A small deterministic generator (SplitMix64) for the random draws.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

const API: Target = Target::Api;
const STORAGE: Target = Target::Storage { past_expiry: false };
const STORAGE_EXPIRED: Target = Target::Storage { past_expiry: true };

#[test]
fn defaults_follow_the_documentation_sample() {
    let p = RetryPolicy::default();
    assert_eq!(
        (p.max_attempts, p.base_delay_ms, p.max_delay_ms),
        (6, 500, 30_000)
    );
    assert!(p.may_retry(1) && p.may_retry(5));
    assert!(!p.may_retry(6), "six attempts in all");
    let once = RetryPolicy {
        max_attempts: 1,
        ..p
    };
    assert!(!once.may_retry(1));
    let from_json: RetryPolicy = serde_json::from_str(r#"{"maxAttempts": 3}"#).unwrap();
    assert_eq!(
        from_json,
        RetryPolicy {
            max_attempts: 3,
            ..p
        }
    );
}

#[test]
fn ceiling_doubles_and_is_capped() {
    let p = RetryPolicy::default();
    let ceilings: Vec<u64> = (0..9).map(|r| p.ceiling_ms(r)).collect();
    assert_eq!(
        ceilings,
        [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]
    );
    assert_eq!(p.ceiling_ms(64), 30_000, "no overflow");
    assert_eq!(p.ceiling_ms(u32::MAX), 30_000);
}

#[test]
fn full_jitter_stays_within_bounds_and_spreads() {
    let p = RetryPolicy::default();
    let mut rng = SplitMix(42);
    for retry in 0..12 {
        let ceiling = p.ceiling_ms(retry);
        let mut seen_low = false;
        let mut seen_high = false;
        let mut sum = 0u64;
        let draws = 2_000;
        for _ in 0..draws {
            let d = p.delay_ms(retry, None, rng.next_f64());
            assert!(d <= ceiling, "retry {retry}: {d} > {ceiling}");
            seen_low |= d < ceiling / 4;
            seen_high |= d > ceiling * 3 / 4;
            sum += d;
        }
        assert!(
            seen_low && seen_high,
            "retry {retry}: draws cover the range"
        );
        let mean = sum as f64 / draws as f64;
        let expected = ceiling as f64 / 2.0;
        assert!(
            (mean - expected).abs() < expected * 0.1,
            "retry {retry}: mean {mean} vs {expected}"
        );
    }
    // The ends of the random range, and out-of-range randoms.
    assert_eq!(p.delay_ms(3, None, 0.0), 0);
    assert_eq!(p.delay_ms(3, None, 0.999_999), 3999);
    assert_eq!(p.delay_ms(3, None, 1.0), 4000);
    assert_eq!(p.delay_ms(3, None, 7.5), 4000);
    assert_eq!(p.delay_ms(3, None, -1.0), 0);
    assert_eq!(p.delay_ms(3, None, f64::NAN), 0);
}

#[test]
fn retry_after_is_a_floor_with_jitter_on_top() {
    let p = RetryPolicy::default();
    let mut rng = SplitMix(7);
    for retry in 0..8 {
        for retry_after in [0.5, 1.0, 2.0, 10.0, 45.0, 120.0] {
            let floor = (retry_after * 1000.0) as u64;
            for _ in 0..200 {
                let d = p.delay_ms(retry, Some(retry_after), rng.next_f64());
                assert!(d >= floor, "never before Retry-After: {d} < {floor}");
                assert!(d <= floor + p.ceiling_ms(retry), "{d} too long");
            }
        }
    }
    // The rate-limit page's example, `Retry-After: 2`, on the first retry.
    assert_eq!(p.delay_ms(0, Some(2.0), 0.0), 2000);
    assert_eq!(p.delay_ms(0, Some(2.0), 1.0), 2500);
    // Retry-After beyond max_delay_ms is still honoured.
    assert!(p.delay_ms(0, Some(120.0), 0.3) >= 120_000);
    // Fractions round up to the next millisecond.
    assert_eq!(p.delay_ms(0, Some(0.0015), 0.0), 2);
    // Nonsense values are ignored.
    for bad in [-1.0, f64::NAN, f64::INFINITY, 0.0] {
        assert_eq!(p.delay_ms(2, Some(bad), 0.5), 1000, "{bad}");
    }
}

#[test]
fn classification_table() {
    use RetryDecision::*;
    let rows: &[(u16, Option<&str>, Target, RetryDecision)] = &[
        // API: retry 408, 429 and transient 5xx.
        (408, None, API, Retry),
        (429, Some(codes::RATE_LIMITED), API, Retry),
        (500, Some(codes::INTERNAL), API, Retry),
        (502, None, API, Retry),
        (503, Some(codes::UNAVAILABLE), API, Retry),
        (504, None, API, Retry),
        (501, None, API, Fail),
        (505, None, API, Fail),
        (511, None, API, Fail),
        // Tokens: only an expired one is refreshed.
        (401, Some(codes::TOKEN_EXPIRED), API, RefreshToken),
        (401, Some(codes::broker::TICKET_EXPIRED), API, RefreshToken),
        (401, Some(codes::broker::TICKET_INVALID), API, Fail),
        (401, Some(codes::TOKEN_INVALID), API, Fail),
        (401, Some(codes::UNAUTHORIZED), API, Fail),
        (401, None, API, Fail),
        (403, Some(codes::FORBIDDEN), API, Fail),
        // 409 from mapping/start is a state conflict.
        (409, Some(codes::JOB_STATE_CONFLICT), API, Fail),
        (409, Some(codes::UPLOAD_INCOMPLETE), API, Fail),
        (409, Some(codes::CONCURRENCY_LIMIT), API, Fail),
        (409, Some(codes::IDEMPOTENCY_KEY_REUSED), API, Fail),
        (400, Some(codes::REQUEST_INVALID), API, Fail),
        (404, Some(codes::NOT_FOUND), API, Fail),
        (405, Some(codes::METHOD_NOT_ALLOWED), API, Fail),
        (413, Some(codes::REQUEST_INVALID), API, Fail),
        (422, Some(codes::REQUEST_SCHEMA), API, Fail),
        (200, None, API, Fail),
        // Storage before expiry.
        (408, None, STORAGE, Retry),
        (429, None, STORAGE, Retry),
        (500, Some("InternalError"), STORAGE, Retry),
        (503, Some("ServerBusy"), STORAGE, Retry),
        (400, Some("InvalidOperation"), STORAGE, Fail), // bad Content-MD5
        (403, Some("AuthenticationFailed"), STORAGE, Fail),
        (404, None, STORAGE, Fail),
        (409, None, STORAGE, Fail),
        (413, Some("RequestBodyTooLarge"), STORAGE, Fail),
        // The same token code means nothing coming from storage.
        (401, Some(codes::TOKEN_EXPIRED), STORAGE, Fail),
        // Storage after expiry.
        (403, Some("AuthorizationFailure"), STORAGE_EXPIRED, Expired),
        (401, None, STORAGE_EXPIRED, Expired),
        (404, None, STORAGE_EXPIRED, Expired),
        (410, None, STORAGE_EXPIRED, Expired),
        (503, None, STORAGE_EXPIRED, Expired),
        (400, Some("InvalidOperation"), STORAGE_EXPIRED, Fail),
    ];
    for &(status, code, target, want) in rows {
        assert_eq!(
            classify_status(status, code, target),
            want,
            "{status} {code:?} {target:?}"
        );
    }
    // Every 4xx but 408 and 429 fails fast, for both targets.
    for status in 400..500u16 {
        for target in [API, STORAGE] {
            let got = classify_status(status, None, target);
            let want = if status == 408 || status == 429 {
                Retry
            } else {
                Fail
            };
            assert_eq!(got, want, "{status} {target:?}");
        }
    }
    assert_eq!(classify_network_error(API), Retry);
    assert_eq!(classify_network_error(STORAGE), Retry);
    assert_eq!(classify_network_error(STORAGE_EXPIRED), Expired);
}

#[test]
fn classification_agrees_with_the_shared_retryable_statuses() {
    for status in 400..600u16 {
        let ours = classify_status(status, None, API) == RetryDecision::Retry;
        if ![501, 505, 511].contains(&status) {
            assert_eq!(ours, codes::is_retryable_status(status), "{status}");
        }
    }
}

#[test]
fn retry_after_delta_seconds() {
    let now = 1_700_000_000_000;
    assert_eq!(parse_retry_after("2", now), Some(2.0));
    assert_eq!(parse_retry_after(" 120 ", now), Some(120.0));
    assert_eq!(parse_retry_after("0", now), Some(0.0));
    assert_eq!(parse_retry_after("1.5", now), Some(1.5));
    for bad in [
        "",
        "  ",
        "-1",
        "two",
        "1.2.3",
        ".",
        "2s",
        "+2",
        "Sun, 99 Nov 1994 08:49:37 GMT",
    ] {
        assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
    }
}

#[test]
fn retry_after_http_dates_in_all_three_forms() {
    // Sun, 06 Nov 1994 08:49:37 GMT = 784111777 s since the epoch.
    let at = 784_111_777_000u64;
    let now = at - 30_000;
    for form in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "sun, 06 nov 1994 08:49:37 gmt",
    ] {
        assert_eq!(parse_retry_after(form, now), Some(30.0), "{form}");
    }
    // Sub-second "now".
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 250),
        Some(29.75)
    );
    // A date in the past means "now".
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 5_000),
        Some(0.0)
    );
    // A recent date and a leap day.
    let now_2026 = 1_795_824_000_000; // 2026-11-28T00:00:00Z
    assert_eq!(
        parse_retry_after("Sat, 28 Nov 2026 00:01:00 GMT", now_2026),
        Some(60.0)
    );
    assert_eq!(
        parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800_000 - 1_000),
        Some(1.0)
    );
    // Two-digit years: more than 50 years ahead means the last century.
    assert_eq!(
        parse_retry_after("Saturday, 28-Nov-26 00:01:00 GMT", now_2026),
        Some(60.0)
    );
    assert_eq!(
        parse_retry_after("Monday, 01-Jan-90 00:00:00 GMT", now_2026),
        Some(0.0),
        "1990, not 2090"
    );
    for bad in [
        "Sun, 06 Nov 1994 08:49:37 PST",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Fri, 29 Feb 2023 00:00:00 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 94 08:49:37",
        "06 Nov 1994 08:49:37 GMT",
    ] {
        assert_eq!(parse_retry_after(bad, now), None, "{bad}");
    }
}

#[test]
fn poll_schedule_starts_at_5s_and_caps_at_60s() {
    let s = PollSchedule::default();
    let delays: Vec<u64> = (0..8).map(|i| s.next_delay(i)).collect();
    assert_eq!(
        delays,
        [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000, 60_000]
    );
    assert_eq!(s.next_delay(u32::MAX), 60_000);

    let fast = PollSchedule {
        start_ms: 100,
        cap_ms: 1_000,
        factor: 1.5,
    };
    let delays: Vec<u64> = (0..8).map(|i| fast.next_delay(i)).collect();
    assert_eq!(delays, [100, 150, 225, 338, 506, 759, 1_000, 1_000]);
    for i in 0..100 {
        assert!(
            fast.next_delay(i) <= fast.next_delay(i + 1),
            "never shrinks"
        );
    }

    let fixed = PollSchedule {
        factor: 0.5,
        ..PollSchedule::default()
    };
    assert_eq!(fixed.next_delay(9), 5_000);
    let nan = PollSchedule {
        factor: f64::NAN,
        ..PollSchedule::default()
    };
    assert_eq!(nan.next_delay(3), 5_000);
    let start_over_cap = PollSchedule {
        start_ms: 90_000,
        ..PollSchedule::default()
    };
    assert_eq!(start_over_cap.next_delay(0), 60_000);

    let from_json: PollSchedule = serde_json::from_str(r#"{"startMs": 1000}"#).unwrap();
    assert_eq!(
        from_json,
        PollSchedule {
            start_ms: 1_000,
            ..PollSchedule::default()
        }
    );
}
