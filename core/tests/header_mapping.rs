//! Mapping suggestions against real-world export headers: the labelled set
//! in `fixtures/header_mapping.json` (CRM, e-commerce and marketing tools:
//! HubSpot, Salesforce, Mailchimp, Shopify, Klaviyo, Stripe, Marketo,
//! WooCommerce, Magento, …), each export run through the whole preflight as
//! a small CSV file of its header and typical values. Reports top-1
//! accuracy (a column left unmapped counts as right when its label is
//! null) and requires at least 95 %.

use import_core::preflight::{PreflightOptions, Preflighter};
use import_core::rules::ImportMode;
use import_core::wire::ObjectSchema;
use serde_json::{json, Value};

fn fixture() -> Value {
    let text = include_str!("fixtures/header_mapping.json");
    serde_json::from_str(text).unwrap()
}

fn schema(name: &str, spec: &Value) -> ObjectSchema {
    let fields: Vec<Value> = spec["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let key = spec["identityKeys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k == &f["name"]);
            json!({"name": f["name"], "type": f["type"], "nullable": !key, "identityKey": key})
        })
        .collect();
    serde_json::from_value(json!({
        "objectName": name, "displayName": name, "pluralDisplayName": name,
        "objectType": "profile", "activeVersion": 1, "primaryProfileRoot": false,
        "ingestion": {"single": true, "jsonBatch": true, "fileImport": true,
                      "defaultWriteMode": "upsert"},
        "description": "", "identityKeys": spec["identityKeys"], "fields": fields,
    }))
    .unwrap()
}

fn csv_cell(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

#[test]
fn suggestions_match_at_least_95_percent_of_real_export_headers() {
    let f = fixture();
    let (mut right, mut total) = (0usize, 0usize);
    let mut misses = Vec::new();
    for export in f["exports"].as_array().unwrap() {
        let object = export["object"].as_str().unwrap();
        let schema = schema(object, &f["schemas"][object]);
        let columns = export["columns"].as_array().unwrap();
        let mut text = columns
            .iter()
            .map(|c| csv_cell(c["header"].as_str().unwrap()))
            .collect::<Vec<_>>()
            .join(",");
        text.push_str("\r\n");
        for row in 0..3 {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| csv_cell(c["values"][row].as_str().unwrap()))
                .collect();
            text.push_str(&cells.join(","));
            text.push_str("\r\n");
        }
        let mut p = Preflighter::new(PreflightOptions::for_schema(schema, ImportMode::Balanced));
        p.feed(text.as_bytes());
        let answer = p.finish();
        for c in columns {
            let header = c["header"].as_str().unwrap();
            let expected = c["field"].as_str();
            let got = answer.mapping.field_map.get(header).map(String::as_str);
            total += 1;
            if got == expected {
                right += 1;
            } else {
                misses.push(format!(
                    "{}: {header:?} → {got:?}, labelled {expected:?}",
                    export["source"].as_str().unwrap()
                ));
            }
        }
    }
    let accuracy = right as f64 / total as f64;
    println!(
        "header mapping: {right} of {total} right, top-1 accuracy {:.1} %",
        accuracy * 100.0
    );
    for m in &misses {
        println!("  miss: {m}");
    }
    assert!(total >= 200, "the labelled set has {total} pairs");
    assert!(
        accuracy >= 0.95,
        "top-1 accuracy {:.1} % is under 95 %:\n{}",
        accuracy * 100.0,
        misses.join("\n")
    );
}
