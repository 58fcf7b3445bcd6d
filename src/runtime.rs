//! What the client needs from its host, reached through the global scope
//! only (`globalThis`), so one build runs in a page, a worker, Node, Deno and
//! workerd: timers that an `AbortSignal` cancels, clocks, randomness.
//!
//! The timer, the monotonic clock and UUIDs are `js/host.js`: host calls
//! only, which as JavaScript take a fraction of the bytes of their Rust
//! form (closures and promise plumbing).

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = sleep)]
    fn js_sleep(ms: f64, signal: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = monotonicMs)]
    fn js_monotonic_ms() -> f64;
    #[wasm_bindgen(js_name = uuidV4)]
    fn js_uuid_v4() -> String;
}

/// The sleep was cut short by its `AbortSignal`; carries the signal's reason.
#[derive(Debug, Clone)]
pub struct Aborted(pub JsValue);

/// Waits `ms` milliseconds (`setTimeout`; not finite or negative counts as
/// 0), or until `signal` aborts. The abort listener is removed when the
/// timer fires, so repeated sleeps on one long-lived signal leave no
/// listeners behind.
pub async fn sleep(ms: f64, signal: Option<&web_sys::AbortSignal>) -> Result<(), Aborted> {
    let none = JsValue::UNDEFINED;
    JsFuture::from(js_sleep(ms, signal.map_or(&none, |s| s.as_ref())))
        .await
        .map(|_| ())
        .map_err(Aborted)
}

/// Wall-clock milliseconds since the Unix epoch (`Date.now()`).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Monotonic milliseconds (`performance.now()` where present, else
/// `Date.now()`), for rates and intervals.
pub fn monotonic_ms() -> f64 {
    js_monotonic_ms()
}

/// A uniform random number in [0, 1) (`Math.random()`: jitter, not secrets).
pub fn random() -> f64 {
    js_sys::Math::random()
}

/// A random UUID v4 (`crypto.randomUUID()` where present, else built from
/// `Math.random`), e.g. for `Idempotency-Key`.
pub fn uuid_v4() -> String {
    js_uuid_v4()
}
