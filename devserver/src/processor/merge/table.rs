//! The records database: one SQLite table per object (see the module's
//! "Tables"), opened and tuned once, tables created on first use and
//! widened when a schema gains a field, and the job bookkeeping
//! (`_jobs`, `_merged_jobs`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use import_core::rules::DataType;
use import_core::wire::{ObjectSchema, ProfileUnification, WriteMode};
use indexmap::IndexMap;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Page size of a new records database, bytes (SQLite's largest). A bulk
/// merge of 10 M profiles rows took 11.3–11.6 s of writes with 64 KiB
/// pages against 11.7–13.2 s with 16 KiB and 15.1–17.3 s with 4 KiB, and
/// its commit 0.05 s against 0.3 s and 0.8–1.0 s: fewer page splits, and
/// far fewer log frames. A database created with another page size keeps
/// it (it cannot change in WAL mode).
pub(super) const PAGE_SIZE: i64 = 64 * 1024;

/// File name of the records database inside the data directory.
pub const RECORDS_FILE: &str = "records.sqlite3";

/// The table holding the records of `object_name`.
pub fn table_name(object_name: &str) -> String {
    format!("obj_{object_name}")
}

/// `"name"` as an SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// SQLite column type of a schema data type.
pub(super) fn column_type(t: DataType) -> &'static str {
    match t {
        DataType::Integer | DataType::Boolean => "INTEGER",
        DataType::Number => "REAL",
        _ => "TEXT",
    }
}

