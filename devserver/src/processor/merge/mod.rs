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
//! them), `_created_job` and `_updated_job`, the number in table `_jobs`
//! ([`job_number`]) of the job that created the record and of the one that
//! last changed it. When that was is the job's `merged_at` in table
//! `_merged_jobs` ([`record_job`]), so rows carry no time of their own
//! (tables created by earlier versions also have `_created_at` and
//! `_updated_at`, in milliseconds since the Unix epoch, still kept up to
//! date; the narrower rows of new tables are about a tenth cheaper to
//! write). The table of an `upsert` object has
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
//! rows of an `upsert` object are written in key order ([`Merger::push_encoded`]).
//! Rows arrive encoded by [`encode_row`] (a tag byte per value, texts as
//! length and bytes) and queue in one buffer, up to [`BATCH_ROWS`] rows or
//! [`BATCH_BYTES`]. A full batch goes to a spilling thread, which sorts it
//! and writes it as a run to a spill file (removed after the job) while the
//! job thread queues the next batch. At the end ([`Merger::finish`]) a
//! sorting thread sorts the last batch, merges it with the runs and
//! combines the rows of each key, and the job thread writes what it hands
//! over: the SQLite writes, the slowest part, run beside the merge instead
//! of after it. Rows of one key keep their file order, so counting and
//! "last row wins" are exactly those of a row by row merge. (Spilling to an
//! SQLite temporary table sorted by SQLite, an earlier design, cost several
//! times more per row.) Records name their job by a small number
//! ([`job_number`]) rather than its id, which keeps rows narrow. Statements
//! are prepared once per job, the job's own parameters bound once; the page
//! cache is bounded (64 MiB) and the database uses 64 KiB pages (`PAGE_SIZE` in [`table`]).
//! Peak memory is therefore bounded whatever the file's size (two batches,
//! the page cache and a read buffer per run), and the job stays one
//! transaction.
//!
//! # Files
//!
//! This file holds the [`Merger`]; [`table`] the records database and its
//! tables (opening, creating and widening tables, the job bookkeeping);
//! `codec` the compact row encoding of queued and spilled rows
//! ([`encode_row`]); `spill` the sorted runs on disk and the threads that
//! sort, spill and merge them.

mod codec;
mod spill;
pub mod table;

use std::path::{Path, PathBuf};

use anyhow::Context;
use import_core::validate::{MappedField, Value};
use rusqlite::{Connection, Statement};

use super::bulk::BulkStatement;

use codec::{bind, field_at, Field, Fields};
pub use codec::{encode_row, encode_value};
use spill::{sorted_groups, Batch, Block, Entry, Spiller};
pub use table::{
    checkpoint, ensure_table, ident, job_keys, job_number, merged_job, record_job, table_name,
    tune_sqlite, Completion, Records, RECORDS_FILE,
};

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
    /// The same `INSERT` of [`Merger::rows_per_insert`] rows at once, its
    /// texts bound by reference.
    multi: BulkStatement<'c>,
    rows_per_insert: usize,
    /// `upsert` objects: the update of a key that existed before this job
    /// (`_created_job` is not this job's), for rows a multi-row
    /// `INSERT OR IGNORE` left out.
    update_older: Option<Statement<'c>>,
    /// Rows waiting for the next multi-row `INSERT`, encoded one after
    /// another, and where each one is.
    pending: Vec<u8>,
    pending_rows: Vec<(usize, usize)>,
    /// Index (into the row's values) of the merge key.
    key: Option<usize>,
    /// Parameter count of `insert` before the field values.
    insert_fixed: usize,
    job_id: String,
    /// Values per row.
    width: usize,
    /// Queued rows (upsert objects), encoded ([`encode_row`]) one after
    /// another…
    arena: Vec<u8>,
    /// …and where each one is, with its key's prefix.
    index: Vec<Entry>,
    batch_rows: usize,
    /// Where sorted runs are spilled (a file per job, created when needed).
    spill_dir: PathBuf,
    /// The thread that sorts full batches and spills them, started with
    /// the first full batch.
    spiller: Option<Spiller>,
    /// Scratch buffer of [`Merger::push`].
    scratch: Vec<u8>,
    inserted: u64,
    updated: u64,
}

