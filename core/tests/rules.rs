//! The request rules of `import_core::rules`: one test per rule (its code,
//! the field at fault, a message naming that field), the boundaries of every
//! limit, the order in which violations are reported, and the documentation
//! table staying in step with the code.

use import_core::rules::{self, *};
use import_core::wire::{CreateJobRequest, MappingRequest};
use import_core::MAX_FILE_SIZE;
use serde_json::{json, Value};

// ---- Helpers ----------------------------------------------------------------

/// A create body that passes every rule.
fn good_create() -> Value {
    json!({"objectName": "profiles", "fileName": "spring-2026.csv", "fileSize": 1_048_576})
}

/// The mapping example of the spec, verbatim.
const SPEC_MAPPING: &str = include_str!("../../tests/fixtures/spec-mapping.json");

/// A mapping body that passes every rule (the spec's example).
fn good_mapping() -> Value {
    serde_json::from_str(SPEC_MAPPING).unwrap()
}

/// `base` with the members of `patch` set (a `null` member is removed).
fn with(mut base: Value, patch: Value) -> Value {
    let obj = base.as_object_mut().unwrap();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
    base
}

fn create_req(body: Value) -> CreateJobRequest {
    serde_json::from_value(body).expect("a well-formed create body")
}

fn mapping_req(body: Value) -> MappingRequest {
    serde_json::from_value(body).expect("a well-formed mapping body")
}

/// Asserts `v` is `rule` on `field` and that its message names the field.
fn assert_violation(v: &RuleViolation, rule: &str, field: &str) {
    assert_eq!(v.rule, rule, "rule of {v:?}");
    assert_eq!(v.field, field, "field of {v:?}");
    assert!(
        v.message.contains(field),
        "the message must name the field {field}: {}",
        v.message
    );
    assert!(
        RULE_CODES.contains(&v.rule),
        "{} is listed in RULE_CODES",
        v.rule
    );
}

/// The only violation of a create body: checks both entry points agree.
fn create_violation(body: Value) -> RuleViolation {
    let req = create_req(body);
    let all = create_violations(&req);
    assert_eq!(all.len(), 1, "exactly one violation expected: {all:#?}");
    let first = check_create(&req).expect_err("the body breaks a rule");
    assert_eq!(first, all[0]);
    first
}

/// The only violation of a mapping body: checks both entry points agree.
fn mapping_violation(body: Value) -> RuleViolation {
    let req = mapping_req(body);
    let all = mapping_violations(&req);
    assert_eq!(all.len(), 1, "exactly one violation expected: {all:#?}");
    let first = check_mapping(&req).expect_err("the body breaks a rule");
    assert_eq!(first, all[0]);
    first
}

fn create_ok(body: Value) -> ValidCreate {
    let req = create_req(body);
    check_create(&req).unwrap_or_else(|v| panic!("expected to pass, got {v:?}"))
}

fn mapping_ok(body: Value) -> ValidMapping {
    let req = mapping_req(body);
    check_mapping(&req).unwrap_or_else(|v| panic!("expected to pass, got {v:?}"))
}

// ---- Create: objectName -------------------------------------------------------

#[test]
fn object_name_is_required() {
    let v = create_violation(with(good_create(), json!({"objectName": null})));
    assert_violation(&v, FIELD_REQUIRED, "objectName");
    for blank in ["", "   ", "\t"] {
        let v = create_violation(with(good_create(), json!({ "objectName": blank })));
        assert_violation(&v, FIELD_REQUIRED, "objectName");
        assert!(v.message.contains("blank"), "{}", v.message);
    }
}

