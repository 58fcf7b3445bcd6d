//! The Lists API subset of the emulator (`POST /lists`, `GET /lists`,
//! `GET /lists/{list_id}`, `GET /lists/{list_id}/members`), the SQLite
//! tables behind it, and the functions the import processor calls when a job
//! with `createList` / `targetListId` completes ([`create_import_list`],
//! [`add_members`]).
//!
//! # Storage
//!
//! Two tables in the emulator's database, created by [`ensure_schema`] (run
//! at start-up by [`init`] and again, idempotently, by every public write
//! function so that a database opened without the server works too):
//!
//! * `lists (id, workspace, name, description, population_source,
//!   member_count, created_at)`: `member_count` is kept up to date by
//!   [`add_members`] in the same transaction as the members.
//! * `list_members (list_id, contact_key, added_at)`, primary key
//!   `(list_id, contact_key)`.
//!
//! Times are milliseconds since the Unix epoch, as in the rest of the
//! database.
//!
//! # Decisions where the documentation is silent
//!
//! * **Ids** are `lst_` + ULID. Every list is `type: static`,
//!   `containerType: list`, `membershipBehavior: snapshot`, `status: active`.
//!   `populationSource` is `manual` for `POST /lists` and `import` for lists
//!   created by an import job (`createList` + `listName`).
//! * **Names**: 1–200 characters (Unicode scalar values), not blank; stored
//!   exactly as sent (not trimmed). Names need not be unique, in a workspace
//!   or otherwise. `description`: at most 2000 characters; `null` and absent
//!   are the same.
//! * **Request errors** are 400 `CDP_ETL.VALIDATION.REQUEST_INVALID` with
//!   `details {rule, field}`; rules: `FIELD_REQUIRED` (`name`),
//!   `LIST_NAME_TOO_LONG`, `LIST_DESCRIPTION_TOO_LONG`, `PAGE_INVALID`,
//!   `PAGE_SIZE_OUT_OF_RANGE`, `QUERY_PARAMETER_UNKNOWN`,
//!   `QUERY_PARAMETER_REPEATED`. Unknown body fields are refused by
//!   [`import_core::wire::CreateListRequest`].
//! * **Paging** (`page`, `pageSize`): `page` ≥ 1 (default 1), `pageSize`
//!   1–200 (default 50). The response is `{items, page, pageSize,
//!   totalItems, totalPages}`; `totalPages` is 0 when there are no items, and
//!   a page past the last one is an empty `items` with the totals (200, not
//!   404). Unknown query parameters are refused (400) rather than ignored, so
//!   a misspelt `pagesize` is not silently replaced by the default.
//! * **Order**: lists newest first (`createdAt` descending, then creation
//!   order); members in the order they were added (`addedAt`, then
//!   `contactKey`), so pages stay stable while members are added.
//! * **Exact-name lookup** (emulator extension): `GET /lists?name=…` returns
//!   only the lists whose name equals the parameter exactly (case-sensitive,
//!   not trimmed), paged as usual. The documentation tells clients to find a
//!   list created by an import (`createList` + `listName`) by its name,
//!   because the job status does not carry the list's id; this is how.
//! * **Member keys** are normalised with the documented default
//!   `email_lower_trim` (trimmed, lower-cased); blank keys are skipped and
//!   adding a key that is already a member changes nothing (idempotent).
//! * **Workspaces**: a list of another workspace is 404 `CDP_ETL.NOT_FOUND`,
//!   exactly like an id that never existed.
//! * **Idempotency**: `POST /lists` honours `Idempotency-Key` like the other
//!   write endpoints ([`crate::idempotency`]).
//! * **Scopes**: `cdp:lists:read` for the GETs, `cdp:lists:write` for
//!   `POST /lists`; 403 `CDP_ETL.AUTH.FORBIDDEN` otherwise. Order of checks:
//!   401/403 (token, scope), 404 (the list in the path), 400 (body, query).
//! * **`targetListId`** of `POST /import-jobs` must name a list of the
//!   caller's workspace, else 422 `CDP_ETL.VALIDATION.REQUEST_SCHEMA` with
//!   `details {field: "targetListId", listId}` (checked by
//!   [`crate::jobs::check_target_list`]; 422 like an unknown `objectName`,
//!   keeping 404 for the resource in the path).

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use import_core::rules::{FIELD_REQUIRED, LIST_NAME_TOO_LONG, MAX_NAME_CHARS};
use import_core::wire::{CreateListRequest, List, Page};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::{App, AppState};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::db::{from_millis, to_millis, Db};
use crate::error::{envelope, ok, ApiError, ApiResult};
use crate::idempotency;
use crate::json::{parse_json, LimitedBody};

