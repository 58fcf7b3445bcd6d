//! The import job lifecycle over real HTTP: create, mapping, start, status,
//! errors; every state transition and refusal, workspace isolation, scopes,
//! bad input, idempotent replays, templates, restart persistence, retention
//! and the 10-running-jobs limit.

mod common;

use common::{add_other_workspace, code, Emu, OTHER};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const W: &str = "dev-write";
const R: &str = "dev-read";

/// The create example of the spec, verbatim.
const SPEC_CREATE: &str = include_str!("../../tests/fixtures/spec-create.json");

/// The mapping example of the spec, verbatim.
const SPEC_MAPPING: &str = include_str!("../../tests/fixtures/spec-mapping.json");

const CSV: &[u8] = b"email_address,FirstName,signup_ts\na@example.com,Ann,2026-04-01T10:00:00Z\n";

async fn emu() -> Emu {
    common::start_with(|c| {
        // Processor off: these tests look at started jobs while queued.
        c.workers = 0;
        add_other_workspace(c);
    })
    .await
}

/// POST a raw body with an optional Idempotency-Key; (status, headers, JSON).
async fn post_raw(
    emu: &Emu,
    path: &str,
    token: &str,
    body: impl Into<reqwest::Body>,
    key: Option<&str>,
) -> (u16, HeaderMap, Value) {
    let mut req = emu
        .http
        .post(emu.api(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

fn create_body(size: usize) -> Value {
    json!({"objectName": "profiles", "fileName": "spring-2026.csv", "fileSize": size})
}

/// Creates a job for `size` bytes; returns the create response's `data`.
async fn create(emu: &Emu, token: &str, size: usize) -> Value {
    let (s, b) = emu.post("/import-jobs", token, &create_body(size)).await;
    assert_eq!(s, 201, "{b}");
    b["data"].clone()
}

async fn map(emu: &Emu, token: &str, id: &str) -> (u16, Value) {
    let (s, _, b) = post_raw(
        emu,
        &format!("/import-jobs/{id}/mapping"),
        token,
        SPEC_MAPPING,
        None,
    )
    .await;
    (s, b)
}

async fn start(emu: &Emu, token: &str, id: &str) -> (u16, Value) {
    emu.post(&format!("/import-jobs/{id}/start"), token, &json!({}))
        .await
}

async fn job_status(emu: &Emu, token: &str, id: &str) -> (u16, Value) {
    emu.get(&format!("/import-jobs/{id}"), token).await
}

/// Uploads `bytes` as the create response says: `method uploadUrl` with the
/// returned headers, in one request.
async fn upload(emu: &Emu, created: &Value, bytes: &[u8]) {
    let url = created["uploadUrl"].as_str().unwrap();
    let method =
        reqwest::Method::from_bytes(created["method"].as_str().unwrap().as_bytes()).unwrap();
    let mut req = emu
        .http
        .request(method, url)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec());
    for (k, v) in created["headers"].as_object().unwrap() {
        req = req.header(k.as_str(), v.as_str().unwrap());
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_success(), "upload failed: {}", r.status());
}

/// A job with its file uploaded and its mapping set (state `ready`).
async fn ready_job(emu: &Emu, token: &str) -> String {
    let created = create(emu, token, CSV.len()).await;
    upload(emu, &created, CSV).await;
    let id = created["jobId"].as_str().unwrap().to_string();
    let (s, b) = map(emu, token, &id).await;
    assert_eq!(s, 200, "{b}");
    id
}

fn is_ulid_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|u| u.len() == 26 && ulid::Ulid::from_string(u).is_ok())
}

