//! `client.waitForCompletion(jobId, options)`: polls a job's status until it
//! is `completed` or `failed`, with the Import Jobs page's backoff
//! (`import_core::retry::PollSchedule`: 5 s doubling to a 60 s cap, both
//! configurable), reporting every status read.
//!
//! Choices where the documentation is silent:
//! * the first status is read at once (a job that already finished resolves
//!   without waiting); the schedule's delays separate the following reads;
//! * every status read is reported (`onStatus(status)` and a `status`
//!   `CustomEvent` whose `detail` is the status), not only changes, so a UI
//!   can show when it last heard from the API;
//! * a status read that fails after its own retries rejects the wait; the
//!   job itself is unaffected and can be waited for again.

use import_core::retry::PollSchedule;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, EventTarget};

use super::calls::Inner;
use super::options::CallOptions;
use super::ImportClient;
use crate::error::ClientError;
use crate::events;
use crate::options::Checked;
use crate::promise::promise;
use crate::runtime;

/// Options of `waitForCompletion`.
#[derive(Debug, Clone, Default)]
pub(crate) struct WaitOptions {
    /// Cancels the wait (and the status request in flight).
    pub signal: Option<AbortSignal>,
    /// Delays between status reads.
    pub schedule: PollSchedule,
    /// Called with every status read.
    pub on_status: Option<Function>,
    /// Receives a `status` event with every status read.
    pub events: Option<EventTarget>,
}

impl WaitOptions {
    /// Reads `{ signal?, pollStartMs?, pollCapMs?, onStatus?, events? }`;
    /// the cap is checked against the start here (their defaults are
    /// import-core's).
    pub(crate) fn from_js(opts: &JsValue) -> Result<WaitOptions, ClientError> {
        let c = wait_options(opts);
        c.complaint_before(3)?;
        let mut schedule = PollSchedule::default();
        if let Some(ms) = c.poll_start_ms() {
            schedule.start_ms = ms as u64;
        }
        if let Some(ms) = c.poll_cap_ms() {
            schedule.cap_ms = ms as u64;
        }
        if schedule.cap_ms < schedule.start_ms {
            return Err(ClientError::invalid(
                Some("pollCapMs"),
                format!(
                    "`pollCapMs` ({}) must not be below `pollStartMs` ({}).",
                    schedule.cap_ms, schedule.start_ms
                ),
            ));
        }
        c.ok()?;
        Ok(WaitOptions {
            signal: c.signal(),
            schedule,
            on_status: c.on_status(),
            events: c.events(),
        })
    }
}

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// `waitForCompletion`'s options, checked by `waitOptions`.
    #[wasm_bindgen(extends = Checked)]
    type WaitOptionsJs;
    #[wasm_bindgen(js_name = waitOptions)]
    fn wait_options(options: &JsValue) -> WaitOptionsJs;
    #[wasm_bindgen(method, getter, js_name = pollStartMs)]
    fn poll_start_ms(this: &WaitOptionsJs) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = pollCapMs)]
    fn poll_cap_ms(this: &WaitOptionsJs) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    fn signal(this: &WaitOptionsJs) -> Option<AbortSignal>;
    #[wasm_bindgen(method, getter, js_name = onStatus)]
    fn on_status(this: &WaitOptionsJs) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    fn events(this: &WaitOptionsJs) -> Option<EventTarget>;
}

#[wasm_bindgen]
impl ImportClient {
    /// Polls `GET /import-jobs/{jobId}` until the job is `completed` or
    /// `failed` and resolves with that final status (a `failed` job
    /// resolves too: check `state` and `errorMessage`). Every status read is
    /// passed to `onStatus` and dispatched as a `status` event on `events`.
    #[wasm_bindgen(js_name = waitForCompletion, unchecked_return_type = "Promise<JobStatus>")]
    pub fn wait_for_completion(
        &self,
        #[wasm_bindgen(js_name = jobId)] job_id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "WaitOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let opts = WaitOptions::from_js(&options)?;
            inner.wait_for_completion(&job_id, &opts).await
        })
    }
}

impl Inner {
    /// Polls until the job reaches a terminal state.
    pub(crate) async fn wait_for_completion(
        &self,
        job_id: &str,
        opts: &WaitOptions,
    ) -> Result<JsValue, ClientError> {
        let call = CallOptions {
            signal: opts.signal.clone(),
            idempotency_key: None,
        };
        let mut poll: u32 = 0;
        loop {
            let status = self.status(job_id, &call).await?;
            report(opts, &status);
            let state = crate::shape::get_str(&status, "state").unwrap_or_default();
            if state == "completed" || state == "failed" {
                return Ok(status);
            }
            let wait = opts.schedule.next_delay(poll);
            poll = poll.saturating_add(1);
            runtime::sleep(wait as f64, opts.signal.as_ref())
                .await
                .map_err(|runtime::Aborted(reason)| ClientError::aborted(&reason))?;
        }
    }
}

/// Hands a status to `onStatus` and the `status` event.
fn report(opts: &WaitOptions, status: &JsValue) {
    events::call_callback(opts.on_status.as_ref(), status);
    if let Some(target) = &opts.events {
        events::dispatch(target, "status", status);
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_WAIT_TYPES: &'static str = r#"
/** Options of `waitForCompletion`. */
export interface WaitOptions {
  /** Cancels the wait: rejects with kind `aborted`. */
  signal?: AbortSignal;
  /** Delay before the second status read, doubling after (default 5000). */
  pollStartMs?: number;
  /** Longest delay between status reads (default 60000). */
  pollCapMs?: number;
  /** Called with every status read. */
  onStatus?: (status: JobStatus) => void;
  /** Receives a `status` CustomEvent (detail: JobStatus) per status read. */
  events?: EventTarget;
}
"#;
