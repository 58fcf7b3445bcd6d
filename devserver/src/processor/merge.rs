//! The merged records: one SQLite table per object in
//! `DATA_DIR/records.sqlite3`, a database of its own so that a long merge
//! never holds the lock of the jobs database that every API request needs.
//!
//! # Tables
//!
//! Object `profiles` lives in table `obj_profiles`: one column per schema
//! field (named as the field, `INTEGER` for integers and booleans, `REAL` for
//! numbers, `TEXT` otherwise: dates and datetimes as their normalised ISO
//! 8601 text), plus bookkeeping columns whose names start with `_`:
//! `_workspace` (records belong to the workspace of the job that wrote
//! them), `_created_job`, `_updated_job`, `_created_at`, `_updated_at`
//! (milliseconds since the Unix epoch). The table of an `upsert` object has
//! the primary key (`_workspace`, merge key) and no row id; an `append`
//! object's table has a row id `_id`. Tables are created on first use and
//! gain a column when the object's schema gains a field.
//!
//! # Write modes
//!
//! * `upsert` objects merge on their first identity key (unique per
//!   workspace). The key value arrives normalised by
//!   [`import_core::validate`] (trimmed; e-mail addresses lower-cased). A row
//!   whose key is new inserts a record; a row whose key exists (written by an
//!   earlier job, or earlier in the same file) updates it and counts as an
//!   update. An update writes only the fields the file maps; fields the file
//!   does not map are left unchanged, and so are mapped fields whose cell is
//!   empty (or, in `landing_friendly`, could not be coerced): **an empty cell
//!   never erases a stored value.** To clear a field, write `null` through
//!   the Records or Profiles API. On insert, an empty cell is stored as null.
//! * `append` objects insert every valid row; `mergedUpdates` stays 0.
//!
//! # All or nothing
//!
//! A job's rows are written in one transaction, committed once every row has
//! been read. Until then no reader sees any of them; a failure, or the
//! process stopping mid-job, rolls the whole job back. Jobs of one emulator
//! take turns to write (the [`Records::write_gate`]), so a second job waits
//! for the first one's commit rather than failing on a busy database. The
//! table `_merged_jobs` records, in the same transaction, which job merged
//! how many rows.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use import_core::rules::DataType;
use import_core::validate::{MappedField, Value};
use import_core::wire::{ObjectSchema, WriteMode};
use rusqlite::{params, Connection, Statement};

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
fn column_type(t: DataType) -> &'static str {
    match t {
        DataType::Integer | DataType::Boolean => "INTEGER",
        DataType::Number => "REAL",
        _ => "TEXT",
    }
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
        Ok(records)
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
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A bounded page cache large enough that a big merge does not spill
        // to the log mid-transaction (memory stays the same whatever the
        // file's size).
        conn.pragma_update(None, "cache_size", -32 * 1024)?;
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
            "_created_job TEXT NOT NULL",
            "_updated_job TEXT NOT NULL",
            "_created_at INTEGER NOT NULL",
            "_updated_at INTEGER NOT NULL",
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

/// What merging one row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// A new record.
    Inserted,
    /// An existing record (same key) was updated.
    Updated,
}

/// Writes one job's valid rows into its object's table, inside the job's
/// open transaction.
pub struct Merger<'c> {
    insert: Statement<'c>,
    /// `upsert` objects: the update of an existing key.
    update: Option<Statement<'c>>,
    /// Index (into the row's values) of the merge key.
    key: Option<usize>,
    /// Parameter count of `insert` before the field values.
    insert_fixed: usize,
    workspace: String,
    job_id: String,
    now_ms: i64,
}

impl std::fmt::Debug for Merger<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merger")
            .field("key", &self.key)
            .field("job_id", &self.job_id)
            .finish_non_exhaustive()
    }
}

