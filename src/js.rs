//! Small helpers for JS values: how a value reads in a message, and whole
//! numbers as text. A leaf: it uses nothing else of the crate.

use wasm_bindgen::JsValue;

/// `String(value)` of any JS value (for messages).
pub fn describe(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        return s;
    }
    if let Some(err) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Error>(value) {
        let message: String = err.message().into();
        // Node's fetch wraps the real reason (ECONNREFUSED, …) in `cause`.
        let cause = js_sys::Reflect::get(value, &JsValue::from_str("cause"))
            .ok()
            .filter(|c| !c.is_undefined() && !c.is_null())
            .map(|c| describe(&c));
        return match cause {
            Some(c) if !c.is_empty() && c != message => format!("{message} ({c})"),
            _ => message,
        };
    }
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "unknown error".to_string())
}

/// A whole number as Rust prints an integral `f64` (`1700000000000`,
/// never `1.7e12`), without linking the float formatter: integers up to
/// 2^53 as integers, others as JavaScript's `String(n)`.
pub fn whole_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        return (n as i64).to_string();
    }
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}