#[test]
fn object_name_must_have_sane_characters() {
    for bad in [
        "pro files",
        "1profiles",
        "_profiles",
        "profiles/../x",
        "prófiles",
        " profiles",
        "a.b",
    ] {
        let v = create_violation(with(good_create(), json!({ "objectName": bad })));
        assert_violation(&v, OBJECT_NAME_INVALID, "objectName");
        assert!(
            v.message.contains(&serde_json::to_string(bad).unwrap()),
            "the message quotes the value: {}",
            v.message
        );
    }
    for good in ["profiles", "orders", "web_events", "Orders-2026", "x"] {
        assert_eq!(
            create_ok(with(good_create(), json!({ "objectName": good }))).object_name,
            good
        );
    }
}

#[test]
fn object_name_length_limit() {
    let at_limit = "p".repeat(MAX_OBJECT_NAME_CHARS);
    create_ok(with(good_create(), json!({ "objectName": at_limit })));
    let over = "p".repeat(MAX_OBJECT_NAME_CHARS + 1);
    let v = create_violation(with(good_create(), json!({ "objectName": over })));
    assert_violation(&v, OBJECT_NAME_TOO_LONG, "objectName");
    assert!(
        v.message.contains("129") && v.message.contains("128"),
        "{}",
        v.message
    );
}

// ---- Create: fileName -----------------------------------------------------------

#[test]
fn file_name_is_required() {
    let v = create_violation(with(good_create(), json!({"fileName": null})));
    assert_violation(&v, FIELD_REQUIRED, "fileName");
    let v = create_violation(with(good_create(), json!({"fileName": "  "})));
    assert_violation(&v, FIELD_REQUIRED, "fileName");
}

#[test]
fn file_name_must_be_a_plain_file_name() {
    for bad in [
        "../../x.csv",
        "dir/x.csv",
        "/etc/passwd",
        "C:\\data\\x.csv",
        "..\\x.csv",
        "x.csv/",
        "/",
        ".",
        "..",
        "a\u{0}b.csv",
        "a\nb.csv",
        "a\u{7f}.csv",
        "a\u{85}.csv",
    ] {
        let v = create_violation(with(good_create(), json!({ "fileName": bad })));
        assert_violation(&v, FILE_NAME_INVALID, "fileName");
    }
    // The message suggests the last part of a path.
    let v = create_violation(with(good_create(), json!({"fileName": "../../x.csv"})));
    assert!(v.message.contains("\"x.csv\""), "{}", v.message);
    // Control characters are escaped in the message, never echoed raw.
    let v = create_violation(with(good_create(), json!({"fileName": "a\nb.csv"})));
    assert!(
        !v.message.contains('\n') && v.message.contains("U+000A"),
        "{}",
        v.message
    );

    for good in [
        "spring-2026.csv",
        "Spring 2026 (final).csv",
        "données.csv",
        "...csv",
        ".hidden.csv",
        "no-extension",
    ] {
        assert_eq!(
            create_ok(with(good_create(), json!({ "fileName": good }))).file_name,
            good
        );
    }
}

#[test]
fn file_name_length_limit_is_255_bytes() {
    let at_limit = format!("{}.csv", "a".repeat(MAX_FILE_NAME_BYTES - 4));
    assert_eq!(at_limit.len(), 255);
    create_ok(with(good_create(), json!({ "fileName": at_limit })));

    let over = format!("{}.csv", "a".repeat(MAX_FILE_NAME_BYTES - 3));
    let v = create_violation(with(good_create(), json!({ "fileName": over })));
    assert_violation(&v, FILE_NAME_TOO_LONG, "fileName");
    assert!(
        v.message.contains("256") && v.message.contains("255"),
        "{}",
        v.message
    );

    // Bytes, not characters: 126 two-byte letters + ".csv" = 256 bytes.
    let multibyte = format!("{}.csv", "é".repeat(126));
    assert_eq!(multibyte.chars().count(), 130);
    let v = create_violation(with(good_create(), json!({ "fileName": multibyte })));
    assert_violation(&v, FILE_NAME_TOO_LONG, "fileName");
}

// ---- Create: fileSize -------------------------------------------------------------

