//! SQLite persistence of the emulator: import jobs, mapping templates and
//! `Idempotency-Key` records, in `DATA_DIR/emulator.sqlite3`.
//!
//! The database runs in WAL mode behind one mutex-guarded connection (the
//! emulator's load is small and every statement is short). The schema is
//! versioned with SQLite's `user_version` and migrated forward on open, so a
//! data directory written by an older emulator keeps working.
//!
//! Times are stored as milliseconds since the Unix epoch (UTC) so that
//! retention and expiry are plain integer comparisons.
//!
//! # The job queue
//!
//! The queue of started jobs is the `jobs` table itself: a started job has
//! state `running` and stage `queued` until a processor claims it with
//! [`Db::claim_next_queued`] (oldest start first), which moves it to stage
//! `parse`. [`Db::notify_queued`] / [`Db::queued`] wake a waiting processor.
//! Being durable, the queue survives a restart: queued jobs stay queued;
//! jobs a processor had claimed are completed or failed at start-up (see
//! [`crate::jobs::on_start`] and [`Db::fail_interrupted`]).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use import_core::wire::JobState;
use indexmap::IndexMap;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use crate::idempotency::InFlight;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "emulator.sqlite3";

/// Schema migrations; entry `i` takes `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, templates, idempotency records.
    r#"
    CREATE TABLE jobs (
        id                      TEXT PRIMARY KEY,
        workspace               TEXT NOT NULL,
        requested_by            TEXT NOT NULL,
        object_name             TEXT NOT NULL,
        file_name               TEXT NOT NULL,
        file_size               INTEGER NOT NULL,
        options                 TEXT NOT NULL,
        state                   TEXT NOT NULL,
        stage                   TEXT NOT NULL,
        mapping                 TEXT,
        import_mode             TEXT,
        landing_path            TEXT NOT NULL,
        upload_expires_at       INTEGER NOT NULL,
        read_rows               INTEGER NOT NULL DEFAULT 0,
        valid_rows              INTEGER NOT NULL DEFAULT 0,
        invalid_rows            INTEGER NOT NULL DEFAULT 0,
        merged_inserts          INTEGER NOT NULL DEFAULT 0,
        merged_updates          INTEGER NOT NULL DEFAULT 0,
        error_summary           TEXT,
        error_message           TEXT,
        error_file              TEXT,
        error_count             INTEGER NOT NULL DEFAULT 0,
        created_at              INTEGER NOT NULL,
        started_at              INTEGER,
        finished_at             INTEGER,
        updated_at              INTEGER NOT NULL
    );
    CREATE INDEX jobs_workspace_state ON jobs (workspace, state);
    CREATE INDEX jobs_queue ON jobs (state, stage, started_at);
    CREATE INDEX jobs_updated_at ON jobs (updated_at);

    CREATE TABLE templates (
        id              TEXT PRIMARY KEY,
        workspace       TEXT NOT NULL,
        name            TEXT NOT NULL,
        object_name     TEXT NOT NULL,
        mapping         TEXT NOT NULL,
        created_by      TEXT NOT NULL,
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX templates_workspace ON templates (workspace);

    CREATE TABLE idempotency (
        workspace       TEXT NOT NULL,
        subject         TEXT NOT NULL,
        key             TEXT NOT NULL,
        request_hash    TEXT NOT NULL,
        status          INTEGER NOT NULL,
        response        BLOB NOT NULL,
        created_at      INTEGER NOT NULL,
        PRIMARY KEY (workspace, subject, key)
    );
    CREATE INDEX idempotency_created_at ON idempotency (created_at);
    "#,
    // 2: the outcome of `autoProfileAfterImport` (JSON).
    "ALTER TABLE jobs ADD COLUMN profile_unification TEXT;",
];

/// The database.
#[derive(Debug)]
pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
    queued: tokio::sync::Notify,
    /// Idempotency keys whose first request is still being served.
    pub(crate) in_flight: InFlight,
}

