//! Fault injection for tests (`--faults SPEC`, `--seed N`): failed statuses,
//! dropped connections and delays, on storage requests, API requests or
//! both, reproducible from the seed.
//!
//! Grammar (whitespace around tokens is ignored):
//!
//! ```text
//! spec    := "" | section (";" section)*
//! section := scope ":" rule ("," rule)*
//! scope   := "storage" | "api"
//! rule    := STATUS "=" PCT            answer with this status (429 or 500-599)
//!          | "reset=" PCT              drop the connection without an answer
//!          | "delay=" MS "ms" ["@" PCT] wait MS milliseconds first (default 100%)
//!          | "streak=" N                 fail the same request at most N times in a row
//! PCT     := number "%"                0-100, decimals allowed
//! ```
//!
//! Example: `storage:503=10%,reset=5%,delay=200ms@20%,streak=3;api:500=5%`.
//!
//! `streak=N` makes a scope's faults unable to outlast a client's retry
//! budget: a request is identified by its method, path and query and the
//! headers that tell one logical call from another (`Authorization`,
//! `Idempotency-Key`, `Content-Range`), and once N requests so identified
//! have been failed in a row the next one passes. A retried part or a
//! retried API call therefore succeeds by its (N+1)th attempt whatever the
//! random draws, and a test that retries at least N+1 times is
//! deterministic. The draws are still made, so the sequence of faults for
//! other requests is unchanged.
//!
//! Each scope has its own random generator seeded from `--seed` and the
//! scope name, behind a mutex, and every request draws the same number of
//! values (one per delay rule, then one for the failure rules, whose
//! percentages add up and must not exceed 100). So the same seed and the
//! same sequence of requests give the same sequence of faults.
//!
//! Faults strike before the request has any effect: a storage request
//! answered with an injected 503 stores nothing, an API request answered
//! with an injected 500 creates or changes nothing. An injected status
//! reads (and discards) the request body first so the client sees the
//! status; `reset` answers with a body that fails at once, which makes the
//! server close the connection: the client sees a transport error, never a
//! status. Injected 429 and 503 carry `Retry-After: 1`. API faults use the
//! API's error envelope (500 `CDP_ETL.INTERNAL.UNHANDLED_EXCEPTION`, 429
//! `CDP_ETL.RATE.LIMITED`, other 5xx `CDP_ETL.INTERNAL.UNAVAILABLE`);
//! storage faults the storage mode's error format.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use import_core::codes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::app::AppState;
use crate::error::ApiError;

/// What a request gets instead of its normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Answer with this HTTP status.
    Status(u16),
    /// Drop the connection.
    Reset,
}

/// One rule of a scope.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// `STATUS=P%`.
    Status {
        /// HTTP status.
        status: u16,
        /// Probability, percent.
        percent: f64,
    },
    /// `reset=P%`.
    Reset {
        /// Probability, percent.
        percent: f64,
    },
    /// `delay=MSms@P%`.
    Delay {
        /// Milliseconds.
        ms: u64,
        /// Probability, percent.
        percent: f64,
    },
    /// `streak=N`: the same request is failed at most `N` times in a row.
    Streak {
        /// Longest run of failures of one request.
        max: u32,
    },
}

/// Requests whose current run of failures is remembered (only failed ones
/// are kept; past this many the memory is cleared, which can only shorten
/// a run).
const STREAKS_KEPT: usize = 65_536;

/// The rules of one scope and its random generator.
#[derive(Debug)]
struct Scope {
    rules: Vec<Rule>,
    rng: Mutex<StdRng>,
    /// From `streak=N`.
    max_streak: Option<u32>,
    /// Current run of failures per request identity (see [`request_key`]).
    streaks: Mutex<HashMap<u64, u32>>,
}

impl Scope {
    /// Draws the fate of the request identified by `key`: total delay and
    /// failure, if any.
    fn roll(&self, key: u64) -> (Duration, Option<Injected>) {
        let (delay, outcome) = self.draw();
        let Some(max) = self.max_streak else {
            return (delay, outcome);
        };
        let mut streaks = self.streaks.lock().unwrap();
        match outcome {
            Some(_) if streaks.get(&key).copied().unwrap_or(0) >= max => {
                streaks.remove(&key);
                (delay, None)
            }
            Some(o) => {
                if streaks.len() >= STREAKS_KEPT {
                    streaks.clear();
                }
                *streaks.entry(key).or_insert(0) += 1;
                (delay, Some(o))
            }
            None => {
                streaks.remove(&key);
                (delay, None)
            }
        }
    }