#[test]
fn file_size_is_required() {
    let v = create_violation(with(good_create(), json!({"fileSize": null})));
    assert_violation(&v, FIELD_REQUIRED, "fileSize");
}

#[test]
fn file_size_boundaries() {
    assert_eq!(MAX_FILE_SIZE, 53_687_091_200);

    let v = create_violation(with(good_create(), json!({"fileSize": 0})));
    assert_violation(&v, FILE_SIZE_OUT_OF_RANGE, "fileSize");
    assert!(v.message.contains("empty file"), "{}", v.message);

    assert_eq!(
        create_ok(with(good_create(), json!({"fileSize": 1}))).file_size,
        1
    );
    assert_eq!(
        create_ok(with(good_create(), json!({ "fileSize": MAX_FILE_SIZE }))).file_size,
        MAX_FILE_SIZE
    );

    let v = create_violation(with(
        good_create(),
        json!({ "fileSize": MAX_FILE_SIZE + 1 }),
    ));
    assert_violation(&v, FILE_SIZE_OUT_OF_RANGE, "fileSize");
    assert!(v.message.contains("53687091201"), "{}", v.message);
    assert!(v.message.contains("50 GB"), "{}", v.message);

    let v = create_violation(with(good_create(), json!({ "fileSize": u64::MAX })));
    assert_violation(&v, FILE_SIZE_OUT_OF_RANGE, "fileSize");
}

// ---- Create: lists ---------------------------------------------------------------------

#[test]
fn list_name_is_required_with_create_list() {
    let v = create_violation(with(good_create(), json!({"createList": true})));
    assert_violation(&v, LIST_NAME_REQUIRED, "listName");
    assert!(v.message.contains("createList"), "{}", v.message);
    let v = create_violation(with(
        good_create(),
        json!({"createList": true, "listName": " "}),
    ));
    assert_violation(&v, LIST_NAME_REQUIRED, "listName");

    let valid = create_ok(with(
        good_create(),
        json!({"createList": true, "listName": "Spring"}),
    ));
    assert_eq!(valid.list_name.as_deref(), Some("Spring"));
}

#[test]
fn list_name_length_limit_is_200_characters() {
    let at_limit = "é".repeat(MAX_NAME_CHARS);
    create_ok(with(
        good_create(),
        json!({"createList": true, "listName": at_limit}),
    ));
    let over = "l".repeat(MAX_NAME_CHARS + 1);
    let v = create_violation(with(
        good_create(),
        json!({"createList": true, "listName": over}),
    ));
    assert_violation(&v, LIST_NAME_TOO_LONG, "listName");
    assert!(
        v.message.contains("201") && v.message.contains("200"),
        "{}",
        v.message
    );
}

#[test]
fn list_name_without_create_list_is_refused() {
    let v = create_violation(with(good_create(), json!({"listName": "Spring"})));
    assert_violation(&v, LIST_NAME_WITHOUT_CREATE_LIST, "listName");
    assert!(v.message.contains("createList"), "{}", v.message);
    let v = create_violation(with(
        good_create(),
        json!({"createList": false, "listName": "Spring"}),
    ));
    assert_violation(&v, LIST_NAME_WITHOUT_CREATE_LIST, "listName");
    // createList false on its own is fine.
    assert_eq!(
        create_ok(with(good_create(), json!({"createList": false}))).list_name,
        None
    );
}

#[test]
fn target_list_id_must_be_an_id() {
    for bad in ["", "  ", "lst 01", "lst_01\n"] {
        let v = create_violation(with(good_create(), json!({ "targetListId": bad })));
        assert_violation(&v, TARGET_LIST_ID_INVALID, "targetListId");
    }
    let valid = create_ok(with(good_create(), json!({"targetListId": "lst_01HXYZ"})));
    assert_eq!(valid.target_list_id.as_deref(), Some("lst_01HXYZ"));
}

