//! Every example body printed in the Import Jobs API reference (and the
//! related pages: error envelope, rate limits, metadata), copied verbatim,
//! parsed into the typed wire structs and serialised back: the result must be
//! the same JSON value. Also: unknown fields are refused in requests and
//! ignored in responses, and wrong JSON types are refused. Each example
//! also passes the shape check of `import_core::contract` (what the wasm
//! client checks bodies with), which gives back the same JSON value.

use import_core::contract::Described;
use import_core::rules::{check_create, check_mapping, ImportMode};
use import_core::wire::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Parses `body` into `T`, serialises it back and asserts the JSON value is
/// unchanged; checks it against `T`'s shape, which must give back the same
/// value. Returns the typed value for further checks.
fn round_trip<T: DeserializeOwned + Serialize + Described>(body: &str) -> T {
    let original: Value = serde_json::from_str(body).expect("the example is valid JSON");
    let typed: T = serde_json::from_str(body).unwrap_or_else(|e| {
        panic!(
            "example does not parse as {}: {e}\n{body}",
            std::any::type_name::<T>()
        )
    });
    let back = serde_json::to_value(&typed).expect("serialises");
    assert_eq!(
        back,
        original,
        "{} does not round-trip",
        std::any::type_name::<T>()
    );
    let checked = T::check(&original).unwrap_or_else(|e| {
        panic!(
            "example fails the shape of {}: {e}\n{body}",
            std::any::type_name::<T>()
        )
    });
    assert_eq!(
        checked,
        original,
        "the shape check of {} changes the example",
        std::any::type_name::<T>()
    );
    typed
}

// ---- Examples of the Import Jobs API reference, verbatim ------------------

/// 1. Initialize the Job: the `-d` body of the curl example.
const CREATE_REQUEST: &str = include_str!("../../tests/fixtures/spec-create.json");

/// 1. Initialize the Job: Response — 201 Created.
const CREATE_RESPONSE: &str = r#"{
"success": true,
"data": {
"jobId": "imp_01HXYZ",
"uploadUrl": "https://upload.../file",
"expiresAt": "2026-04-21T16:30:00Z",
"landingPath": "jobs/imp_01HXYZ/file",
"method": "PUT",
"headers": {},
"requestedBy": "usr_01HXYZ"
},
"correlationId": "<uuid>"
}"#;

/// 2. Set the Field Mapping: the `-d` body of the curl example.
const MAPPING_REQUEST: &str = include_str!("../../tests/fixtures/spec-mapping.json");

/// 2. Set the Field Mapping: Response — 200 OK.
const MAPPING_RESPONSE: &str = r#"{
"success": true,
"data": { "ok": true },
"correlationId": "<uuid>"
}"#;

/// 3. Start the Job: the `-d` body.
const START_REQUEST: &str = r#"{}"#;

/// 3. Start the Job: Response — 200 OK.
const START_RESPONSE: &str = r#"{
"success": true,
"data": {
"status": "started",
"jobId": "imp_01HXYZ",
"lane": "standard",
"message": "Job queued for processing"
},
"correlationId": "<uuid>"
}"#;

/// 4. Poll Status: Response — 200 OK.
const STATUS_RESPONSE: &str = r#"{
"success": true,
"data": {
"stage": "merge",
"state": "completed",
"readRows": 124532,
"validRows": 124087,
"invalidRows": 445,
"mergedInserts": 98221,
"mergedUpdates": 25866,
"startedAt": "2026-04-21T15:30:02Z",
"updatedAt": "2026-04-21T15:38:41Z",
"rowsTotal": 124532,
"rowsImported": 124087,
"rowsRejected": 445,
"successRate": 0.9964,
"errorSummary": {
"VALIDATION_TYPE_MISMATCH": 320,
"REQUIRED_FIELD_MISSING": 125
}
},
"correlationId": "<uuid>"
}"#;

/// Errors File: Response — 200 OK.
const ERRORS_RESPONSE: &str = r#"{
"success": true,
"data": {
"hasErrors": true,
"errorFileUrl": "https://...",
"expiresAt": "2026-04-22T15:38:41Z",
"errorCount": 445
}
}"#;