/// Rows a [`Merger`] sorts in memory before spilling a sorted run to disk…
pub const BATCH_ROWS: usize = 512 * 1024;
/// …or bytes of encoded rows, whichever comes first (memory stays bounded:
/// this plus 32 bytes per row for the index).
pub const BATCH_BYTES: usize = 24 * 1024 * 1024;

/// Rows written by one `INSERT` statement. One row per statement costs
/// SQLite a statement step, a reset and a copy of every text; measured on a
/// profiles row (12 columns), 32 rows per statement with texts bound by
/// reference ([`BulkStatement`]) took about 1.6 µs a row against 2.9 µs one
/// row at a time; 64 rows were no faster.
pub const ROWS_PER_INSERT: usize = 32;

/// Parameters per statement at most (SQLite's default limit is 32,766):
/// objects with very many fields get fewer rows per `INSERT`.
const MAX_PARAMETERS: usize = 32_000;

/// Multi-row `INSERT`s per block of sorted rows that the sorting thread of
/// [`Merger::finish`] hands over…
const BLOCK_INSERTS: usize = 64;
/// …and blocks waiting at most (memory: a few MiB).
const BLOCKS_IN_FLIGHT: usize = 4;

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
    /// `upsert` object, None for `append`. Gives the job its number
    /// ([`job_number`]).
    pub fn new(
        conn: &'c Connection,
        object_name: &str,
        fields: &[MappedField],
        key_field: Option<&str>,
        workspace: &str,
        job_id: &str,
        now_ms: i64,
    ) -> rusqlite::Result<Self> {
        let job = job_number(conn, job_id)?;
        let table = ident(&table_name(object_name));
        // Tables of earlier versions also carry the times (see the module
        // documentation).
        let timed = conn
            .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = '_created_at'")?
            .exists([table_name(object_name)])?;
        let mut cols = vec!["_workspace", "_created_job", "_updated_job"];
        if timed {
            cols.extend(["_created_at", "_updated_at"]);
        }
        let mut cols = cols.into_iter().map(str::to_string).collect::<Vec<_>>();
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
        let update_sql = match key {
            Some(k) => {
                // ?1 job, ?2 now (used by tables with times), ?3 workspace,
                // ?4 key, then one per field.
                let sets: Vec<String> = fields
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != k)
                    .map(|(i, f)| {
                        let c = ident(&f.field);
                        format!("{c} = COALESCE(?{}, {c})", i + 5)
                    })
                    .collect();
                let mut set = vec!["_updated_job = ?1".to_string()];
                if timed {
                    set.push("_updated_at = ?2".into());
                }
                set.extend(sets);
                Some(format!(
                    "UPDATE {table} SET {} WHERE _workspace = ?3 AND {} = ?4",
                    set.join(", "),
                    ident(&fields[k].field)
                ))
            }
            None => None,
        };
        let update = match &update_sql {
            Some(sql) => Some(conn.prepare(sql)?),
            None => None,
        };
        // The job's own parameters are bound once: a statement keeps its
        // bindings from one execution to the next, so each row binds only
        // its values (each text binding is a copy).
        let mut insert = insert;
        insert.raw_bind_parameter(1, workspace)?;
        insert.raw_bind_parameter(2, job)?;
        insert.raw_bind_parameter(3, job)?;
        if timed {
            insert.raw_bind_parameter(4, now_ms)?;
            insert.raw_bind_parameter(5, now_ms)?;
        }
        let mut update = update;
        if let Some(u) = update.as_mut() {
            u.raw_bind_parameter(1, job)?;
            u.raw_bind_parameter(2, now_ms)?;
            u.raw_bind_parameter(3, workspace)?;
        }
        let mut update_older = match &update_sql {
            Some(sql) => Some(conn.prepare(&format!("{sql} AND _created_job <> ?1"))?),
            None => None,
        };
        if let Some(u) = update_older.as_mut() {
            u.raw_bind_parameter(1, job)?;
            u.raw_bind_parameter(2, now_ms)?;
            u.raw_bind_parameter(3, workspace)?;
        }
        // Several rows per INSERT: the job's parameters (?1 to ?3, or to ?5
        // with times) are shared by every row, each row's values come after
        // them.
        let width = fields.len().max(1);
        let rows_per_insert = (MAX_PARAMETERS - insert_fixed) / width;
        let rows_per_insert = rows_per_insert.clamp(1, ROWS_PER_INSERT);
        let fixed: Vec<String> = (1..=insert_fixed).map(|i| format!("?{i}")).collect();
        let tuples: Vec<String> = (0..rows_per_insert)
            .map(|r| {
                let mut t = fixed.clone();
                t.extend(
                    (0..fields.len()).map(|i| format!("?{}", insert_fixed + 1 + r * width + i)),
                );
                format!("({})", t.join(", "))
            })
            .collect();
        let mut multi = BulkStatement::prepare(
            conn,
            &format!(
                "{verb} INTO {table} ({}) VALUES {}",
                cols.join(", "),
                tuples.join(", ")
            ),
        )?;
        multi.bind_text_copy(1, workspace)?;
        multi.bind_i64(2, job)?;
        multi.bind_i64(3, job)?;
        if timed {
            multi.bind_i64(4, now_ms)?;
            multi.bind_i64(5, now_ms)?;
        }
        Ok(Merger {
            insert,
            update,
            multi,
            rows_per_insert,
            update_older,
            pending: Vec::new(),
            pending_rows: Vec::new(),
            key,
            insert_fixed,
            job_id: job_id.to_string(),
            width: fields.len(),
            arena: Vec::new(),
            index: Vec::new(),
            batch_rows: BATCH_ROWS,
            spill_dir: std::env::temp_dir(),
            spiller: None,
            scratch: Vec::new(),
            inserted: 0,
            updated: 0,
        })
    }

    /// Sets the directory of the job's spill file (the system's temporary
    /// directory by default).
    pub fn set_spill_dir(&mut self, dir: &Path) {
        self.spill_dir = dir.to_path_buf();
    }

    /// Queues one valid row (values in the order of the fields given to
    /// [`Merger::new`]); see [`Merger::push_encoded`].
    pub fn push(&mut self, values: Vec<Value>) -> anyhow::Result<()> {
        let mut row = std::mem::take(&mut self.scratch);
        row.clear();
        encode_row(&values, &mut row);
        let pushed = self.push_encoded(&row);
        self.scratch = row;
        pushed
    }

    /// Queues one valid row encoded by [`encode_row`] (the processor's
    /// validation thread encodes rows as it checks them).
    ///
    /// An `append` object's rows are written as they come. An `upsert`
    /// object's rows are written in key order, so that the table's B-tree is
    /// walked once in order instead of at random (several times faster, and
    /// each page is written once): rows are queued in memory, encoded one
    /// after another in one buffer (a few bytes more than their text, no
    /// allocation per row), up to [`Merger::batch_rows`] rows or
    /// [`BATCH_BYTES`]; a job with more hands each full batch to a thread
    /// that sorts it and writes it to a spill file as a run (while this
    /// thread queues the next one), and [`Merger::finish`] merges the runs.
    /// Memory stays the same whatever the file's size. Rows of one key keep
    /// their file order, so the last one wins and the first one counts as
    /// the insert, exactly as row by row.
    pub fn push_encoded(&mut self, row: &[u8]) -> anyhow::Result<()> {
        let Some(k) = self.key else {
            return self.enqueue(row);
        };
        let prefix = field_at(row, k).map(|f| f.prefix()).unwrap_or(0);
        let offset = self.arena.len();
        self.arena.extend_from_slice(row);
        self.index.push(Entry {
            prefix,
            offset,
            len: row.len(),
        });
        if self.index.len() >= self.batch_rows || self.arena.len() >= BATCH_BYTES {
            self.spill_batch()?;
        }
        Ok(())
    }

    /// Rows held in memory before a sorted run is spilled.
    pub fn batch_rows(&self) -> usize {
        self.batch_rows
    }

    /// Sets [`Merger::batch_rows`] (at least 1).
    pub fn set_batch_rows(&mut self, rows: usize) {
        self.batch_rows = rows.max(1);
    }

    /// Writes every queued row (call once, after the last [`Merger::push`]).
    ///
    /// An `upsert` object's rows are written in key order, in two threads
    /// side by side: a sorting thread ([`sorted_groups`]) sorts the rows
    /// still in memory, merges them with the runs spilled to disk, combines
    /// the rows of each key ([`combine`]) and hands them over in blocks of
    /// [`BLOCK_INSERTS`] multi-row `INSERT`s; this thread writes the blocks
    /// meanwhile (SQLite's half is the slower one).
    pub fn finish(&mut self) -> anyhow::Result<()> {
        let Some(k) = self.key else {
            return self.write_pending();
        };
        let arena = std::mem::take(&mut self.arena);
        let index = std::mem::take(&mut self.index);
        let spill = match self.spiller.take() {
            Some(spiller) => spiller.finish()?,
            None => None,
        };
        let block_rows = self.rows_per_insert * BLOCK_INSERTS;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Block>(BLOCKS_IN_FLIGHT);
        let (recycle, reuse) = std::sync::mpsc::channel::<Block>();
        let sorter = std::thread::Builder::new()
            .name("merge-sort".into())
            .spawn(move || {
                let _timer = super::ThreadTimer::start();
                sorted_groups(k, arena, index, spill, block_rows, &tx, &reuse)
            })
            .context("starting the merge's sorting thread")?;
        let written = rx.iter().try_for_each(|block| {
            self.write_block(&block)?;
            let _ = recycle.send(block);
            anyhow::Ok(())
        });
        // After a failed write, this stops the sorting thread.
        drop(rx);
        let combined = sorter
            .join()
            .map_err(|_| anyhow::anyhow!("the merge's sorting thread panicked"))?;
        written?;
        self.updated += combined?;
        Ok(())
    }

    /// Writes a block of rows of distinct keys in key order: full batches by
    /// one multi-row `INSERT` each, the last few rows one at a time.
    fn write_block(&mut self, block: &Block) -> anyhow::Result<()> {
        for rows in block.rows.chunks(self.rows_per_insert) {
            if rows.len() == self.rows_per_insert {
                self.write_multi(&block.bytes, rows)?;
            } else {
                for &(at, len) in rows {
                    let merged = self.merge_encoded(&block.bytes[at..at + len])?;
                    self.count(merged);
                }
            }
        }
        Ok(())
    }

    /// Queues a row for the next multi-row `INSERT`, which runs once
    /// [`Merger::rows_per_insert`] rows wait.
    fn enqueue(&mut self, row: &[u8]) -> anyhow::Result<()> {
        let at = self.pending.len();
        self.pending.extend_from_slice(row);
        self.pending_rows.push((at, row.len()));
        if self.pending_rows.len() >= self.rows_per_insert {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Writes the queued rows: a full batch by one multi-row `INSERT`, the
    /// last few one at a time.
    fn write_pending(&mut self) -> anyhow::Result<()> {
        if self.pending_rows.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let rows = std::mem::take(&mut self.pending_rows);
        let written = if rows.len() == self.rows_per_insert {
            self.write_multi(&pending, &rows)
        } else {
            rows.iter().try_for_each(|&(at, len)| {
                let merged = self.merge_encoded(&pending[at..at + len])?;
                self.count(merged);
                Ok(())
            })
        };
        self.pending = pending;
        self.pending.clear();
        self.pending_rows = rows;
        self.pending_rows.clear();
        written
    }

    /// Writes [`Merger::rows_per_insert`] rows by one `INSERT` (`INSERT OR
    /// IGNORE` for `upsert` objects). The rows of an `upsert` object have
    /// distinct keys, none written earlier by this job (see
    /// [`Merger::write_sorted`]), so a row the `INSERT` left out is a key
    /// that existed before this job: those are updated by the statement
    /// that skips records this job created, and counted as updates.
    fn write_multi(&mut self, pending: &[u8], rows: &[(usize, usize)]) -> anyhow::Result<()> {
        let base = self.insert_fixed + 1;
        for (r, &(at, len)) in rows.iter().enumerate() {
            let row = &pending[at..at + len];
            let mut n = 0;
            for (i, f) in Fields(row).enumerate() {
                let p = base + r * self.width + i;
                match f {
                    Field::Null => self.multi.bind_null(p)?,
                    // SAFETY: `pending` is neither changed nor freed before
                    // `execute` below has run with these bindings, and the
                    // next batch binds every row parameter again before it
                    // runs (a batch that fails stops the job).
                    Field::Text(t) => unsafe { self.multi.bind_text(p, t)? },
                    Field::Integer(v) => self.multi.bind_i64(p, v)?,
                    Field::Number(v) => self.multi.bind_f64(p, v)?,
                    Field::Boolean(b) => self.multi.bind_i64(p, i64::from(b))?,
                }
                n += 1;
            }
            if n != self.width {
                anyhow::bail!("a queued row has {n} values instead of {}", self.width);
            }
        }
        let inserted = self.multi.execute()?;
        self.inserted += inserted;
        let left_out = rows.len() as u64 - inserted.min(rows.len() as u64);
        if left_out == 0 {
            return Ok(());
        }
        let (Some(u), Some(k)) = (self.update_older.as_mut(), self.key) else {
            anyhow::bail!("an INSERT wrote {inserted} of {} rows", rows.len());
        };
        let mut updated = 0;
        for &(at, len) in rows {
            for (i, f) in Fields(&pending[at..at + len]).enumerate() {
                bind(u, if i == k { 4 } else { i + 5 }, f)?;
            }
            updated += u.raw_execute()? as u64;
        }
        if updated != left_out {
            anyhow::bail!(
                "{left_out} rows of an INSERT had existing keys, but {updated} were updated"
            );
        }
        self.updated += updated;
        Ok(())
    }

    fn count(&mut self, merged: Merged) {
        match merged {
            Merged::Inserted => self.inserted += 1,
            Merged::Updated => self.updated += 1,
        }
    }

    /// Hands the full batch to the spilling thread ([`Spiller`]), which
    /// sorts it and appends it to the job's spill file as a run while this
    /// thread queues the next batch in a buffer the spiller has finished
    /// with (at most two batches are in memory).
    fn spill_batch(&mut self) -> anyhow::Result<()> {
        let Some(k) = self.key else { return Ok(()) };
        if self.index.is_empty() {
            return Ok(());
        }
        if self.spiller.is_none() {
            self.spiller = Some(Spiller::start(k, &self.spill_dir, &self.job_id)?);
        }
        let spiller = self.spiller.as_mut().expect("spiller");
        let next = spiller.spare()?;
        let full = Batch {
            arena: std::mem::replace(&mut self.arena, next.arena),
            index: std::mem::replace(&mut self.index, next.index),
        };
        spiller.send(full)
    }

    /// (inserted, updated) rows written so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.inserted, self.updated)
    }

    /// Merges one valid row (values in the order of the fields given to
    /// [`Merger::new`]) at once.
    pub fn merge(&mut self, values: &[Value]) -> rusqlite::Result<Merged> {
        let mut row = std::mem::take(&mut self.scratch);
        row.clear();
        encode_row(values, &mut row);
        let merged = self.merge_encoded(&row);
        self.scratch = row;
        merged
    }

    /// Merges one row encoded by [`encode_row`] at once.
    fn merge_encoded(&mut self, row: &[u8]) -> rusqlite::Result<Merged> {
        let s = &mut self.insert;
        // The job's parameters (workspace, job, [time]) stay bound from
        // [`Merger::new`].
        let mut n = 0;
        for (i, f) in Fields(row).enumerate() {
            bind(s, self.insert_fixed + 1 + i, f)?;
            n += 1;
        }
        if n != self.width {
            return Err(rusqlite::Error::InvalidParameterCount(n, self.width));
        }
        if s.raw_execute()? == 1 {
            return Ok(Merged::Inserted);
        }
        // Only `INSERT OR IGNORE` (upsert objects) can change no row: the
        // key exists.
        let (Some(u), Some(k)) = (self.update.as_mut(), self.key) else {
            return Err(rusqlite::Error::StatementChangedRows(0));
        };
        // ?1 to ?3 (job, time, workspace) stay bound from [`Merger::new`];
        // ?4 is the key.
        for (i, f) in Fields(row).enumerate() {
            bind(u, if i == k { 4 } else { i + 5 }, f)?;
        }
        match u.raw_execute()? {
            1 => Ok(Merged::Updated),
            n => Err(rusqlite::Error::StatementChangedRows(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::codec::*;
    use super::spill::*;
    use super::table::*;
    use super::*;
    use crate::metadata::Catalog;
    use import_core::rules::DataType;
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

    /// An in-memory database holding the (empty) table of a default object.
    fn object_db(object: &str) -> Connection {
        let catalog = Catalog::defaults();
        let conn = Connection::open_in_memory().unwrap();
        ensure_table(&conn, catalog.get(object).unwrap()).unwrap();
        conn
    }

    #[test]
    fn a_new_records_database_has_the_documented_page_size_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::open(dir.path()).unwrap();
        let conn = records.connect().unwrap();
        let page: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!((page, mode.as_str()), (PAGE_SIZE, "wal"));
        drop(conn);
        // Opening it again keeps both.
        let records = Records::open(dir.path()).unwrap();
        let conn = records.connect().unwrap();
        let page: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(page, PAGE_SIZE);
    }

    #[test]
    fn upsert_counts_inserts_and_updates_and_keeps_unmapped_and_empty_fields() {
        let conn = object_db("profiles");
        let catalog = Catalog::defaults();
        ensure_table(&conn, catalog.get("profiles").unwrap()).unwrap(); // idempotent

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
                "SELECT first_name, last_name, loyalty_points, c.job_id, u.job_id \
                 FROM obj_profiles p JOIN _jobs c ON c.num = p._created_job \
                 JOIN _jobs u ON u.num = p._updated_job \
                 WHERE _workspace = 'ws' AND email = 'a@x.io'",
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
        let conn = object_db("profiles");
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
    fn spilled_rows_of_any_size_are_read_back_whole() {
        // Rows from a few bytes to twice the spill reader's buffer: read
        // back from the buffer, or across its refills.
        let conn = object_db("profiles");
        let v = validator(
            &[
                ("e", DataType::Email, "email"),
                ("n", DataType::String, "first_name"),
            ],
            Some("email"),
        );
        let name = |i: usize| {
            let len = (i * 7919) % (2 * SPILL_BUFFER + 1);
            let c = char::from(b'a' + (i % 26) as u8);
            std::iter::repeat_n(c, len).collect::<String>()
        };
        const ROWS: usize = 200;
        let mut m =
            Merger::new(&conn, "profiles", v.fields(), Some("email"), "ws", "j", 1).unwrap();
        m.set_batch_rows(7);
        for i in 0..ROWS {
            let email = format!("u{}@x.io", (i * 37) % ROWS);
            let values = v.validate(1, &[&email, &name(i)]).unwrap().values;
            m.push(values).unwrap();
        }
        m.finish().unwrap();
        assert_eq!(m.counts(), (ROWS as u64, 0));
        drop(m);
        let mut stmt = conn
            .prepare("SELECT first_name FROM obj_profiles WHERE email = ?1")
            .unwrap();
        for i in 0..ROWS {
            let email = format!("u{}@x.io", (i * 37) % ROWS);
            let got: Option<String> = stmt.query_row([&email], |r| r.get(0)).unwrap();
            // An empty cell is stored as null.
            let want = Some(name(i)).filter(|n| !n.is_empty());
            assert_eq!(
                got.as_ref().map(String::len),
                want.as_ref().map(String::len),
                "row {i}"
            );
            assert_eq!(got, want, "row {i}");
        }
    }

    /// The batched path (sorted, combined per key, 32 rows per INSERT,
    /// runs spilled or not) leaves the same records and counts as writing
    /// the rows one by one in file order, over a table that already holds
    /// some of the keys.
    #[test]
    fn batched_writes_equal_row_by_row_writes() {
        let catalog = Catalog::defaults();
        let profiles = catalog.get("profiles").unwrap();
        let v = validator(
            &[
                ("e", DataType::Email, "email"),
                ("n", DataType::String, "first_name"),
                ("p", DataType::Integer, "loyalty_points"),
            ],
            Some("email"),
        );
        // 1,000 rows over 300 keys, some cells empty; an earlier job wrote
        // every third key.
        let rows: Vec<[String; 3]> = (0..1000u64)
            .map(|i| {
                let k = (i * 7919) % 300;
                [
                    format!("k{k:03}@x.io"),
                    if i % 5 == 0 {
                        String::new()
                    } else {
                        format!("n{i}")
                    },
                    if i % 7 == 0 {
                        String::new()
                    } else {
                        i.to_string()
                    },
                ]
            })
            .collect();
        let earlier: Vec<[String; 3]> = (0..300u64)
            .step_by(3)
            .map(|k| [format!("k{k:03}@x.io"), "old".into(), "-1".into()])
            .collect();
        let val = |r: &[String; 3]| {
            v.validate(1, &r.each_ref().map(String::as_str))
                .unwrap()
                .values
        };
        type Record = (String, Option<String>, Option<i64>, i64, i64);
        let table = |conn: &Connection| -> Vec<Record> {
            conn.prepare(
                "SELECT email, first_name, loyalty_points, _created_job, _updated_job \
                 FROM obj_profiles ORDER BY email",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
        };
        let setup = || {
            let conn = Connection::open_in_memory().unwrap();
            ensure_table(&conn, profiles).unwrap();
            let mut m =
                Merger::new(&conn, "profiles", v.fields(), Some("email"), "ws", "j0", 1).unwrap();
            for r in &earlier {
                m.merge(&val(r)).unwrap();
            }
            drop(m);
            conn
        };
        // Row by row, in file order.
        let reference = setup();
        let mut m = Merger::new(
            &reference,
            "profiles",
            v.fields(),
            Some("email"),
            "ws",
            "j1",
            2,
        )
        .unwrap();
        let (mut ins, mut upd) = (0, 0);
        for r in &rows {
            match m.merge(&val(r)).unwrap() {
                Merged::Inserted => ins += 1,
                Merged::Updated => upd += 1,
            }
        }
        drop(m);
        assert_eq!((ins, upd), (200, 800));
        let want = table(&reference);
        assert_eq!(want.len(), 300);

        for batch_rows in [1_000_000, 1000, 97, 1] {
            let conn = setup();
            let mut m =
                Merger::new(&conn, "profiles", v.fields(), Some("email"), "ws", "j1", 2).unwrap();
            m.set_batch_rows(batch_rows);
            for r in &rows {
                m.push(val(r)).unwrap();
            }
            m.finish().unwrap();
            assert_eq!(m.counts(), (ins, upd), "batch of {batch_rows}");
            drop(m);
            assert_eq!(table(&conn), want, "batch of {batch_rows}");
        }
    }

    #[test]
    fn a_failed_write_ends_the_merge_with_its_error_and_removes_the_spill() {
        let catalog = Catalog::defaults();
        let profiles = catalog.get("profiles").unwrap();
        let v = validator(
            &[
                ("e", DataType::Email, "email"),
                ("n", DataType::String, "first_name"),
            ],
            Some("email"),
        );
        let conn = Connection::open_in_memory().unwrap();
        ensure_table(&conn, profiles).unwrap();
        // The write of a key in the third of ten blocks fails.
        conn.execute_batch(
            "CREATE TRIGGER fail BEFORE INSERT ON obj_profiles \
             WHEN NEW.email = 'k06000@x.io' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
        )
        .unwrap();
        let spill = std::env::temp_dir().join(format!("merge-fail-{}", std::process::id()));
        let mut m =
            Merger::new(&conn, "profiles", v.fields(), Some("email"), "ws", "j1", 1).unwrap();
        m.set_spill_dir(&spill);
        m.set_batch_rows(5000);
        for i in (0..20_000u64).rev() {
            let r = [format!("k{i:05}@x.io"), format!("n{i}")];
            m.push(
                v.validate(1, &r.each_ref().map(String::as_str))
                    .unwrap()
                    .values,
            )
            .unwrap();
        }
        let err = m.finish().unwrap_err();
        assert!(format!("{err:#}").contains("disk on fire"), "{err:#}");
        drop(m);
        let left: Vec<_> = std::fs::read_dir(&spill).unwrap().collect();
        assert!(left.is_empty(), "spill files left: {left:?}");
        std::fs::remove_dir(&spill).unwrap();
    }

    /// The sort of queued rows orders exactly as comparing whole keys and
    /// then file places would: keys sharing their first 16 bytes (or more),
    /// keys that are prefixes of others, repeated keys, non-text keys.
    #[test]
    fn queued_rows_sort_by_whole_key_then_file_order() {
        let mut arena = Vec::new();
        let mut index = Vec::new();
        let mut seed = 7u64;
        for i in 0..5_000u64 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pick = seed >> 33;
            let key = match pick % 5 {
                0 => Value::String(format!("customer.number.{:04}@example.com", pick % 300)),
                1 => Value::String(format!("customer.number.{}", pick % 40)),
                2 => Value::String(format!("c{}", pick % 50)),
                3 => Value::Null,
                _ => Value::Integer((pick % 20) as i64),
            };
            let offset = arena.len();
            encode_row(&[Value::Integer(i as i64), key], &mut arena);
            let row = &arena[offset..];
            index.push(Entry {
                prefix: field_at(row, 1).map(|f| f.prefix()).unwrap_or(0),
                offset,
                len: row.len(),
            });
        }
        let mut want = index.clone();
        let key = |e: &Entry| field_at(&arena[e.offset..e.offset + e.len], 1);
        want.sort_by(|a, b| field_cmp(key(a), key(b)).then(a.offset.cmp(&b.offset)));
        sort_entries(&mut index, &arena, 1);
        let places = |v: &[Entry]| v.iter().map(|e| e.offset).collect::<Vec<_>>();
        assert_eq!(places(&index), places(&want));
    }

    /// A table of the earlier layout, whose rows also carry
    /// `_created_at` / `_updated_at`: both kept up to date, row by row and
    /// through the batched path.
    #[test]
    fn tables_of_the_earlier_layout_keep_their_times() {
        let catalog = Catalog::defaults();
        let profiles = catalog.get("profiles").unwrap();
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE obj_profiles (_workspace TEXT NOT NULL, \
             _created_job INTEGER NOT NULL, _updated_job INTEGER NOT NULL, \
             _created_at INTEGER NOT NULL, _updated_at INTEGER NOT NULL, \
             email TEXT, first_name TEXT, PRIMARY KEY (_workspace, email)) WITHOUT ROWID",
        )
        .unwrap();
        ensure_table(&conn, profiles).unwrap();
        let v = validator(
            &[
                ("e", DataType::Email, "email"),
                ("n", DataType::String, "first_name"),
            ],
            Some("email"),
        );
        let rows = |n: usize| -> Vec<Vec<Value>> {
            (0..n)
                .map(|i| {
                    let e = format!("u{i}@x.io");
                    v.validate(1, &[e.as_str(), "Ann"]).unwrap().values
                })
                .collect()
        };
        let merger = |job: &str, now_ms: i64| {
            Merger::new(
                &conn,
                "profiles",
                v.fields(),
                Some("email"),
                "ws",
                job,
                now_ms,
            )
            .unwrap()
        };
        // Job 1, row by row: 3 records at time 1000.
        let mut m = merger("j1", 1000);
        for r in rows(3) {
            assert_eq!(m.merge(&r).unwrap(), Merged::Inserted);
        }
        drop(m);
        // Job 2, batched: 100 rows at time 2000 (3 updates, 97 inserts).
        let mut m = merger("j2", 2000);
        for r in rows(100) {
            m.push(r).unwrap();
        }
        m.finish().unwrap();
        assert_eq!(m.counts(), (97, 3));
        drop(m);
        let times = |email: &str| -> (i64, i64) {
            conn.query_row(
                "SELECT _created_at, _updated_at FROM obj_profiles WHERE email = ?1",
                [email],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        };
        assert_eq!(times("u0@x.io"), (1000, 2000));
        assert_eq!(times("u50@x.io"), (2000, 2000));
        // New tables have no time columns.
        let fresh = Connection::open_in_memory().unwrap();
        ensure_table(&fresh, profiles).unwrap();
        let has_times: bool = fresh
            .query_row(
                "SELECT count(*) FROM pragma_table_info('obj_profiles') \
                 WHERE name IN ('_created_at', '_updated_at')",
                [],
                |r| r.get::<_, i64>(0).map(|n| n > 0),
            )
            .unwrap();
        assert!(!has_times);
    }

    #[test]
    fn append_inserts_every_row() {
        let conn = object_db("orders");
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
            m.push(values).unwrap();
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
