//! JSON shapes, checked on JavaScript values: the request and response
//! bodies of `import_core::wire`, described once as data in
//! `import_core::contract` and checked here by one small interpreter
//! instead of serde's derived (de)serialisers. `import_core::contract::check`
//! is the same interpreter over `serde_json::Value`; the native tests hold
//! both to the API's examples and to the serde types.
//!
//! Why: the derived code is generic, so every wire type brought its own copy
//! of a JSON parser, a serde-wasm-bindgen serialiser and their error
//! formatting, which was most of the package's size. Here JSON text is
//! parsed and written by the runtime (`JSON.parse`, `JSON.stringify`) and a
//! [`Shape`] says what a body must look like:
//!
//! * **requests** are checked the way the API checks them: unknown fields
//!   refused (`unknown field \`listname\`, expected one of …`), wrong types
//!   refused, `null` in an optional field taken as absent;
//! * **responses** are checked the way the client always has (a success
//!   body that is not the documented shape is a `protocol` error): unknown
//!   fields are dropped, optional fields left out when absent, nullable ones
//!   given as `null`.
//!
//! [`check`] returns a fresh, normalised copy with the fields in the
//! documented order, which is what the client sends (requests) or resolves
//! with (responses): the same JSON the serde types wrote.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

pub(crate) use import_core::contract::{Field, Kind, Need, Shape};
// The wire types' shapes, described once in import-core beside their serde
// types (see `import_core::contract`).
pub(crate) use import_core::contract::{
    CREATE_JOB_REQUEST, CREATE_JOB_RESPONSE, ERRORS_RESPONSE, ERROR_ENVELOPE, ERROR_ROW,
    JOB_STATUS, MAPPING_REQUEST, MAPPING_RESPONSE, OBJECT_LIST, OBJECT_SCHEMA, START_RESPONSE,
};

/// `value[key]`, `undefined` when it cannot be read.
pub(crate) fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `value[key]` as a string.
pub(crate) fn get_str(value: &JsValue, key: &str) -> Option<String> {
    get(value, key).as_string()
}

/// `value[key]` as a number.
pub(crate) fn get_f64(value: &JsValue, key: &str) -> Option<f64> {
    get(value, key).as_f64()
}

/// `value[key]` as a boolean.
pub(crate) fn get_bool(value: &JsValue, key: &str) -> Option<bool> {
    get(value, key).as_bool()
}

/// `obj[key] = value` on an object of ours.
pub(crate) fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// The `(key, value)` pairs of a plain object.
pub(crate) fn entries(value: &JsValue) -> Vec<(String, JsValue)> {
    Object::entries(value.unchecked_ref())
        .iter()
        .map(|e| {
            let pair: Array = e.unchecked_into();
            (pair.get(0).as_string().unwrap_or_default(), pair.get(1))
        })
        .collect()
}

/// A plain object (not an array, not `null`).
pub(crate) fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value)
}

/// `JSON.parse(text)`.
pub(crate) fn parse_json(text: &str) -> Option<JsValue> {
    js_sys::JSON::parse(text).ok()
}

/// `JSON.stringify(value)`.
pub(crate) fn stringify(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value).ok()?.as_string()
}

/// `value` as JSON would carry it (`JSON.parse(JSON.stringify(value))`):
/// what a request object means once sent (`undefined` members dropped,
/// `Date`s as strings, …).
pub(crate) fn json_copy(value: &JsValue) -> Result<JsValue, String> {
    let text = js_sys::JSON::stringify(value)
        .map_err(|e| format!("it cannot be written as JSON ({})", crate::js::describe(&e)))?
        .as_string()
        .ok_or_else(|| "it cannot be written as JSON".to_string())?;
    js_sys::JSON::parse(&text).map_err(|e| crate::js::describe(&e))
}

/// Checks `value` against `shape`; returns its normalised copy, or what is
/// wrong with it.
pub(crate) fn check(value: &JsValue, shape: &'static Shape) -> Result<JsValue, String> {
    check_kind(value, Kind::Obj(shape), "")
}

/// `path` then `.key` (for messages).
fn member(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// What a value is, the way serde words it (`string "ten"`, `map`, …).
fn unexpected(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        return format!("string {}", stringify(value).unwrap_or(s));
    }
    if let Some(b) = value.as_bool() {
        return format!("boolean `{b}`");
    }
    if value.as_f64().is_some() {
        return format!("number `{}`", stringify(value).unwrap_or_default());
    }
    if value.is_null() || value.is_undefined() {
        return "null".into();
    }
    if Array::is_array(value) {
        return "sequence".into();
    }
    "map".into()
}