/// Errors File: "If no errors occurred: …".
const ERRORS_NONE: &str = r#"{ "hasErrors": false }"#;

/// Errors File: one line of the JSONL file.
const ERROR_LINE: &str = r#"{"rowNumber": 42, "sourceRow": {"email_address": "not-an-email"}, "error": "invalid email format"}"#;

// ---- Examples of the related documentation pages, verbatim ----------------

/// API Reference overview: the error envelope.
const ERROR_ENVELOPE: &str = r#"{ "success": false, "correlationId": "<uuid>",
    "error": { "code": "CDP_ETL.<DOMAIN>.<ISSUE>", "message": "records[2].email: invalid email format",
               "details": { "path": "records[2].email", "value": "not-an-email" }, "remediation": "..." } }"#;

/// Rate Limits: the 429 body.
const RATE_LIMITED: &str = r#"{"success":false,"error":{"code":"CDP_ETL.RATE.LIMITED","message":"Rate limit exceeded. Retry after 2s."}}"#;

/// Batch Import Guide: the minimal init body.
const MINIMAL_CREATE_REQUEST: &str =
    r#"{"objectName":"profiles","fileName":"spring-2026.csv","fileSize":4823041}"#;

/// Metadata API: an item of `GET /metadata/objects`.
const METADATA_PROFILES: &str = r#"{ "objectName": "profiles", "displayName": "Customer Profiles", "pluralDisplayName": "Customer Profiles",
    "objectType": "profile", "activeVersion": 3, "primaryProfileRoot": true,
    "ingestion": { "single": true, "jsonBatch": true, "fileImport": true, "defaultWriteMode": "upsert" } }"#;

/// Metadata API: the second item, as the page describes it (`orders`,
/// `event`, version 1, not the profile root, `append`).
const METADATA_ORDERS: &str = r#"{ "objectName": "orders", "displayName": "Orders", "pluralDisplayName": "Orders",
    "objectType": "event", "activeVersion": 1, "primaryProfileRoot": false,
    "ingestion": { "single": true, "jsonBatch": true, "fileImport": true, "defaultWriteMode": "append" } }"#;

// ---- Import Jobs API ------------------------------------------------------

#[test]
fn create_request_example_round_trips_and_passes_the_rules() {
    let req: CreateJobRequest = round_trip(CREATE_REQUEST);
    assert_eq!(req.object_name.as_deref(), Some("profiles"));
    assert_eq!(req.file_name.as_deref(), Some("spring-2026.csv"));
    assert_eq!(req.file_size, Some(1_048_576));
    assert_eq!(req.create_list, Some(true));
    assert_eq!(req.list_name.as_deref(), Some("Spring 2026 Backfill"));
    assert_eq!(req.auto_profile_after_import, Some(true));
    assert_eq!(req.target_list_id, None);

    let valid = check_create(&req).expect("the documented example passes the rules");
    assert_eq!(valid.list_name.as_deref(), Some("Spring 2026 Backfill"));
    assert!(valid.auto_profile_after_import);
}

#[test]
fn minimal_create_request_of_the_batch_import_guide_round_trips() {
    let req: CreateJobRequest = round_trip(MINIMAL_CREATE_REQUEST);
    let valid = check_create(&req).expect("the guide's minimal body passes the rules");
    assert_eq!(valid.file_size, 4_823_041);
    assert_eq!(valid.list_name, None);
    assert!(!valid.auto_profile_after_import);
}

#[test]
fn create_response_example_round_trips() {
    let env: SuccessEnvelope<CreateJobResponse> = round_trip(CREATE_RESPONSE);
    assert!(env.success);
    assert_eq!(env.correlation_id.as_deref(), Some("<uuid>"));
    assert_eq!(env.data.job_id, "imp_01HXYZ");
    assert_eq!(env.data.upload_url, "https://upload.../file");
    assert_eq!(env.data.expires_at, "2026-04-21T16:30:00Z");
    assert_eq!(env.data.landing_path, "jobs/imp_01HXYZ/file");
    assert_eq!(env.data.method, "PUT");
    assert!(env.data.headers.is_empty());
    assert_eq!(env.data.requested_by, "usr_01HXYZ");
}