    /// The random part of a fate: every request draws the same number of
    /// values, whatever its identity.
    fn draw(&self) -> (Duration, Option<Injected>) {
        let mut rng = self.rng.lock().unwrap();
        let mut delay = 0u64;
        for r in &self.rules {
            if let Rule::Delay { ms, percent } = r {
                if rng.gen::<f64>() * 100.0 < *percent {
                    delay += ms;
                }
            }
        }
        let u = rng.gen::<f64>() * 100.0;
        let mut acc = 0.0;
        let mut outcome = None;
        for r in &self.rules {
            let (p, what) = match r {
                Rule::Status { status, percent } => (*percent, Injected::Status(*status)),
                Rule::Reset { percent } => (*percent, Injected::Reset),
                Rule::Delay { .. } | Rule::Streak { .. } => continue,
            };
            acc += p;
            if u < acc {
                outcome = Some(what);
                break;
            }
        }
        (Duration::from_millis(delay), outcome)
    }
}

/// Parsed `--faults` spec.
#[derive(Debug, Default)]
pub struct Faults {
    storage: Option<Scope>,
    api: Option<Scope>,
}

impl Faults {
    /// Parses a spec (see the module documentation); `""` means no faults.
    pub fn parse(spec: &str, seed: u64) -> Result<Faults, String> {
        let mut faults = Faults::default();
        for section in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (scope, rules) = section.split_once(':').ok_or_else(|| {
                format!("bad fault section `{section}`: expected SCOPE:RULE,RULE (e.g. storage:503=10%)")
            })?;
            let scope = scope.trim();
            let rules = rules
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(parse_rule)
                .collect::<Result<Vec<_>, _>>()?;
            let total: f64 = rules
                .iter()
                .map(|r| match r {
                    Rule::Status { percent, .. } | Rule::Reset { percent } => *percent,
                    Rule::Delay { .. } | Rule::Streak { .. } => 0.0,
                })
                .sum();
            let streaks: Vec<u32> = rules
                .iter()
                .filter_map(|r| match r {
                    Rule::Streak { max } => Some(*max),
                    _ => None,
                })
                .collect();
            if streaks.len() > 1 {
                return Err(format!(
                    "bad fault section `{section}`: `streak` is given more than once"
                ));
            }
            if total > 100.0 + 1e-9 {
                return Err(format!(
                    "bad fault section `{section}`: the status and reset probabilities add up to {total}%, more than 100%"
                ));
            }
            let salt: u64 = match scope {
                "storage" => 0x5354_4f52_4147_4500,
                "api" => 0x4150_4900,
                _ => return Err(format!("bad fault scope `{scope}`: use `storage` or `api`")),
            };
            let built = Scope {
                rules,
                rng: Mutex::new(StdRng::seed_from_u64(seed ^ salt)),
                max_streak: streaks.first().copied(),
                streaks: Mutex::new(HashMap::new()),
            };
            let slot = if scope == "storage" {
                &mut faults.storage
            } else {
                &mut faults.api
            };
            if slot.is_some() {
                return Err(format!(
                    "fault scope `{scope}` is given twice: put all its rules in one section"
                ));
            }
            *slot = Some(built);
        }
        Ok(faults)
    }

    /// Whether any fault is configured.
    pub fn is_empty(&self) -> bool {
        self.storage.is_none() && self.api.is_none()
    }

    /// The rules of the `storage` scope.
    pub fn storage_rules(&self) -> &[Rule] {
        self.storage.as_ref().map_or(&[], |s| &s.rules)
    }

    /// The rules of the `api` scope.
    pub fn api_rules(&self) -> &[Rule] {
        self.api.as_ref().map_or(&[], |s| &s.rules)
    }

    /// Draws (and sleeps) the fate of a storage request (`key`: its
    /// [`request_key`]).
    pub async fn storage(&self, key: u64) -> Option<Injected> {
        apply(self.storage.as_ref(), "storage", key).await
    }

    /// Draws (and sleeps) the fate of an API request (`key`: its
    /// [`request_key`]).
    pub async fn api(&self, key: u64) -> Option<Injected> {
        apply(self.api.as_ref(), "api", key).await
    }
}

/// What identifies one logical request across its retries: method, path
/// and query, and the headers that tell calls apart.
pub fn request_key(req: &Request) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    req.method().as_str().hash(&mut h);
    req.uri().path().hash(&mut h);
    req.uri().query().hash(&mut h);
    for name in ["authorization", "idempotency-key", "content-range"] {
        req.headers().get(name).map(|v| v.as_bytes()).hash(&mut h);
    }
    h.finish()
}

