//! The wire contract holds its copies together: every field a serde type
//! of `import_core::wire` writes is in its shape, and every shape field is
//! in the generated TypeScript and OpenAPI document; the shape checker
//! treats requests and responses as documented.
//!
//! The "full" values below are struct literals, so a field added to a serde
//! type does not compile here until it is given a value, and then fails
//! `every_field_serde_writes_is_in_the_shape` until the shape has it.

use import_core::contract::{self, Described, Kind, Need, ShapeDoc, ALL_SHAPES};
use import_core::wire::*;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{json, Value};

fn s(text: &str) -> String {
    text.to_string()
}

fn map<V>(pairs: &[(&str, V)]) -> IndexMap<String, V>
where
    V: Clone,
{
    pairs.iter().map(|(k, v)| (s(k), v.clone())).collect()
}

fn summary() -> ObjectSummary {
    ObjectSummary {
        object_name: s("profiles"),
        display_name: s("Customer Profiles"),
        plural_display_name: s("Customer Profiles"),
        object_type: ObjectType::Profile,
        active_version: 3,
        primary_profile_root: true,
        ingestion: Ingestion {
            single: true,
            json_batch: true,
            file_import: true,
            default_write_mode: WriteMode::Upsert,
        },
    }
}

fn list() -> List {
    List {
        id: s("lst_01"),
        name: s("Spring"),
        description: Some(s("From the spring import")),
        list_type: s("static"),
        container_type: s("list"),
        membership_behavior: s("snapshot"),
        population_source: s("import"),
        status: s("active"),
        member_count: 2,
        created_at: Some(s("2026-04-21T15:30:02Z")),
    }
}

/// A shape check of one type.
type Check = fn(&Value) -> Result<Value, String>;

