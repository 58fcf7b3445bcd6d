//! Audiences in the emulator: the audiences an import job creates
//! (`createAudience` + `audienceName`), the documented
//! `POST /audiences/{audience_id}/preview`, and the emulator extension
//! `GET /audiences?name=…` through which a client learns an audience's id.
//!
//! # Storage
//!
//! Tables in the emulator's database, created by [`ensure_schema`] (from
//! [`crate::lists::ensure_schema`]):
//!
//! * `audiences (id, workspace, name, object_name, job_id, definition,
//!   member_count, created_at)`; `definition` is JSON:
//!   `{"kind": "import", "jobId": …, "objectName": …}`.
//! * `audience_members (audience_id, contact_key)`, primary key both.
//!
//! # Decisions where the documentation is silent
//!
//! * **Creation**: the documentation says audience definitions are created in
//!   the console, and `createAudience` is the only API route to one. So the
//!   emulator creates audiences only through [`create_audience`], which the
//!   processor calls when a job with `createAudience` completes. Ids are
//!   `aud_` + ULID.
//! * **Definition**: an import audience selects "the records of
//!   `objectName` that job `jobId` imported"; the emulator keeps their
//!   identity-key values (trimmed, as the processor hands them over, already
//!   normalised by import-core), so counts are exact and do not drift.
//! * **Finding an audience's id** (emulator extension):
//!   `GET /audiences?name=…&page&pageSize` (scope `cdp:audiences:preview`,
//!   paged like the Lists API, newest first; `name` matches exactly). Items
//!   are `{id, name, type: "dynamic", objectName, jobId, memberCount,
//!   createdAt}`.
//! * **Preview**: body `{"limit": 1–1000}` (default 100; empty body allowed;
//!   unknown fields refused). `matchCount` is the number of records in the
//!   audience, `isExact` is always `true` (the set is counted, not sampled),
//!   `executionTimeMs` the time the emulator spent, `fieldsUsed` the
//!   object's identity key the definition selects on, and `sampleRecords`
//!   the first `limit` records in key order: each is the stored record's
//!   schema fields when the merged record can be read, else just
//!   `{<identity key>: value}`.
//! * **Errors**, checked in this order: a token without
//!   `cdp:audiences:preview` is 403; an unknown audience, or one of another
//!   workspace, is 404 `CDP_ETL.NOT_FOUND`; a malformed body is 400; a
//!   `limit` outside 1–1000 is 400
//!   `CDP_ETL.VALIDATION.REQUEST_INVALID` with `details {rule:
//!   "LIMIT_OUT_OF_RANGE", field: "limit"}`.

use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::app::{App, AppState};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::db::{from_millis, to_millis, Db};
use crate::error::{ok, ApiError, ApiResult};
use crate::json::{parse_json, LimitedBody};
use crate::lists::{new_id, parse_query, rule_error, Paging};
use crate::processor::merge;

/// Scope of the audience endpoints.
pub const SCOPE_PREVIEW: &str = "cdp:audiences:preview";
/// Default preview `limit`.
pub const DEFAULT_PREVIEW_LIMIT: u32 = 100;
/// Largest preview `limit`.
pub const MAX_PREVIEW_LIMIT: u32 = 1000;
/// Rule code: preview `limit` outside 1–1000.
pub const LIMIT_OUT_OF_RANGE: &str = "LIMIT_OUT_OF_RANGE";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS audiences (
    id              TEXT PRIMARY KEY,
    workspace       TEXT NOT NULL,
    name            TEXT NOT NULL,
    object_name     TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    definition      TEXT NOT NULL,
    member_count    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audiences_workspace_name ON audiences (workspace, name);
CREATE INDEX IF NOT EXISTS audiences_workspace_created ON audiences (workspace, created_at);

CREATE TABLE IF NOT EXISTS audience_members (
    audience_id     TEXT NOT NULL,
    contact_key     TEXT NOT NULL,
    PRIMARY KEY (audience_id, contact_key)
) WITHOUT ROWID;
"#;

/// Creates the audience tables when they do not exist yet.
pub fn ensure_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// An audience as `GET /audiences` lists it (emulator extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Audience {
    /// `aud_` + ULID.
    pub id: String,
    /// Name (`audienceName` of the import).
    pub name: String,
    /// `dynamic`.
    #[serde(rename = "type")]
    pub audience_type: String,
    /// The object whose records it selects.
    pub object_name: String,
    /// The import job that created it.
    pub job_id: String,
    /// Records in the audience.
    pub member_count: u64,
    /// Creation time (RFC 3339, UTC).
    pub created_at: String,
}

