//! JSON shapes, checked on JavaScript values: the request and response
//! bodies of `import_core::wire`, described as data and checked by one small
//! interpreter instead of serde's derived (de)serialisers.
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

/// What a value must be.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Str,
    Bool,
    /// A whole number 0 ..= u32::MAX.
    U32,
    /// A whole number 0 ..= u64::MAX (JSON text without an exponent).
    U64,
    /// Any number.
    F64,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// An object of strings.
    StrMap,
    /// An object of whole numbers.
    U64Map,
    /// An object of this shape.
    Obj(&'static Shape),
    /// An array of objects of this shape.
    List(&'static Shape),
    /// An array of strings.
    StrList,
    /// Any JSON value.
    Any,
}

/// Whether a field may be absent, and what the copy holds then.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Present and not `null`.
    Req,
    /// May be absent or `null`: left out of the copy then.
    Opt,
    /// May be absent or `null`: `null` in the copy then.
    Null,
    /// A boolean that is `false` when absent.
    False,
}

/// A field: its JSON name, kind and presence.
#[derive(Clone, Copy)]
pub(crate) struct Field(pub &'static str, pub Kind, pub Need);

/// An object's fields, in the documented order.
pub(crate) struct Shape {
    pub fields: &'static [Field],
    /// Refuse fields not listed (request bodies).
    pub deny_unknown: bool,
}

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
            if !shape.fields.iter().any(|f| f.0 == key) {
                let expected = shape
                    .fields
                    .iter()
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
    for Field(name, kind, need) in shape.fields {
        let v = get(value, name);
        if v.is_undefined() || v.is_null() {
            match need {
                Need::Req => return Err(format!("missing field `{}`", member(path, name))),
                Need::Opt => {}
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
// The wire types (`import_core::wire`), as shapes
// ---------------------------------------------------------------------------

use Kind::*;
use Need::*;

/// `CreateJobRequest`.
pub(crate) static CREATE_JOB_REQUEST: Shape = Shape {
    fields: &[
        Field("objectName", Str, Opt),
        Field("fileName", Str, Opt),
        Field("fileSize", U64, Opt),
        Field("createList", Bool, Opt),
        Field("listName", Str, Opt),
        Field("targetListId", Str, Opt),
        Field("autoProfileAfterImport", Bool, Opt),
        Field("createAudience", Bool, Opt),
        Field("audienceName", Str, Opt),
    ],
    deny_unknown: true,
};

static SAVE_AS_TEMPLATE: Shape = Shape {
    fields: &[Field("name", Str, Opt)],
    deny_unknown: true,
};

/// `MappingRequest`.
pub(crate) static MAPPING_REQUEST: Shape = Shape {
    fields: &[
        Field("sourceFields", StrMap, Opt),
        Field("fieldMap", StrMap, Opt),
        Field("importMode", Str, Opt),
        Field("templateId", Str, Opt),
        Field("saveAsTemplate", Obj(&SAVE_AS_TEMPLATE), Opt),
    ],
    deny_unknown: true,
};

/// `CreateJobResponse`.
pub(crate) static CREATE_JOB_RESPONSE: Shape = Shape {
    fields: &[
        Field("jobId", Str, Req),
        Field("uploadUrl", Str, Req),
        Field("expiresAt", Str, Req),
        Field("landingPath", Str, Req),
        Field("method", Str, Req),
        Field("headers", StrMap, Req),
        Field("requestedBy", Str, Req),
    ],
    deny_unknown: false,
};

/// `MappingResponse`.
pub(crate) static MAPPING_RESPONSE: Shape = Shape {
    fields: &[Field("ok", Bool, Req), Field("templateId", Str, Opt)],
    deny_unknown: false,
};

/// `StartResponse`.
pub(crate) static START_RESPONSE: Shape = Shape {
    fields: &[
        Field("status", Str, Req),
        Field("jobId", Str, Req),
        Field("lane", Str, Req),
        Field("message", Str, Req),
    ],
    deny_unknown: false,
};

static PROFILE_UNIFICATION: Shape = Shape {
    fields: &[
        Field("profilesExamined", U64, Req),
        Field("profilesMerged", U64, Req),
        Field("clusters", U64, Req),
    ],
    deny_unknown: false,
};

/// `JobStatus`.
pub(crate) static JOB_STATUS: Shape = Shape {
    fields: &[
        Field("stage", Str, Req),
        Field(
            "state",
            Enum(&["pending", "ready", "running", "completed", "failed"]),
            Req,
        ),
        Field("readRows", U64, Req),
        Field("validRows", U64, Req),
        Field("invalidRows", U64, Req),
        Field("mergedInserts", U64, Req),
        Field("mergedUpdates", U64, Req),
        Field("startedAt", Str, Null),
        Field("updatedAt", Str, Req),
        Field("rowsTotal", U64, Req),
        Field("rowsImported", U64, Req),
        Field("rowsRejected", U64, Req),
        Field("successRate", F64, Req),
        Field("errorSummary", U64Map, Null),
        Field("errorMessage", Str, Opt),
        Field("jobId", Str, Opt),
        Field("objectName", Str, Opt),
        Field("profileUnification", Obj(&PROFILE_UNIFICATION), Opt),
    ],
    deny_unknown: false,
};

/// `ErrorsResponse`.
pub(crate) static ERRORS_RESPONSE: Shape = Shape {
    fields: &[
        Field("hasErrors", Bool, Req),
        Field("errorFileUrl", Str, Opt),
        Field("expiresAt", Str, Opt),
        Field("errorCount", U64, Opt),
    ],
    deny_unknown: false,
};

/// `ErrorRow`: one line of the error file.
pub(crate) static ERROR_ROW: Shape = Shape {
    fields: &[
        Field("rowNumber", U64, Req),
        Field("sourceRow", StrMap, Req),
        Field("error", Str, Req),
        Field("code", Str, Opt),
        Field("column", Str, Opt),
    ],
    deny_unknown: false,
};

static INGESTION: Shape = Shape {
    fields: &[
        Field("single", Bool, Req),
        Field("jsonBatch", Bool, Req),
        Field("fileImport", Bool, Req),
        Field("defaultWriteMode", Enum(&["upsert", "append"]), Req),
    ],
    deny_unknown: false,
};

/// The `ObjectSummary` fields (also the head of `ObjectSchema`).
macro_rules! summary_fields {
    () => {
        [
            Field("objectName", Str, Req),
            Field("displayName", Str, Req),
            Field("pluralDisplayName", Str, Req),
            Field("objectType", Enum(&["profile", "event"]), Req),
            Field("activeVersion", U32, Req),
            Field("primaryProfileRoot", Bool, Req),
            Field("ingestion", Obj(&INGESTION), Req),
        ]
    };
}

static OBJECT_SUMMARY: Shape = Shape {
    fields: &summary_fields!(),
    deny_unknown: false,
};

/// `Page<ObjectSummary>`.
pub(crate) static OBJECT_LIST: Shape = Shape {
    fields: &[
        Field("items", List(&OBJECT_SUMMARY), Req),
        Field("page", U32, Opt),
        Field("pageSize", U32, Opt),
        Field("totalItems", U64, Opt),
        Field("totalPages", U64, Opt),
    ],
    deny_unknown: false,
};

static FIELD_DESCRIPTOR: Shape = Shape {
    fields: &[
        Field("name", Str, Req),
        Field("type", Str, Req),
        Field("nullable", Bool, Req),
        Field("enumValues", StrList, Null),
        Field("identityKey", Bool, False),
        Field("description", Str, Opt),
    ],
    deny_unknown: false,
};

/// `ObjectSchema`: the summary's fields, then its own.
pub(crate) static OBJECT_SCHEMA: Shape = Shape {
    fields: &{
        let s = summary_fields!();
        [
            s[0],
            s[1],
            s[2],
            s[3],
            s[4],
            s[5],
            s[6],
            Field("description", Str, Req),
            Field("identityKeys", StrList, Req),
            Field("fields", List(&FIELD_DESCRIPTOR), Req),
        ]
    },
    deny_unknown: false,
};

/// The error envelope's `error`.
static API_ERROR_BODY: Shape = Shape {
    fields: &[
        Field("code", Str, Req),
        Field("message", Str, Req),
        Field("details", Any, Opt),
        Field("remediation", Str, Opt),
    ],
    deny_unknown: false,
};

/// `ErrorEnvelope`.
pub(crate) static ERROR_ENVELOPE: Shape = Shape {
    fields: &[
        Field("success", Bool, Req),
        Field("correlationId", Str, Opt),
        Field("error", Obj(&API_ERROR_BODY), Req),
    ],
    deny_unknown: false,
};

/// The client's `retry` option (`{ maxAttempts?, baseDelayMs?, maxDelayMs? }`,
/// nothing else).
pub(crate) static RETRY_OPTIONS: Shape = Shape {
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
    fields: &[
        Field("maxAttempts", U32, Opt),
        Field("baseDelayMs", U64, Opt),
        Field("maxDelayMs", U64, Opt),
    ],
    deny_unknown: false,
};