#[test]
fn create_response_with_azure_headers_round_trips_in_order() {
    let body = r#"{"jobId":"imp_01HXYZ","uploadUrl":"https://upload.../file","expiresAt":"2026-04-21T16:30:00Z","landingPath":"jobs/imp_01HXYZ/file","method":"PUT","headers":{"x-ms-blob-type":"BlockBlob"},"requestedBy":"usr_01HXYZ"}"#;
    let data: CreateJobResponse = round_trip(body);
    assert_eq!(
        data.headers.get("x-ms-blob-type").map(String::as_str),
        Some("BlockBlob")
    );
    assert_eq!(serde_json::to_string(&data).unwrap(), body);
}

#[test]
fn mapping_request_example_round_trips_and_passes_the_rules() {
    let req: MappingRequest = round_trip(MAPPING_REQUEST);
    let sources: Vec<&str> = req
        .source_fields
        .as_ref()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // File order is kept.
    assert_eq!(sources, ["email_address", "FirstName", "signup_ts"]);
    assert_eq!(
        req.field_map.as_ref().unwrap().get("FirstName").unwrap(),
        "first_name"
    );
    assert_eq!(req.import_mode, None);

    let valid = check_mapping(&req).expect("the documented example passes the rules");
    assert_eq!(valid.import_mode, ImportMode::Balanced);
    assert_eq!(valid.template_id, None);
    assert_eq!(valid.source_fields.unwrap().len(), 3);
}