#[test]
fn target_list_id_conflicts_with_create_list() {
    let v = create_violation(with(
        good_create(),
        json!({"createList": true, "listName": "Spring", "targetListId": "lst_01HXYZ"}),
    ));
    assert_violation(&v, LIST_TARGET_CONFLICT, "targetListId");
    assert!(v.message.contains("createList"), "{}", v.message);
    // With createList false, or with an audience, targetListId is fine.
    create_ok(with(
        good_create(),
        json!({"createList": false, "targetListId": "lst_01HXYZ"}),
    ));
    create_ok(with(
        good_create(),
        json!({"createAudience": true, "audienceName": "A", "targetListId": "lst_01HXYZ"}),
    ));
}

// ---- Create: audiences ---------------------------------------------------------------------

#[test]
fn audience_name_is_required_with_create_audience() {
    let v = create_violation(with(good_create(), json!({"createAudience": true})));
    assert_violation(&v, AUDIENCE_NAME_REQUIRED, "audienceName");
    assert!(v.message.contains("createAudience"), "{}", v.message);
    let v = create_violation(with(
        good_create(),
        json!({"createAudience": true, "audienceName": ""}),
    ));
    assert_violation(&v, AUDIENCE_NAME_REQUIRED, "audienceName");

    let valid = create_ok(with(
        good_create(),
        json!({"createAudience": true, "audienceName": "VIPs"}),
    ));
    assert_eq!(valid.audience_name.as_deref(), Some("VIPs"));
}

#[test]
fn audience_name_length_limit_is_200_characters() {
    create_ok(with(
        good_create(),
        json!({"createAudience": true, "audienceName": "a".repeat(MAX_NAME_CHARS)}),
    ));
    let v = create_violation(with(
        good_create(),
        json!({"createAudience": true, "audienceName": "a".repeat(MAX_NAME_CHARS + 1)}),
    ));
    assert_violation(&v, AUDIENCE_NAME_TOO_LONG, "audienceName");
}

#[test]
fn audience_name_without_create_audience_is_refused() {
    let v = create_violation(with(good_create(), json!({"audienceName": "VIPs"})));
    assert_violation(&v, AUDIENCE_NAME_WITHOUT_CREATE_AUDIENCE, "audienceName");
    assert!(v.message.contains("createAudience"), "{}", v.message);
}

// ---- Create: the whole request ------------------------------------------------------------

#[test]
fn a_full_create_request_passes_and_is_returned_in_checked_form() {
    let valid = create_ok(json!({
        "objectName": "profiles", "fileName": "spring-2026.csv", "fileSize": 1_048_576,
        "createList": true, "listName": "Spring 2026 Backfill",
        "autoProfileAfterImport": true,
        "createAudience": true, "audienceName": "Spring buyers"
    }));
    assert_eq!(
        valid,
        ValidCreate {
            object_name: "profiles".into(),
            file_name: "spring-2026.csv".into(),
            file_size: 1_048_576,
            list_name: Some("Spring 2026 Backfill".into()),
            target_list_id: None,
            auto_profile_after_import: true,
            audience_name: Some("Spring buyers".into()),
        }
    );
}

#[test]
fn every_create_violation_is_reported_in_table_order() {
    let req = create_req(json!({
        "fileName": "../x.csv", "fileSize": 0, "listName": "L",
        "targetListId": "", "createAudience": true
    }));
    let all = create_violations(&req);
    let got: Vec<(&str, &str)> = all.iter().map(|v| (v.rule, v.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (FIELD_REQUIRED, "objectName"),
            (FILE_NAME_INVALID, "fileName"),
            (FILE_SIZE_OUT_OF_RANGE, "fileSize"),
            (LIST_NAME_WITHOUT_CREATE_LIST, "listName"),
            (TARGET_LIST_ID_INVALID, "targetListId"),
            (AUDIENCE_NAME_REQUIRED, "audienceName"),
        ]
    );
    assert_eq!(check_create(&req).unwrap_err(), all[0]);
    assert!(create_violations(&create_req(good_create())).is_empty());
}

