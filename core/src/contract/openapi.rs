//! The OpenAPI 3.1 document of the API, written from the shapes and the
//! table of operations below.
//!
//! The emulator serves it at `/openapi.json`. What the API's documentation
//! describes is plain OpenAPI; what only the emulator has is marked with
//! `x-emulator-extension: true` (operations and fields).

use serde_json::{json, Map, Value};

use super::shapes::*;
use super::{FieldDoc, Kind, Need, Shape, ShapeDoc, ALL_SHAPES};

/// One operation of the API.
#[derive(Debug)]
pub struct Operation {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path under the server URL, with `{params}`.
    pub path: &'static str,
    /// `operationId`, the client's method name where it has one.
    pub id: &'static str,
    /// One line for people.
    pub summary: &'static str,
    /// Scope the token needs (`None`: no bearer token).
    pub scope: Option<&'static str>,
    /// The JSON request body, and whether it is required.
    pub request: Option<(&'static Shape, bool)>,
    /// Success status and the shape of its `data` (`None`: any object).
    pub response: (u16, Option<&'static Shape>),
    /// Error statuses it documents.
    pub errors: &'static [u16],
    /// Only the emulator has it.
    pub extension: bool,
}

const WRITE: Option<&str> = Some("cdp:imports:write");
const READ: Option<&str> = Some("cdp:imports:read");
const METADATA: Option<&str> = Some("cdp:metadata:read");
const LISTS_READ: Option<&str> = Some("cdp:lists:read");
const LISTS_WRITE: Option<&str> = Some("cdp:lists:write");
const AUDIENCES: Option<&str> = Some("cdp:audiences:preview");

/// Every operation under `/public/v1`, in the documentation's order, then
/// the other APIs the emulator serves.
pub static OPERATIONS: &[Operation] = &[
    Operation {
        method: "POST",
        path: "/import-jobs",
        id: "createJob",
        summary: "Initialize a job: returns a pre-signed upload URL and the headers to merge into the upload.",
        scope: WRITE,
        request: Some((&CREATE_JOB_REQUEST, true)),
        response: (201, Some(&CREATE_JOB_RESPONSE)),
        errors: &[400, 401, 403, 409, 413, 429, 500],
        extension: false,
    },
    Operation {
        method: "POST",
        path: "/import-jobs/{jobId}/mapping",
        id: "setMapping",
        summary: "Set the field mapping of a pending job.",
        scope: WRITE,
        request: Some((&MAPPING_REQUEST, true)),
        response: (200, Some(&MAPPING_RESPONSE)),
        errors: &[400, 401, 403, 404, 409, 422, 429, 500],
        extension: false,
    },
    Operation {
        method: "POST",
        path: "/import-jobs/{jobId}/start",
        id: "start",
        summary: "Start a ready job.",
        scope: WRITE,
        request: Some((&START_REQUEST, false)),
        response: (200, Some(&START_RESPONSE)),
        errors: &[400, 401, 403, 404, 409, 429, 500],
        extension: false,
    },
    Operation {
        method: "GET",
        path: "/import-jobs/{jobId}",
        id: "status",
        summary: "The job's state, stage and counters. Poll with backoff from 5 s, cap 60 s.",
        scope: READ,
        request: None,
        response: (200, Some(&JOB_STATUS)),
        errors: &[401, 403, 404, 429, 500],
        extension: false,
    },
    Operation {
        method: "GET",
        path: "/import-jobs/{jobId}/errors",
        id: "errors",
        summary: "Where to download the rejected rows (a pre-signed JSONL file).",
        scope: READ,
        request: None,
        response: (200, Some(&ERRORS_RESPONSE)),
        errors: &[401, 403, 404, 429, 500],
        extension: false,
    },
    Operation {
        method: "GET",
        path: "/import-jobs/{jobId}/upload",
        id: "readUpload",
        summary: "The uploaded file's bytes as storage holds them (for tests).",
        scope: READ,
        request: None,
        response: (200, None),
        errors: &[401, 403, 404],
        extension: true,
    },
    Operation {
        method: "GET",
        path: "/metadata/objects",
        id: "listObjects",
        summary: "The workspace's objects.",
        scope: METADATA,
        request: None,
        response: (200, Some(&OBJECT_LIST)),
        errors: &[401, 403, 429, 500],
        extension: false,
    },
    Operation {
        method: "GET",
        path: "/metadata/objects/{objectName}",
        id: "objectSchema",
        summary: "One object's schema: its fields and identity keys.",
        scope: METADATA,
        request: None,
        response: (200, Some(&OBJECT_SCHEMA)),
        errors: &[401, 403, 404, 429, 500],
        extension: false,
    },
    Operation {
        method: "GET",
        path: "/lists",
        id: "listLists",
        summary: "The workspace's lists.",
        scope: LISTS_READ,
        request: None,
        response: (200, Some(&LIST_PAGE)),
        errors: &[401, 403, 429, 500],
        extension: false,
    },
    Operation {
        method: "POST",
        path: "/lists",
        id: "createList",
        summary: "Create a static list.",
        scope: LISTS_WRITE,
        request: Some((&CREATE_LIST_REQUEST, true)),
        response: (201, Some(&LIST)),
        errors: &[400, 401, 403, 429, 500],
        extension: false,
    },
    Operation {
        method: "GET",
        path: "/lists/{listId}",
        id: "getList",
        summary: "One list.",
        scope: LISTS_READ,
        request: None,
        response: (200, Some(&LIST)),
        errors: &[401, 403, 404, 429, 500],
        extension: false,
    },
    Operation {
        method: "GET",
        path: "/lists/{listId}/members",
        id: "listMembers",
        summary: "A list's members, a page at a time.",
        scope: LISTS_READ,
        request: None,
        response: (200, None),
        errors: &[401, 403, 404, 429, 500],
        extension: false,
    },
    Operation {
        method: "GET",
        path: "/audiences",
        id: "listAudiences",
        summary: "Find the audiences that imports created, by name.",
        scope: AUDIENCES,
        request: None,
        response: (200, None),
        errors: &[401, 403, 429, 500],
        extension: true,
    },
    Operation {
        method: "POST",
        path: "/audiences/{audienceId}/preview",
        id: "previewAudience",
        summary: "A sample of an audience's members.",
        scope: AUDIENCES,
        request: None,
        response: (200, None),
        errors: &[400, 401, 403, 404, 429, 500],
        extension: false,
    },
];

fn ref_to(shape: &'static Shape) -> Value {
    let name = ShapeDoc::of(shape).map_or("Unknown", |d| d.name);
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn kind_schema(kind: Kind) -> Value {
    match kind {
        Kind::Str => json!({"type": "string"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::U32 => json!({"type": "integer", "minimum": 0, "maximum": 4_294_967_295u64}),
        Kind::U64 => json!({"type": "integer", "minimum": 0}),
        Kind::F64 => json!({"type": "number"}),
        Kind::Enum(names) => json!({"type": "string", "enum": names}),
        Kind::StrMap => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        Kind::U64Map => {
            json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}})
        }
        Kind::Obj(s) => ref_to(s),
        Kind::List(s) => json!({"type": "array", "items": ref_to(s)}),
        Kind::StrList => json!({"type": "array", "items": {"type": "string"}}),
        Kind::Any => json!({}),
    }
}

fn field_schema(kind: Kind, need: Need, doc: &FieldDoc) -> Value {
    let mut schema = kind_schema(kind);
    if need == Need::Null {
        schema = match schema {
            Value::Object(mut m) if m.get("type").is_some_and(Value::is_string) => {
                let t = m.remove("type").unwrap_or_default();
                m.insert("type".into(), json!([t, "null"]));
                Value::Object(m)
            }
            other => json!({"anyOf": [other, {"type": "null"}]}),
        };
    }
    let Value::Object(mut m) = schema else {
        unreachable!("schemas are objects")
    };
    if m.contains_key("$ref") {
        // A `$ref` beside other keywords is allowed in 3.1; keep the
        // description on a wrapper for tools that still ignore them.
        m = Map::from_iter([("allOf".to_string(), json!([Value::Object(m)]))]);
    }
    m.insert("description".into(), json!(doc.doc));
    if doc.extension {
        m.insert("x-emulator-extension".into(), json!(true));
    }
    Value::Object(m)
}

fn object_schema(doc: &'static ShapeDoc) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (field, fdoc) in doc.shape.fields.iter().zip(doc.fields) {
        properties.insert(field.0.into(), field_schema(field.1, field.2, fdoc));
        if matches!(field.2, Need::Req | Need::Rule | Need::Null | Need::False) {
            required.push(field.0);
        }
    }
    let mut own = Map::new();
    own.insert("type".into(), json!("object"));
    own.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        own.insert("required".into(), json!(required));
    }
    if doc.shape.deny_unknown {
        own.insert("additionalProperties".into(), json!(false));
    }
    let mut schema = match doc.base {
        Some(base) => {
            let mut m = Map::new();
            m.insert(
                "allOf".into(),
                json!([ref_to(base.shape), Value::Object(own)]),
            );
            m
        }
        None => own,
    };
    schema.insert("description".into(), json!(doc.doc.trim()));
    Value::Object(schema)
}