/// One value of every described type with every optional member present.
fn full_values() -> Vec<(&'static str, Value, Check)> {
    fn entry<T: Serialize + Described>(
        name: &'static str,
        value: T,
    ) -> (&'static str, Value, Check) {
        (name, serde_json::to_value(value).unwrap(), T::check)
    }
    vec![
        entry(
            "CreateJobRequest",
            CreateJobRequest {
                object_name: Some(s("profiles")),
                file_name: Some(s("a.csv")),
                file_size: Some(10),
                create_list: Some(true),
                list_name: Some(s("L")),
                target_list_id: Some(s("lst_1")),
                auto_profile_after_import: Some(true),
                create_audience: Some(true),
                audience_name: Some(s("A")),
            },
        ),
        entry(
            "CreateJobResponse",
            CreateJobResponse {
                job_id: s("imp_1"),
                upload_url: s("http://x/u"),
                expires_at: s("2026-04-21T16:30:00Z"),
                landing_path: s("jobs/imp_1/file"),
                method: s("PUT"),
                headers: map(&[("x-ms-blob-type", s("BlockBlob"))]),
                requested_by: s("usr_1"),
            },
        ),
        entry(
            "MappingRequest",
            MappingRequest {
                source_fields: Some(map(&[("e", s("email"))])),
                field_map: Some(map(&[("e", s("email"))])),
                import_mode: Some(s("strict")),
                template_id: Some(s("tpl_1")),
                save_as_template: Some(SaveAsTemplate { name: Some(s("T")) }),
            },
        ),
        entry(
            "MappingResponse",
            MappingResponse {
                ok: true,
                template_id: Some(s("tpl_1")),
            },
        ),
        entry(
            "StartResponse",
            StartResponse {
                status: s("started"),
                job_id: s("imp_1"),
                lane: s("standard"),
                message: s("Job queued for processing"),
            },
        ),
        entry(
            "JobStatus",
            JobStatus {
                stage: s("merge"),
                state: JobState::Completed,
                read_rows: 3,
                valid_rows: 2,
                invalid_rows: 1,
                merged_inserts: 1,
                merged_updates: 1,
                started_at: Some(s("2026-04-21T15:30:02Z")),
                updated_at: s("2026-04-21T15:38:41Z"),
                rows_total: 3,
                rows_imported: 2,
                rows_rejected: 1,
                success_rate: 0.5,
                error_summary: Some(map(&[("REQUIRED_FIELD_MISSING", 1u64)])),
                error_message: Some(s("why")),
                job_id: Some(s("imp_1")),
                object_name: Some(s("profiles")),
                profile_unification: Some(ProfileUnification {
                    profiles_examined: 4,
                    profiles_merged: 2,
                    clusters: 1,
                }),
            },
        ),
        entry(
            "ErrorsResponse",
            ErrorsResponse {
                has_errors: true,
                error_file_url: Some(s("http://x/e")),
                expires_at: Some(s("2026-04-22T15:38:41Z")),
                error_count: Some(1),
            },
        ),
        entry(
            "ErrorRow",
            ErrorRow {
                row_number: 42,
                source_row: map(&[("email_address", s("not-an-email"))]),
                error: s("invalid email format"),
                code: Some(s("VALIDATION_TYPE_MISMATCH")),
                column: Some(s("email_address")),
            },
        ),
        entry(
            "ObjectList",
            Page {
                items: vec![summary()],
                page: Some(1),
                page_size: Some(50),
                total_items: Some(1),
                total_pages: Some(1),
            },
        ),
        entry(
            "ObjectSchema",
            ObjectSchema {
                summary: summary(),
                description: s("People"),
                identity_keys: vec![s("email")],
                fields: vec![FieldDescriptor {
                    name: s("email"),
                    data_type: s("email"),
                    nullable: false,
                    enum_values: Some(vec![s("a")]),
                    identity_key: true,
                    description: Some(s("E-mail")),
                }],
            },
        ),
        entry(
            "CreateListRequest",
            CreateListRequest {
                name: Some(s("L")),
                description: Some(s("D")),
            },
        ),
        entry(
            "ListPage",
            Page {
                items: vec![list()],
                page: Some(1),
                page_size: Some(50),
                total_items: Some(1),
                total_pages: Some(1),
            },
        ),
        entry(
            "ErrorEnvelope",
            ErrorEnvelope {
                success: false,
                correlation_id: Some(s("c")),
                error: ApiErrorBody {
                    code: s("CDP_ETL.NOT_FOUND"),
                    message: s("m"),
                    details: Some(json!({"field": "x"})),
                    remediation: Some(s("r")),
                },
            },
        ),
        entry(
            "TokenResponse",
            TokenResponse {
                access_token: s("t"),
                token_type: s("Bearer"),
                expires_in: 3600,
                scope: Some(s("cdp:imports:read")),
            },
        ),
        entry(
            "OAuthError",
            OAuthError {
                error: s("invalid_client"),
                error_description: Some(s("d")),
            },
        ),
    ]
}

/// Walks `value` along `kind`: every key is a field of the shape, every
/// field of the shape is a key (the value is full).
fn same_fields(value: &Value, kind: Kind, path: &str, problems: &mut Vec<String>) {
    match kind {
        Kind::Obj(shape) => {
            let Value::Object(map) = value else {
                problems.push(format!("{path}: not an object"));
                return;
            };
            for key in map.keys() {
                if shape.field(key).is_none() {
                    problems.push(format!("{path}.{key}: written by serde, not in the shape"));
                }
            }
            for f in shape.all_fields() {
                match map.get(f.0) {
                    None => problems.push(format!("{path}.{}: in the shape, not written", f.0)),
                    Some(v) => same_fields(v, f.1, &format!("{path}.{}", f.0), problems),
                }
            }
        }
        Kind::List(shape) => match value {
            Value::Array(items) if !items.is_empty() => {
                for (i, v) in items.iter().enumerate() {
                    same_fields(v, Kind::Obj(shape), &format!("{path}[{i}]"), problems);
                }
            }
            _ => problems.push(format!("{path}: not a non-empty array")),
        },
        _ => {}
    }
}