async fn apply(scope: Option<&Scope>, name: &'static str, key: u64) -> Option<Injected> {
    let (delay, outcome) = scope?.roll(key);
    if !delay.is_zero() {
        tracing::info!(
            scope = name,
            ms = delay.as_millis() as u64,
            "injected delay"
        );
        tokio::time::sleep(delay).await;
    }
    if let Some(o) = outcome {
        tracing::info!(scope = name, fault = ?o, "injected fault");
    }
    outcome
}

fn parse_rule(rule: &str) -> Result<Rule, String> {
    let bad = |why: &str| {
        format!("bad fault rule `{rule}`: {why} (expected STATUS=P%, reset=P%, delay=MSms@P% or streak=N)")
    };
    let (name, value) = rule.split_once('=').ok_or_else(|| bad("missing `=`"))?;
    let (name, value) = (name.trim(), value.trim());
    match name {
        "streak" => {
            let max = value
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad("the streak is a whole number of at least 1"))?;
            Ok(Rule::Streak { max })
        }
        "reset" => Ok(Rule::Reset {
            percent: parse_percent(value).map_err(|e| bad(&e))?,
        }),
        "delay" => {
            let (ms, pct) = match value.split_once('@') {
                Some((ms, pct)) => (ms.trim(), parse_percent(pct.trim()).map_err(|e| bad(&e))?),
                None => (value, 100.0),
            };
            let ms = ms
                .strip_suffix("ms")
                .ok_or_else(|| bad("the delay needs a unit, e.g. 200ms"))?
                .trim()
                .parse::<u64>()
                .map_err(|_| bad("the delay is not a whole number of milliseconds"))?;
            if ms > 600_000 {
                return Err(bad("delays longer than 10 minutes are not allowed"));
            }
            Ok(Rule::Delay { ms, percent: pct })
        }
        status => {
            let status: u16 = status.parse().map_err(|_| bad("unknown rule name"))?;
            if !(status == 429 || (500..=599).contains(&status)) {
                return Err(bad("only 429 and 500-599 can be injected"));
            }
            Ok(Rule::Status {
                status,
                percent: parse_percent(value).map_err(|e| bad(&e))?,
            })
        }
    }
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let n = s
        .strip_suffix('%')
        .ok_or_else(|| format!("probability `{s}` must end with %"))?
        .trim();
    let p: f64 = n
        .parse()
        .map_err(|_| format!("probability `{s}` is not a number"))?;
    if !(0.0..=100.0).contains(&p) {
        return Err(format!("probability `{s}` is outside 0-100%"));
    }
    Ok(p)
}

/// A response whose body fails at once: the server drops the connection
/// and the client sees a transport error (the nearest thing to a TCP reset
/// a handler can produce).
pub fn reset_response() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset (fault injected by --faults)",
        ))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}

/// Middleware of the `/public/v1` routes: applies the `api` scope's faults
/// before the handler runs.
pub async fn api_faults(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let key = request_key(&req);
    match state.faults.api(key).await {
        None => next.run(req).await,
        Some(Injected::Reset) => reset_response(),
        Some(Injected::Status(status)) => {
            use futures_util::StreamExt;
            let mut body = req.into_body().into_data_stream();
            while let Some(Ok(_)) = body.next().await {}
            api_fault_error(status).into_response()
        }
    }
}