/// `POST /audiences/{audience_id}/preview` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewRequest {
    /// 1–1000, default 100.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `POST /audiences/{audience_id}/preview` response `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewResponse {
    /// The audience.
    pub audience_id: String,
    /// Records matching the definition.
    pub match_count: u64,
    /// Whether `matchCount` is exact (always, in the emulator).
    pub is_exact: bool,
    /// Time spent evaluating the audience.
    pub execution_time_ms: u64,
    /// Fields the definition reads.
    pub fields_used: Vec<String>,
    /// Up to `limit` matching records.
    pub sample_records: Vec<Value>,
}

/// Creates the audience `name` of `workspace` holding the records of
/// `object_name` whose identity-key values are `keys` (trimmed; blanks and
/// duplicates dropped), created by import job `job_id`, in one transaction.
/// Returns its id.
pub fn create_audience(
    db: &Db,
    workspace: &str,
    name: &str,
    object_name: &str,
    job_id: &str,
    keys: &[String],
    now: DateTime<Utc>,
) -> rusqlite::Result<String> {
    let conn = db.conn();
    crate::lists::ensure_schema(&conn)?;
    let tx = conn.unchecked_transaction()?;
    let id = new_id("aud_", now);
    let definition = json!({ "kind": "import", "jobId": job_id, "objectName": object_name });
    tx.execute(
        "INSERT INTO audiences (id, workspace, name, object_name, job_id, definition, \
         member_count, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
        params![
            id,
            workspace,
            name,
            object_name,
            job_id,
            definition.to_string(),
            to_millis(now)
        ],
    )?;
    let mut count = 0i64;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO audience_members (audience_id, contact_key) VALUES (?1, ?2)",
        )?;
        for key in keys.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
            count += stmt.execute(params![id, key])? as i64;
        }
    }
    tx.execute(
        "UPDATE audiences SET member_count = ?2 WHERE id = ?1",
        params![id, count],
    )?;
    tx.commit()?;
    Ok(id)
}

const AUDIENCE_COLUMNS: &str = "id, name, object_name, job_id, member_count, created_at";

fn audience_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Audience> {
    Ok(Audience {
        id: row.get(0)?,
        name: row.get(1)?,
        audience_type: "dynamic".into(),
        object_name: row.get(2)?,
        job_id: row.get(3)?,
        member_count: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
        created_at: rfc3339(from_millis(row.get(5)?)),
    })
}

/// The audience `audience_id` of `workspace`, if there is one.
pub fn get_audience(
    db: &Db,
    workspace: &str,
    audience_id: &str,
) -> rusqlite::Result<Option<Audience>> {
    let conn = db.conn();
    crate::lists::ensure_schema(&conn)?;
    conn.query_row(
        &format!("SELECT {AUDIENCE_COLUMNS} FROM audiences WHERE id = ?1 AND workspace = ?2"),
        params![audience_id, workspace],
        audience_from_row,
    )
    .optional()
}

/// `GET /audiences?name&page&pageSize` (emulator extension) → a page of the
/// workspace's audiences, newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    caller.require(SCOPE_PREVIEW)?;
    let q = parse_query(query.as_deref(), &["page", "pageSize", "name"])?;
    let paging = Paging::from_query(&q)?;
    let name = q.get("name").map(String::as_str);
    let (limit, offset) = paging.limit_offset();
    let (items, total) = {
        let conn = state.db.conn();
        crate::lists::ensure_schema(&conn)?;
        crate::lists::page_by_name(
            &conn,
            "audiences",
            AUDIENCE_COLUMNS,
            audience_from_row,
            &caller.workspace,
            name,
            (limit, offset),
        )?
    };
    Ok(ok(paging.page(items, total)))
}