/// Options of a create request kept with the job (the processor and the
/// lists feature read them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOptions {
    /// Name of the static list to create (`createList`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_name: Option<String>,
    /// Existing list to add the imported records to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_list_id: Option<String>,
    /// Run profile unification after the merge.
    #[serde(default)]
    pub auto_profile_after_import: bool,
    /// Name of the dynamic audience to create (`createAudience`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience_name: Option<String>,
}

/// A job's mapping as stored (after templates are resolved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMapping {
    /// Source columns and their declared data types, in file order.
    pub source_fields: IndexMap<String, String>,
    /// Source column → destination field.
    pub field_map: IndexMap<String, String>,
    /// `balanced`, `strict` or `landing_friendly`.
    pub import_mode: String,
    /// The template the mapping came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
}

/// Row counters of a job, as the status endpoint reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Data rows read.
    pub read_rows: u64,
    /// Rows that passed validation.
    pub valid_rows: u64,
    /// Rows rejected.
    pub invalid_rows: u64,
    /// Valid rows that created a record.
    pub merged_inserts: u64,
    /// Valid rows that updated a record.
    pub merged_updates: u64,
}

/// A job row.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// `imp_` + ULID.
    pub id: String,
    /// Owning workspace.
    pub workspace: String,
    /// Subject of the token that created it (`requestedBy`).
    pub requested_by: String,
    /// Target object.
    pub object_name: String,
    /// Original file name.
    pub file_name: String,
    /// Declared file size in bytes.
    pub file_size: u64,
    /// Create options.
    pub options: JobOptions,
    /// State.
    pub state: JobState,
    /// Stage (`upload`, `queued`, `parse`, `validate`, `merge`, `profile`).
    pub stage: String,
    /// Mapping, once set.
    pub mapping: Option<StoredMapping>,
    /// Import mode, once the mapping is set.
    pub import_mode: Option<String>,
    /// Storage path of the upload (`jobs/{id}/file`).
    pub landing_path: String,
    /// When the upload URL expires.
    pub upload_expires_at: DateTime<Utc>,
    /// Row counters.
    pub counters: Counters,
    /// `{errorCode: count}` of rejected rows (None when nothing was rejected).
    pub error_summary: Option<IndexMap<String, u64>>,
    /// Why a failed job failed.
    pub error_message: Option<String>,
    /// Storage path of the JSONL error file (see
    /// [`crate::storage::Storage::write_path`]).
    pub error_file: Option<String>,
    /// Lines in the error file.
    pub error_count: u64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Start time.
    pub started_at: Option<DateTime<Utc>>,
    /// When the job became `completed` or `failed`.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// What `autoProfileAfterImport` merged, once it has run.
    pub profile_unification: Option<import_core::wire::ProfileUnification>,
}

/// A saved mapping template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// `tpl_` + ULID.
    pub id: String,
    /// Owning workspace.
    pub workspace: String,
    /// Name given in `saveAsTemplate`.
    pub name: String,
    /// Object of the job it was saved from.
    pub object_name: String,
    /// The mapping (its `templateId` is None).
    pub mapping: StoredMapping,
    /// Subject that saved it.
    pub created_by: String,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
}

/// A recorded response to an `Idempotency-Key` request.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    /// Hash of method, path and canonical body of the first request.
    pub request_hash: String,
    /// Its HTTP status.
    pub status: u16,
    /// Its response body, byte for byte.
    pub response: Vec<u8>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// Result of [`Db::start_job`].
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    /// Now `running` / `queued`.
    Started(Box<Job>),
    /// The job is not `ready`.
    WrongState(JobState),
    /// The workspace already runs this many jobs.
    LimitReached(u64),
    /// No such job in the workspace.
    NotFound,
}

/// What [`Db::purge_jobs_before`] deleted, so files can be removed too.
#[derive(Debug, Clone, PartialEq)]
pub struct PurgedJob {
    /// The job id.
    pub id: String,
    /// Its upload's storage path.
    pub landing_path: String,
    /// Storage path of its error file.
    pub error_file: Option<String>,
}