fn envelope(data: Value) -> Value {
    json!({
        "type": "object",
        "required": ["success", "data"],
        "properties": {
            "success": {"const": true},
            "data": data,
            "correlationId": {"type": "string", "description": "Also sent as the `x-correlation-id` header."}
        }
    })
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "Malformed body or invalid field combination (`CDP_ETL.VALIDATION.REQUEST_INVALID`).",
        401 => "Missing, invalid or expired bearer token (`CDP_ETL.AUTH.*`).",
        403 => "The token lacks the required scope (`CDP_ETL.AUTH.FORBIDDEN`).",
        404 => "No such resource in the token's workspace (`CDP_ETL.NOT_FOUND`).",
        409 => "Operation not allowed in the current state (`CDP_ETL.*`).",
        413 => "The declared file is larger than 50 GB.",
        422 => "The mapping references an unknown destination field (`CDP_ETL.VALIDATION.REQUEST_SCHEMA`).",
        429 => "Rate limited: retry after `Retry-After` seconds (`CDP_ETL.RATE.LIMITED`).",
        _ => "Unexpected server error (`CDP_ETL.INTERNAL.*`).",
    }
}

fn operation(op: &Operation) -> Value {
    let mut o = Map::new();
    o.insert("operationId".into(), json!(op.id));
    o.insert("summary".into(), json!(op.summary));
    let params: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if !params.is_empty() {
        o.insert("parameters".into(), json!(params));
    }
    if op.method == "POST" && op.path.starts_with("/import-jobs") {
        let mut p = o
            .remove("parameters")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        p.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "UUID v4: a retry with the same key and body gets the original response (24 hours).",
            "schema": {"type": "string", "format": "uuid"}
        }));
        o.insert("parameters".into(), json!(p));
    }
    if let Some((shape, required)) = op.request {
        o.insert(
            "requestBody".into(),
            json!({
                "required": required,
                "content": {"application/json": {"schema": ref_to(shape)}}
            }),
        );
    }
    let data = op
        .response
        .1
        .map_or_else(|| json!({"type": "object"}), ref_to);
    let mut responses = Map::new();
    responses.insert(
        op.response.0.to_string(),
        json!({
            "description": "Success.",
            "content": {"application/json": {"schema": envelope(data)}}
        }),
    );
    for status in op.errors {
        responses.insert(
            status.to_string(),
            json!({
                "description": error_description(*status),
                "content": {"application/json": {"schema": ref_to(&ERROR_ENVELOPE)}}
            }),
        );
    }
    o.insert("responses".into(), Value::Object(responses));
    if let Some(scope) = op.scope {
        o.insert("security".into(), json!([{"bearer": [scope]}]));
    }
    if op.extension {
        o.insert("x-emulator-extension".into(), json!(true));
    }
    Value::Object(o)
}