#[test]
fn mapping_request_with_every_member_round_trips() {
    let body = r#"{"sourceFields":{"email_address":"email"},"fieldMap":{"email_address":"email"},"importMode":"strict","saveAsTemplate":{"name":"My Template"}}"#;
    let req: MappingRequest = round_trip(body);
    assert_eq!(
        req.save_as_template.unwrap().name.as_deref(),
        Some("My Template")
    );
    let req: MappingRequest =
        round_trip(r#"{"templateId":"tpl_01HXYZ","importMode":"landing_friendly"}"#);
    assert_eq!(req.template_id.as_deref(), Some("tpl_01HXYZ"));
}

#[test]
fn mapping_response_example_round_trips() {
    let env: SuccessEnvelope<MappingResponse> = round_trip(MAPPING_RESPONSE);
    assert!(env.data.ok);
    assert_eq!(env.data.template_id, None);
}

#[test]
fn start_request_example_round_trips_and_accepts_any_option() {
    let req: StartRequest = round_trip(START_REQUEST);
    assert!(req.options.is_empty());
    let req: StartRequest = round_trip(r#"{"lane":"standard","dryRun":false}"#);
    assert_eq!(req.options.get("lane"), Some(&json!("standard")));
}

#[test]
fn start_response_example_round_trips() {
    let env: SuccessEnvelope<StartResponse> = round_trip(START_RESPONSE);
    assert_eq!(env.data.status, "started");
    assert_eq!(env.data.job_id, "imp_01HXYZ");
    assert_eq!(env.data.lane, "standard");
    assert_eq!(env.data.message, "Job queued for processing");
}

#[test]
fn status_response_example_round_trips() {
    let env: SuccessEnvelope<JobStatus> = round_trip(STATUS_RESPONSE);
    let s = env.data;
    assert_eq!(s.stage, "merge");
    assert_eq!(s.state, JobState::Completed);
    assert!(s.state.is_terminal());
    assert_eq!(
        (s.read_rows, s.valid_rows, s.invalid_rows),
        (124_532, 124_087, 445)
    );
    assert_eq!((s.merged_inserts, s.merged_updates), (98_221, 25_866));
    assert_eq!(s.started_at.as_deref(), Some("2026-04-21T15:30:02Z"));
    assert_eq!(s.updated_at, "2026-04-21T15:38:41Z");
    assert_eq!(
        (s.rows_total, s.rows_imported, s.rows_rejected),
        (124_532, 124_087, 445)
    );
    assert_eq!(s.success_rate, 0.9964);
    let summary = s.error_summary.unwrap();
    assert_eq!(summary["VALIDATION_TYPE_MISMATCH"], 320);
    assert_eq!(summary["REQUIRED_FIELD_MISSING"], 125);
    assert_eq!(s.error_message, None);
}

#[test]
fn status_before_processing_keeps_null_error_summary_and_started_at() {
    let body = r#"{"stage":"upload","state":"pending","readRows":0,"validRows":0,"invalidRows":0,"mergedInserts":0,"mergedUpdates":0,"startedAt":null,"updatedAt":"2026-04-21T15:30:00Z","rowsTotal":0,"rowsImported":0,"rowsRejected":0,"successRate":0.0,"errorSummary":null}"#;
    let s: JobStatus = round_trip(body);
    assert_eq!(s.state, JobState::Pending);
    assert_eq!(s.error_summary, None);
    assert_eq!(s.started_at, None);
    // Both nulls are written out, not skipped: the spec's fields are always present.
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["errorSummary"], Value::Null);
    assert!(v.as_object().unwrap().contains_key("startedAt"));
}

#[test]
fn job_state_wire_names_match_the_spec_table() {
    for name in ["pending", "ready", "running", "completed", "failed"] {
        let state = JobState::parse(name).unwrap();
        assert_eq!(state.as_str(), name);
        assert_eq!(serde_json::to_value(state).unwrap(), json!(name));
    }
    assert_eq!(JobState::parse("done"), None);
}

#[test]
fn errors_response_example_round_trips() {
    let env: SuccessEnvelope<ErrorsResponse> = round_trip(ERRORS_RESPONSE);
    assert_eq!(env.correlation_id, None);
    assert!(env.data.has_errors);
    assert_eq!(env.data.error_file_url.as_deref(), Some("https://..."));
    assert_eq!(env.data.expires_at.as_deref(), Some("2026-04-22T15:38:41Z"));
    assert_eq!(env.data.error_count, Some(445));
}

#[test]
fn errors_response_without_errors_round_trips() {
    let data: ErrorsResponse = round_trip(ERRORS_NONE);
    assert!(!data.has_errors);
    assert_eq!(data.error_file_url, None);
    assert_eq!(data.expires_at, None);
    assert_eq!(data.error_count, None);
}

#[test]
fn error_file_line_example_round_trips() {
    let row: ErrorRow = round_trip(ERROR_LINE);
    assert_eq!(row.row_number, 42);
    assert_eq!(row.source_row["email_address"], "not-an-email");
    assert_eq!(row.error, "invalid email format");
    assert_eq!((row.code, row.column), (None, None));
}

// ---- Related pages ---------------------------------------------------------

#[test]
fn error_envelope_example_round_trips() {
    let env: ErrorEnvelope = round_trip(ERROR_ENVELOPE);
    assert!(!env.success);
    assert_eq!(env.correlation_id.as_deref(), Some("<uuid>"));
    assert_eq!(env.error.code, "CDP_ETL.<DOMAIN>.<ISSUE>");
    assert_eq!(env.error.message, "records[2].email: invalid email format");
    assert_eq!(
        env.error.details,
        Some(json!({"path": "records[2].email", "value": "not-an-email"}))
    );
    assert_eq!(env.error.remediation.as_deref(), Some("..."));
}

#[test]
fn error_envelope_of_the_error_handling_guide_round_trips() {
    // The guide prints the same envelope without correlationId and remediation.
    let body = r#"{ "success": false,
    "error": { "code": "CDP_ETL.<DOMAIN>.<ISSUE>", "message": "records[2].email: invalid email format",
               "details": { "path": "records[2].email", "value": "not-an-email" } } }"#;
    let env: ErrorEnvelope = round_trip(body);
    assert_eq!(env.correlation_id, None);
    assert_eq!(env.error.remediation, None);
}

#[test]
fn rate_limited_body_round_trips() {
    let env: ErrorEnvelope = round_trip(RATE_LIMITED);
    assert!(!env.success);
    assert_eq!(env.error.code, import_core::codes::RATE_LIMITED);
    assert_eq!(env.error.message, "Rate limit exceeded. Retry after 2s.");
    assert_eq!(env.error.details, None);
    assert_eq!(env.correlation_id, None);
}

