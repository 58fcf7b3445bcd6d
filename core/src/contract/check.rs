//! The shape check over `serde_json::Value`: the same rules and messages as
//! the wasm crate's checker over JavaScript values (`src/shape.rs`).
//!
//! * Closed shapes (requests) refuse unknown fields (`unknown field
//!   \`listname\`, expected one of …`); open ones (responses) drop them.
//! * Wrong types are refused with serde's wording (`invalid type: string
//!   "ten", expected u64 at \`fileSize\``).
//! * `null` in an optional field counts as absent; the copy holds the
//!   fields in the documented order.

use serde_json::{Map, Value};

use super::{Kind, Need, Shape};

/// Checks `value` against `shape`; returns its normalised copy, or what is
/// wrong with it.
pub fn check(value: &Value, shape: &'static Shape) -> Result<Value, String> {
    check_kind(value, Kind::Obj(shape), "")
}

fn member(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn unexpected(value: &Value) -> String {
    match value {
        Value::String(_) => format!("string {value}"),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("number `{n}`"),
        Value::Null => "null".into(),
        Value::Array(_) => "sequence".into(),
        Value::Object(_) => "map".into(),
    }
}

fn whole(value: &Value, max: f64) -> bool {
    value
        .as_f64()
        .is_some_and(|n| n >= 0.0 && n < max && n.fract() == 0.0)
}

fn check_kind(value: &Value, kind: Kind, path: &str) -> Result<Value, String> {
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
        Kind::Bool if value.is_boolean() => Ok(value.clone()),
        Kind::Bool => invalid("a boolean"),
        Kind::U32 if whole(value, 4_294_967_296.0) => Ok(value.clone()),
        Kind::U32 => invalid("u32"),
        Kind::U64 if value.is_u64() => Ok(value.clone()),
        Kind::U64 if whole(value, 18_446_744_073_709_551_616.0) => Ok(value.clone()),
        Kind::U64 => invalid("u64"),
        Kind::F64 if value.is_number() => Ok(value.clone()),
        Kind::F64 => invalid("f64"),
        Kind::Enum(names) => match value.as_str() {
            Some(s) if names.contains(&s) => Ok(value.clone()),
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
            let Value::Object(map) = value else {
                return invalid("a map");
            };
            let item = if matches!(kind, Kind::StrMap) {
                Kind::Str
            } else {
                Kind::U64
            };
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), check_kind(v, item, &member(path, k))?);
            }
            Ok(Value::Object(out))
        }
        Kind::Obj(shape) => match value {
            Value::Object(map) => check_object(map, shape, path),
            _ => invalid("a map"),
        },
        Kind::List(_) | Kind::StrList => {
            let Value::Array(items) = value else {
                return invalid("a sequence");
            };
            let item = match kind {
                Kind::List(shape) => Kind::Obj(shape),
                _ => Kind::Str,
            };
            items
                .iter()
                .enumerate()
                .map(|(i, v)| check_kind(v, item, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        Kind::Any => Ok(value.clone()),
    }
}

fn check_object(
    map: &Map<String, Value>,
    shape: &'static Shape,
    path: &str,
) -> Result<Value, String> {
    if shape.deny_unknown {
        if let Some(key) = map.keys().find(|k| shape.field(k).is_none()) {
            let expected = shape
                .all_fields()
                .map(|f| format!("`{}`", f.0))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(format!(
                "unknown field `{}`, expected one of {expected}",
                member(path, key)
            ));
        }
    }
    let mut out = Map::new();
    for super::Field(name, kind, need) in shape.all_fields() {
        match map.get(*name) {
            None | Some(Value::Null) => match need {
                Need::Req => return Err(format!("missing field `{}`", member(path, name))),
                Need::Rule | Need::Opt => {}
                Need::Null => {
                    out.insert(name.to_string(), Value::Null);
                }
                Need::False => {
                    out.insert(name.to_string(), Value::Bool(false));
                }
            },
            Some(v) => {
                out.insert(name.to_string(), check_kind(v, *kind, &member(path, name))?);
            }
        }
    }
    Ok(Value::Object(out))
}