/// The OpenAPI 3.1 document. `server_url` is the base of the API (with
/// `/public/v1`); the OAuth token endpoint is taken to be `/oauth/token`
/// beside it.
pub fn openapi(server_url: &str) -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method.to_ascii_lowercase()] = operation(op);
    }
    let mut schemas = Map::new();
    for doc in ALL_SHAPES {
        schemas.insert(doc.name.into(), object_schema(doc));
    }
    let root = server_url
        .trim_end_matches('/')
        .trim_end_matches("/public/v1");
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Import Jobs API",
            "version": "1.0.0",
            "description": "The Import Jobs API (create a job, upload the file to its pre-signed URL, set the mapping, start, poll, fetch rejected rows), the Metadata API and the Lists API, as the import-uploader emulator serves them. `x-emulator-extension: true` marks what only the emulator has."
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "oauth2",
                    "description": "RS256 JWT bearer tokens from the OAuth 2.0 client-credentials grant (workspace secrets: never in a browser).",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": format!("{root}/oauth/token"),
                            "scopes": {
                                "cdp:imports:write": "Create, map and start import jobs.",
                                "cdp:imports:read": "Read import jobs and their errors.",
                                "cdp:metadata:read": "Read object schemas.",
                                "cdp:lists:read": "Read lists and their members.",
                                "cdp:lists:write": "Create lists.",
                                "cdp:audiences:preview": "List and preview audiences."
                            }
                        }
                    }
                }
            }
        }
    })
}