#[test]
fn metadata_object_examples_round_trip() {
    let profiles: ObjectSummary = round_trip(METADATA_PROFILES);
    assert_eq!(profiles.object_name, "profiles");
    assert_eq!(profiles.display_name, "Customer Profiles");
    assert_eq!(profiles.plural_display_name, "Customer Profiles");
    assert_eq!(profiles.object_type, ObjectType::Profile);
    assert_eq!(profiles.active_version, 3);
    assert!(profiles.primary_profile_root);
    assert!(profiles.ingestion.single && profiles.ingestion.json_batch);
    assert!(profiles.ingestion.file_import);
    assert_eq!(profiles.ingestion.default_write_mode, WriteMode::Upsert);

    let orders: ObjectSummary = round_trip(METADATA_ORDERS);
    assert_eq!(orders.object_type, ObjectType::Event);
    assert_eq!(orders.active_version, 1);
    assert!(!orders.primary_profile_root);
    assert_eq!(orders.ingestion.default_write_mode, WriteMode::Append);
}

#[test]
fn metadata_objects_list_round_trips() {
    let body = format!(
        r#"{{"success": true, "data": {{"items": [{METADATA_PROFILES}, {METADATA_ORDERS}]}}, "correlationId": "<uuid>"}}"#
    );
    let env: SuccessEnvelope<Page<ObjectSummary>> = round_trip(&body);
    let names: Vec<&str> = env
        .data
        .items
        .iter()
        .map(|o| o.object_name.as_str())
        .collect();
    assert_eq!(names, ["profiles", "orders"]);
    assert_eq!(env.data.page, None);
}

#[test]
fn metadata_object_schema_round_trips() {
    // The page: the summary keys plus description; identityKeys (read by the
    // identity guide); fields with the descriptor shape documented in wire.rs.
    let body = r#"{ "objectName": "profiles", "displayName": "Customer Profiles", "pluralDisplayName": "Customer Profiles",
    "objectType": "profile", "activeVersion": 3, "primaryProfileRoot": true,
    "ingestion": { "single": true, "jsonBatch": true, "fileImport": true, "defaultWriteMode": "upsert" },
    "description": "Unified customer profile records.",
    "identityKeys": ["email"],
    "fields": [
      {"name": "email", "type": "email", "nullable": false, "enumValues": null, "identityKey": true},
      {"name": "loyalty_points", "type": "integer", "nullable": true,
       "enumValues": null, "identityKey": false, "description": "Points balance."},
      {"name": "tier", "type": "string", "nullable": true, "enumValues": ["gold", "silver"], "identityKey": false}
    ] }"#;
    let schema: ObjectSchema = round_trip(body);
    assert_eq!(schema.summary.object_name, "profiles");
    assert_eq!(schema.description, "Unified customer profile records.");
    assert_eq!(schema.identity_keys, ["email"]);
    assert_eq!(schema.fields.len(), 3);
    assert!(schema.fields[0].identity_key);
    assert_eq!(schema.fields[1].data_type, "integer");
    assert_eq!(
        schema.fields[2].enum_values.as_deref(),
        Some(&["gold".to_string(), "silver".to_string()][..])
    );
    for f in &schema.fields {
        assert!(
            import_core::rules::DataType::parse(&f.data_type).is_some(),
            "{} has a documented data type",
            f.name
        );
    }
}