/// Milliseconds since the epoch.
pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`to_millis`].
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

const JOB_COLUMNS: &str = "id, workspace, requested_by, object_name, file_name, file_size, \
    options, state, stage, mapping, import_mode, landing_path, upload_expires_at, read_rows, \
    valid_rows, invalid_rows, merged_inserts, merged_updates, error_summary, error_message, \
    error_file, error_count, created_at, started_at, finished_at, updated_at, profile_unification";

fn json_col<T: for<'de> Deserialize<'de>>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    match text {
        None => Ok(None),
        Some(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.into())
        }),
    }
}

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let state: String = row.get(7)?;
    let state = JobState::parse(&state).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            7,
            rusqlite::types::Type::Text,
            format!("unknown job state `{state}`").into(),
        )
    })?;
    let u = |i: usize| -> rusqlite::Result<u64> { Ok(row.get::<_, i64>(i)?.max(0) as u64) };
    Ok(Job {
        id: row.get(0)?,
        workspace: row.get(1)?,
        requested_by: row.get(2)?,
        object_name: row.get(3)?,
        file_name: row.get(4)?,
        file_size: u(5)?,
        options: json_col(row, 6)?.unwrap_or_default(),
        state,
        stage: row.get(8)?,
        mapping: json_col(row, 9)?,
        import_mode: row.get(10)?,
        landing_path: row.get(11)?,
        upload_expires_at: from_millis(row.get(12)?),
        counters: Counters {
            read_rows: u(13)?,
            valid_rows: u(14)?,
            invalid_rows: u(15)?,
            merged_inserts: u(16)?,
            merged_updates: u(17)?,
        },
        error_summary: json_col(row, 18)?,
        error_message: row.get(19)?,
        error_file: row.get(20)?,
        error_count: u(21)?,
        created_at: from_millis(row.get(22)?),
        started_at: row.get::<_, Option<i64>>(23)?.map(from_millis),
        finished_at: row.get::<_, Option<i64>>(24)?.map(from_millis),
        updated_at: from_millis(row.get(25)?),
        profile_unification: json_col(row, 26)?,
    })
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Serialising these plain structs and maps cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl Db {
    /// Opens (creating if needed) `DIR/emulator.sqlite3`, in WAL mode, and
    /// migrates its schema to the current version.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        let path = dir.join(DB_FILE);
        crate::processor::merge::tune_sqlite();
        let mut conn = Connection::open(&path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn).with_context(|| format!("migrating database {}", path.display()))?;
        Ok(Db {
            conn: Mutex::new(conn),
            path,
            queued: tokio::sync::Notify::new(),
            in_flight: InFlight::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for statements this type has no method for. Hold it
    /// briefly: every request waits on it.
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ----- jobs -------------------------------------------------------

    /// Inserts a new job.
    pub fn insert_job(&self, job: &Job) -> rusqlite::Result<()> {
        let conn = self.conn();
        conn.execute(
            &format!(
                "INSERT INTO jobs ({JOB_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                  ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
            ),
            params![
                job.id,
                job.workspace,
                job.requested_by,
                job.object_name,
                job.file_name,
                job.file_size as i64,
                to_json(&job.options),
                job.state.as_str(),
                job.stage,
                job.mapping.as_ref().map(to_json),
                job.import_mode,
                job.landing_path,
                to_millis(job.upload_expires_at),
                job.counters.read_rows as i64,
                job.counters.valid_rows as i64,
                job.counters.invalid_rows as i64,
                job.counters.merged_inserts as i64,
                job.counters.merged_updates as i64,
                job.error_summary.as_ref().map(to_json),
                job.error_message,
                job.error_file,
                job.error_count as i64,
                to_millis(job.created_at),
                job.started_at.map(to_millis),
                job.finished_at.map(to_millis),
                to_millis(job.updated_at),
                job.profile_unification.as_ref().map(to_json),
            ],
        )?;
        Ok(())
    }

    /// The job `id` of `workspace` (None for another workspace's job).
    pub fn get_job(&self, workspace: &str, id: &str) -> rusqlite::Result<Option<Job>> {
        self.conn()
            .query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND workspace = ?2"),
                params![id, workspace],
                job_from_row,
            )
            .optional()
    }

    /// The job `id`, whatever its workspace (for the processor).
    pub fn get_job_by_id(&self, id: &str) -> rusqlite::Result<Option<Job>> {
        self.conn()
            .query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                params![id],
                job_from_row,
            )
            .optional()
    }

    /// Sets the mapping and moves the job to `ready`, provided it is still
    /// `pending` or `ready`. Returns the state that prevented it otherwise
    /// (None when the job vanished).
    pub fn set_mapping(
        &self,
        id: &str,
        mapping: &StoredMapping,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<Result<(), Option<JobState>>> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE jobs SET mapping = ?2, import_mode = ?3, state = 'ready', updated_at = ?4 \
             WHERE id = ?1 AND state IN ('pending', 'ready')",
            params![id, to_json(mapping), mapping.import_mode, to_millis(now)],
        )?;
        if n == 1 {
            return Ok(Ok(()));
        }
        let state: Option<String> = conn
            .query_row("SELECT state FROM jobs WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        Ok(Err(state.as_deref().and_then(JobState::parse)))
    }

    /// Number of `running` jobs of `workspace`.
    pub fn count_running(&self, workspace: &str) -> rusqlite::Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM jobs WHERE workspace = ?1 AND state = 'running'",
            [workspace],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Atomically checks that the job is `ready` and that fewer than
    /// `max_running` jobs of its workspace run, then moves it to `running`,
    /// stage `queued`, with `startedAt = now`.
    pub fn start_job(
        &self,
        workspace: &str,
        id: &str,
        now: DateTime<Utc>,
        max_running: u64,
    ) -> rusqlite::Result<StartOutcome> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let state: Option<String> = tx
            .query_row(
                "SELECT state FROM jobs WHERE id = ?1 AND workspace = ?2",
                params![id, workspace],
                |r| r.get(0),
            )
            .optional()?;
        let Some(state) = state.as_deref().and_then(JobState::parse) else {
            return Ok(StartOutcome::NotFound);
        };
        if state != JobState::Ready {
            return Ok(StartOutcome::WrongState(state));
        }
        let running: i64 = tx.query_row(
            "SELECT COUNT(*) FROM jobs WHERE workspace = ?1 AND state = 'running'",
            [workspace],
            |r| r.get(0),
        )?;
        if running as u64 >= max_running {
            return Ok(StartOutcome::LimitReached(running as u64));
        }
        tx.execute(
            "UPDATE jobs SET state = 'running', stage = 'queued', started_at = ?2, updated_at = ?2 \
             WHERE id = ?1",
            params![id, to_millis(now)],
        )?;
        let job = tx.query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
            [id],
            job_from_row,
        )?;
        tx.commit()?;
        Ok(StartOutcome::Started(Box::new(job)))
    }

    /// Wakes a processor waiting in [`Db::queued`].
    pub fn notify_queued(&self) {
        self.queued.notify_one();
    }

    /// Resolves when a job has been queued since the last wake-up (a
    /// processor loops: claim until None, then await this).
    pub async fn queued(&self) {
        self.queued.notified().await;
    }

    /// Claims the oldest queued job (state `running`, stage `queued`),
    /// moving it to stage `parse`.
    pub fn claim_next_queued(&self, now: DateTime<Utc>) -> rusqlite::Result<Option<Job>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id: Option<String> = tx
            .query_row(
                "SELECT id FROM jobs WHERE state = 'running' AND stage = 'queued' \
                 ORDER BY started_at, id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE jobs SET stage = 'parse', updated_at = ?2 WHERE id = ?1",
            params![id, to_millis(now)],
        )?;
        let job = tx.query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
            [&id],
            job_from_row,
        )?;
        tx.commit()?;
        Ok(Some(job))
    }

    /// Records progress of a running job: its stage, counters and error
    /// summary so far. Returns false when the job is no longer running.
    pub fn update_progress(
        &self,
        id: &str,
        stage: &str,
        counters: &Counters,
        error_summary: Option<&IndexMap<String, u64>>,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET stage = ?2, read_rows = ?3, valid_rows = ?4, invalid_rows = ?5, \
             merged_inserts = ?6, merged_updates = ?7, error_summary = ?8, updated_at = ?9 \
             WHERE id = ?1 AND state = 'running'",
            params![
                id,
                stage,
                counters.read_rows as i64,
                counters.valid_rows as i64,
                counters.invalid_rows as i64,
                counters.merged_inserts as i64,
                counters.merged_updates as i64,
                error_summary.filter(|m| !m.is_empty()).map(to_json),
                to_millis(now),
            ],
        )?;
        Ok(n == 1)
    }

    /// Marks a running job `completed` with its final counters and error
    /// file (`error_file` a storage path, `error_count` its lines). Returns false when the job is no longer running.
    pub fn complete_job(
        &self,
        id: &str,
        counters: &Counters,
        error_summary: Option<&IndexMap<String, u64>>,
        error_file: Option<&str>,
        error_count: u64,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET state = 'completed', read_rows = ?2, valid_rows = ?3, \
             invalid_rows = ?4, merged_inserts = ?5, merged_updates = ?6, error_summary = ?7, \
             error_file = ?8, error_count = ?9, finished_at = ?10, updated_at = ?10 \
             WHERE id = ?1 AND state = 'running'",
            params![
                id,
                counters.read_rows as i64,
                counters.valid_rows as i64,
                counters.invalid_rows as i64,
                counters.merged_inserts as i64,
                counters.merged_updates as i64,
                error_summary.filter(|m| !m.is_empty()).map(to_json),
                error_file,
                error_count as i64,
                to_millis(now),
            ],
        )?;
        Ok(n == 1)
    }

    /// Records what the profile unification of a running job merged.
    /// Returns false when the job is no longer running.
    pub fn set_profile_unification(
        &self,
        id: &str,
        outcome: &import_core::wire::ProfileUnification,
    ) -> rusqlite::Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET profile_unification = ?2 WHERE id = ?1 AND state = 'running'",
            params![id, to_json(outcome)],
        )?;
        Ok(n == 1)
    }

    /// Marks a running job `failed` with `message` (kept stage and
    /// counters). Returns false when the job is no longer running.
    pub fn fail_job(&self, id: &str, message: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET state = 'failed', error_message = ?2, finished_at = ?3, \
             updated_at = ?3 WHERE id = ?1 AND state = 'running'",
            params![id, message, to_millis(now)],
        )?;
        Ok(n == 1)
    }

    /// The jobs a processor had claimed that are still `running` (used at
    /// start-up: no processor of this process is working on them), oldest
    /// first. Queued jobs are not among them.
    pub fn interrupted_jobs(&self) -> rusqlite::Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM jobs WHERE state = 'running' AND stage != 'queued' \
             ORDER BY started_at, id",
        )?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ids)
    }

    /// Fails every job a processor had claimed that is still `running`
    /// with `message` (used at start-up: no processor of this process is
    /// working on them; queued jobs stay queued). Returns their ids.
    pub fn fail_interrupted(
        &self,
        message: &str,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<Vec<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let ids = {
            let mut stmt = tx.prepare(
                "SELECT id FROM jobs WHERE state = 'running' AND stage != 'queued' ORDER BY id",
            )?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids
        };
        tx.execute(
            "UPDATE jobs SET state = 'failed', error_message = ?1, finished_at = ?2, \
             updated_at = ?2 WHERE state = 'running' AND stage != 'queued'",
            params![message, to_millis(now)],
        )?;
        tx.commit()?;
        Ok(ids)
    }

    /// Deletes every job not `running` whose last change is older than
    /// `cutoff`, returning what was deleted.
    pub fn purge_jobs_before(&self, cutoff: DateTime<Utc>) -> rusqlite::Result<Vec<PurgedJob>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let purged = {
            let mut stmt = tx.prepare(
                "SELECT id, landing_path, error_file FROM jobs \
                 WHERE updated_at < ?1 AND state != 'running'",
            )?;
            let rows = stmt
                .query_map([to_millis(cutoff)], |r| {
                    Ok(PurgedJob {
                        id: r.get(0)?,
                        landing_path: r.get(1)?,
                        error_file: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        tx.execute(
            "DELETE FROM jobs WHERE updated_at < ?1 AND state != 'running'",
            [to_millis(cutoff)],
        )?;
        tx.commit()?;
        Ok(purged)
    }

    // ----- templates --------------------------------------------------

    /// Saves a template.
    pub fn insert_template(&self, t: &Template) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT INTO templates (id, workspace, name, object_name, mapping, created_by, \
             created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                t.id,
                t.workspace,
                t.name,
                t.object_name,
                to_json(&t.mapping),
                t.created_by,
                to_millis(t.created_at),
            ],
        )?;
        Ok(())
    }

    /// The template `id` of `workspace`.
    pub fn get_template(&self, workspace: &str, id: &str) -> rusqlite::Result<Option<Template>> {
        self.conn()
            .query_row(
                "SELECT id, workspace, name, object_name, mapping, created_by, created_at \
                 FROM templates WHERE id = ?1 AND workspace = ?2",
                params![id, workspace],
                |r| {
                    Ok(Template {
                        id: r.get(0)?,
                        workspace: r.get(1)?,
                        name: r.get(2)?,
                        object_name: r.get(3)?,
                        mapping: json_col(r, 4)?.ok_or(rusqlite::Error::InvalidColumnType(
                            4,
                            "mapping".into(),
                            rusqlite::types::Type::Null,
                        ))?,
                        created_by: r.get(5)?,
                        created_at: from_millis(r.get(6)?),
                    })
                },
            )
            .optional()
    }

    // ----- idempotency ------------------------------------------------

    /// The record of `key` for this workspace and subject, if any.
    pub fn get_idempotency(
        &self,
        workspace: &str,
        subject: &str,
        key: &str,
    ) -> rusqlite::Result<Option<IdempotencyRecord>> {
        self.conn()
            .query_row(
                "SELECT request_hash, status, response, created_at FROM idempotency \
                 WHERE workspace = ?1 AND subject = ?2 AND key = ?3",
                params![workspace, subject, key],
                |r| {
                    Ok(IdempotencyRecord {
                        request_hash: r.get(0)?,
                        status: r.get::<_, i64>(1)? as u16,
                        response: r.get(2)?,
                        created_at: from_millis(r.get(3)?),
                    })
                },
            )
            .optional()
    }

    /// Records (or replaces an expired record of) `key`.
    pub fn put_idempotency(
        &self,
        workspace: &str,
        subject: &str,
        key: &str,
        rec: &IdempotencyRecord,
    ) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO idempotency (workspace, subject, key, request_hash, status, \
             response, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                workspace,
                subject,
                key,
                rec.request_hash,
                rec.status as i64,
                rec.response,
                to_millis(rec.created_at),
            ],
        )?;
        Ok(())
    }

    /// Deletes idempotency records created before `cutoff`.
    pub fn purge_idempotency_before(&self, cutoff: DateTime<Utc>) -> rusqlite::Result<usize> {
        self.conn().execute(
            "DELETE FROM idempotency WHERE created_at < ?1",
            [to_millis(cutoff)],
        )
    }
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version as usize > MIGRATIONS.len() {
        anyhow::bail!(
            "the database schema is version {version}, newer than this emulator knows ({}); \
             use a newer emulator or another data directory",
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, ws: &str, now: DateTime<Utc>) -> Job {
        Job {
            id: id.into(),
            workspace: ws.into(),
            requested_by: "tester".into(),
            object_name: "profiles".into(),
            file_name: "a.csv".into(),
            file_size: 10,
            options: JobOptions::default(),
            state: JobState::Pending,
            stage: "upload".into(),
            mapping: None,
            import_mode: None,
            landing_path: format!("jobs/{id}/file"),
            upload_expires_at: now,
            counters: Counters::default(),
            error_summary: None,
            error_message: None,
            error_file: None,
            error_count: 0,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
            profile_unification: None,
        }
    }

    fn mapping() -> StoredMapping {
        StoredMapping {
            source_fields: [("e".to_string(), "email".to_string())]
                .into_iter()
                .collect(),
            field_map: [("e".to_string(), "email".to_string())]
                .into_iter()
                .collect(),
            import_mode: "balanced".into(),
            template_id: None,
        }
    }

    #[test]
    fn lifecycle_queue_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let now = from_millis(to_millis(Utc::now()));
        {
            let db = Db::open(dir.path()).unwrap();
            db.insert_job(&job("imp_a", "ws1", now)).unwrap();
            assert!(db.get_job("ws2", "imp_a").unwrap().is_none());
            assert_eq!(
                db.start_job("ws1", "imp_a", now, 10).unwrap(),
                StartOutcome::WrongState(JobState::Pending)
            );
            db.set_mapping("imp_a", &mapping(), now).unwrap().unwrap();
            let StartOutcome::Started(j) = db.start_job("ws1", "imp_a", now, 10).unwrap() else {
                panic!("not started")
            };
            assert_eq!((j.state, j.stage.as_str()), (JobState::Running, "queued"));
            assert_eq!(
                db.set_mapping("imp_a", &mapping(), now).unwrap(),
                Err(Some(JobState::Running))
            );
            let claimed = db.claim_next_queued(now).unwrap().unwrap();
            assert_eq!(
                (claimed.id.as_str(), claimed.stage.as_str()),
                ("imp_a", "parse")
            );
            assert!(db.claim_next_queued(now).unwrap().is_none());
            let c = Counters {
                read_rows: 3,
                valid_rows: 2,
                invalid_rows: 1,
                merged_inserts: 2,
                merged_updates: 0,
            };
            let summary: IndexMap<String, u64> = [("X".to_string(), 1)].into_iter().collect();
            assert!(db
                .update_progress("imp_a", "merge", &c, Some(&summary), now)
                .unwrap());
        }
        let db = Db::open(dir.path()).unwrap();
        let j = db.get_job("ws1", "imp_a").unwrap().unwrap();
        assert_eq!(j.counters.read_rows, 3);
        assert_eq!(j.error_summary.unwrap()["X"], 1);
        assert_eq!(j.mapping, Some(mapping()));
        assert_eq!(db.fail_interrupted("stop", now).unwrap(), vec!["imp_a"]);
        let j = db.get_job("ws1", "imp_a").unwrap().unwrap();
        assert_eq!(j.state, JobState::Failed);
        assert_eq!(j.error_message.as_deref(), Some("stop"));
        let later = now + chrono::Duration::days(31);
        let purged = db.purge_jobs_before(later).unwrap();
        assert_eq!(purged.len(), 1);
        assert!(db.get_job("ws1", "imp_a").unwrap().is_none());
    }

    #[test]
    fn concurrency_limit_counts_running_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let now = Utc::now();
        for i in 0..3 {
            let id = format!("imp_{i}");
            db.insert_job(&job(&id, "ws", now)).unwrap();
            db.set_mapping(&id, &mapping(), now).unwrap().unwrap();
        }
        assert!(matches!(
            db.start_job("ws", "imp_0", now, 2).unwrap(),
            StartOutcome::Started(_)
        ));
        assert!(matches!(
            db.start_job("ws", "imp_1", now, 2).unwrap(),
            StartOutcome::Started(_)
        ));
        assert_eq!(
            db.start_job("ws", "imp_2", now, 2).unwrap(),
            StartOutcome::LimitReached(2)
        );
        assert_eq!(db.count_running("ws").unwrap(), 2);
    }
}
