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
//!
//! # Speed and memory
//!
//! Writing rows in the file's order would walk the table's B-tree at random
//! (keys such as e-mail addresses arrive unordered), which is slow once the
//! table outgrows the page cache and rewrites each page many times. So the
//! rows of an `upsert` object are written in key order ([`Merger::push`]):
//! a job of up to [`BATCH_ROWS`] valid rows is sorted in memory; a larger
//! one is spilled, in file order, to a temporary table that SQLite sorts on
//! disk before the merge walks the table once. Rows of one key keep their
//! file order, so counting and "last row wins" are exactly those of a row by
//! row merge. Statements are prepared once per job; the page cache is
//! bounded (64 MiB) and the database uses 16 KiB pages. Peak memory is
//! therefore bounded whatever the file's size (the batch, the page cache
//! and SQLite's sorter), and the job stays one transaction.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use import_core::rules::DataType;
use import_core::validate::{MappedField, Value};
use import_core::wire::{ObjectSchema, WriteMode};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, Statement};

/// Page size of the records database, bytes.
const PAGE_SIZE: i64 = 16 * 1024;

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
        {
            // Page size of a new database (it cannot change once in WAL
            // mode): larger pages mean fewer page splits in a bulk merge.
            let conn = Connection::open(&records.path).context("opening the records database")?;
            conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        }
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
    job_id: String,
    conn: &'c Connection,
    /// Values per row.
    width: usize,
    /// Rows waiting to be sorted (upsert objects).
    batch: Vec<Vec<Value>>,
    batch_rows: usize,
    /// Emptied value vectors, reused for the next rows.
    spare: Vec<Vec<Value>>,
    /// Rows spilled to `temp._stage`.
    staged: u64,
    inserted: u64,
    updated: u64,
}

