//! Small helpers for moving values across the JS boundary.

use wasm_bindgen::{JsCast, JsValue};

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

/// What a checker of `js/host.js` returned: the options, normalised,
/// after its first complaint (`[position, field, message]`), if any.
pub(crate) struct Checked(js_sys::Array);

impl Checked {
    /// Wraps a checker's answer.
    pub fn new(answer: js_sys::Array) -> Self {
        Checked(answer)
    }

    /// Fails with the complaint when the check that made it comes before
    /// `position` (the Rust side's own checks take the places between).
    pub fn complaint_before(&self, position: u32) -> Result<(), crate::error::ClientError> {
        let c = self.0.get(0);
        if c.is_undefined() {
            return Ok(());
        }
        let c: js_sys::Array = c.unchecked_into();
        if c.get(0).as_f64().unwrap_or(0.0) >= f64::from(position) {
            return Ok(());
        }
        Err(crate::error::ClientError::invalid(
            c.get(1).as_string().as_deref(),
            c.get(2).as_string().unwrap_or_default(),
        ))
    }

    /// Option `i`.
    pub fn get(&self, i: u32) -> JsValue {
        self.0.get(i + 1)
    }

    /// Option `i`, a string.
    pub fn string(&self, i: u32) -> Option<String> {
        self.get(i).as_string()
    }

    /// Option `i`, a number.
    pub fn number(&self, i: u32) -> Option<f64> {
        self.get(i).as_f64()
    }

    /// Option `i`, a boolean with its default filled in.
    pub fn flag(&self, i: u32) -> bool {
        self.get(i).is_truthy()
    }

    /// Option `i`, of the type the checker made sure of.
    pub fn object<T: JsCast>(&self, i: u32) -> Option<T> {
        let v = self.get(i);
        (!v.is_undefined()).then(|| v.unchecked_into())
    }

    /// Option `i`, a `[name, value, …]` array, as pairs.
    pub fn pairs(&self, i: u32) -> Vec<(String, String)> {
        let a: js_sys::Array = self.get(i).unchecked_into();
        let text = |j: u32| a.get(j).as_string().unwrap_or_default();
        (0..a.length() / 2)
            .map(|j| (text(2 * j), text(2 * j + 1)))
            .collect()
    }
}