#[tokio::test]
async fn spec_create_example_returns_every_field() {
    let emu = emu().await;
    let (s, headers, b) = post_raw(&emu, "/import-jobs", W, SPEC_CREATE, None).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["success"], true);
    assert_eq!(
        b["correlationId"].as_str(),
        headers
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok())
    );
    let d = &b["data"];
    let id = d["jobId"].as_str().unwrap();
    assert!(is_ulid_id(id, "imp_"), "{id}");
    assert!(!d["uploadUrl"].as_str().unwrap().is_empty());
    assert_eq!(d["landingPath"], format!("jobs/{id}/file"));
    assert_eq!(d["method"], "PUT");
    assert!(d["headers"].is_object());
    let requested_by = d["requestedBy"].as_str().unwrap();
    assert!(requested_by.starts_with("usr_"), "{requested_by}");
    let expires: chrono::DateTime<chrono::Utc> = d["expiresAt"].as_str().unwrap().parse().unwrap();
    let ttl = expires - chrono::Utc::now();
    assert!(
        ttl > chrono::Duration::hours(23) && ttl <= chrono::Duration::hours(24),
        "{ttl}"
    );
    assert_eq!(d.as_object().unwrap().len(), 7, "{d}");

    // A new job reports every status field.
    let (s, b) = job_status(&emu, R, id).await;
    assert_eq!(s, 200, "{b}");
    let st = &b["data"];
    assert_eq!(st["state"], "pending");
    assert_eq!(st["stage"], "upload");
    for f in [
        "readRows",
        "validRows",
        "invalidRows",
        "mergedInserts",
        "mergedUpdates",
        "rowsTotal",
        "rowsImported",
        "rowsRejected",
    ] {
        assert_eq!(st[f], 0, "{f}");
    }
    assert_eq!(st["successRate"], 0.0);
    assert!(st.get("startedAt").is_some_and(Value::is_null), "{st}");
    assert!(st.get("errorSummary").is_some_and(Value::is_null), "{st}");
    assert!(st["updatedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(st["jobId"], id);
    assert_eq!(st["objectName"], "profiles");
    assert!(st.get("errorMessage").is_none());

    let (s, b) = emu.get(&format!("/import-jobs/{id}/errors"), R).await;
    assert_eq!(s, 200);
    assert_eq!(b["data"], json!({"hasErrors": false}));
}

#[tokio::test]
async fn every_transition_and_refusal() {
    let emu = emu().await;
    let created = create(&emu, W, CSV.len()).await;
    let id = created["jobId"].as_str().unwrap();

    // Start before mapping: 409.
    let (s, b) = start(&emu, W, id).await;
    assert_eq!((s, code(&b)), (409, "CDP_ETL.JOB.STATE_CONFLICT"), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("pending"));

    // Mapping → ready; mapping again while ready replaces it.
    let (s, b) = map(&emu, W, id).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"], json!({"ok": true}));
    assert_eq!(job_status(&emu, R, id).await.1["data"]["state"], "ready");
    let (s, b) = map(&emu, W, id).await;
    assert_eq!(s, 200, "{b}");

    // Start without upload: 409 UPLOAD_INCOMPLETE, job stays ready.
    let (s, b) = start(&emu, W, id).await;
    assert_eq!((s, code(&b)), (409, "CDP_ETL.JOB.UPLOAD_INCOMPLETE"), "{b}");
    assert_eq!(b["error"]["details"]["expectedBytes"], CSV.len());
    assert_eq!(b["error"]["details"]["foundBytes"], 0);
    assert_eq!(job_status(&emu, R, id).await.1["data"]["state"], "ready");

    // Upload of the wrong size: still 409 naming both sizes.
    upload(&emu, &created, &CSV[..10]).await;
    let (s, b) = start(&emu, W, id).await;
    assert_eq!((s, code(&b)), (409, "CDP_ETL.JOB.UPLOAD_INCOMPLETE"), "{b}");
    assert_eq!(b["error"]["details"]["foundBytes"], 10);
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("10 bytes") && msg.contains(&format!("{} bytes", CSV.len())),
        "{msg}"
    );

    // Full upload, start (empty body is fine) → running / queued.
    upload(&emu, &created, CSV).await;
    let r = emu
        .http
        .post(emu.api(&format!("/import-jobs/{id}/start")))
        .bearer_auth(W)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b["data"],
        json!({"status": "started", "jobId": id, "lane": "standard", "message": "Job queued for processing"})
    );
    let (_, b) = job_status(&emu, R, id).await;
    assert_eq!(b["data"]["state"], "running");
    assert_eq!(b["data"]["stage"], "queued");
    assert!(b["data"]["startedAt"].as_str().unwrap().ends_with('Z'));

    // Once started, the job is terminal.
    let (s, b) = map(&emu, W, id).await;
    assert_eq!((s, code(&b)), (409, "CDP_ETL.JOB.STATE_CONFLICT"), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("running"));
    assert_eq!(
        b["error"]["details"]["allowedStates"],
        json!(["pending", "ready"])
    );
    let (s, b) = start(&emu, W, id).await;
    assert_eq!((s, code(&b)), (409, "CDP_ETL.JOB.STATE_CONFLICT"), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("terminal"));
    assert_eq!(job_status(&emu, R, id).await.1["data"]["state"], "running");
}