/// Scope of the list GETs.
pub const SCOPE_READ: &str = "cdp:lists:read";
/// Scope of `POST /lists`.
pub const SCOPE_WRITE: &str = "cdp:lists:write";
/// Longest `description`, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// `pageSize` when the query does not give one.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest accepted `pageSize`.
pub const MAX_PAGE_SIZE: u32 = 200;
/// `populationSource` of lists created with `POST /lists`.
pub const SOURCE_MANUAL: &str = "manual";
/// `populationSource` of lists created by an import job.
pub const SOURCE_IMPORT: &str = "import";

/// Rule code: `description` longer than [`MAX_DESCRIPTION_CHARS`].
pub const LIST_DESCRIPTION_TOO_LONG: &str = "LIST_DESCRIPTION_TOO_LONG";
/// Rule code: `page` is not an integer ≥ 1.
pub const PAGE_INVALID: &str = "PAGE_INVALID";
/// Rule code: `pageSize` is not an integer from 1 to [`MAX_PAGE_SIZE`].
pub const PAGE_SIZE_OUT_OF_RANGE: &str = "PAGE_SIZE_OUT_OF_RANGE";
/// Rule code: a query parameter the endpoint does not know.
pub const QUERY_PARAMETER_UNKNOWN: &str = "QUERY_PARAMETER_UNKNOWN";
/// Rule code: a query parameter given more than once.
pub const QUERY_PARAMETER_REPEATED: &str = "QUERY_PARAMETER_REPEATED";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS lists (
    id                  TEXT PRIMARY KEY,
    workspace           TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT,
    population_source   TEXT NOT NULL,
    member_count        INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS lists_workspace_created ON lists (workspace, created_at);
CREATE INDEX IF NOT EXISTS lists_workspace_name ON lists (workspace, name);

CREATE TABLE IF NOT EXISTS list_members (
    list_id         TEXT NOT NULL,
    contact_key     TEXT NOT NULL,
    added_at        INTEGER NOT NULL,
    PRIMARY KEY (list_id, contact_key)
);
CREATE INDEX IF NOT EXISTS list_members_added ON list_members (list_id, added_at, contact_key);
"#;

/// Creates the list tables (and the audience tables, see
/// [`crate::audiences::ensure_schema`]) when they do not exist yet.
pub fn ensure_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    crate::audiences::ensure_schema(conn)
}

/// Called once at start-up: creates the tables of lists and audiences.
pub fn init(app: &App) -> anyhow::Result<()> {
    ensure_schema(&app.db.conn())?;
    Ok(())
}

/// One member of a list, as `GET /lists/{list_id}/members` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMember {
    /// The contact key, normalised (`email_lower_trim`).
    pub contact_key: String,
    /// When the key was added (RFC 3339, UTC).
    pub added_at: String,
}

/// The `email_lower_trim` normalisation of a contact key: trimmed and
/// lower-cased. `None` for a blank key.
pub fn normalize_key(key: &str) -> Option<String> {
    let key = key.trim();
    (!key.is_empty()).then(|| key.to_lowercase())
}

/// A new id: `prefix` + ULID of `now`.
pub(crate) fn new_id(prefix: &str, now: DateTime<Utc>) -> String {
    let ulid = ulid::Ulid::from_datetime(std::time::SystemTime::from(now));
    format!("{prefix}{ulid}")
}