impl<'c> Merger<'c> {
    /// Prepares the statements for rows carrying `fields` (the validator's
    /// mapped fields, in value order). `key_field` is the merge key of an
    /// `upsert` object, None for `append`.
    pub fn new(
        conn: &'c Connection,
        object_name: &str,
        fields: &[MappedField],
        key_field: Option<&str>,
        workspace: &str,
        job_id: &str,
        now_ms: i64,
    ) -> rusqlite::Result<Self> {
        let table = ident(&table_name(object_name));
        let mut cols = vec![
            "_workspace",
            "_created_job",
            "_updated_job",
            "_created_at",
            "_updated_at",
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
        let insert_fixed = cols.len();
        cols.extend(fields.iter().map(|f| ident(&f.field)));
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let verb = if key_field.is_some() {
            "INSERT OR IGNORE"
        } else {
            "INSERT"
        };
        let insert = conn.prepare(&format!(
            "{verb} INTO {table} ({}) VALUES ({})",
            cols.join(", "),
            placeholders.join(", ")
        ))?;
        let key = key_field.and_then(|k| fields.iter().position(|f| f.field == k));
        let update = match key {
            Some(k) => {
                // ?1 job, ?2 now, ?3 workspace, ?4 key, then one per field.
                let sets: Vec<String> = fields
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != k)
                    .map(|(i, f)| {
                        let c = ident(&f.field);
                        format!("{c} = COALESCE(?{}, {c})", i + 5)
                    })
                    .collect();
                let mut set = vec!["_updated_job = ?1".to_string(), "_updated_at = ?2".into()];
                set.extend(sets);
                Some(conn.prepare(&format!(
                    "UPDATE {table} SET {} WHERE _workspace = ?3 AND {} = ?4",
                    set.join(", "),
                    ident(&fields[k].field)
                ))?)
            }
            None => None,
        };
        Ok(Merger {
            insert,
            update,
            key,
            insert_fixed,
            workspace: workspace.to_string(),
            job_id: job_id.to_string(),
            now_ms,
        })
    }

    /// Merges one valid row (values in the order of the fields given to
    /// [`Merger::new`]).
    pub fn merge(&mut self, values: &[Value]) -> rusqlite::Result<Merged> {
        let s = &mut self.insert;
        s.raw_bind_parameter(1, &self.workspace)?;
        s.raw_bind_parameter(2, &self.job_id)?;
        s.raw_bind_parameter(3, &self.job_id)?;
        s.raw_bind_parameter(4, self.now_ms)?;
        s.raw_bind_parameter(5, self.now_ms)?;
        for (i, v) in values.iter().enumerate() {
            bind(s, self.insert_fixed + 1 + i, v)?;
        }
        if s.raw_execute()? == 1 {
            return Ok(Merged::Inserted);
        }
        // Only `INSERT OR IGNORE` (upsert objects) can change no row: the
        // key exists.
        let (Some(u), Some(k)) = (self.update.as_mut(), self.key) else {
            return Err(rusqlite::Error::StatementChangedRows(0));
        };
        u.raw_bind_parameter(1, &self.job_id)?;
        u.raw_bind_parameter(2, self.now_ms)?;
        u.raw_bind_parameter(3, &self.workspace)?;
        bind(u, 4, &values[k])?;
        for (i, v) in values.iter().enumerate() {
            if i != k {
                bind(u, i + 5, v)?;
            }
        }
        match u.raw_execute()? {
            1 => Ok(Merged::Updated),
            n => Err(rusqlite::Error::StatementChangedRows(n)),
        }
    }
}

/// Binds a typed value (booleans as 0/1).
fn bind(s: &mut Statement<'_>, i: usize, v: &Value) -> rusqlite::Result<()> {
    match v {
        Value::Null => s.raw_bind_parameter(i, rusqlite::types::Null),
        Value::String(t) | Value::Date(t) | Value::Datetime(t) => s.raw_bind_parameter(i, t),
        Value::Integer(n) => s.raw_bind_parameter(i, n),
        Value::Number(n) => s.raw_bind_parameter(i, n),
        Value::Boolean(b) => s.raw_bind_parameter(i, i64::from(*b)),
    }
}