#[tokio::test]
async fn unknown_destination_is_422_and_job_stays_put() {
    let emu = emu().await;
    let id = create(&emu, W, 100).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = json!({
        "sourceFields": {"email_address": "string", "fav": "string"},
        "fieldMap": {"email_address": "email", "fav": "favourite_colour"}
    });
    let path = format!("/import-jobs/{id}/mapping");
    let (s, b) = emu.post(&path, W, &bad).await;
    assert_eq!(
        (s, code(&b)),
        (422, "CDP_ETL.VALIDATION.REQUEST_SCHEMA"),
        "{b}"
    );
    let details = &b["error"]["details"];
    assert_eq!(
        details["unknownFields"],
        json!([{"source": "fav", "destination": "favourite_colour"}])
    );
    assert!(details["validFields"]
        .as_array()
        .unwrap()
        .contains(&json!("first_name")));
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("favourite_colour"));
    assert_eq!(job_status(&emu, R, &id).await.1["data"]["state"], "pending");

    // Once ready, a bad re-mapping keeps the job ready with its old mapping.
    assert_eq!(map(&emu, W, &id).await.0, 200);
    let (s, _) = emu.post(&path, W, &bad).await;
    assert_eq!(s, 422);
    assert_eq!(job_status(&emu, R, &id).await.1["data"]["state"], "ready");
}

#[tokio::test]
async fn unknown_jobs_and_other_workspaces_are_404() {
    let emu = emu().await;
    let id = create(&emu, W, 100).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let missing = format!("imp_{}", ulid::Ulid::new());
    for job in [missing.as_str(), "nope", id.as_str()] {
        let token = if job == id { OTHER } else { W };
        for sub in ["", "/errors"] {
            let (s, b) = emu.get(&format!("/import-jobs/{job}{sub}"), token).await;
            assert_eq!((s, code(&b)), (404, "CDP_ETL.NOT_FOUND"), "{job}{sub}: {b}");
        }
        let (s, b) = map(&emu, token, job).await;
        assert_eq!((s, code(&b)), (404, "CDP_ETL.NOT_FOUND"), "{b}");
        let (s, b) = start(&emu, token, job).await;
        assert_eq!((s, code(&b)), (404, "CDP_ETL.NOT_FOUND"), "{b}");
    }
    // The owner still sees it, untouched.
    assert_eq!(job_status(&emu, W, &id).await.1["data"]["state"], "pending");
}