// ----- the processor's interface ---------------------------------------------

/// Creates a static list (`populationSource: import`) named `name` in
/// `workspace` holding `keys` (normalised, duplicates and blanks dropped),
/// in one transaction. Returns the list's id.
pub fn create_import_list(
    db: &Db,
    workspace: &str,
    name: &str,
    keys: &[String],
    now: DateTime<Utc>,
) -> rusqlite::Result<String> {
    let conn = db.conn();
    ensure_schema(&conn)?;
    let tx = conn.unchecked_transaction()?;
    let id = insert_list(&tx, workspace, name, None, SOURCE_IMPORT, now)?;
    insert_members(&tx, &id, keys, now)?;
    tx.commit()?;
    Ok(id)
}

/// Adds `keys` (normalised `email_lower_trim`; blanks skipped) to list
/// `list_id`, in one transaction. Keys already in the list are left as they
/// are, so calling it again with the same keys changes nothing. Returns how
/// many keys were new. A list that does not exist is
/// `Err(rusqlite::Error::QueryReturnedNoRows)`.
pub fn add_members(
    db: &Db,
    list_id: &str,
    keys: &[String],
    now: DateTime<Utc>,
) -> rusqlite::Result<u64> {
    let conn = db.conn();
    ensure_schema(&conn)?;
    let tx = conn.unchecked_transaction()?;
    let exists: Option<i64> = tx
        .query_row("SELECT 1 FROM lists WHERE id = ?1", [list_id], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Err(rusqlite::Error::QueryReturnedNoRows);
    }
    let added = insert_members(&tx, list_id, keys, now)?;
    tx.commit()?;
    Ok(added)
}

/// The list `list_id` of `workspace`, if there is one.
pub fn get_list(db: &Db, workspace: &str, list_id: &str) -> rusqlite::Result<Option<List>> {
    let conn = db.conn();
    ensure_schema(&conn)?;
    conn.query_row(
        &format!("SELECT {LIST_COLUMNS} FROM lists WHERE id = ?1 AND workspace = ?2"),
        params![list_id, workspace],
        list_from_row,
    )
    .optional()
}

const LIST_COLUMNS: &str = "id, name, description, population_source, member_count, created_at";

fn list_from_row(row: &Row<'_>) -> rusqlite::Result<List> {
    Ok(List {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        list_type: "static".into(),
        container_type: "list".into(),
        membership_behavior: "snapshot".into(),
        population_source: row.get(3)?,
        status: "active".into(),
        member_count: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
        created_at: Some(rfc3339(from_millis(row.get(5)?))),
    })
}

fn insert_list(
    conn: &Connection,
    workspace: &str,
    name: &str,
    description: Option<&str>,
    source: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<String> {
    let id = new_id("lst_", now);
    conn.execute(
        "INSERT INTO lists (id, workspace, name, description, population_source, member_count, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
        params![id, workspace, name, description, source, to_millis(now)],
    )?;
    Ok(id)
}

/// Inserts the normalised keys not yet in the list and bumps its
/// `member_count`; returns how many were new. Runs inside the caller's
/// transaction.
fn insert_members(
    conn: &Connection,
    list_id: &str,
    keys: &[String],
    now: DateTime<Utc>,
) -> rusqlite::Result<u64> {
    let at = to_millis(now);
    let mut added = 0u64;
    {
        let mut stmt = conn.prepare_cached(
            "INSERT OR IGNORE INTO list_members (list_id, contact_key, added_at) \
             VALUES (?1, ?2, ?3)",
        )?;
        for key in keys.iter().filter_map(|k| normalize_key(k)) {
            added += stmt.execute(params![list_id, key, at])? as u64;
        }
    }
    if added > 0 {
        conn.execute(
            "UPDATE lists SET member_count = member_count + ?2 WHERE id = ?1",
            params![list_id, added as i64],
        )?;
    }
    Ok(added)
}

// ----- query strings and paging ------------------------------------------------

/// 400 for a broken request rule, with `details {rule, field}`.
pub(crate) fn rule_error(rule: &str, field: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message).with_details(json!({ "rule": rule, "field": field }))
}

