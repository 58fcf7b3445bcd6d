//! The emulator and the wire contract agree: `/openapi.json` is the
//! contract's document for this server, and the bodies the emulator really
//! answers pass the shapes the document names for them.

mod common;

use import_core::contract::{self, Operation, OPERATIONS};
use serde_json::{json, Value};

/// The operation `id` of the contract's table.
fn op(id: &str) -> &'static Operation {
    OPERATIONS
        .iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no operation {id}"))
}

/// Checks a live success body against the operation's documented status
/// and `data` shape.
fn conforms(id: &str, status: u16, body: &Value) {
    let op = op(id);
    assert_eq!(status, op.response.0, "{id}: {body}");
    assert_eq!(body["success"], true, "{id}: {body}");
    assert!(body["correlationId"].is_string(), "{id}: {body}");
    if let Some(shape) = op.response.1 {
        let checked = contract::check(&body["data"], shape)
            .unwrap_or_else(|e| panic!("{id}: the emulator's answer fails its shape: {e}\n{body}"));
        // Nothing the emulator writes is unknown to the contract.
        assert_eq!(checked, body["data"], "{id}: fields outside the contract");
    }
}

#[tokio::test]
async fn the_document_is_served_for_this_server() {
    let emu = common::start().await;
    let r = emu
        .http
        .get(format!("{}/openapi.json", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc, contract::openapi(&emu.api("")));
    assert_eq!(doc["servers"][0]["url"], emu.api(""));
}

#[tokio::test]
async fn every_documented_route_exists() {
    // Every path of the document is routed (an unrouted one answers the
    // emulator's route-not-found; a routed one 401 without a token).
    let emu = common::start().await;
    for op in OPERATIONS {
        let path = op
            .path
            .replace("{jobId}", "imp_01HXYZ")
            .replace("{objectName}", "profiles")
            .replace("{listId}", "lst_01HXYZ")
            .replace("{audienceId}", "aud_01HXYZ");
        let r = emu
            .http
            .request(op.method.parse().unwrap(), emu.api(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{} {}", op.method, op.path);
    }
}

#[tokio::test]
async fn the_emulators_answers_pass_the_contract() {
    let emu = common::start_processing_with(|_| {}).await;
    let t = "dev-write";
    let csv = b"email,first_name\na@example.com,Ann\nnot-an-email,Bob\n";
    let create = json!({"objectName": "profiles", "fileName": "a.csv", "fileSize": csv.len()});
    let (s, b) = emu.post("/import-jobs", t, &create).await;
    conforms("createJob", s, &b);
    let d = &b["data"];
    let id = d["jobId"].as_str().unwrap().to_string();
    let mut put = emu.http.put(d["uploadUrl"].as_str().unwrap());
    for (k, v) in d["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert_eq!(put.body(csv.to_vec()).send().await.unwrap().status(), 201);
    let (s, b) = emu.get(&format!("/import-jobs/{id}"), t).await;
    conforms("status", s, &b);
    let mapping = json!({
        "sourceFields": {"email": "email", "first_name": "string"},
        "fieldMap": {"email": "email", "first_name": "first_name"},
        "saveAsTemplate": {"name": "contract"}
    });
    let (s, b) = emu
        .post(&format!("/import-jobs/{id}/mapping"), t, &mapping)
        .await;
    conforms("setMapping", s, &b);
    let (s, b) = emu
        .post(&format!("/import-jobs/{id}/start"), t, &json!({}))
        .await;
    conforms("start", s, &b);
    let done = common::wait(&emu, t, &id).await;
    assert_eq!(done["invalidRows"], 1, "{done}");
    let (s, b) = emu.get(&format!("/import-jobs/{id}"), t).await;
    conforms("status", s, &b);
    let (s, b) = emu.get(&format!("/import-jobs/{id}/errors"), t).await;
    conforms("errors", s, &b);
    for line in common::error_lines(&emu, &id).await {
        let checked = contract::check(&line, &contract::ERROR_ROW).unwrap();
        assert_eq!(checked, line);
    }
    let (s, b) = emu.get("/metadata/objects", t).await;
    conforms("listObjects", s, &b);
    let (s, b) = emu.get("/metadata/objects/profiles", t).await;
    conforms("objectSchema", s, &b);
    // A refusal is the documented error envelope.
    let (s, b) = emu.get("/import-jobs/imp_01HXYZ", t).await;
    assert_eq!(s, 404);
    assert_eq!(contract::check(&b, &contract::ERROR_ENVELOPE).unwrap(), b);
}