#[tokio::test]
async fn read_token_cannot_post() {
    let emu = emu().await;
    let id = create(&emu, W, 100).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = emu.post("/import-jobs", R, &create_body(100)).await;
    assert_eq!((s, code(&b)), (403, "CDP_ETL.AUTH.FORBIDDEN"), "{b}");
    let (s, b) = map(&emu, R, &id).await;
    assert_eq!((s, code(&b)), (403, "CDP_ETL.AUTH.FORBIDDEN"), "{b}");
    let (s, b) = start(&emu, R, &id).await;
    assert_eq!((s, code(&b)), (403, "CDP_ETL.AUTH.FORBIDDEN"), "{b}");
    assert_eq!(job_status(&emu, R, &id).await.1["data"]["state"], "pending");
    // No token at all.
    let r = emu
        .http
        .post(emu.api("/import-jobs"))
        .json(&create_body(1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_the_server_stays_up() {
    let emu = emu().await;
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "malformed",
            r#"{"objectName": "profiles", "#.into(),
            400,
            "",
        ),
        ("not an object", "[1, 2]".into(), 400, ""),
        (
            "wrong type",
            r#"{"objectName":"profiles","fileName":"a.csv","fileSize":"big"}"#.into(),
            400,
            "fileSize",
        ),
        (
            "negative size",
            r#"{"objectName":"profiles","fileName":"a.csv","fileSize":-1}"#.into(),
            400,
            "fileSize",
        ),
        (
            "unknown field",
            r#"{"objectName":"profiles","fileName":"a.csv","fileSize":1,"listname":"x"}"#.into(),
            400,
            "listname",
        ),
        (
            "missing fileName",
            r#"{"objectName":"profiles","fileSize":1}"#.into(),
            400,
            "fileName",
        ),
        (
            "path-like name",
            r#"{"objectName":"profiles","fileName":"../../x.csv","fileSize":1}"#.into(),
            400,
            "fileName",
        ),
        (
            "size 0",
            r#"{"objectName":"profiles","fileName":"a.csv","fileSize":0}"#.into(),
            400,
            "fileSize",
        ),
        (
            "size 50GB+1",
            format!(
                r#"{{"objectName":"profiles","fileName":"a.csv","fileSize":{}}}"#,
                53_687_091_201u64
            ),
            400,
            "fileSize",
        ),
        (
            "list without name",
            r#"{"objectName":"profiles","fileName":"a.csv","fileSize":1,"createList":true}"#.into(),
            400,
            "listName",
        ),
        (
            "unknown object",
            r#"{"objectName":"unicorns","fileName":"a.csv","fileSize":1}"#.into(),
            422,
            "objectName",
        ),
    ];
    for (what, body, status, field) in &cases {
        let (s, _, b) = post_raw(&emu, "/import-jobs", W, body.clone(), None).await;
        assert_eq!(s, *status, "{what}: {b}");
        assert_eq!(b["success"], false, "{what}");
        let expected = if *status == 400 {
            "CDP_ETL.VALIDATION.REQUEST_INVALID"
        } else {
            "CDP_ETL.VALIDATION.REQUEST_SCHEMA"
        };
        assert_eq!(code(&b), expected, "{what}: {b}");
        assert!(!b["error"]["message"].as_str().unwrap().is_empty());
        if !field.is_empty() {
            let text = b["error"].to_string();
            assert!(text.contains(field), "{what}: {b}");
        }
    }
    // 50 GB exactly is fine.
    let (s, b) = emu
        .post("/import-jobs", W, &create_body(53_687_091_200))
        .await;
    assert_eq!(s, 201, "{b}");

    // Mapping: custom importMode, wrong types, malformed, unknown template.
    let id = create(&emu, W, 10).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/import-jobs/{id}/mapping");
    let custom = json!({"sourceFields": {"e": "string"}, "fieldMap": {"e": "email"}, "importMode": "custom"});
    let (s, b) = emu.post(&path, W, &custom).await;
    assert_eq!(
        (s, code(&b)),
        (400, "CDP_ETL.VALIDATION.REQUEST_INVALID"),
        "{b}"
    );
    assert!(b["error"]["message"].as_str().unwrap().contains("custom"));
    let (s, _, b) = post_raw(&emu, &path, W, r#"{"sourceFields": ["e"]}"#, None).await;
    assert_eq!(s, 400, "{b}");
    let (s, _, b) = post_raw(&emu, &path, W, "{", None).await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = emu
        .post(
            &path,
            W,
            &json!({"templateId": "tpl_01HZZZZZZZZZZZZZZZZZZZZZZZ"}),
        )
        .await;
    assert_eq!(
        (s, code(&b)),
        (422, "CDP_ETL.VALIDATION.REQUEST_SCHEMA"),
        "{b}"
    );
    assert_eq!(b["error"]["details"]["field"], "templateId");
    let (s, _, b) = post_raw(&emu, &format!("/import-jobs/{id}/start"), W, "[]", None).await;
    assert_eq!(s, 409, "not ready is reported before the body: {b}");

    // Still up and working.
    assert_eq!(job_status(&emu, R, &id).await.1["data"]["state"], "pending");
    assert_eq!(emu.healthz().await, 200);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let emu = emu().await;
    let big = format!(
        r#"{{"objectName":"profiles","fileName":"a.csv","fileSize":1,"listName":"{}"}}"#,
        "x".repeat(11 * 1024 * 1024)
    );
    let (s, _, b) = post_raw(&emu, "/import-jobs", W, big, None).await;
    assert_eq!(
        (s, code(&b)),
        (413, "CDP_ETL.VALIDATION.REQUEST_INVALID"),
        "{b}"
    );
    create(&emu, W, 1).await;
}

#[tokio::test]
async fn idempotent_replay_and_key_reuse() {
    let emu = emu().await;
    let key = "5b0f6a52-6f7e-4d38-9a0c-6f1f3f0d9d11";
    let (s1, h1, b1) = post_raw(&emu, "/import-jobs", W, SPEC_CREATE, Some(key)).await;
    assert_eq!(s1, 201, "{b1}");
    assert!(h1.get("idempotency-replayed").is_none());

    // Same key, same body (other formatting): the same response, same job.
    let compact =
        serde_json::to_string(&serde_json::from_str::<Value>(SPEC_CREATE).unwrap()).unwrap();
    let (s2, h2, b2) = post_raw(&emu, "/import-jobs", W, compact, Some(key)).await;
    assert_eq!(s2, 201);
    assert_eq!(b2, b1);
    assert_eq!(h2.get("idempotency-replayed").unwrap(), "true");

    // Same key, different body: refused, nothing created.
    let (s, _, b) = post_raw(
        &emu,
        "/import-jobs",
        W,
        create_body(5).to_string(),
        Some(key),
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (409, "CDP_ETL.IDEMPOTENCY.KEY_REUSED"),
        "{b}"
    );
    // Another key: a new job.
    let (s, _, b3) = post_raw(&emu, "/import-jobs", W, SPEC_CREATE, Some("another-key")).await;
    assert_eq!(s, 201);
    assert_ne!(b3["data"]["jobId"], b1["data"]["jobId"]);
    // Keys are per workspace and caller: the other workspace's same key runs.
    let (s, _, b4) = post_raw(&emu, "/import-jobs", OTHER, SPEC_CREATE, Some(key)).await;
    assert_eq!(s, 201);
    assert_ne!(b4["data"]["jobId"], b1["data"]["jobId"]);
    // Malformed keys.
    let long = "k".repeat(256);
    let (s, _, b) = post_raw(&emu, "/import-jobs", W, SPEC_CREATE, Some(&long)).await;
    assert_eq!(
        (s, code(&b)),
        (400, "CDP_ETL.VALIDATION.REQUEST_INVALID"),
        "{b}"
    );

    // Concurrent first requests with one key make one job.
    let k = "concurrent-key";
    let (a, b) = tokio::join!(
        post_raw(&emu, "/import-jobs", W, SPEC_CREATE, Some(k)),
        post_raw(&emu, "/import-jobs", W, SPEC_CREATE, Some(k))
    );
    assert_eq!((a.0, b.0), (201, 201));
    assert_eq!(a.2["data"]["jobId"], b.2["data"]["jobId"]);

    // Mapping and start: a replay returns the first response even after the
    // state moved on; an error is not recorded, so a retry runs again.
    let created = create(&emu, W, CSV.len()).await;
    let id = created["jobId"].as_str().unwrap();
    let mpath = format!("/import-jobs/{id}/mapping");
    let (s, _, _) = post_raw(&emu, &mpath, W, SPEC_MAPPING, Some("map-1")).await;
    assert_eq!(s, 200);
    let spath = format!("/import-jobs/{id}/start");
    let (s, _, b) = post_raw(&emu, &spath, W, "{}", Some("start-1")).await;
    assert_eq!((s, code(&b)), (409, "CDP_ETL.JOB.UPLOAD_INCOMPLETE"));
    upload(&emu, &created, CSV).await;
    let (s, _, first) = post_raw(&emu, &spath, W, "{}", Some("start-1")).await;
    assert_eq!(s, 200, "{first}");
    let (s, h, again) = post_raw(&emu, &spath, W, "", Some("start-1")).await;
    assert_eq!((s, &again), (200, &first));
    assert_eq!(h.get("idempotency-replayed").unwrap(), "true");
    let (s, h, b) = post_raw(&emu, &mpath, W, SPEC_MAPPING, Some("map-1")).await;
    assert_eq!((s, &b["data"]), (200, &json!({"ok": true})));
    assert!(h.get("idempotency-replayed").is_some());
    // The key of the mapping on another path is a different request.
    let (s, _, b) = post_raw(&emu, &spath, W, SPEC_MAPPING, Some("map-1")).await;
    assert_eq!((s, code(&b)), (409, "CDP_ETL.IDEMPOTENCY.KEY_REUSED"));

    // After 24 hours the key is forgotten: the same request runs again.
    emu.clock.advance(chrono::Duration::hours(25));
    let (s, h, b5) = post_raw(&emu, "/import-jobs", W, SPEC_CREATE, Some(key)).await;
    assert_eq!(s, 201);
    assert!(h.get("idempotency-replayed").is_none());
    assert_ne!(b5["data"]["jobId"], b1["data"]["jobId"]);
}

#[tokio::test]
async fn templates_are_saved_and_reused() {
    let emu = emu().await;
    let a = create(&emu, W, 10).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut body: Value = serde_json::from_str(SPEC_MAPPING).unwrap();
    body["importMode"] = json!("strict");
    body["saveAsTemplate"] = json!({"name": "Spring CSV"});
    let (s, b) = emu
        .post(&format!("/import-jobs/{a}/mapping"), W, &body)
        .await;
    assert_eq!(s, 200, "{b}");
    let tpl = b["data"]["templateId"].as_str().unwrap().to_string();
    assert!(is_ulid_id(&tpl, "tpl_"), "{tpl}");
    assert_eq!(b["data"]["ok"], true);

    let b_id = create(&emu, W, 10).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = emu
        .post(
            &format!("/import-jobs/{b_id}/mapping"),
            W,
            &json!({"templateId": tpl}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"], json!({"ok": true}));
    assert_eq!(job_status(&emu, R, &b_id).await.1["data"]["state"], "ready");

    let stored = emu
        .server
        .state
        .db
        .get_job("ws_dev", &b_id)
        .unwrap()
        .unwrap();
    let m = stored.mapping.unwrap();
    assert_eq!(m.template_id.as_deref(), Some(tpl.as_str()));
    assert_eq!(m.import_mode, "strict");
    assert_eq!(m.field_map["FirstName"], "first_name");
    assert_eq!(m.source_fields["signup_ts"], "datetime");

    // Templates belong to their workspace.
    let c = create(&emu, OTHER, 10).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = emu
        .post(
            &format!("/import-jobs/{c}/mapping"),
            OTHER,
            &json!({"templateId": tpl}),
        )
        .await;
    assert_eq!(
        (s, code(&b)),
        (422, "CDP_ETL.VALIDATION.REQUEST_SCHEMA"),
        "{b}"
    );
}

#[tokio::test]
async fn jobs_survive_a_restart_and_queued_ones_stay_queued() {
    let emu = emu().await;
    let pending = create(&emu, W, 10).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let running = ready_job(&emu, W).await;
    assert_eq!(start(&emu, W, &running).await.0, 200);
    let ready = ready_job(&emu, W).await;
    let (s, _, keyed) = post_raw(&emu, "/import-jobs", W, SPEC_CREATE, Some("restart-key")).await;
    assert_eq!(s, 201);

    let Emu {
        server, dir, http, ..
    } = emu;
    drop(http);
    server.stop().await;
    let data_dir = dir.path().to_path_buf();
    let emu = common::start_with(|c| {
        c.data_dir = data_dir.clone();
        c.workers = 0;
    })
    .await;

    assert_eq!(
        job_status(&emu, R, &pending).await.1["data"]["state"],
        "pending"
    );
    let (_, b) = job_status(&emu, R, &ready).await;
    assert_eq!(b["data"]["state"], "ready");
    // Started but never claimed by a processor: still queued, to be
    // processed by the new one (a job being processed is failed or
    // completed instead: tests/processing.rs and tests/crash.rs).
    let (_, b) = job_status(&emu, R, &running).await;
    assert_eq!(
        (&b["data"]["state"], &b["data"]["stage"]),
        (&json!("running"), &json!("queued")),
        "{b}"
    );
    assert!(b["data"].get("errorMessage").is_none(), "{b}");
    assert!(b["data"]["startedAt"].is_string());
    // The ready job can still start after the restart.
    let (s, b) = start(&emu, W, &ready).await;
    assert_eq!(s, 200, "{b}");
    // Idempotency records survive too.
    let (s, h, again) = post_raw(&emu, "/import-jobs", W, SPEC_CREATE, Some("restart-key")).await;
    assert_eq!((s, &again), (201, &keyed));
    assert_eq!(h.get("idempotency-replayed").unwrap(), "true");
    drop(dir);
}

/// What the processor will do, driven through its database hooks: claim the
/// queued job, report progress, complete it with an error file; status and
/// errors show it, the error file downloads from its signed URL, and
/// retention removes the file with the job.
#[tokio::test]
async fn processor_hooks_drive_status_and_errors() {
    use import_devserver::db::Counters;
    let emu = emu().await;
    let state = &emu.server.state;
    let id = ready_job(&emu, W).await;
    assert!(state.db.claim_next_queued(state.now()).unwrap().is_none());
    assert_eq!(start(&emu, W, &id).await.0, 200);

    let job = state.db.claim_next_queued(state.now()).unwrap().unwrap();
    assert_eq!(
        (job.id.as_str(), job.stage.as_str()),
        (id.as_str(), "parse")
    );
    assert_eq!(job.mapping.unwrap().field_map["email_address"], "email");
    let counters = Counters {
        read_rows: 3,
        valid_rows: 2,
        invalid_rows: 1,
        merged_inserts: 1,
        merged_updates: 1,
    };
    let summary: indexmap::IndexMap<String, u64> = [("VALIDATION_TYPE_MISMATCH".to_string(), 1)]
        .into_iter()
        .collect();
    assert!(state
        .db
        .update_progress(&id, "validate", &counters, Some(&summary), state.now())
        .unwrap());
    let (_, b) = job_status(&emu, R, &id).await;
    assert_eq!(b["data"]["state"], "running");
    assert_eq!(b["data"]["stage"], "validate");
    assert_eq!(b["data"]["readRows"], 3);
    assert_eq!(
        emu.get(&format!("/import-jobs/{id}/errors"), R).await.1["data"],
        json!({"hasErrors": false})
    );

    let errors = b"{\"rowNumber\": 2, \"sourceRow\": {\"email_address\": \"x\"}, \"error\": \"invalid email format\"}\n";
    let error_path = format!("jobs/{id}/errors.jsonl");
    state.storage.write_path(&error_path, errors).unwrap();
    assert!(state
        .db
        .complete_job(
            &id,
            &counters,
            Some(&summary),
            Some(&error_path),
            1,
            state.now()
        )
        .unwrap());

    let (_, b) = job_status(&emu, R, &id).await;
    let d = &b["data"];
    assert_eq!(d["state"], "completed");
    assert_eq!(
        (
            d["rowsTotal"].clone(),
            d["rowsImported"].clone(),
            d["rowsRejected"].clone()
        ),
        (json!(3), json!(2), json!(1))
    );
    assert_eq!(
        (d["mergedInserts"].clone(), d["mergedUpdates"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(d["successRate"], 0.6666);
    assert_eq!(d["errorSummary"], json!({"VALIDATION_TYPE_MISMATCH": 1}));

    let (s, b) = emu.get(&format!("/import-jobs/{id}/errors"), R).await;
    assert_eq!(s, 200);
    let d = &b["data"];
    assert_eq!(d["hasErrors"], true);
    assert_eq!(d["errorCount"], 1);
    let expires: chrono::DateTime<chrono::Utc> = d["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires > chrono::Utc::now() + chrono::Duration::hours(23));
    let r = emu
        .http
        .get(d["errorFileUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], &errors[..]);
    // Finished jobs are not claimed again, nor changed by late updates.
    assert!(state.db.claim_next_queued(state.now()).unwrap().is_none());
    assert!(!state.db.fail_job(&id, "late", state.now()).unwrap());

    emu.clock.advance(chrono::Duration::days(31));
    assert_eq!(job_status(&emu, R, &id).await.0, 404);
    assert_eq!(state.storage.uploaded_size(&error_path).unwrap(), None);
    assert_eq!(
        state
            .storage
            .uploaded_size(&format!("jobs/{id}/file"))
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn jobs_are_purged_after_30_days() {
    let emu = emu().await;
    let old = create(&emu, W, 10).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    emu.clock.advance(chrono::Duration::days(29));
    assert_eq!(job_status(&emu, R, &old).await.0, 200);
    let young = create(&emu, W, 10).await["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    emu.clock.advance(chrono::Duration::days(2));
    let (s, b) = job_status(&emu, R, &old).await;
    assert_eq!((s, code(&b)), (404, "CDP_ETL.NOT_FOUND"), "{b}");
    assert_eq!(map(&emu, W, &old).await.0, 404);
    assert!(emu
        .server
        .state
        .db
        .get_job("ws_dev", &old)
        .unwrap()
        .is_none());
    assert_eq!(job_status(&emu, R, &young).await.0, 200);
}

#[tokio::test]
async fn at_most_ten_running_jobs_per_workspace() {
    let emu = emu().await;
    for _ in 0..10 {
        let id = ready_job(&emu, W).await;
        let (s, b) = start(&emu, W, &id).await;
        assert_eq!(s, 200, "{b}");
    }
    let eleventh = ready_job(&emu, W).await;
    let (s, b) = start(&emu, W, &eleventh).await;
    assert_eq!((s, code(&b)), (409, "CDP_ETL.JOB.CONCURRENCY_LIMIT"), "{b}");
    assert_eq!(b["error"]["details"]["limit"], 10);
    assert_eq!(
        job_status(&emu, R, &eleventh).await.1["data"]["state"],
        "ready"
    );
    // Another workspace is not affected.
    let other = ready_job(&emu, OTHER).await;
    assert_eq!(start(&emu, OTHER, &other).await.0, 200);
}