fn api_fault_error(status: u16) -> ApiError {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match status.as_u16() {
        429 => ApiError::new(
            status,
            codes::RATE_LIMITED,
            "Rate limit exceeded. Retry after 1s. (fault injected by --faults)",
        )
        .with_retry_after(1),
        500 => ApiError::new(
            status,
            codes::INTERNAL,
            "Unexpected server error. (fault injected by --faults)",
        ),
        _ => ApiError::new(
            status,
            codes::UNAVAILABLE,
            "The service is temporarily unavailable; retry later. (fault injected by --faults)",
        )
        .with_retry_after(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let f = Faults::parse("storage:503=10%,reset=5%,delay=200ms@20%;api:500=5%", 1).unwrap();
        assert_eq!(
            f.storage_rules(),
            &[
                Rule::Status {
                    status: 503,
                    percent: 10.0
                },
                Rule::Reset { percent: 5.0 },
                Rule::Delay {
                    ms: 200,
                    percent: 20.0
                },
            ]
        );
        assert_eq!(
            f.api_rules(),
            &[Rule::Status {
                status: 500,
                percent: 5.0
            }]
        );
        assert!(Faults::parse("", 0).unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_specs() {
        for bad in [
            "disk:503=1%",
            "storage:503=10",
            "storage:404=10%",
            "storage:503=60%,500=50%",
            "storage:delay=200@10%",
            "storage:503=1%;storage:500=1%",
            "storage 503=1%",
            "api:teapot=1%",
            "api:500=1%,streak=0",
            "api:500=1%,streak=two",
            "api:500=1%,streak=2,streak=3",
        ] {
            assert!(Faults::parse(bad, 0).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn same_seed_same_sequence() {
        let seq = |seed| {
            let f = Faults::parse("storage:503=30%,reset=20%", seed).unwrap();
            let s = f.storage.as_ref().unwrap();
            (0..200).map(|i| s.roll(i).1).collect::<Vec<_>>()
        };
        assert_eq!(seq(7), seq(7));
        assert_ne!(seq(7), seq(8));
        let hits = seq(7).iter().filter(|o| o.is_some()).count();
        assert!((60..=140).contains(&hits), "{hits} faults in 200 at 50%");
    }

    #[test]
    fn a_streak_caps_the_failures_of_one_request_in_a_row() {
        // Every draw fails; with streak=3 a request fails three times, then
        // passes, then may fail again; other requests keep their own runs.
        let f = Faults::parse("storage:503=100%,streak=3", 1).unwrap();
        let s = f.storage.as_ref().unwrap();
        let fates = |key| (0..8).map(|_| s.roll(key).1.is_some()).collect::<Vec<_>>();
        let expected = [true, true, true, false, true, true, true, false];
        assert_eq!(fates(1), expected);
        assert_eq!(fates(2), expected);
        // Interleaved requests do not shorten or lengthen each other's runs.
        let mut a = Vec::new();
        let mut b = Vec::new();
        for _ in 0..4 {
            a.push(s.roll(10).1.is_some());
            b.push(s.roll(11).1.is_some());
        }
        assert_eq!(a, [true, true, true, false]);
        assert_eq!(b, [true, true, true, false]);
        // Without streak, a request can fail any number of times.
        let f = Faults::parse("storage:503=100%", 1).unwrap();
        let s = f.storage.as_ref().unwrap();
        assert!((0..20).all(|_| s.roll(1).1.is_some()));
    }

    #[test]
    fn a_streak_leaves_the_random_sequence_of_other_requests_alone() {
        // The same draws are made whether or not a streak forces a pass, so
        // a request's fate depends only on its place in the sequence (and
        // on its own run).
        let with = Faults::parse("api:500=40%,streak=1", 9).unwrap();
        let without = Faults::parse("api:500=40%", 9).unwrap();
        let (w, wo) = (with.api.as_ref().unwrap(), without.api.as_ref().unwrap());
        for i in 0..300u64 {
            let (a, b) = (w.roll(i).1, wo.roll(i).1);
            assert_eq!(a, b, "request {i} (distinct keys never hit the cap)");
        }
    }

    #[test]
    fn requests_are_told_apart_by_method_path_query_and_call_headers() {
        let key = |method: &str, uri: &str, headers: &[(&str, &str)]| {
            let mut b = axum::http::Request::builder().method(method).uri(uri);
            for (n, v) in headers {
                b = b.header(*n, *v);
            }
            request_key(&b.body(Body::empty()).unwrap())
        };
        let base = key("PUT", "/storage/a?comp=block&blockid=AA", &[]);
        assert_eq!(base, key("PUT", "/storage/a?comp=block&blockid=AA", &[]));
        assert_ne!(base, key("PUT", "/storage/a?comp=block&blockid=AB", &[]));
        assert_ne!(base, key("POST", "/storage/a?comp=block&blockid=AA", &[]));
        assert_ne!(base, key("PUT", "/storage/b?comp=block&blockid=AA", &[]));
        let c1 = key("PUT", "/s", &[("content-range", "bytes 0-9/*")]);
        assert_ne!(c1, key("PUT", "/s", &[("content-range", "bytes 10-19/*")]));
        let k1 = key(
            "POST",
            "/j",
            &[("idempotency-key", "1"), ("authorization", "Bearer x")],
        );
        assert_ne!(
            k1,
            key(
                "POST",
                "/j",
                &[("idempotency-key", "2"), ("authorization", "Bearer x")]
            )
        );
        assert_ne!(
            k1,
            key(
                "POST",
                "/j",
                &[("idempotency-key", "1"), ("authorization", "Bearer y")]
            )
        );
        assert_eq!(
            k1,
            key(
                "POST",
                "/j",
                &[("authorization", "Bearer x"), ("idempotency-key", "1")]
            )
        );
    }
}