/// Records in the job's transaction that it merged (`_merged_jobs`).
pub fn record_job(
    conn: &Connection,
    job_id: &str,
    workspace: &str,
    object_name: &str,
    inserts: u64,
    updates: u64,
    now_ms: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO _merged_jobs (job_id, workspace, object_name, inserts, updates, \
         merged_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            job_id,
            workspace,
            object_name,
            inserts as i64,
            updates as i64,
            now_ms
        ],
    )?;
    Ok(())
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
         WHERE _workspace = ?1 AND _updated_job = ?2 AND {col} IS NOT NULL AND {col} != '' \
         ORDER BY k",
        ident(&table_name(object_name))
    ))?;
    let keys = stmt
        .query_map([workspace, job_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Catalog;
    use import_core::validate::{Mapping, RowValidator};
    use indexmap::IndexMap;

    fn validator(columns: &[(&str, DataType, &str)], key: Option<&str>) -> RowValidator {
        let source: IndexMap<String, DataType> = columns
            .iter()
            .map(|(c, t, _)| (c.to_string(), *t))
            .collect();
        let map: IndexMap<String, String> = columns
            .iter()
            .map(|(c, _, f)| (c.to_string(), f.to_string()))
            .collect();
        let header: Vec<&str> = columns.iter().map(|(c, _, _)| *c).collect();
        let keys: Vec<&str> = key.into_iter().collect();
        RowValidator::new(
            &header,
            Mapping::new(&source, &map),
            import_core::rules::ImportMode::Balanced,
            &keys,
        )
        .unwrap()
    }

    #[test]
    fn upsert_counts_inserts_and_updates_and_keeps_unmapped_and_empty_fields() {
        let catalog = Catalog::defaults();
        let profiles = catalog.get("profiles").unwrap();
        let conn = Connection::open_in_memory().unwrap();
        ensure_table(&conn, profiles).unwrap();
        ensure_table(&conn, profiles).unwrap(); // idempotent

        let v = validator(
            &[
                ("e", DataType::Email, "email"),
                ("n", DataType::String, "first_name"),
                ("p", DataType::Integer, "loyalty_points"),
            ],
            Some("email"),
        );
        let mut m =
            Merger::new(&conn, "profiles", v.fields(), Some("email"), "ws", "j1", 1).unwrap();
        let row = |r: &[&str]| v.validate(1, r).unwrap().values;
        assert_eq!(
            m.merge(&row(&["A@x.io", "Ann", "1"])).unwrap(),
            Merged::Inserted
        );
        assert_eq!(
            m.merge(&row(&["b@x.io", "Bob", "2"])).unwrap(),
            Merged::Inserted
        );
        assert_eq!(
            m.merge(&row(&[" a@X.io", "", "3"])).unwrap(),
            Merged::Updated
        );
        drop(m);

        let v2 = validator(
            &[
                ("e", DataType::Email, "email"),
                ("l", DataType::String, "last_name"),
            ],
            Some("email"),
        );
        let mut m =
            Merger::new(&conn, "profiles", v2.fields(), Some("email"), "ws", "j2", 2).unwrap();
        let row2 = |r: &[&str]| v2.validate(1, r).unwrap().values;
        assert_eq!(m.merge(&row2(&["a@x.io", "Lee"])).unwrap(), Merged::Updated);
        // Same key, another workspace: a record of its own.
        let mut other = Merger::new(
            &conn,
            "profiles",
            v2.fields(),
            Some("email"),
            "ws2",
            "j3",
            3,
        )
        .unwrap();
        assert_eq!(
            other.merge(&row2(&["a@x.io", "Other"])).unwrap(),
            Merged::Inserted
        );
        drop((m, other));

        let got: (String, Option<String>, i64, String, String) = conn
            .query_row(
                "SELECT first_name, last_name, loyalty_points, _created_job, _updated_job \
                 FROM obj_profiles WHERE _workspace = 'ws' AND email = 'a@x.io'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(
            got,
            (
                "Ann".into(),
                Some("Lee".into()),
                3,
                "j1".into(),
                "j2".into()
            )
        );
        assert_eq!(
            job_keys(&conn, "profiles", "email", "ws", "j1").unwrap(),
            ["b@x.io"]
        );
        assert_eq!(
            job_keys(&conn, "profiles", "email", "ws", "j2").unwrap(),
            ["a@x.io"]
        );
        assert_eq!(
            job_keys(&conn, "profiles", "email", "ws2", "j3").unwrap(),
            ["a@x.io"]
        );
    }

    #[test]
    fn append_inserts_every_row() {
        let catalog = Catalog::defaults();
        let orders = catalog.get("orders").unwrap();
        let conn = Connection::open_in_memory().unwrap();
        ensure_table(&conn, orders).unwrap();
        let v = validator(
            &[
                ("id", DataType::String, "order_id"),
                ("amount", DataType::Number, "amount"),
                ("qty", DataType::Integer, "quantity"),
            ],
            None,
        );
        let mut m = Merger::new(&conn, "orders", v.fields(), None, "ws", "j1", 1).unwrap();
        for _ in 0..3 {
            let values = v.validate(1, &["o-1", "2.5", "2"]).unwrap().values;
            assert_eq!(m.merge(&values).unwrap(), Merged::Inserted);
        }
        drop(m);
        let (n, sum): (i64, f64) = conn
            .query_row(
                "SELECT COUNT(*), SUM(amount * quantity) FROM obj_orders",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((n, sum), (3, 15.0));
    }
}