fn whole(value: &JsValue, max: f64) -> bool {
    value
        .as_f64()
        .is_some_and(|n| n >= 0.0 && n < max && n.fract() == 0.0)
}

#[inline(never)]
fn check_kind(value: &JsValue, kind: Kind, path: &str) -> Result<JsValue, String> {
    let invalid = |expected: &str| {
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        Err(format!(
            "invalid type: {}, expected {expected}{at}",
            unexpected(value)
        ))
    };
    match kind {
        Kind::Str if value.is_string() => Ok(value.clone()),
        Kind::Str => invalid("a string"),
        Kind::Bool if value.as_bool().is_some() => Ok(value.clone()),
        Kind::Bool => invalid("a boolean"),
        Kind::U32 if whole(value, 4_294_967_296.0) => Ok(value.clone()),
        Kind::U32 => invalid("u32"),
        // JSON.stringify writes 1e21 and above with an exponent: a float.
        Kind::U64 if whole(value, 1e21_f64.min(18_446_744_073_709_551_616.0)) => Ok(value.clone()),
        Kind::U64 => invalid("u64"),
        Kind::F64 if value.as_f64().is_some() => Ok(value.clone()),
        Kind::F64 => invalid("f64"),
        Kind::Enum(names) => match value.as_string() {
            Some(s) if names.contains(&s.as_str()) => Ok(value.clone()),
            Some(s) => Err(format!(
                "unknown variant `{s}`{}, expected one of {}",
                if path.is_empty() {
                    String::new()
                } else {
                    format!(" at `{path}`")
                },
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => invalid("a string"),
        },
        Kind::StrMap | Kind::U64Map => {
            if !is_plain_object(value) {
                return invalid("a map");
            }
            let item = if matches!(kind, Kind::StrMap) {
                Kind::Str
            } else {
                Kind::U64
            };
            let out = Object::new();
            for (k, v) in entries(value) {
                let v = check_kind(&v, item, &member(path, &k))?;
                set(&out, &k, &v);
            }
            Ok(out.into())
        }
        Kind::Obj(shape) => {
            if !is_plain_object(value) {
                return invalid("a map");
            }
            check_object(value, shape, path)
        }
        Kind::List(_) | Kind::StrList => {
            if !Array::is_array(value) {
                return invalid("a sequence");
            }
            let out = Array::new();
            for (i, v) in value.unchecked_ref::<Array>().iter().enumerate() {
                let item = match kind {
                    Kind::List(shape) => Kind::Obj(shape),
                    _ => Kind::Str,
                };
                out.push(&check_kind(&v, item, &format!("{path}[{i}]"))?);
            }
            Ok(out.into())
        }
        Kind::Any => Ok(value.clone()),
    }
}

fn check_object(value: &JsValue, shape: &'static Shape, path: &str) -> Result<JsValue, String> {
    if shape.deny_unknown {
        for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if shape.field(&key).is_none() {
                let expected = shape
                    .all_fields()
                    .map(|f| format!("`{}`", f.0))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(format!(
                    "unknown field `{}`, expected one of {expected}",
                    member(path, &key)
                ));
            }
        }
    }
    let out = Object::new();
    for Field(name, kind, need) in shape.all_fields() {
        let v = get(value, name);
        if v.is_undefined() || v.is_null() {
            match need {
                Need::Req => return Err(format!("missing field `{}`", member(path, name))),
                Need::Rule | Need::Opt => {}
                Need::Null => set(&out, name, &JsValue::NULL),
                Need::False => set(&out, name, &JsValue::FALSE),
            }
            continue;
        }
        let v = check_kind(&v, *kind, &member(path, name))?;
        set(&out, name, &v);
    }
    Ok(out.into())
}

// ---------------------------------------------------------------------------
// The client's own option objects (not wire types)
// ---------------------------------------------------------------------------

use Kind::*;
use Need::*;

/// The client's `retry` option (`{ maxAttempts?, baseDelayMs?, maxDelayMs? }`,
/// nothing else).
pub(crate) static RETRY_OPTIONS: Shape = Shape {
    base: None,
    fields: &[
        Field("maxAttempts", U32, Opt),
        Field("baseDelayMs", U64, Opt),
        Field("maxDelayMs", U64, Opt),
    ],
    deny_unknown: true,
};

/// The upload engine's `retry` option (`RetryPolicy`: unknown fields
/// ignored, as its serde form did).
pub(crate) static RETRY_POLICY: Shape = Shape {
    base: None,
    fields: &[
        Field("maxAttempts", U32, Opt),
        Field("baseDelayMs", U64, Opt),
        Field("maxDelayMs", U64, Opt),
    ],
    deny_unknown: false,
};
