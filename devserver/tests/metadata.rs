//! The Metadata API over real HTTP: the object list, object schemas and
//! their field descriptors, 404 for unknown objects, and `--schema` files
//! (added and replaced objects, clear start-up errors for invalid ones).

mod common;

use common::{start, start_with, test_config};
use import_core::rules::DataType;
use serde_json::{json, Value};

#[tokio::test]
async fn list_objects_returns_the_default_objects() {
    let emu = start().await;
    let (status, body) = emu.get("/metadata/objects", "dev-read").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    let items = body["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    // The documentation's example item, exactly.
    assert_eq!(
        items[0],
        json!({
            "objectName": "profiles", "displayName": "Customer Profiles",
            "pluralDisplayName": "Customer Profiles", "objectType": "profile",
            "activeVersion": 3, "primaryProfileRoot": true,
            "ingestion": {"single": true, "jsonBatch": true, "fileImport": true,
                          "defaultWriteMode": "upsert"}
        })
    );
    assert_eq!(items[1]["objectName"], "orders");
    assert_eq!(items[1]["objectType"], "event");
    assert_eq!(items[1]["activeVersion"], 1);
    assert_eq!(items[1]["primaryProfileRoot"], false);
    assert_eq!(items[1]["ingestion"]["defaultWriteMode"], "append");
    // Summaries only: no fields in the list.
    assert!(items.iter().all(|i| i.get("fields").is_none()));
}

/// Checks the descriptor shape of every field; returns the fields by name.
fn fields_by_name(schema: &Value) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for f in schema["fields"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let ty = f["type"].as_str().unwrap();
        assert!(DataType::parse(ty).is_some(), "{name}: unknown type {ty}");
        assert!(f["nullable"].is_boolean(), "{f}");
        assert!(f["identityKey"].is_boolean(), "{f}");
        assert!(
            f["enumValues"].is_null() || f["enumValues"].is_array(),
            "{f}"
        );
        assert!(f["description"].is_string(), "{f}");
        assert!(
            out.insert(name.to_string(), f.clone()).is_none(),
            "{name} twice"
        );
    }
    out
}

#[tokio::test]
async fn profiles_schema_describes_every_field() {
    let emu = start().await;
    let (status, body) = emu.get("/metadata/objects/profiles", "dev-read").await;
    assert_eq!(status, 200, "{body}");
    let s = &body["data"];
    assert_eq!(s["objectName"], "profiles");
    assert_eq!(s["objectType"], "profile");
    assert_eq!(s["activeVersion"], 3);
    assert_eq!(s["ingestion"]["defaultWriteMode"], "upsert");
    assert_eq!(s["description"], "Unified customer profile records.");
    assert_eq!(s["identityKeys"], json!(["email"]));
    let f = fields_by_name(s);
    let expect = [
        ("email", "email"),
        ("customer_id", "string"),
        ("first_name", "string"),
        ("last_name", "string"),
        ("phone", "phone"),
        ("signed_up_at", "datetime"),
        ("birth_date", "date"),
        ("loyalty_points", "integer"),
        ("lifetime_value", "number"),
        ("opted_in", "boolean"),
        ("tier", "string"),
    ];
    for (name, ty) in expect {
        assert_eq!(f[name]["type"], ty, "{name}");
    }
    assert_eq!(f["email"]["nullable"], false);
    assert_eq!(f["email"]["identityKey"], true);
    assert_eq!(f["first_name"]["nullable"], true);
    assert_eq!(f["first_name"]["identityKey"], false);
    assert_eq!(f["first_name"]["enumValues"], Value::Null);
    assert_eq!(f["tier"]["enumValues"], json!(["bronze", "silver", "gold"]));
    // Only the identity keys are flagged.
    let flagged: Vec<&String> = f
        .iter()
        .filter(|(_, v)| v["identityKey"] == true)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(flagged, ["email"]);
}