// ---- Mapping: shape -----------------------------------------------------------------------

#[test]
fn mapping_conflict_template_with_explicit_mapping() {
    let v = mapping_violation(with(good_mapping(), json!({"templateId": "tpl_01HXYZ"})));
    assert_violation(&v, MAPPING_CONFLICT, "templateId");
    assert!(v.message.contains("sourceFields") && v.message.contains("fieldMap"));
    let v = mapping_violation(json!({"templateId": "tpl_01HXYZ", "fieldMap": {"a": "b"}}));
    assert_violation(&v, MAPPING_CONFLICT, "templateId");
}

#[test]
fn mapping_incomplete_without_template_or_both_maps() {
    let v = mapping_violation(json!({}));
    assert_violation(&v, MAPPING_INCOMPLETE, "sourceFields");
    assert!(v.message.contains("fieldMap") && v.message.contains("templateId"));

    let v = mapping_violation(with(good_mapping(), json!({"fieldMap": null})));
    assert_violation(&v, MAPPING_INCOMPLETE, "fieldMap");

    let v = mapping_violation(with(good_mapping(), json!({"sourceFields": null})));
    assert_violation(&v, MAPPING_INCOMPLETE, "sourceFields");

    let v = mapping_violation(json!({"importMode": "strict"}));
    assert_violation(&v, MAPPING_INCOMPLETE, "sourceFields");
}

#[test]
fn template_id_must_be_an_id() {
    for bad in ["", " ", "tpl 1"] {
        let v = mapping_violation(json!({ "templateId": bad }));
        assert_violation(&v, TEMPLATE_ID_INVALID, "templateId");
    }
}

#[test]
fn a_template_alone_is_a_complete_mapping() {
    let valid = mapping_ok(json!({"templateId": "tpl_01HXYZ", "importMode": "strict"}));
    assert_eq!(valid.template_id.as_deref(), Some("tpl_01HXYZ"));
    assert_eq!(valid.source_fields, None);
    assert_eq!(valid.field_map, None);
    assert_eq!(valid.import_mode, ImportMode::Strict);
    // Re-saving a reused template under a new name is allowed.
    let valid = mapping_ok(json!({"templateId": "tpl_01HXYZ", "saveAsTemplate": {"name": "Copy"}}));
    assert_eq!(valid.save_as_template.as_deref(), Some("Copy"));
}

// ---- Mapping: sourceFields --------------------------------------------------------------------

#[test]
fn source_fields_must_not_be_empty() {
    let req = mapping_req(json!({"sourceFields": {}, "fieldMap": {"a": "b"}}));
    let all = mapping_violations(&req);
    assert_violation(&all[0], SOURCE_FIELDS_EMPTY, "sourceFields");
    // The fieldMap key then is undeclared as well.
    assert_violation(&all[1], FIELD_MAP_UNDECLARED_SOURCE, "fieldMap.a");
    assert_eq!(all.len(), 2);
}