#[test]
fn list_of_the_lists_api_round_trips() {
    let body = r#"{"id":"lst_01HXYZ","name":"Spring 2026 Backfill","description":null,"type":"static","containerType":"list","membershipBehavior":"snapshot","populationSource":"manual","status":"active","memberCount":0,"createdAt":"2026-04-21T15:30:00Z"}"#;
    let list: List = round_trip(body);
    assert_eq!(list.list_type, "static");
    assert_eq!(list.member_count, 0);
    let req: CreateListRequest =
        round_trip(r#"{"name":"Spring 2026 Backfill","description":"From the spring import"}"#);
    assert_eq!(req.name.as_deref(), Some("Spring 2026 Backfill"));
}

#[test]
fn oauth_bodies_of_rfc_6749_parse() {
    // RFC 6749 §4.4.3 (client credentials): the extension parameter is ignored.
    let body = r#"{
       "access_token":"2YotnFZFEjr1zCsicMWpAA",
       "token_type":"example",
       "expires_in":3600,
       "example_parameter":"example_value"
     }"#;
    let token: TokenResponse = serde_json::from_str(body).unwrap();
    assert_eq!(token.access_token, "2YotnFZFEjr1zCsicMWpAA");
    assert_eq!(token.expires_in, 3600);
    assert_eq!(token.scope, None);
    let token: TokenResponse = round_trip(
        r#"{"access_token":"x.y.z","token_type":"Bearer","expires_in":3600,"scope":"cdp:imports:read cdp:metadata:read"}"#,
    );
    assert_eq!(token.token_type, "Bearer");
    // RFC 6749 §5.2.
    let err: OAuthError = round_trip(r#"{"error":"invalid_request"}"#);
    assert_eq!(err.error, "invalid_request");
}

// ---- Unknown fields and wrong types ----------------------------------------

fn refused<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
    serde_json::from_str::<T>(body)
        .expect_err("the body must be refused")
        .to_string()
}