#[tokio::test]
async fn orders_schema_describes_every_field() {
    let emu = start().await;
    let (status, body) = emu.get("/metadata/objects/orders", "dev-write").await;
    assert_eq!(status, 200, "{body}");
    let s = &body["data"];
    assert_eq!(s["objectType"], "event");
    assert_eq!(s["primaryProfileRoot"], false);
    assert_eq!(s["ingestion"]["defaultWriteMode"], "append");
    assert_eq!(s["identityKeys"], json!(["order_id"]));
    assert!(!s["description"].as_str().unwrap().is_empty());
    let f = fields_by_name(s);
    for (name, ty) in [
        ("order_id", "string"),
        ("email", "email"),
        ("amount", "number"),
        ("currency", "string"),
        ("ordered_at", "datetime"),
        ("quantity", "integer"),
        ("status", "string"),
    ] {
        assert_eq!(f[name]["type"], ty, "{name}");
    }
    assert_eq!(f["order_id"]["identityKey"], true);
    assert_eq!(f["order_id"]["nullable"], false);
    let currencies = f["currency"]["enumValues"].as_array().unwrap();
    assert!(currencies.contains(&json!("USD")) && currencies.contains(&json!("EUR")));
}

#[tokio::test]
async fn unknown_object_is_404_not_found() {
    let emu = start().await;
    for name in ["contacts", "Profiles", "..%2Fprofiles"] {
        let r = emu
            .http
            .get(emu.api(&format!("/metadata/objects/{name}")))
            .bearer_auth("dev-read")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{name}");
        let cid = r.headers()["x-correlation-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["correlationId"], cid.as_str());
        assert_eq!(body["error"]["code"], "CDP_ETL.NOT_FOUND");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("profiles, orders"), "{msg}");
        assert_eq!(
            body["error"]["details"]["knownObjects"],
            json!(["profiles", "orders"])
        );
    }
    // Authentication is checked before the lookup.
    let (status, body) = emu.get("/metadata/objects/contacts", "nope").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "CDP_ETL.AUTH.TOKEN_INVALID");
}

fn stores_object() -> Value {
    json!({
        "objectName": "stores", "displayName": "Store", "pluralDisplayName": "Stores",
        "objectType": "profile", "activeVersion": 1, "primaryProfileRoot": false,
        "ingestion": {"single": true, "jsonBatch": false, "fileImport": true,
                      "defaultWriteMode": "upsert"},
        "description": "Physical stores.",
        "identityKeys": ["store_id"],
        "fields": [
            {"name": "store_id", "type": "string", "nullable": false, "identityKey": true,
             "description": "Store code."},
            {"name": "opened_on", "type": "date", "nullable": true},
            {"name": "region", "type": "string", "nullable": true,
             "enumValues": ["north", "south"]}
        ]
    })
}

#[tokio::test]
async fn schema_file_adds_and_replaces_objects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.json");
    let mut orders_v2 = json!({
        "objectName": "orders", "displayName": "Order", "pluralDisplayName": "Orders",
        "objectType": "event", "activeVersion": 2, "primaryProfileRoot": false,
        "ingestion": {"single": false, "jsonBatch": true, "fileImport": true,
                      "defaultWriteMode": "append"},
        "description": "Orders, version 2.",
        "identityKeys": [],
        "fields": [{"name": "sku", "type": "string", "nullable": false}]
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json!({"objects": [stores_object(), orders_v2.clone()]}))
            .unwrap(),
    )
    .unwrap();
    let emu = start_with(|c| c.schema = Some(path.clone())).await;

    let (status, body) = emu.get("/metadata/objects", "dev-read").await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["objectName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["profiles", "orders", "stores"]);
    assert_eq!(body["data"]["items"][1]["activeVersion"], 2);

    let (status, body) = emu.get("/metadata/objects/stores", "dev-read").await;
    assert_eq!(status, 200, "{body}");
    let mut want = stores_object();
    // Omitted optional members come back with their defaults.
    want["fields"][0]["enumValues"] = Value::Null;
    want["fields"][1]["enumValues"] = Value::Null;
    want["fields"][1]["identityKey"] = json!(false);
    want["fields"][2]["identityKey"] = json!(false);
    assert_eq!(body["data"], want);

    let (status, body) = emu.get("/metadata/objects/orders", "dev-read").await;
    assert_eq!(status, 200);
    orders_v2["fields"][0]["enumValues"] = Value::Null;
    orders_v2["fields"][0]["identityKey"] = json!(false);
    assert_eq!(body["data"], orders_v2);
}