/// Turns off SQLite's memory statistics, process-wide, before the first
/// connection opens: with them on, every allocation SQLite makes (several
/// per merged row) takes a global mutex; the emulator never reads them.
/// Later calls, or a call after SQLite has started, do nothing.
pub fn tune_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` is documented to be callable before
        // `sqlite3_initialize`; after it, it returns SQLITE_MISUSE and
        // changes nothing (the result is ignored on purpose).
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            );
        }
    });
}

/// The records database of one emulator.
#[derive(Debug)]
pub struct Records {
    path: PathBuf,
    gate: Mutex<()>,
}

impl Records {
    /// Opens (creating) `DIR/records.sqlite3` in WAL mode.
    pub fn open(data_dir: &Path) -> anyhow::Result<Records> {
        tune_sqlite();
        let records = Records {
            path: data_dir.join(RECORDS_FILE),
            gate: Mutex::new(()),
        };
        let conn = records.connect()?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS _merged_jobs (
                job_id      TEXT PRIMARY KEY,
                workspace   TEXT NOT NULL,
                object_name TEXT NOT NULL,
                inserts     INTEGER NOT NULL,
                updates     INTEGER NOT NULL,
                merged_at   INTEGER NOT NULL
            );",
        )
        .context("creating the records database")?;
        // Databases of earlier versions lack the completion column.
        let has_completion = conn
            .prepare("SELECT 1 FROM pragma_table_info('_merged_jobs') WHERE name = 'completion'")?
            .exists([])?;
        if !has_completion {
            conn.execute_batch("ALTER TABLE _merged_jobs ADD COLUMN completion TEXT")
                .context("adding the completion column to the records database")?;
        }
        // Spill files left by a process that stopped mid-job.
        let _ = std::fs::remove_dir_all(records.spill_dir());
        Ok(records)
    }

    /// Where jobs spill sorted runs of rows (`DATA_DIR/spill`).
    pub fn spill_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(|d| d.join("spill"))
            .unwrap_or_else(|| PathBuf::from("spill"))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new connection (one per job).
    pub fn connect(&self) -> anyhow::Result<Connection> {
        let conn = Connection::open(&self.path).context("opening the records database")?;
        // The write gate serialises this emulator's writers; the timeout only
        // covers other processes reading or checkpointing the file.
        conn.busy_timeout(Duration::from_secs(60))?;
        // The page size of a new database: it takes effect at the database's
        // first write (switching to WAL here is one) and cannot change once
        // in WAL mode; on an existing database it does nothing.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A bounded page cache (memory stays the same whatever the file's
        // size); a merge walks the table in key order, so pages it spills to
        // the log mid-transaction are rarely written twice.
        conn.pragma_update(None, "cache_size", -64 * 1024)?;
        // No checkpoint inside a job's commit: [`checkpoint`] runs once the
        // job has been reported complete.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(conn)
    }

    /// Taken by a job for the whole of its write transaction.
    pub fn write_gate(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Copies the write-ahead log into the database file, without waiting for
/// readers (run after a job completes, outside its latency).
pub fn checkpoint(conn: &Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
        tracing::warn!(error = %e, "records checkpoint failed");
    }
}

/// The job numbers that records carry in `_created_job` / `_updated_job`
/// (a small integer instead of the job's 30-character id in every row).
pub(super) const JOBS_TABLE: &str = "CREATE TABLE IF NOT EXISTS _jobs (
    num    INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE
)";

/// The number of job `job_id` in `_jobs`, given on first use (inside the
/// job's transaction, so a job that rolls back leaves no number behind).
pub fn job_number(conn: &Connection, job_id: &str) -> rusqlite::Result<i64> {
    conn.execute_batch(JOBS_TABLE)?;
    conn.execute("INSERT OR IGNORE INTO _jobs (job_id) VALUES (?1)", [job_id])?;
    conn.query_row("SELECT num FROM _jobs WHERE job_id = ?1", [job_id], |r| {
        r.get(0)
    })
}

/// Creates the object's table (and key index) if needed and adds columns for
/// fields the schema has gained. Runs inside the job's transaction.
pub fn ensure_table(conn: &Connection, schema: &ObjectSchema) -> rusqlite::Result<()> {
    let table = table_name(&schema.summary.object_name);
    let key = match schema.summary.ingestion.default_write_mode {
        WriteMode::Upsert => schema.identity_keys.first(),
        WriteMode::Append => None,
    };
    let mut columns = Vec::new();
    if key.is_none() {
        columns.push("_id INTEGER PRIMARY KEY".to_string());
    }
    columns.extend(
        [
            "_workspace TEXT NOT NULL",
            "_created_job INTEGER NOT NULL",
            "_updated_job INTEGER NOT NULL",
        ]
        .map(str::to_string),
    );
    for f in &schema.fields {
        let t = DataType::parse(&f.data_type).unwrap_or(DataType::String);
        columns.push(format!("{} {}", ident(&f.name), column_type(t)));
    }
    // Upsert tables are clustered on (workspace, key): one B-tree to look
    // up and write, instead of a table and an index.
    let suffix = match key {
        Some(k) => {
            columns.push(format!("PRIMARY KEY (_workspace, {})", ident(k)));
            " WITHOUT ROWID"
        }
        None => "",
    };
    conn.execute_batch(JOBS_TABLE)?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {} ({}){suffix}",
        ident(&table),
        columns.join(", ")
    ))?;
    // (name, part of the primary key)
    let existing: Vec<(String, bool)> = {
        let mut stmt = conn.prepare(&format!("PRAGMA table_info({})", ident(&table)))?;
        let names = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)? > 0))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        names
    };
    for f in &schema.fields {
        if !existing.iter().any(|(c, _)| c == &f.name) {
            let t = DataType::parse(&f.data_type).unwrap_or(DataType::String);
            conn.execute_batch(&format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                ident(&table),
                ident(&f.name),
                column_type(t)
            ))?;
        }
    }
    // A table created when the object had another key (or write mode) gets
    // a unique index on the current key instead.
    if let Some(k) = key {
        if !existing.iter().any(|(c, pk)| c == k && *pk) {
            conn.execute_batch(&format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (_workspace, {})",
                ident(&format!("{table}__key__{k}")),
                ident(&table),
                ident(k)
            ))?;
        }
    }
    Ok(())
}

/// What a job that merged reports once it is `completed`: kept with its
/// `_merged_jobs` row, in the transaction of its records, so that a restart
/// finding the job still `running` (the process stopped between the
/// records' commit and the job's `completed`, two databases) completes it
/// with these figures instead of failing a job whose rows are merged
/// ([`crate::jobs::on_start`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
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
    /// `{errorCode: count}` of the rejected rows (None when none was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_summary: Option<IndexMap<String, u64>>,
    /// Storage path of the error file (committed before the records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_file: Option<String>,
    /// Lines in the error file.
    pub error_count: u64,
    /// What `autoProfileAfterImport` merged, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_unification: Option<ProfileUnification>,
}

/// Records in the job's transaction that it merged (`_merged_jobs`), with
/// what its status will report.
pub fn record_job(
    conn: &Connection,
    job_id: &str,
    workspace: &str,
    object_name: &str,
    completion: &Completion,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let text = serde_json::to_string(completion)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    conn.execute(
        "INSERT OR REPLACE INTO _merged_jobs (job_id, workspace, object_name, inserts, updates, \
         merged_at, completion) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            job_id,
            workspace,
            object_name,
            completion.merged_inserts as i64,
            completion.merged_updates as i64,
            now_ms,
            text
        ],
    )?;
    Ok(())
}

/// Whether job `job_id` merged, read from the records database of
/// `data_dir` (if there is one): `Some` with what it recorded (None inside
/// for a row written before completions were kept), `None` when it did not
/// merge.
pub fn merged_job(data_dir: &Path, job_id: &str) -> anyhow::Result<Option<Option<Completion>>> {
    let path = data_dir.join(RECORDS_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let conn = Connection::open(&path).context("opening the records database")?;
    conn.busy_timeout(Duration::from_secs(60))?;
    let has_table = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_merged_jobs'")?
        .exists([])?;
    if !has_table {
        return Ok(None);
    }
    let has_completion = conn
        .prepare("SELECT 1 FROM pragma_table_info('_merged_jobs') WHERE name = 'completion'")?
        .exists([])?;
    let sql = if has_completion {
        "SELECT completion FROM _merged_jobs WHERE job_id = ?1"
    } else {
        "SELECT NULL FROM _merged_jobs WHERE job_id = ?1"
    };
    let row: Option<Option<String>> = conn.query_row(sql, [job_id], |r| r.get(0)).optional()?;
    Ok(match row {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(Some(
            serde_json::from_str(&text).context("reading a job's recorded completion")?,
        )),
    })
}

/// The distinct non-empty values of `field` in the records of
/// `object_name` that job `job_id` inserted or last updated in `workspace`
/// (e.g. the e-mail addresses to put in the list a job creates), in value
/// order. Read after the job's commit.
pub fn job_keys(
    conn: &Connection,
    object_name: &str,
    field: &str,
    workspace: &str,
    job_id: &str,
) -> rusqlite::Result<Vec<String>> {
    let col = ident(field);
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT CAST({col} AS TEXT) AS k FROM {} \
         WHERE _workspace = ?1 AND _updated_job = (SELECT num FROM _jobs WHERE job_id = ?2) \
         AND {col} IS NOT NULL AND {col} != '' \
         ORDER BY k",
        ident(&table_name(object_name))
    ))?;
    let keys = stmt
        .query_map([workspace, job_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(keys)
}