#[test]
fn every_field_serde_writes_is_in_the_shape() {
    let mut problems = Vec::new();
    let mut named = Vec::new();
    for (name, value, check) in full_values() {
        let doc = ALL_SHAPES
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("no shape is called {name}"));
        same_fields(&value, Kind::Obj(doc.shape), name, &mut problems);
        // The full value passes its own shape unchanged.
        match check(&value) {
            Ok(copy) => assert_eq!(copy, value, "the shape check changes a full {name}"),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
        named.push(name);
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // Every shape is reached: directly, or nested in one that is.
    for doc in ALL_SHAPES {
        let nested = ALL_SHAPES.iter().any(|outer| {
            named.contains(&outer.name)
                && outer.shape.all_fields().any(|f| match f.1 {
                    Kind::Obj(s) | Kind::List(s) => std::ptr::eq(s, doc.shape),
                    _ => false,
                })
        });
        let base = ALL_SHAPES.iter().any(|outer| {
            named.contains(&outer.name) && outer.base.is_some_and(|b| std::ptr::eq(b, *doc))
        });
        assert!(
            named.contains(&doc.name) || nested || base || doc.name == "StartRequest",
            "{} has no full value here",
            doc.name
        );
    }
}

#[test]
fn every_shape_field_is_documented_once_in_order() {
    for doc in ALL_SHAPES {
        assert_eq!(doc.shape.fields.len(), doc.fields.len(), "{}", doc.name);
        for (f, d) in doc.shape.fields.iter().zip(doc.fields) {
            assert_eq!(f.0, d.name, "{}", doc.name);
            assert!(
                !d.doc.trim().is_empty(),
                "{}.{} has no description",
                doc.name,
                f.0
            );
        }
        let mut names: Vec<_> = doc.shape.all_fields().map(|f| f.0).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "{} names a field twice", doc.name);
        assert!(
            ShapeDoc::of(doc.shape).is_some_and(|d| std::ptr::eq(d, *doc)),
            "{}",
            doc.name
        );
    }
}

/// The `export interface NAME … { … }` block of the generated TypeScript.
fn ts_block<'a>(ts: &'a str, name: &str) -> &'a str {
    let start = ts
        .find(&format!("export interface {name} "))
        .unwrap_or_else(|| panic!("no interface {name} in the TypeScript"));
    let end = ts[start..].find("\n}\n").expect("closed") + start;
    &ts[start..end]
}

#[test]
fn every_shape_field_is_in_the_typescript() {
    let ts = contract::typescript();
    for doc in ALL_SHAPES {
        let block = ts_block(&ts, doc.name);
        for (f, fd) in doc.shape.fields.iter().zip(doc.fields) {
            let optional = if f.2 == Need::Opt { "?" } else { "" };
            let line = format!("\n  {}{optional}: ", f.0);
            let quoted = format!("\n  \"{}\"{optional}: ", f.0);
            assert!(
                block.contains(&line) || block.contains(&quoted),
                "{}.{} missing from the TypeScript:\n{block}",
                doc.name,
                f.0
            );
            if let Some(t) = fd.ts {
                assert!(
                    block.contains(&format!("{line}{t}")),
                    "{}.{}",
                    doc.name,
                    f.0
                );
            }
        }
        if let Some(base) = doc.base {
            assert!(block.contains(&format!("extends {}", base.name)));
        }
    }
    // The field that once went missing from the hand-kept `JobStatus`.
    assert!(ts_block(&ts, "JobStatus").contains("\n  profileUnification?: ProfileUnification;"));
    assert!(ts.contains("export type JobState = \"pending\" | \"ready\" | \"running\" | \"completed\" | \"failed\";"));
    assert!(ts.contains("export type DataType = \"string\" | \"integer\""));
    assert!(ts.contains(
        "export type ImportMode = \"balanced\" | \"strict\" | \"landing_friendly\" | \"custom\";"
    ));
    // Extensions say so.
    assert!(ts_block(&ts, "MappingResponse").contains("Emulator extension"));
}