/// `POST /audiences/{audience_id}/preview` → count and sample.
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(audience_id): Path<String>,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    caller.require(SCOPE_PREVIEW)?;
    let started = Instant::now();
    let not_found = || {
        ApiError::not_found(format!(
            "Audience `{audience_id}` not found in this workspace."
        ))
        .with_details(json!({ "audienceId": audience_id }))
    };
    if !audience_id.starts_with("aud_") {
        return Err(not_found());
    }
    let audience =
        get_audience(&state.db, &caller.workspace, &audience_id)?.ok_or_else(not_found)?;
    let req: PreviewRequest = parse_json(&body)?;
    let limit = match req.limit {
        None => DEFAULT_PREVIEW_LIMIT,
        Some(l) if (1..=i64::from(MAX_PREVIEW_LIMIT)).contains(&l) => l as u32,
        Some(l) => {
            return Err(rule_error(
                LIMIT_OUT_OF_RANGE,
                "limit",
                format!("limit must be an integer from 1 to {MAX_PREVIEW_LIMIT} (got {l})."),
            ))
        }
    };
    let keys: Vec<String> = {
        let conn = state.db.conn();
        let mut stmt = conn.prepare(
            "SELECT contact_key FROM audience_members WHERE audience_id = ?1 \
             ORDER BY contact_key LIMIT ?2",
        )?;
        let keys = stmt
            .query_map(params![audience.id, i64::from(limit)], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        keys
    };
    let key_field = state
        .catalog
        .get(&audience.object_name)
        .and_then(|o| o.identity_keys.first().cloned())
        .unwrap_or_else(|| "contactKey".to_string());
    let sample_records = sample_records(
        &state,
        &caller.workspace,
        &audience.object_name,
        &key_field,
        &keys,
    );
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(ok(PreviewResponse {
        audience_id: audience.id,
        match_count: audience.member_count,
        is_exact: true,
        execution_time_ms: elapsed,
        fields_used: vec![key_field],
        sample_records,
    }))
}

/// The sample records of `keys`: the merged records' schema fields where
/// they can be read from the records database, else `{key_field: key}`.
fn sample_records(
    state: &App,
    workspace: &str,
    object_name: &str,
    key_field: &str,
    keys: &[String],
) -> Vec<Value> {
    let stored = read_records(state, workspace, object_name, key_field, keys).unwrap_or_else(|e| {
        tracing::debug!(error = %e, object = object_name, "audience sample without record fields");
        vec![None; keys.len()]
    });
    keys.iter()
        .zip(stored)
        .map(|(key, rec)| rec.unwrap_or_else(|| json!({ key_field: key })))
        .collect()
}

/// Reads the records of `keys` (in order; `None` where absent) from the
/// processor's records database, read-only.
fn read_records(
    state: &App,
    workspace: &str,
    object_name: &str,
    key_field: &str,
    keys: &[String],
) -> anyhow::Result<Vec<Option<Value>>> {
    let schema = state
        .catalog
        .get(object_name)
        .ok_or_else(|| anyhow::anyhow!("unknown object"))?;
    let path = state.config.data_dir.join(merge::RECORDS_FILE);
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    let table = merge::table_name(object_name);
    let present: Vec<String> = {
        let mut stmt = conn.prepare(&format!(
            "SELECT name FROM pragma_table_info({})",
            quote_literal(&table)
        ))?;
        let cols = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        cols
    };
    // (field, is boolean): booleans are stored as integers 0/1.
    let fields: Vec<(&str, bool)> = schema
        .fields
        .iter()
        .filter(|f| present.contains(&f.name))
        .map(|f| (f.name.as_str(), f.data_type == "boolean"))
        .collect();
    if !fields.iter().any(|(f, _)| *f == key_field) {
        anyhow::bail!("the records table has no `{key_field}` column");
    }
    let select = fields
        .iter()
        .map(|(f, _)| merge::ident(f))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn.prepare(&format!(
        "SELECT {select} FROM {} WHERE \"_workspace\" = ?1 AND {} = ?2 LIMIT 1",
        merge::ident(&table),
        merge::ident(key_field)
    ))?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let rec = stmt
            .query_row(params![workspace, key], |row| {
                let mut m = Map::new();
                for (i, (f, is_bool)) in fields.iter().enumerate() {
                    let v = match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => Value::Null,
                        rusqlite::types::ValueRef::Integer(n) if *is_bool => json!(n != 0),
                        rusqlite::types::ValueRef::Integer(n) => json!(n),
                        rusqlite::types::ValueRef::Real(x) => json!(x),
                        rusqlite::types::ValueRef::Text(t) => {
                            json!(String::from_utf8_lossy(t))
                        }
                        rusqlite::types::ValueRef::Blob(_) => Value::Null,
                    };
                    m.insert((*f).to_string(), v);
                }
                Ok(Value::Object(m))
            })
            .optional()?;
        out.push(rec);
    }
    Ok(out)
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