#[test]
fn source_field_names_must_not_be_blank() {
    let v = mapping_violation(json!({
        "sourceFields": {"email_address": "string", "": "string"},
        "fieldMap": {"email_address": "email"}
    }));
    assert_violation(&v, SOURCE_FIELD_NAME_EMPTY, r#"sourceFields[""]"#);
    let v = mapping_violation(json!({
        "sourceFields": {"email_address": "string", "  ": "string"},
        "fieldMap": {"email_address": "email"}
    }));
    assert_violation(&v, SOURCE_FIELD_NAME_EMPTY, r#"sourceFields["  "]"#);
}

#[test]
fn data_types_come_from_the_documented_set() {
    let v = mapping_violation(json!({
        "sourceFields": {"email_address": "string", "signup_ts": "timestamp"},
        "fieldMap": {"email_address": "email", "signup_ts": "signed_up_at"}
    }));
    assert_violation(&v, DATA_TYPE_UNKNOWN, "sourceFields.signup_ts");
    assert!(v.message.contains("\"timestamp\""), "{}", v.message);
    for t in DataType::ALL {
        assert!(
            v.message.contains(t.as_str()),
            "the message lists {t}: {}",
            v.message
        );
    }
    // Names are exact and lower case.
    let v = mapping_violation(json!({
        "sourceFields": {"First Name": "String"},
        "fieldMap": {"First Name": "first_name"}
    }));
    assert_violation(&v, DATA_TYPE_UNKNOWN, r#"sourceFields["First Name"]"#);

    // Every documented type is accepted.
    let mut sources = serde_json::Map::new();
    let mut map = serde_json::Map::new();
    for (i, t) in DataType::ALL.iter().enumerate() {
        sources.insert(format!("c{i}"), json!(t.as_str()));
        map.insert(format!("c{i}"), json!(format!("f{i}")));
    }
    let valid = mapping_ok(json!({"sourceFields": sources, "fieldMap": map}));
    let types: Vec<DataType> = valid.source_fields.unwrap().into_values().collect();
    assert_eq!(types, DataType::ALL);
}

#[test]
fn data_type_names_parse_and_print() {
    let required = [
        "string", "integer", "number", "boolean", "date", "datetime", "email",
    ];
    for name in required {
        let t = DataType::parse(name).unwrap_or_else(|| panic!("{name} is a data type"));
        assert_eq!(t.as_str(), name);
        assert_eq!(t.to_string(), name);
        assert_eq!(serde_json::to_value(t).unwrap(), json!(name));
        assert_eq!(serde_json::from_value::<DataType>(json!(name)).unwrap(), t);
    }
    // Two more, documented: phone (E.164) and url (http/https).
    assert_eq!(DataType::ALL.len(), required.len() + 2);
    assert_eq!(DataType::parse("phone"), Some(DataType::Phone));
    assert_eq!(DataType::parse("url"), Some(DataType::Url));
    assert_eq!(DataType::parse("Email"), None);
    assert_eq!(DataType::parse("float"), None);
    let err = serde_json::from_value::<DataType>(json!("float")).unwrap_err();
    assert!(err.to_string().contains("\"float\""), "{err}");
}

// ---- Mapping: fieldMap ------------------------------------------------------------------------

#[test]
fn field_map_must_not_be_empty() {
    let v = mapping_violation(json!({"sourceFields": {"a": "string"}, "fieldMap": {}}));
    assert_violation(&v, FIELD_MAP_EMPTY, "fieldMap");
}

#[test]
fn field_map_keys_must_be_declared_in_source_fields() {
    let v = mapping_violation(with(
        good_mapping(),
        json!({"fieldMap": {"email_address": "email", "firstname": "first_name"}}),
    ));
    assert_violation(&v, FIELD_MAP_UNDECLARED_SOURCE, "fieldMap.firstname");
    assert!(
        v.message.contains("did you mean \"FirstName\""),
        "{}",
        v.message
    );

    let v = mapping_violation(with(
        good_mapping(),
        json!({"fieldMap": {"email_address": "email", "Last Name": "last_name"}}),
    ));
    assert_violation(&v, FIELD_MAP_UNDECLARED_SOURCE, r#"fieldMap["Last Name"]"#);
    assert!(!v.message.contains("did you mean"), "{}", v.message);

    // Columns declared but not mapped are fine (they are ignored).
    let valid = mapping_ok(with(
        good_mapping(),
        json!({"fieldMap": {"email_address": "email"}}),
    ));
    assert_eq!(valid.field_map.unwrap().len(), 1);
    assert_eq!(valid.source_fields.unwrap().len(), 3);
}

#[test]
fn field_map_destinations_must_not_be_blank() {
    let v = mapping_violation(with(
        good_mapping(),
        json!({"fieldMap": {"email_address": "email", "FirstName": " "}}),
    ));
    assert_violation(&v, FIELD_MAP_DESTINATION_EMPTY, "fieldMap.FirstName");
}

#[test]
fn field_map_destinations_must_be_distinct() {
    // From text: the key order matters (the later column is reported).
    let req: MappingRequest = serde_json::from_str(
        r#"{"sourceFields": {"email_address": "string", "FirstName": "string"},
            "fieldMap": {"email_address": "email", "FirstName": "email"}}"#,
    )
    .unwrap();
    let all = mapping_violations(&req);
    assert_eq!(all.len(), 1, "{all:#?}");
    let v = &all[0];
    assert_violation(v, FIELD_MAP_DUPLICATE_DESTINATION, "fieldMap.FirstName");
    assert!(
        v.message.contains("fieldMap.email_address"),
        "{}",
        v.message
    );
    assert!(v.message.contains("\"email\""), "{}", v.message);
    assert_eq!(check_mapping(&req).unwrap_err(), *v);
}

// ---- Mapping: importMode ----------------------------------------------------------------------

#[test]
fn import_mode_defaults_to_balanced_and_accepts_the_documented_values() {
    assert_eq!(mapping_ok(good_mapping()).import_mode, ImportMode::Balanced);
    for (name, mode) in [
        ("balanced", ImportMode::Balanced),
        ("strict", ImportMode::Strict),
        ("landing_friendly", ImportMode::LandingFriendly),
    ] {
        assert_eq!(
            mapping_ok(with(good_mapping(), json!({ "importMode": name }))).import_mode,
            mode
        );
        assert_eq!(ImportMode::parse(name), Ok(mode));
        assert_eq!(mode.as_str(), name);
        assert_eq!(serde_json::to_value(mode).unwrap(), json!(name));
        assert_eq!(
            serde_json::from_value::<ImportMode>(json!(name)).unwrap(),
            mode
        );
    }
    assert_eq!(ImportMode::default(), ImportMode::Balanced);
    assert_eq!(ImportMode::ALL[0], ImportMode::Balanced);
}

#[test]
fn import_mode_custom_is_reserved() {
    let v = mapping_violation(with(good_mapping(), json!({"importMode": "custom"})));
    assert_violation(&v, IMPORT_MODE_RESERVED, "importMode");
    assert!(v.message.contains("reserved"), "{}", v.message);
    assert!(
        v.message.contains("workspace policy overrides"),
        "{}",
        v.message
    );
    assert!(v.message.contains("support"), "{}", v.message);
    assert_eq!(ImportMode::parse("custom").unwrap_err(), v);
    let err = serde_json::from_value::<ImportMode>(json!("custom")).unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
}

#[test]
fn import_mode_must_be_one_of_the_four_values() {
    for bad in ["fast", "Balanced", "STRICT", "landing-friendly", ""] {
        let v = mapping_violation(with(good_mapping(), json!({ "importMode": bad })));
        assert_violation(&v, IMPORT_MODE_INVALID, "importMode");
        for mode in ImportMode::ALL {
            assert!(
                v.message.contains(mode.as_str()),
                "lists {mode}: {}",
                v.message
            );
        }
    }
}

// ---- Mapping: saveAsTemplate ------------------------------------------------------------------

#[test]
fn template_name_is_required() {
    for tpl in [json!({}), json!({"name": ""}), json!({"name": "   "})] {
        let v = mapping_violation(with(good_mapping(), json!({ "saveAsTemplate": tpl })));
        assert_violation(&v, TEMPLATE_NAME_REQUIRED, "saveAsTemplate.name");
    }
    let valid = mapping_ok(with(
        good_mapping(),
        json!({"saveAsTemplate": {"name": "My Template"}}),
    ));
    assert_eq!(valid.save_as_template.as_deref(), Some("My Template"));
}

#[test]
fn template_name_length_limit_is_200_characters() {
    mapping_ok(with(
        good_mapping(),
        json!({"saveAsTemplate": {"name": "t".repeat(MAX_NAME_CHARS)}}),
    ));
    let v = mapping_violation(with(
        good_mapping(),
        json!({"saveAsTemplate": {"name": "t".repeat(MAX_NAME_CHARS + 1)}}),
    ));
    assert_violation(&v, TEMPLATE_NAME_TOO_LONG, "saveAsTemplate.name");
}

// ---- Mapping: the whole request ------------------------------------------------------------------

#[test]
fn the_spec_mapping_passes_and_keeps_file_order() {
    // From text, as printed in the spec: `json!` would sort the keys.
    let req: MappingRequest = serde_json::from_str(SPEC_MAPPING).unwrap();
    let valid = check_mapping(&req).unwrap();
    let sources: Vec<(String, DataType)> = valid.source_fields.unwrap().into_iter().collect();
    assert_eq!(
        sources,
        [
            ("email_address".to_string(), DataType::String),
            ("FirstName".to_string(), DataType::String),
            ("signup_ts".to_string(), DataType::Datetime),
        ]
    );
    assert_eq!(valid.field_map.unwrap()["signup_ts"], "signed_up_at");
    assert_eq!(valid.template_id, None);
    assert_eq!(valid.save_as_template, None);
}

#[test]
fn every_mapping_violation_is_reported_in_table_order() {
    let req = mapping_req(json!({
        "sourceFields": {"a": "text", "b": "string"},
        "fieldMap": {"a": "x", "b": "x", "c": ""},
        "importMode": "custom",
        "saveAsTemplate": {}
    }));
    let got: Vec<(&str, String)> = mapping_violations(&req)
        .into_iter()
        .map(|v| (v.rule, v.field))
        .collect();
    assert_eq!(
        got,
        [
            (DATA_TYPE_UNKNOWN, "sourceFields.a".to_string()),
            (FIELD_MAP_DUPLICATE_DESTINATION, "fieldMap.b".to_string()),
            (FIELD_MAP_UNDECLARED_SOURCE, "fieldMap.c".to_string()),
            (FIELD_MAP_DESTINATION_EMPTY, "fieldMap.c".to_string()),
            (IMPORT_MODE_RESERVED, "importMode".to_string()),
            (TEMPLATE_NAME_REQUIRED, "saveAsTemplate.name".to_string()),
        ]
    );
    assert_eq!(check_mapping(&req).unwrap_err().rule, DATA_TYPE_UNKNOWN);
}

// ---- Violations on the wire, and the documentation --------------------------------------------------

#[test]
fn a_violation_travels_as_a_400_request_invalid_with_rule_and_field() {
    let v = create_violation(with(good_create(), json!({"fileSize": 0})));
    assert_eq!(v.api_code(), import_core::codes::REQUEST_INVALID);
    assert_eq!(v.http_status(), 400);
    assert_eq!(
        v.details(),
        json!({"rule": "FILE_SIZE_OUT_OF_RANGE", "field": "fileSize"})
    );
    assert_eq!(v.to_string(), v.message);
}

#[test]
fn rule_codes_are_unique_screaming_snake_and_all_documented() {
    let mut seen = std::collections::HashSet::new();
    for code in RULE_CODES {
        assert!(seen.insert(code), "{code} listed twice");
        assert!(
            code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{code} is SCREAMING_SNAKE"
        );
    }
    // The module documentation's tables are the reference: every code has a row.
    let source = include_str!("../src/rules.rs");
    let doc: String = source
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    for code in RULE_CODES {
        assert!(
            doc.contains(&format!("| `{code}` |")),
            "{code} has a row in the rules table of the module documentation"
        );
    }
    // And every row of the tables is a known code.
    for line in doc.lines() {
        if let Some(rest) = line.trim().strip_prefix("| `") {
            let code = rest.split('`').next().unwrap();
            assert!(RULE_CODES.contains(&code), "documented code {code} exists");
        }
    }
    assert!(rules::RULE_CODES.len() >= 20);
}