#[test]
fn every_shape_field_is_in_the_openapi_document() {
    let doc = contract::openapi("http://127.0.0.1:8787/public/v1");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "http://127.0.0.1:8787/public/v1");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["flows"]["clientCredentials"]["tokenUrl"],
        "http://127.0.0.1:8787/oauth/token"
    );
    let schemas = &doc["components"]["schemas"];
    for sd in ALL_SHAPES {
        let schema = &schemas[sd.name];
        let own = match sd.base {
            Some(_) => &schema["allOf"][1],
            None => schema,
        };
        for (f, fd) in sd.shape.fields.iter().zip(sd.fields) {
            let prop = &own["properties"][f.0];
            assert!(prop.is_object(), "{}.{} missing from OpenAPI", sd.name, f.0);
            assert_eq!(
                prop.get("x-emulator-extension").is_some(),
                fd.extension,
                "{}.{}",
                sd.name,
                f.0
            );
            let required = own["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|n| n == f.0));
            assert_eq!(required, f.2 != Need::Opt, "{}.{} required", sd.name, f.0);
        }
        assert_eq!(
            own.get("additionalProperties") == Some(&json!(false)),
            sd.shape.deny_unknown,
            "{}",
            sd.name
        );
    }
    // The five documented operations, and the extension marked.
    let paths = &doc["paths"];
    for (path, method) in [
        ("/import-jobs", "post"),
        ("/import-jobs/{jobId}/mapping", "post"),
        ("/import-jobs/{jobId}/start", "post"),
        ("/import-jobs/{jobId}", "get"),
        ("/import-jobs/{jobId}/errors", "get"),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path}");
        assert!(op.get("x-emulator-extension").is_none(), "{method} {path}");
    }
    assert_eq!(
        paths["/import-jobs/{jobId}/upload"]["get"]["x-emulator-extension"],
        true
    );
    assert_eq!(
        paths["/import-jobs"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
            ["properties"]["data"]["$ref"],
        "#/components/schemas/CreateJobResponse"
    );
    // Every `$ref` points at a schema that exists.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(schemas[name].is_object(), "dangling $ref {name}");
    }
}

#[test]
fn job_states_are_the_serde_enum() {
    let names: Vec<String> = [
        JobState::Pending,
        JobState::Ready,
        JobState::Running,
        JobState::Completed,
        JobState::Failed,
    ]
    .iter()
    .map(|s| {
        serde_json::to_value(s)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    })
    .collect();
    assert_eq!(names, contract::JOB_STATES);
}

#[test]
fn requests_refuse_unknown_fields_and_wrong_types_as_serde_does() {
    let err = contract::check(
        &json!({"objectName": "p", "listname": "x"}),
        &contract::CREATE_JOB_REQUEST,
    )
    .unwrap_err();
    assert!(
        err.starts_with("unknown field `listname`, expected one of `objectName`"),
        "{err}"
    );
    let serde_err = serde_json::from_value::<CreateJobRequest>(json!({"listname": "x"}))
        .unwrap_err()
        .to_string();
    assert!(serde_err.starts_with("unknown field `listname`, expected one of `objectName`"));

    let err =
        contract::check(&json!({"fileSize": "ten"}), &contract::CREATE_JOB_REQUEST).unwrap_err();
    assert_eq!(
        err,
        "invalid type: string \"ten\", expected u64 at `fileSize`"
    );
    let err = contract::check(
        &json!({"saveAsTemplate": {"name": "t", "x": 1}}),
        &contract::MAPPING_REQUEST,
    )
    .unwrap_err();
    assert!(err.starts_with("unknown field `saveAsTemplate.x`"), "{err}");
    // Required-by-rule fields may be absent (the rules report them).
    assert_eq!(
        contract::check(&json!({"fileName": null}), &contract::CREATE_JOB_REQUEST).unwrap(),
        json!({})
    );
}

#[test]
fn responses_drop_unknown_fields_and_fill_nulls_and_defaults() {
    let out = contract::check(
        &json!({"name": "e", "type": "email", "nullable": false, "new": 1}),
        &contract::FIELD_DESCRIPTOR,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"name": "e", "type": "email", "nullable": false, "enumValues": null, "identityKey": false})
    );
    let err = contract::check(&json!({"ok": "yes"}), &contract::MAPPING_RESPONSE).unwrap_err();
    assert_eq!(
        err,
        "invalid type: string \"yes\", expected a boolean at `ok`"
    );
    let err = contract::check(&json!({}), &contract::START_RESPONSE).unwrap_err();
    assert_eq!(err, "missing field `status`");
    let mut status = serde_json::to_value(full_values()[5].1.clone()).unwrap();
    status["state"] = json!("paused");
    let err = contract::check(&status, &contract::JOB_STATUS).unwrap_err();
    assert!(
        err.starts_with("unknown variant `paused` at `state`, expected one of `pending`"),
        "{err}"
    );
}