#[test]
fn requests_refuse_unknown_fields() {
    // A typo of listName must not silently drop the list.
    let err = refused::<CreateJobRequest>(
        r#"{"objectName":"profiles","fileName":"a.csv","fileSize":1,"createList":true,"listname":"x"}"#,
    );
    assert!(err.contains("unknown field `listname`"), "{err}");
    assert!(
        err.contains("listName"),
        "the message lists the known fields: {err}"
    );

    let err = refused::<MappingRequest>(r#"{"sourceFields":{"a":"string"},"fieldmap":{"a":"b"}}"#);
    assert!(err.contains("unknown field `fieldmap`"), "{err}");

    let err = refused::<MappingRequest>(
        r#"{"templateId":"tpl_1","saveAsTemplate":{"name":"T","shared":true}}"#,
    );
    assert!(err.contains("unknown field `shared`"), "{err}");

    let err = refused::<CreateListRequest>(r#"{"name":"x","kind":"static"}"#);
    assert!(err.contains("unknown field `kind`"), "{err}");
}

#[test]
fn responses_ignore_unknown_fields() {
    let body = CREATE_RESPONSE.replace(
        r#""requestedBy": "usr_01HXYZ""#,
        r#""requestedBy": "usr_01HXYZ", "region": "eu-west", "quota": {"left": 3}"#,
    );
    let env: SuccessEnvelope<CreateJobResponse> = serde_json::from_str(&body).unwrap();
    assert_eq!(env.data.requested_by, "usr_01HXYZ");
    let back = serde_json::to_value(&env).unwrap();
    assert!(back["data"].get("region").is_none());
    assert_eq!(
        back,
        serde_json::from_str::<Value>(CREATE_RESPONSE).unwrap()
    );

    let body = STATUS_RESPONSE.replace(
        r#""stage": "merge","#,
        r#""stage": "merge", "etaSeconds": 12,"#,
    );
    let env: SuccessEnvelope<JobStatus> = serde_json::from_str(&body).unwrap();
    assert_eq!(env.data.read_rows, 124_532);

    let body = ERROR_ENVELOPE.replace(
        r#""success": false,"#,
        r#""success": false, "traceId": "t1","#,
    );
    let env: ErrorEnvelope = serde_json::from_str(&body).unwrap();
    assert_eq!(env.error.code, "CDP_ETL.<DOMAIN>.<ISSUE>");

    let body = METADATA_PROFILES.replace(
        r#""activeVersion": 3,"#,
        r#""activeVersion": 3, "icon": "user","#,
    );
    let obj: ObjectSummary = serde_json::from_str(&body).unwrap();
    assert_eq!(obj.active_version, 3);

    let line = ERROR_LINE.replace(r#""error":"#, r#""severity": "error", "error":"#);
    let row: ErrorRow = serde_json::from_str(&line).unwrap();
    assert_eq!(row.row_number, 42);
}

#[test]
fn requests_refuse_wrong_json_types() {
    for (body, expect) in [
        (
            r#"{"objectName":"profiles","fileName":"a.csv","fileSize":"1048576"}"#,
            "invalid type: string",
        ),
        (
            r#"{"objectName":"profiles","fileName":"a.csv","fileSize":-1}"#,
            "invalid value: integer `-1`",
        ),
        (
            r#"{"objectName":"profiles","fileName":"a.csv","fileSize":1.5}"#,
            "invalid type: floating point",
        ),
        (
            r#"{"objectName":"profiles","fileName":"a.csv","fileSize":1,"createList":"yes"}"#,
            "invalid type: string",
        ),
        (
            r#"{"objectName":["profiles"],"fileName":"a.csv","fileSize":1}"#,
            "invalid type: sequence",
        ),
    ] {
        let err = refused::<CreateJobRequest>(body);
        assert!(err.contains(expect), "{body}: {err}");
    }
    let err = refused::<MappingRequest>(r#"{"sourceFields":{"a":1},"fieldMap":{"a":"b"}}"#);
    assert!(err.contains("invalid type: integer"), "{err}");
    let err = refused::<MappingRequest>(r#"{"templateId":"t","saveAsTemplate":"My Template"}"#);
    assert!(err.contains("invalid type: string"), "{err}");
}

#[test]
fn malformed_json_is_refused_with_its_position() {
    let err =
        serde_json::from_str::<CreateJobRequest>("{\"objectName\": \"profiles\",\n\"fileSize\": }")
            .unwrap_err();
    assert!(err.is_syntax());
    assert_eq!(err.line(), 2);
    assert!(err.column() > 0);
    let err = serde_json::from_str::<CreateJobRequest>(r#"{"objectName": "profiles""#).unwrap_err();
    assert!(err.is_eof());
}

#[test]
fn null_counts_as_absent_in_requests() {
    let req: CreateJobRequest = serde_json::from_str(
        r#"{"objectName":"profiles","fileName":"a.csv","fileSize":1,"listName":null,"targetListId":null}"#,
    )
    .unwrap();
    assert_eq!(req.list_name, None);
    assert_eq!(req.target_list_id, None);
    assert!(check_create(&req).is_ok());
}

#[test]
fn success_envelope_new_sets_success_and_correlation_id() {
    let env = SuccessEnvelope::new(
        MappingResponse {
            ok: true,
            template_id: None,
        },
        "c-1",
    );
    assert_eq!(
        serde_json::to_value(&env).unwrap(),
        json!({"success": true, "data": {"ok": true}, "correlationId": "c-1"})
    );
}

#[test]
fn a_key_given_twice_is_refused_in_request_fields_and_in_the_mapping_maps() {
    let body = r#"{"objectName":"profiles","objectName":"orders","fileName":"a.csv","fileSize":1}"#;
    let e = serde_json::from_str::<CreateJobRequest>(body).unwrap_err();
    assert!(e.to_string().contains("duplicate"), "{e}");
    for body in [
        r#"{"sourceFields":{"email":"string","email":"integer"},"fieldMap":{"email":"email"}}"#,
        r#"{"sourceFields":{"email":"string"},"fieldMap":{"email":"email","email":"first_name"}}"#,
    ] {
        let e = serde_json::from_str::<MappingRequest>(body).unwrap_err();
        assert!(e.to_string().contains("duplicate key `email`"), "{e}");
    }
    // Distinct keys, and no maps at all, still read.
    let m: MappingRequest = serde_json::from_str(
        r#"{"sourceFields":{"email":"string","name":"string"},"fieldMap":{"email":"email"}}"#,
    )
    .unwrap();
    assert_eq!(m.source_fields.unwrap().len(), 2);
    let m: MappingRequest = serde_json::from_str(r#"{"templateId":"tpl_1"}"#).unwrap();
    assert!(m.source_fields.is_none() && m.field_map.is_none());
    assert!(
        serde_json::from_str::<MappingRequest>(r#"{"sourceFields":null}"#)
            .unwrap()
            .source_fields
            .is_none()
    );
}