/// Rows a [`Merger`] sorts in memory before spilling to disk (a fixed
/// bound: about 50 MB for a profile of ten short fields).
pub const BATCH_ROWS: usize = 128 * 1024;

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
        // The job's own parameters are bound once: a statement keeps its
        // bindings from one execution to the next, so each row binds only
        // its values (each text binding is a copy).
        let mut insert = insert;
        insert.raw_bind_parameter(1, workspace)?;
        insert.raw_bind_parameter(2, job_id)?;
        insert.raw_bind_parameter(3, job_id)?;
        insert.raw_bind_parameter(4, now_ms)?;
        insert.raw_bind_parameter(5, now_ms)?;
        let mut update = update;
        if let Some(u) = update.as_mut() {
            u.raw_bind_parameter(1, job_id)?;
            u.raw_bind_parameter(2, now_ms)?;
            u.raw_bind_parameter(3, workspace)?;
        }
        Ok(Merger {
            insert,
            update,
            key,
            insert_fixed,
            job_id: job_id.to_string(),
            conn,
            width: fields.len(),
            batch: Vec::new(),
            batch_rows: BATCH_ROWS,
            spare: Vec::new(),
            staged: 0,
            inserted: 0,
            updated: 0,
        })
    }

    /// Queues one valid row (values in the order of the fields given to
    /// [`Merger::new`]); returns an empty vector to reuse for the next row.
    ///
    /// An `append` object's rows are written as they come. An `upsert`
    /// object's rows are written in key order, so that the table's B-tree is
    /// walked once in order instead of at random (several times faster, and
    /// each page is written once): up to [`Merger::batch_rows`] rows are
    /// sorted in memory; a job with more spills them, in file order, to a
    /// temporary table (`temp._stage`) that SQLite sorts on disk at
    /// [`Merger::finish`]. Memory stays the same whatever the file's size.
    /// Rows of one key keep their file order, so the last one wins and the
    /// first one counts as the insert, exactly as row by row.
    pub fn push(&mut self, values: Vec<Value>) -> rusqlite::Result<Vec<Value>> {
        if self.key.is_none() {
            let merged = self.merge(&values)?;
            self.count(merged);
            let mut values = values;
            values.clear();
            return Ok(values);
        }
        self.batch.push(values);
        if self.batch.len() >= self.batch_rows {
            self.spill()?;
        }
        Ok(self.spare.pop().unwrap_or_default())
    }

    /// Rows held in memory before spilling to the temporary table.
    pub fn batch_rows(&self) -> usize {
        self.batch_rows
    }

    /// Sets [`Merger::batch_rows`] (at least 1).
    pub fn set_batch_rows(&mut self, rows: usize) {
        self.batch_rows = rows.max(1);
    }

    /// Writes every queued row (call once, after the last [`Merger::push`]).
    pub fn finish(&mut self) -> rusqlite::Result<()> {
        if self.staged == 0 {
            let mut batch = std::mem::take(&mut self.batch);
            // (prefix of the key, position): most comparisons end on the
            // prefix, without reading the key's text.
            let mut order: Vec<(u128, u32)> = match self.key {
                Some(k) => batch
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (key_prefix(&v[k]), i as u32))
                    .collect(),
                None => Vec::new(),
            };
            let key = self.key.unwrap_or(0);
            // Equal keys keep their file order (the position breaks ties).
            order.sort_unstable_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| key_cmp(&batch[a.1 as usize][key], &batch[b.1 as usize][key]))
                    .then(a.1.cmp(&b.1))
            });
            let order: Vec<u32> = order.into_iter().map(|(_, i)| i).collect();
            for &i in &order {
                let merged = self.merge(&batch[i as usize])?;
                self.count(merged);
            }
            batch.clear();
            return Ok(());
        }
        self.spill()?;
        let Some(k) = self.key else { return Ok(()) };
        let width = self.width;
        let mut values: Vec<Value> = Vec::with_capacity(width);
        {
            let mut read = self.conn.prepare(&format!(
                "SELECT {} FROM temp._stage ORDER BY c{k}, seq",
                (0..width)
                    .map(|i| format!("c{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))?;
            let mut rows = read.query([])?;
            while let Some(row) = rows.next()? {
                values.clear();
                for i in 0..width {
                    values.push(match row.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(n) => Value::Integer(n),
                        ValueRef::Real(x) => Value::Number(x),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Value::String(String::from_utf8_lossy(t).into_owned())
                        }
                    });
                }
                let merged = self.merge(&values)?;
                self.count(merged);
            }
        }
        self.conn.execute_batch("DROP TABLE temp._stage")?;
        self.staged = 0;
        Ok(())
    }

    fn count(&mut self, merged: Merged) {
        match merged {
            Merged::Inserted => self.inserted += 1,
            Merged::Updated => self.updated += 1,
        }
    }

    /// Appends the queued rows, in file order, to `temp._stage`.
    fn spill(&mut self) -> rusqlite::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let width = self.width;
        if self.staged == 0 {
            let cols: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
            self.conn.execute_batch(&format!(
                "DROP TABLE IF EXISTS temp._stage; \
                 CREATE TEMP TABLE _stage (seq INTEGER PRIMARY KEY, {})",
                cols.join(", ")
            ))?;
        }
        let mut stage = self.conn.prepare_cached(&format!(
            "INSERT INTO temp._stage VALUES (?1, {})",
            (0..width)
                .map(|i| format!("?{}", i + 2))
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
        let mut batch = std::mem::take(&mut self.batch);
        for mut v in batch.drain(..) {
            self.staged += 1;
            stage.raw_bind_parameter(1, self.staged as i64)?;
            for (i, x) in v.iter().enumerate() {
                bind(&mut stage, i + 2, x)?;
            }
            stage.raw_execute()?;
            if self.spare.len() < self.batch_rows {
                v.clear();
                self.spare.push(v);
            }
        }
        self.batch = batch;
        Ok(())
    }

    /// (inserted, updated) rows written so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.inserted, self.updated)
    }

    /// Merges one valid row (values in the order of the fields given to
    /// [`Merger::new`]).
    pub fn merge(&mut self, values: &[Value]) -> rusqlite::Result<Merged> {
        let s = &mut self.insert;
        // ?1 to ?5 (workspace, job, time) stay bound from [`Merger::new`].
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
        // ?1 to ?3 (job, time, workspace) stay bound from [`Merger::new`].
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

/// Orders key values as the table's B-tree roughly does (only locality
/// depends on it: a key column's values all have the key field's type).
fn key_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (
            Value::String(x) | Value::Date(x) | Value::Datetime(x),
            Value::String(y) | Value::Date(y) | Value::Datetime(y),
        ) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The first 16 bytes of a text key as a big-endian number (so that it
/// orders as the bytes do; shorter keys are padded with zeros, which
/// [`key_cmp`] then tells apart), 0 for other keys.
fn key_prefix(v: &Value) -> u128 {
    match v {
        Value::String(x) | Value::Date(x) | Value::Datetime(x) => {
            let mut b = [0u8; 16];
            let n = x.len().min(16);
            b[..n].copy_from_slice(&x.as_bytes()[..n]);
            u128::from_be_bytes(b)
        }
        _ => 0,
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Integer(_) | Value::Number(_) | Value::Boolean(_) => 1,
        _ => 2,
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
    fn queued_rows_spilled_to_disk_merge_in_file_order_per_key() {
        let catalog = Catalog::defaults();
        let profiles = catalog.get("profiles").unwrap();
        let conn = Connection::open_in_memory().unwrap();
        ensure_table(&conn, profiles).unwrap();
        let v = validator(
            &[
                ("e", DataType::Email, "email"),
                ("n", DataType::String, "first_name"),
                ("p", DataType::Integer, "loyalty_points"),
            ],
            Some("email"),
        );
        let rows = [
            ["c@x.io", "C", "1"],
            ["a@x.io", "A1", "1"],
            ["b@x.io", "B", "2"],
            ["A@x.io", "A2", ""],
            ["c@x.io", "C2", "5"],
            ["a@x.io", "A3", "7"],
            ["d@x.io", "D", "4"],
        ];
        for batch_rows in [2, 3, 100] {
            conn.execute_batch("DELETE FROM obj_profiles").unwrap();
            let mut m =
                Merger::new(&conn, "profiles", v.fields(), Some("email"), "ws", "j", 1).unwrap();
            m.set_batch_rows(batch_rows);
            for r in &rows {
                let values = v.validate(1, r).unwrap().values;
                m.push(values).unwrap();
            }
            m.finish().unwrap();
            assert_eq!(m.counts(), (4, 3), "batch of {batch_rows}");
            drop(m);
            let got: Vec<(String, String, i64)> = conn
                .prepare(
                    "SELECT email, first_name, loyalty_points FROM obj_profiles ORDER BY email",
                )
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let want = [
                ("a@x.io", "A3", 7),
                ("b@x.io", "B", 2),
                ("c@x.io", "C2", 5),
                ("d@x.io", "D", 4),
            ]
            .map(|(e, n, p)| (e.to_string(), n.to_string(), p));
            assert_eq!(got, want, "batch of {batch_rows}");
        }
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
        // Queued rows of an append object are written as they come.
        m.set_batch_rows(1);
        for _ in 0..2 {
            let values = v.validate(1, &["o-2", "1", "1"]).unwrap().values;
            assert!(m.push(values).unwrap().is_empty());
        }
        m.finish().unwrap();
        assert_eq!(m.counts(), (2, 0));
        drop(m);
        let (n, sum): (i64, f64) = conn
            .query_row(
                "SELECT COUNT(*), SUM(amount * quantity) FROM obj_orders",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((n, sum), (5, 17.0));
    }
}