/// Parses a query string into its parameters, refusing parameters not in
/// `allowed` and parameters given twice.
pub(crate) fn parse_query(
    raw: Option<&str>,
    allowed: &[&str],
) -> ApiResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            urlencoding::decode(&s.replace('+', " "))
                .map(|c| c.into_owned())
                .map_err(|_| {
                    ApiError::bad_request(
                        "The query string is not valid percent-encoded UTF-8.".to_string(),
                    )
                })
        };
        let (k, v) = (decode(k)?, decode(v)?);
        if !allowed.contains(&k.as_str()) {
            return Err(rule_error(
                QUERY_PARAMETER_UNKNOWN,
                &k,
                format!(
                    "Unknown query parameter `{k}`; this endpoint accepts: {}.",
                    allowed.join(", ")
                ),
            ));
        }
        if out.contains_key(&k) {
            return Err(rule_error(
                QUERY_PARAMETER_REPEATED,
                &k,
                format!("Query parameter `{k}` is given more than once; give it once."),
            ));
        }
        out.insert(k, v);
    }
    Ok(out)
}

/// `page` and `pageSize` of a parsed query, validated, with their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    pub page: u32,
    pub page_size: u32,
}

impl Paging {
    pub(crate) fn from_query(q: &HashMap<String, String>) -> ApiResult<Paging> {
        let page = match q.get("page") {
            None => 1,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(p) if p >= 1 => p,
                _ => {
                    return Err(rule_error(
                        PAGE_INVALID,
                        "page",
                        format!("page must be an integer of at least 1 (got \"{v}\")."),
                    ))
                }
            },
        };
        let page_size = match q.get("pageSize") {
            None => DEFAULT_PAGE_SIZE,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(s) if (1..=MAX_PAGE_SIZE).contains(&s) => s,
                _ => {
                    return Err(rule_error(
                        PAGE_SIZE_OUT_OF_RANGE,
                        "pageSize",
                        format!(
                            "pageSize must be an integer from 1 to {MAX_PAGE_SIZE} (got \"{v}\")."
                        ),
                    ))
                }
            },
        };
        Ok(Paging { page, page_size })
    }

    /// SQL `LIMIT`, `OFFSET`.
    pub(crate) fn limit_offset(self) -> (i64, i64) {
        let limit = i64::from(self.page_size);
        (limit, (i64::from(self.page) - 1) * limit)
    }

    /// The page object for `items` out of `total`.
    pub(crate) fn page<T>(self, items: Vec<T>, total: u64) -> Page<T> {
        let size = u64::from(self.page_size);
        Page {
            items,
            page: Some(self.page),
            page_size: Some(self.page_size),
            total_items: Some(total),
            total_pages: Some(total.div_ceil(size)),
        }
    }
}

// ----- handlers -------------------------------------------------------------

fn list_not_found(list_id: &str) -> ApiError {
    ApiError::not_found(format!("List `{list_id}` not found in this workspace."))
        .with_details(json!({ "listId": list_id }))
}

/// The list of the caller's workspace, or 404.
fn load_list(state: &App, caller: &Caller, list_id: &str) -> ApiResult<List> {
    if !list_id.starts_with("lst_") {
        return Err(list_not_found(list_id));
    }
    get_list(&state.db, &caller.workspace, list_id)?.ok_or_else(|| list_not_found(list_id))
}

/// `POST /lists` → 201 with the new, empty list.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    caller.require(SCOPE_WRITE)?;
    idempotency::guard(&state, &caller, &headers, "POST", "/lists", &body, || {
        create_list(&state, &caller, &body)
    })
    .await
}

