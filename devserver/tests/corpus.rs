//! The bad-input corpus of the emulator (`tests/corpus/`, format in its
//! README): API bodies (`api/`), CSV files (`csv/`) and storage requests
//! (`storage/`). One test per family runs every case of its folder against
//! one emulator on an ephemeral port, one case after another, and after each
//! checks that the answer (or the job's outcome) is the expected one, that
//! the emulator still answers `GET /healthz`, and that nothing was lost or
//! half-written: a refused request leaves the emulator's database, its
//! blobs and the merged records exactly as they were, a failed CSV job
//! leaves the records as they were, and a refused storage request leaves
//! the job's committed bytes as they were.
//!
//! `cargo test -p import-devserver --test corpus -- --nocapture` prints
//! `ok - family/case` per case.

mod common;

use std::collections::HashMap;

use chrono::Duration;
use common::corpus::{self, body, check_answer, dump_db, dump_files, first_difference, Case, Vars};
use common::Emu;
use import_devserver::config::StorageMode;
use serde_json::{json, Value};

/// Everything a refused request must leave as it was.
fn state(emu: &Emu) -> Vec<String> {
    let dir = emu.dir.path();
    let mut out = dump_db(&dir.join(import_devserver::db::DB_FILE));
    out.extend(dump_db(
        &dir.join(import_devserver::processor::merge::RECORDS_FILE),
    ));
    out.extend(dump_files(&dir.join("blobs")));
    out
}

async fn healthy(emu: &Emu) -> Result<(), String> {
    match emu.healthz().await {
        200 => Ok(()),
        s => Err(format!("GET /healthz answered {s} after the case")),
    }
}

fn unchanged(before: &[String], after: &[String], what: &str) -> Result<(), String> {
    if before == after {
        Ok(())
    } else {
        Err(format!(
            "{what} changed: {}",
            first_difference(before, after)
        ))
    }
}

/// A request of a case, with the API's defaults: `Authorization: Bearer
/// <token>` (`token`, default `dev-write`; `null` for none) and
/// `Content-Type: application/json` when there is a body and no
/// `Content-Type` is given.
fn api_request(req: &Value) -> Value {
    let mut req = req.clone();
    let mut headers = req["headers"].as_object().cloned().unwrap_or_default();
    let has =
        |h: &serde_json::Map<String, Value>, n: &str| h.keys().any(|k| k.eq_ignore_ascii_case(n));
    match req.get("token") {
        Some(Value::Null) => {}
        t => {
            let token = t.and_then(Value::as_str).unwrap_or("dev-write");
            if !has(&headers, "authorization") {
                headers.insert("Authorization".into(), json!(format!("Bearer {token}")));
            }
        }
    }
    if !req["body"].is_null() && !has(&headers, "content-type") {
        headers.insert("Content-Type".into(), json!("application/json"));
    }
    req["headers"] = Value::Object(headers);
    req
}

/// A small valid CSV and its mapping, for jobs the cases act on.
const SMALL_CSV: &[u8] = b"email,first_name\nann@example.com,Ann\n";

fn small_mapping() -> Value {
    json!({"sourceFields": {"email": "string", "first_name": "string"},
           "fieldMap": {"email": "email", "first_name": "first_name"}})
}

async fn api_case(emu: &Emu, case: Case) -> Result<(), String> {
    let s = &case.spec;
    let mut vars = Vars::new();
    match s["setup"].as_str() {
        None => {}
        Some("pending") => {
            let (st, b) = emu
                .post(
                    "/import-jobs",
                    "dev-write",
                    &json!({"objectName": "profiles", "fileName": "f.csv", "fileSize": SMALL_CSV.len()}),
                )
                .await;
            if st != 201 {
                return Err(format!("set-up: create answered {st}: {b}"));
            }
            vars.insert("jobId".into(), b["data"]["jobId"].as_str().unwrap().into());
        }
        Some("ready") => {
            let (id, _) =
                common::ready_job(emu, "dev-write", "profiles", SMALL_CSV, small_mapping()).await;
            vars.insert("jobId".into(), id);
        }
        Some(other) => return Err(format!("unknown setup `{other}`")),
    }
    if let Some(c) = s["expect"]["code"].as_str() {
        corpus::check_documented(c, "api")?;
    }
    let before = state(emu);
    let req = api_request(&s["request"]);
    let answer = corpus::send_case_request(emu.server.addr, &case.dir, &req, &vars).await?;
    check_answer(&answer, &s["expect"])?;
    healthy(emu).await?;
    unchanged(&before, &state(emu), "the emulator's data")
}

