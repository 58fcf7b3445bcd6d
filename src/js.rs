//! Small helpers for moving values across the JS boundary.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

/// Serialises `value` as plain JS objects (not `Map`s), as `JSON.parse` would.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, serde_wasm_bindgen::Error> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
}

/// Deserialises a JS value the way the API parses a request body: through
/// its JSON text, so unknown fields and wrong types are refused exactly as
/// the server refuses them (a direct JS-object deserialiser would skip
/// unknown fields). Fails with a message for people.
pub fn from_js_json<T: DeserializeOwned>(value: &JsValue) -> Result<T, String> {
    let text = js_sys::JSON::stringify(value)
        .map_err(|e| format!("it cannot be written as JSON ({})", describe(&e)))?
        .as_string()
        .ok_or_else(|| "it cannot be written as JSON".to_string())?;
    serde_json::from_str(&text).map_err(|e| {
        // serde_json appends " at line 1 column N", meaningless for an object.
        let msg = e.to_string();
        match msg.rfind(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        }
    })
}

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
