//! What the client needs from its host, reached through the global scope
//! only (`globalThis`), so one build runs in a page, a worker, Node, Deno and
//! workerd: timers that an `AbortSignal` cancels, clocks, randomness.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The sleep was cut short by its `AbortSignal`; carries the signal's reason.
#[derive(Debug, Clone)]
pub struct Aborted(pub JsValue);

fn global_fn(name: &str) -> Function {
    Reflect::get(&js_sys::global(), &JsValue::from_str(name))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .unwrap_or_else(|| wasm_bindgen::throw_str(&format!("globalThis.{name} is missing")))
}

/// Removes the abort listener of a [`sleep`] when the sleep ends, however it
/// ends (timer, abort, or the future dropped), so repeated sleeps on one
/// long-lived signal leave no listeners behind.
struct AbortHook {
    signal: web_sys::AbortSignal,
    callback: Closure<dyn FnMut()>,
}

impl Drop for AbortHook {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.callback.as_ref().unchecked_ref());
    }
}

/// Waits `ms` milliseconds (`setTimeout`), or until `signal` aborts.
pub async fn sleep(ms: f64, signal: Option<&web_sys::AbortSignal>) -> Result<(), Aborted> {
    if let Some(s) = signal {
        if s.aborted() {
            return Err(Aborted(s.reason()));
        }
    }
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    let mut hook: Option<AbortHook> = None;
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let id = global_fn("setTimeout")
            .call2(&JsValue::UNDEFINED, &resolve, &JsValue::from_f64(ms))
            .unwrap_or(JsValue::UNDEFINED);
        if let Some(signal) = signal {
            let sig = signal.clone();
            let callback = Closure::<dyn FnMut()>::new(move || {
                let _ = global_fn("clearTimeout").call1(&JsValue::UNDEFINED, &id);
                let _ = reject.call1(&JsValue::UNDEFINED, &sig.reason());
            });
            let _ =
                signal.add_event_listener_with_callback("abort", callback.as_ref().unchecked_ref());
            hook = Some(AbortHook {
                signal: signal.clone(),
                callback,
            });
        }
    });
    let result = JsFuture::from(promise).await.map(|_| ()).map_err(Aborted);
    drop(hook);
    result
}

/// Wall-clock milliseconds since the Unix epoch (`Date.now()`).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Monotonic milliseconds (`performance.now()` where present, else
/// `Date.now()`), for rates and intervals.
pub fn monotonic_ms() -> f64 {
    let perf = Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).ok();
    if let Some(perf) = perf.filter(|p| p.is_object()) {
        if let Ok(now) = Reflect::get(&perf, &JsValue::from_str("now")) {
            if let Some(f) = now.dyn_ref::<Function>() {
                if let Some(v) = f.call0(&perf).ok().and_then(|v| v.as_f64()) {
                    return v;
                }
            }
        }
    }
    now_ms()
}

/// A uniform random number in [0, 1) (`Math.random()`: jitter, not secrets).
pub fn random() -> f64 {
    js_sys::Math::random()
}

/// A random UUID v4 (`crypto.randomUUID()` where present, else built from
/// `crypto.getRandomValues`, else `Math.random`), e.g. for `Idempotency-Key`.
pub fn uuid_v4() -> String {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).ok();
    if let Some(crypto) = crypto.filter(|c| c.is_object()) {
        if let Ok(f) = Reflect::get(&crypto, &JsValue::from_str("randomUUID")) {
            if let Some(f) = f.dyn_ref::<Function>() {
                if let Some(s) = f.call0(&crypto).ok().and_then(|v| v.as_string()) {
                    return s;
                }
            }
        }
    }
    let mut b = [0u8; 16];
    for x in b.iter_mut() {
        *x = (random() * 256.0) as u8;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