/// Starts an emulator with `schema` as the `--schema` file; returns the
/// start-up error.
async fn schema_error(schema: &str) -> String {
    let (mut config, _clock, dir) = test_config();
    let path = dir.path().join("bad-schema.json");
    std::fs::write(&path, schema).unwrap();
    config.schema = Some(path);
    match import_devserver::serve(config).await {
        Ok(server) => {
            server.stop().await;
            panic!("started with an invalid schema file: {schema}");
        }
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn invalid_schema_files_stop_startup_with_a_clear_error() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut o = stores_object();
        f(&mut o);
        json!({"objects": [o]}).to_string()
    };
    let cases: Vec<(String, &[&str])> = vec![
        (
            "{\"objects\": [".into(),
            &["bad-schema.json", "not valid JSON", "EOF", "line 1"],
        ),
        ("[]".into(), &["bad-schema.json", "must hold a JSON object"]),
        (
            r#"{"objects": [], "extra": 1}"#.into(),
            &["unknown field `extra`"],
        ),
        (
            with(&|o| {
                o.as_object_mut().unwrap().remove("ingestion");
            }),
            &["objects[0]", "missing field `ingestion`"],
        ),
        (
            with(&|o| o["fields"][1]["type"] = json!("text")),
            &["`stores`", "opened_on", "unknown type `text`", "datetime"],
        ),
        (
            with(&|o| o["objectType"] = json!("table")),
            &["objects[0].objectType", "unknown variant `table`"],
        ),
        (
            with(&|o| o["fields"][1]["nullable"] = json!("yes")),
            &["objects[0].fields[1].nullable", "invalid type"],
        ),
        (
            with(&|o| o["identityKeys"] = json!(["store_code"])),
            &["identity key `store_code` is not one of the object's fields"],
        ),
        (
            with(&|o| o["fields"][0]["nullable"] = json!(true)),
            &["identity key `store_id` must not be nullable"],
        ),
        (
            with(&|o| o["fields"][1]["identityKey"] = json!(true)),
            &["`opened_on`", "missing from identityKeys"],
        ),
        (
            with(&|o| o["fields"][2]["name"] = json!("store_id")),
            &["field `store_id` appears twice"],
        ),
        (
            with(&|o| o["fields"][2]["enumValues"] = json!([])),
            &["`region`", "enumValues is empty"],
        ),
        (
            with(&|o| o["objectName"] = json!("../stores")),
            &["objectName must be"],
        ),
        (
            with(&|o| {
                o["identityKeys"] = json!([]);
                o["fields"][0]["identityKey"] = json!(false);
            }),
            &["upsert object needs at least one identity key"],
        ),
        (
            with(&|o| o["primaryProfileRoot"] = json!(true)),
            &[
                "more than one object has primaryProfileRoot",
                "profiles",
                "stores",
            ],
        ),
        (
            json!({"objects": [stores_object(), stores_object()]}).to_string(),
            &["objects[1]", "`stores` appears twice"],
        ),
    ];
    for (schema, expected) in cases {
        let err = schema_error(&schema).await;
        assert!(err.contains("schema file"), "{err}");
        for e in expected {
            assert!(err.contains(e), "expected `{e}` in: {err}");
        }
    }
    // A missing file is named too.
    let (mut config, _clock, dir) = test_config();
    config.schema = Some(dir.path().join("missing.json"));
    let err = format!("{:#}", import_devserver::serve(config).await.unwrap_err());
    assert!(err.contains("missing.json"), "{err}");
}