#[tokio::test]
async fn api_bodies() {
    let emu = common::start_with(common::add_other_workspace).await;
    corpus::run_all("api", |case| api_case(&emu, case)).await;
}

// ------------------------------------------------------------------ CSV

const RECORDS: &str = "obj_profiles: ";

async fn csv_case(emu: &Emu, case: Case) -> Result<(), String> {
    let s = &case.spec;
    let object = s["object"].as_str().unwrap_or("profiles");
    let mut mapping = s.get("mapping").cloned().unwrap_or_else(small_mapping);
    if let Some(m) = s["importMode"].as_str() {
        mapping["importMode"] = json!(m);
    }
    let file = body(&case.dir, &s["file"], &Vars::new())?;
    let records_file = emu
        .dir
        .path()
        .join(import_devserver::processor::merge::RECORDS_FILE);
    let before = dump_db(&records_file);
    let (id, status) = common::run(emu, "dev-write", object, &file, mapping).await;
    let expect = &s["expect"];
    let mut codes: Vec<&str> = expect["errorSummary"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for e in expect["errors"].as_array().into_iter().flatten() {
        codes.extend(e["code"].as_str());
    }
    for c in codes {
        corpus::check_documented(c, "csv")?;
    }
    let text = status.to_string();
    for (k, v) in expect.as_object().ok_or("`expect` must be an object")? {
        match k.as_str() {
            "errors" => {}
            "errorMessage" => {
                let got = status["errorMessage"].as_str().unwrap_or("");
                let want = v.as_str().ok_or("`errorMessage` is a fragment")?;
                if !got.to_lowercase().contains(&want.to_lowercase()) {
                    return Err(format!("errorMessage `{got}` lacks `{want}`"));
                }
            }
            _ => {
                if &status[k] != v {
                    return Err(format!("{k} = {} (expected {v}): {text}", status[k]));
                }
            }
        }
    }
    if expect["state"].as_str().is_none() {
        return Err("a CSV case must name the job's final `state`".into());
    }
    if let Some(want) = expect["errors"].as_array() {
        let lines = common::error_lines(emu, &id).await;
        if lines.len() < want.len() {
            return Err(format!(
                "{} error lines, expected at least {}",
                lines.len(),
                want.len()
            ));
        }
        for (i, (w, got)) in want.iter().zip(&lines).enumerate() {
            for (k, v) in w.as_object().ok_or("an expected error line is an object")? {
                let ok = match (k.as_str(), v, &got[k]) {
                    ("error", Value::String(frag), Value::String(g)) => {
                        g.to_lowercase().contains(&frag.to_lowercase())
                    }
                    _ => &got[k] == v,
                };
                if !ok {
                    return Err(format!(
                        "error line {i}: {k} = {} (expected {v}): {got}",
                        got[k]
                    ));
                }
            }
        }
    }
    healthy(emu).await?;
    let after = dump_db(&records_file);
    match status["state"].as_str() {
        Some("failed") => unchanged(&before, &after, "the object's records (the job failed)")?,
        Some("completed") => {
            let count = |d: &[String]| d.iter().filter(|l| l.starts_with(RECORDS)).count() as u64;
            let grown = count(&after) - count(&before);
            let inserts = status["mergedInserts"].as_u64().unwrap_or(0);
            if object == "profiles" && grown != inserts {
                return Err(format!("{grown} new records but mergedInserts {inserts}"));
            }
        }
        other => return Err(format!("the job ended {other:?}")),
    }
    Ok(())
}

#[tokio::test]
async fn csv_files() {
    let emu = common::start_processing_with(|_| {}).await;
    // Records before the corpus runs, so that "unchanged" means something.
    let (_, seeded) = common::run(
        &emu,
        "dev-write",
        "profiles",
        b"email,first_name\nseed1@example.com,Seed\nseed2@example.com,Seed\n",
        small_mapping(),
    )
    .await;
    assert_eq!(seeded["mergedInserts"], 2, "{seeded}");
    corpus::run_all("csv", |case| csv_case(&emu, case)).await;
}

// -------------------------------------------------------------- storage

/// One emulator per storage mode.
struct Modes(HashMap<&'static str, Emu>);

impl Modes {
    async fn start() -> Modes {
        let mut m = HashMap::new();
        for (name, storage) in [
            ("azure", StorageMode::Local),
            ("s3", StorageMode::LocalS3),
            ("gcs", StorageMode::LocalGcs),
        ] {
            m.insert(name, common::start_with(|c| c.storage = storage).await);
        }
        Modes(m)
    }

    fn get(&self, mode: &str) -> Result<&Emu, String> {
        self.0
            .get(mode)
            .ok_or_else(|| format!("unknown mode `{mode}` (azure, s3, gcs)"))
    }
}

/// Placeholders of a job's upload URL: `uploadTarget` (path and query),
/// `path`, `query`, `q.NAME` for each query parameter, `sigTampered` (the
/// signature with its first character changed), `jobId`, `host`.
fn upload_vars(emu: &Emu, job: &Value) -> Vars {
    let url = job["uploadUrl"].as_str().unwrap();
    let target = &url[url.find("/storage/").unwrap()..];
    let (path, query) = target.split_once('?').unwrap();
    let mut vars = Vars::new();
    vars.insert("uploadTarget".into(), target.into());
    vars.insert("path".into(), path.into());
    vars.insert("query".into(), query.into());
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        vars.insert(format!("q.{k}"), v.into());
        if k == "sig" {
            let flipped = if v.starts_with('A') { "B" } else { "A" };
            vars.insert("sigTampered".into(), format!("{flipped}{}", &v[1..]));
        }
    }
    vars.insert("jobId".into(), job["jobId"].as_str().unwrap().into());
    vars.insert("host".into(), emu.server.addr.to_string());
    vars
}

async fn storage_case(modes: &Modes, case: Case) -> Result<(), String> {
    let s = &case.spec;
    let emu = modes.get(s["mode"].as_str().unwrap_or("azure"))?;
    let initial = match s.get("initial") {
        Some(spec) => Some(body(&case.dir, spec, &Vars::new())?),
        None => None,
    };
    let size = s["fileSize"]
        .as_u64()
        .unwrap_or(initial.as_ref().map_or(64, |b| b.len() as u64));
    let (st, b) = emu
        .post(
            "/import-jobs",
            "dev-write",
            &json!({"objectName": "profiles", "fileName": "f.csv", "fileSize": size}),
        )
        .await;
    if st != 201 {
        return Err(format!("set-up: create answered {st}: {b}"));
    }
    let job = &b["data"];
    let id = job["jobId"].as_str().unwrap();
    let vars = upload_vars(emu, job);
    if let Some(bytes) = &initial {
        let headers: Vec<(String, String)> = job["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let a = corpus::send_raw(
            emu.server.addr,
            "PUT",
            &vars["uploadTarget"],
            &headers,
            bytes,
            false,
        )
        .await?;
        if !(200..300).contains(&a.status) {
            return Err(format!(
                "set-up: committing the initial bytes answered {}: {}",
                a.status,
                a.text()
            ));
        }
    }
    for (i, step) in s["before"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let a = corpus::send_case_request(emu.server.addr, &case.dir, step, &vars).await?;
        let want = step["expectStatus"].as_u64();
        let ok = want.map_or((200..300).contains(&a.status), |w| u64::from(a.status) == w);
        if !ok {
            return Err(format!(
                "set-up step {i} answered {}: {}",
                a.status,
                a.text()
            ));
        }
    }
    if let Some(secs) = s["advanceSeconds"].as_i64() {
        emu.clock.advance(Duration::seconds(secs));
    }
    let before = state(emu);
    let answer =
        corpus::send_case_request(emu.server.addr, &case.dir, &s["request"], &vars).await?;
    check_answer(&answer, &s["expect"])?;
    healthy(emu).await?;
    unchanged(
        &before,
        &state(emu),
        "the emulator's data (blobs, staged blocks, jobs)",
    )?;
    let (st, _, bytes) = common::job_upload(emu, id, Some("dev-read")).await;
    match &initial {
        Some(want) if st == 200 && &bytes == want => Ok(()),
        Some(want) => Err(format!(
            "the committed bytes changed: {st}, {} bytes (expected {} bytes)",
            bytes.len(),
            want.len()
        )),
        None if st == 404 => Ok(()),
        None => Err(format!(
            "nothing was committed before, now {st} with {} bytes",
            bytes.len()
        )),
    }
}

#[tokio::test]
async fn storage_requests() {
    let modes = Modes::start().await;
    corpus::run_all("storage", |case| storage_case(&modes, case)).await;
}
