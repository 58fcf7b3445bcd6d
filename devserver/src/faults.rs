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
//! PCT     := number "%"                0-100, decimals allowed
//! ```
//!
//! Example: `storage:503=10%,reset=5%,delay=200ms@20%;api:500=5%`.
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
}

/// The rules of one scope and its random generator.
#[derive(Debug)]
struct Scope {
    rules: Vec<Rule>,
    rng: Mutex<StdRng>,
}

impl Scope {
    /// Draws this request's fate: total delay and failure, if any.
    fn roll(&self) -> (Duration, Option<Injected>) {
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
                Rule::Delay { .. } => continue,
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
                    Rule::Delay { .. } => 0.0,
                })
                .sum();
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

    /// Draws (and sleeps) the fate of a storage request.
    pub async fn storage(&self) -> Option<Injected> {
        apply(self.storage.as_ref(), "storage").await
    }

    /// Draws (and sleeps) the fate of an API request.
    pub async fn api(&self) -> Option<Injected> {
        apply(self.api.as_ref(), "api").await
    }
}

async fn apply(scope: Option<&Scope>, name: &'static str) -> Option<Injected> {
    let (delay, outcome) = scope?.roll();
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
        format!("bad fault rule `{rule}`: {why} (expected STATUS=P%, reset=P% or delay=MSms@P%)")
    };
    let (name, value) = rule.split_once('=').ok_or_else(|| bad("missing `=`"))?;
    let (name, value) = (name.trim(), value.trim());
    match name {
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
    match state.faults.api().await {
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
        ] {
            assert!(Faults::parse(bad, 0).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn same_seed_same_sequence() {
        let seq = |seed| {
            let f = Faults::parse("storage:503=30%,reset=20%", seed).unwrap();
            let s = f.storage.as_ref().unwrap();
            (0..200).map(|_| s.roll().1).collect::<Vec<_>>()
        };
        assert_eq!(seq(7), seq(7));
        assert_ne!(seq(7), seq(8));
        let hits = seq(7).iter().filter(|o| o.is_some()).count();
        assert!((60..=140).contains(&hits), "{hits} faults in 200 at 50%");
    }
}