async fn create_list(state: &App, caller: &Caller, body: &[u8]) -> ApiResult<Response> {
    let req: CreateListRequest = parse_json(body)?;
    let name = match req.name.as_deref() {
        Some(n) if !n.trim().is_empty() => n,
        _ => {
            return Err(rule_error(
                FIELD_REQUIRED,
                "name",
                "name is required: give the list a name of 1 to 200 characters.",
            ))
        }
    };
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(rule_error(
            LIST_NAME_TOO_LONG,
            "name",
            format!("name is {chars} characters long; the limit is {MAX_NAME_CHARS}."),
        ));
    }
    if let Some(d) = req.description.as_deref() {
        let chars = d.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            return Err(rule_error(
                LIST_DESCRIPTION_TOO_LONG,
                "description",
                format!(
                    "description is {chars} characters long; the limit is \
                     {MAX_DESCRIPTION_CHARS}."
                ),
            ));
        }
    }
    let now = state.now();
    let id = {
        let conn = state.db.conn();
        ensure_schema(&conn)?;
        insert_list(
            &conn,
            &caller.workspace,
            name,
            req.description.as_deref(),
            SOURCE_MANUAL,
            now,
        )?
    };
    let list = get_list(&state.db, &caller.workspace, &id)?
        .ok_or_else(|| ApiError::internal("a list vanished right after its creation"))?;
    Ok(envelope(StatusCode::CREATED, list))
}

/// `GET /lists?page&pageSize[&name]` → a page of the workspace's lists.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    caller.require(SCOPE_READ)?;
    let q = parse_query(query.as_deref(), &["page", "pageSize", "name"])?;
    let paging = Paging::from_query(&q)?;
    let name = q.get("name").map(String::as_str);
    let (limit, offset) = paging.limit_offset();
    let (items, total) = {
        let conn = state.db.conn();
        ensure_schema(&conn)?;
        page_by_name(
            &conn,
            "lists",
            LIST_COLUMNS,
            list_from_row,
            &caller.workspace,
            name,
            (limit, offset),
        )?
    };
    Ok(ok(paging.page(items, total)))
}

/// One page of a workspace's rows of `table` (lists, audiences), newest
/// first, optionally only those named exactly `name`; with the total count.
pub(crate) fn page_by_name<T>(
    conn: &Connection,
    table: &str,
    columns: &str,
    from_row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    workspace: &str,
    name: Option<&str>,
    (limit, offset): (i64, i64),
) -> rusqlite::Result<(Vec<T>, u64)> {
    let filter = "workspace = ?1 AND (?2 IS NULL OR name = ?2)";
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM {table} WHERE {filter}"),
        params![workspace, name],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {columns} FROM {table} WHERE {filter} \
         ORDER BY created_at DESC, rowid DESC LIMIT ?3 OFFSET ?4"
    ))?;
    let items = stmt
        .query_map(params![workspace, name, limit, offset], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// `GET /lists/{list_id}` → the list.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(list_id): Path<String>,
) -> ApiResult<Response> {
    caller.require(SCOPE_READ)?;
    Ok(ok(load_list(&state, &caller, &list_id)?))
}

/// `GET /lists/{list_id}/members?page&pageSize` → a page of members.
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(list_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    caller.require(SCOPE_READ)?;
    let list = load_list(&state, &caller, &list_id)?;
    let q = parse_query(query.as_deref(), &["page", "pageSize"])?;
    let paging = Paging::from_query(&q)?;
    let (limit, offset) = paging.limit_offset();
    let items = {
        let conn = state.db.conn();
        let mut stmt = conn.prepare(
            "SELECT contact_key, added_at FROM list_members WHERE list_id = ?1 \
             ORDER BY added_at, contact_key LIMIT ?2 OFFSET ?3",
        )?;
        let items = stmt
            .query_map(params![list.id, limit, offset], |r| {
                Ok(ListMember {
                    contact_key: r.get(0)?,
                    added_at: rfc3339(from_millis(r.get(1)?)),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        items
    };
    Ok(ok(paging.page(items, list.member_count)))
}
