//! Event delivery shared by the upload engine and the client: `CustomEvent`s
//! dispatched on an `EventTarget` (`progress`, `warning`, `status`, `part`),
//! the same way in pages, workers, Node, Deno and workerd (all of which have
//! `EventTarget` and `CustomEvent` on the global scope).
//!
//! Listeners are user code: an exception thrown by one is reported by the
//! runtime (as for any event listener) and never breaks the operation that
//! dispatched the event.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CustomEvent, CustomEventInit, EventTarget};

/// A new, listener-less `EventTarget` (`new EventTarget()`).
///
/// Every supported runtime has a constructible `EventTarget`; should one
/// not, this panics with a message naming what is missing (a host too old to
/// run the package at all).
pub fn new_event_target() -> EventTarget {
    EventTarget::new().unwrap_or_else(|e| {
        wasm_bindgen::throw_str(&format!(
            "this runtime cannot construct an EventTarget: {}",
            crate::js::describe(&e)
        ))
    })
}

/// Dispatches `new CustomEvent(name, { detail })` on `target`.
///
/// Exceptions thrown by listeners do not propagate (the runtime reports
/// them), so the caller carries on whatever the listeners do.
pub fn dispatch(target: &EventTarget, name: &str, detail: &JsValue) {
    let init = CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = target.dispatch_event(event.unchecked_ref());
    }
}

/// Calls an optional callback with one argument; exceptions thrown by the
/// callback are swallowed, like listener exceptions (user code must not
/// break the operation that reports to it).
pub fn call_callback(callback: Option<&js_sys::Function>, arg: &JsValue) {
    if let Some(f) = callback {
        let _ = f.call1(&JsValue::UNDEFINED, arg);
    }
}
