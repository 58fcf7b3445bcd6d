//! The processor: runs started import jobs to `completed` or `failed`.
//!
//! A pool of [`WORKERS`] tokio tasks takes queued jobs from the jobs
//! database ([`crate::db::Db::claim_next_queued`], woken by
//! [`crate::db::Db::queued`]); each job runs on a blocking thread. At most 10
//! jobs of a workspace are `running` (queued or processing) at once: the
//! start endpoint enforces it.
//!
//! # One job
//!
//! 1. **`parse`**: the uploaded blob is opened and read from storage (the
//!    emulator's own, or Azurite) in [`CHUNK_SIZE`] chunks (memory stays
//!    flat whatever the file's size) and fed to [`import_core::csv`], read
//!    as comma-separated UTF-8 with the first record as the header. The
//!    header is resolved against the mapping with
//!    [`import_core::validate::RowValidator`].
//! 2. **`validate`**: each data row is checked under the job's `importMode`
//!    with the object's merge key (the first identity key of an `upsert`
//!    object; none for `append` objects). Valid rows go to the job's open
//!    transaction ([`merge`]: an `append` object's at once, an `upsert`
//!    object's queued to be written in key order); rejected rows go to the
//!    error file
//!    ([`error_file`]). `readRows`, `validRows`, `invalidRows` and
//!    `errorSummary` are published every [`PROGRESS_ROWS`] rows or
//!    [`PROGRESS_INTERVAL`], whichever comes first, so a poll shows progress.
//! 3. **`merge`**: once the whole file is read, the queued rows are written
//!    and the transaction is committed
//!    and `mergedInserts` / `mergedUpdates` are published with the final
//!    counters (they count committed records only, so they stay 0 until
//!    then); `mergedInserts + mergedUpdates = validRows`. The job is then
//!    `completed` and keeps stage `merge`, as the spec's example shows.
//! 4. **`profile`**, only for a job created with `autoProfileAfterImport`:
//!    after the last row and before the commit (so it is all or nothing with
//!    the merge), the workspace's profiles are unified ([`profile`] states
//!    the rule); the job completes with stage `profile` and its status
//!    carries the extension `profileUnification` (`profilesExamined`,
//!    `profilesMerged`, `clusters`).
//!
//! # Failures
//!
//! The job becomes `failed`, nothing is merged, no error file is kept, and
//! `errorMessage` says what to do, when (the file's own failures are
//! decided, and worded, by [`import_core::verdict`], which the preflight
//! runs too):
//!
//! * the upload is missing from storage;
//! * the file is not CSV text: NUL bytes in its first 8 KiB (a binary file;
//!   zip / Excel, gzip, PDF and UTF-16 files are named as such), or a UTF-16
//!   byte order mark;
//! * the file has no header row (only blank lines);
//! * the header is not valid UTF-8, is too large, or has more than 10,000
//!   columns ([`import_core::csv::MAX_FIELDS`]; a data row of more fields
//!   is rejected as `ROW_MALFORMED` instead, its values not kept, and the
//!   rest of the file imported);
//! * the header does not fit the mapping: a mapped column is missing (named,
//!   with the header's columns and a hint when the file looks delimited by
//!   another character), the key field is not mapped, or a mapped column is
//!   repeated (see [`import_core::validate::HeaderError`]);
//! * the object is no longer in the workspace schema;
//! * anything else goes wrong (a storage or database error, a panic):
//!   [`PROCESSOR_ERROR_MESSAGE`], with the details in the emulator's log.
//!
//! A job interrupted by a restart (or a `kill -9`) is failed at start-up
//! ([`crate::jobs::on_start`]) and, its transaction never committed, leaves
//! no records behind. The records commit and the job's `completed` are two
//! databases: the figures the job will report are written with its records,
//! in the same transaction (`_merged_jobs`, [`merge::Completion`]), so a
//! job stopped between the two is completed at start-up with them, once.
//! Tests stop the processor at these moments with [`crate::hold`].
//!
//! # Concurrency
//!
//! Within a job, a parse thread (`Parser`) reads the file and parses its
//! records in batches, [`VALIDATORS`] validation threads (`Reader`) check
//! the batches in turn (the first batch to the first thread, the second to
//! the second, and so on) and hand valid rows, encoded value by value as
//! [`RowValidator::check_each`] accepts them ([`merge::encode_value`], the
//! layout of [`merge::encode_row`]), to the job's thread, which takes the
//! batches back in the same turns, so in file order, and queues and writes them.
//! Each hand-over is a bounded queue of [`PIPELINE_DEPTH`] batches, so
//! memory stays flat; parsing, validating and queueing run at the same
//! time. (Validating is the slowest of the three, hence two threads.)
//!
//! Up to [`WORKERS`] jobs are claimed at once and read their headers in
//! parallel; their merges take turns (one SQLite writer), so a job waiting
//! for another's commit shows stage `parse`. The workers end once the
//! emulator has stopped (nothing but the processor refers to its state);
//! a job being processed then still runs to its end.
//!
//! # Choices where the documentation is silent
//!
//! * The delimiter is always `,` (the format is CSV); a file delimited
//!   otherwise fails on its header with a message suggesting the delimiter.
//! * A file with a header and no data rows completes with every counter 0.
//! * Empty cells never erase stored values (see [`merge`]).
//! * `successRate` is `validRows / readRows` rounded down to 4 decimals, computed
//!   by the status endpoint from the published counters.

pub mod bulk;
pub mod error_file;
pub mod merge;
pub mod profile;

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use import_core::csv::{CsvRowError, CsvStream, RecordEvent};
use import_core::rules::ImportMode;
use import_core::validate::{MappedField, RowError, RowValidator, ValidRow};
use import_core::verdict::{self, FileFailure, JobRules, Tally};
use import_core::wire::{ObjectSchema, ProfileUnification};
use rusqlite::Connection;

use crate::app::{App, AppState};
use crate::db::{Counters, Job};
use error_file::ErrorFile;
use merge::{Merger, Records};

/// Jobs processed at the same time by one emulator.
pub const WORKERS: usize = 4;
/// Bytes read from storage at a time.
pub const CHUNK_SIZE: usize = 256 * 1024;
/// Progress is published at least every this many rows…
pub const PROGRESS_ROWS: u64 = 10_000;
/// …or this often, whichever comes first.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
/// How long an idle worker waits for a wake-up before looking again.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Stage while the file is opened and its header read.
pub const STAGE_PARSE: &str = "parse";
/// Stage while rows are validated (and written, uncommitted).
pub const STAGE_VALIDATE: &str = "validate";
/// Stage of the commit, and of a completed job.
pub const STAGE_MERGE: &str = "merge";
/// Stage of the profile unification (`autoProfileAfterImport`), and of a
/// completed job that ran it.
pub const STAGE_PROFILE: &str = "profile";

/// `errorMessage` of a job failed by an unexpected error.
pub const PROCESSOR_ERROR_MESSAGE: &str = "The import failed because of an unexpected error \
     in the import processor; nothing was imported. Start a new job with the same file; if it \
     fails again, contact support with the job id.";

/// Emulators whose processor has been started.
static STARTED: Mutex<Vec<Weak<App>>> = Mutex::new(Vec::new());

/// Starts the processor with [`WORKERS`] workers.
pub fn spawn(state: &AppState) -> anyhow::Result<()> {
    spawn_workers(state, WORKERS)
}

/// Starts the processor with `workers` workers. With 0 nothing starts and
/// started jobs stay queued (e.g. for tests of the job lifecycle alone),
/// until a later call starts workers. Once workers run, further calls for the
/// same emulator do nothing.
pub fn spawn_workers(state: &AppState, workers: usize) -> anyhow::Result<()> {
    if workers == 0 {
        return Ok(());
    }
    {
        let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
        started.retain(|w| w.strong_count() > 0);
        if started.iter().any(|w| w.as_ptr() == Arc::as_ptr(state)) {
            return Ok(());
        }
        started.push(Arc::downgrade(state));
    }
    let records = Arc::new(Records::open(&state.config.data_dir)?);
    let held = Arc::new(AtomicUsize::new(0));
    for _ in 0..workers {
        tokio::spawn(worker(Arc::downgrade(state), records.clone(), held.clone()));
    }
    state.db.notify_queued();
    Ok(())
}

/// A strong reference to the emulator held by the processor, counted so
/// that workers can tell when nobody else holds one (the server has stopped)
/// and end.
struct Held {
    state: Arc<App>,
    held: Arc<AtomicUsize>,
}

impl Held {
    fn new(state: Arc<App>, held: &Arc<AtomicUsize>) -> Held {
        held.fetch_add(1, Ordering::SeqCst);
        Held {
            state,
            held: held.clone(),
        }
    }

    /// Whether anything besides the processor still holds the emulator.
    fn server_alive(&self) -> bool {
        Arc::strong_count(&self.state) > self.held.load(Ordering::SeqCst)
    }
}

impl Clone for Held {
    fn clone(&self) -> Held {
        Held::new(self.state.clone(), &self.held)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One worker: claim, process, repeat; wait for a wake-up when idle. Ends
/// once the emulator has stopped (only the processor still refers to it).
async fn worker(weak: Weak<App>, records: Arc<Records>, held: Arc<AtomicUsize>) {
    loop {
        let Some(state) = weak.upgrade() else { return };
        let h = Held::new(state, &held);
        if !h.server_alive() {
            return;
        }
        let state = &h.state;
        match state.db.claim_next_queued(state.now()) {
            Ok(Some(job)) => {
                // Another job may be waiting: let an idle worker look too.
                state.db.notify_queued();
                let id = job.id.clone();
                let (h2, rec) = (h.clone(), records.clone());
                let result =
                    tokio::task::spawn_blocking(move || run_job(&h2.state, &rec, job)).await;
                if let Err(e) = result {
                    tracing::error!(job = %id, error = %e, "the processor panicked");
                    if let Err(e) = state.db.fail_job(&id, PROCESSOR_ERROR_MESSAGE, state.now()) {
                        tracing::error!(job = %id, error = %e, "could not mark the job failed");
                    }
                }
            }
            Ok(None) => {
                let _ = tokio::time::timeout(IDLE_POLL, state.db.queued()).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "could not claim a queued job");
                drop(h);
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

/// Why a job did not complete.
#[derive(Debug)]
enum Failure {
    /// A problem with the file or the mapping: the message is for the user.
    User(String),
    /// An unexpected error: logged, the user sees [`PROCESSOR_ERROR_MESSAGE`].
    Internal(anyhow::Error),
    /// The job stopped being `running` (nothing left to record).
    Gone,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Internal(e.into())
    }
}

/// A failure of the file itself: its `errorMessage` is the verdict's.
fn file_failure(f: FileFailure) -> Failure {
    Failure::User(f.message())
}

/// Processes one claimed job and records its outcome (blocking).
fn run_job(state: &App, records: &Records, job: Job) {
    let started = Instant::now();
    let id = job.id.clone();
    let outcome = process(state, records, &job);
    let now = state.now();
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!(job = %id, ms = started.elapsed().as_millis() as u64, "job completed");
            return;
        }
        Err(Failure::Gone) => {
            tracing::warn!(job = %id, "job stopped running while processed; its rows were not merged");
            return;
        }
        Err(Failure::User(message)) => {
            tracing::info!(job = %id, error = %message, "job failed");
            state.db.fail_job(&id, &message, now)
        }
        Err(Failure::Internal(e)) => {
            tracing::error!(job = %id, error = format!("{e:#}"), "job failed: processor error");
            state.db.fail_job(&id, PROCESSOR_ERROR_MESSAGE, now)
        }
    };
    if let Err(e) = recorded {
        tracing::error!(job = %id, error = %e, "could not mark the job failed");
    }
}

/// Everything one job needs, resolved before the file is read.
struct Plan<'a> {
    schema: &'a ObjectSchema,
    /// The mapping and mode against the schema ([`import_core::verdict`]).
    rules: JobRules,
}

fn plan<'a>(state: &'a App, job: &Job) -> Result<Plan<'a>, Failure> {
    let mapping = job
        .mapping
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("job {} is running without a mapping", job.id))?;
    let mode = ImportMode::parse(&mapping.import_mode)
        .map_err(|v| anyhow::anyhow!("stored import mode: {}", v.message))?;
    let schema = state.catalog.get(&job.object_name).ok_or_else(|| {
        Failure::User(format!(
            "Object `{}` is no longer in this workspace's schema, so the rows cannot be merged; \
             create a new job for an existing object.",
            job.object_name
        ))
    })?;
    Ok(Plan {
        schema,
        rules: JobRules::new(schema, &mapping.source_fields, &mapping.field_map, mode),
    })
}

fn process(state: &App, records: &Records, job: &Job) -> Result<(), Failure> {
    let plan = plan(state, job)?;
    let Some(file) = state.storage.open_blob_reader(&job.landing_path)? else {
        return Err(Failure::User(format!(
            "The uploaded file of job `{}` is missing from storage, so there is nothing to \
             import. Create a new job and upload the file again.",
            job.id
        )));
    };
    let conn = records.connect()?;
    let run = Run::new(state, records, &conn, job, &plan);
    std::thread::scope(|scope| {
        let plan = &plan;
        let mut parsed = Vec::new();
        let mut validated = Vec::new();
        for i in 0..VALIDATORS {
            let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel::<Parsed>(PIPELINE_DEPTH);
            let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(PIPELINE_DEPTH);
            parsed.push(parsed_tx);
            validated.push(rx);
            // The first validator announces the header.
            std::thread::Builder::new()
                .name(format!("job-validate-{i}"))
                .spawn_scoped(scope, move || Reader::new(plan, tx, i == 0).run(parsed_rx))
                .context("starting a validation thread")?;
        }
        std::thread::Builder::new()
            .name("job-parse".into())
            .spawn_scoped(scope, move || Parser::new(parsed).run(file))
            .context("starting the parse thread")?;
        // The receivers are dropped when `consume` returns, which stops the
        // validators, whose end stops the parser.
        consume(run, &validated)
    })
}

/// The job thread's half: merges what the validators send, taking their
/// batches in turns (the parser's order).
fn consume(mut run: Run<'_>, validated: &[std::sync::mpsc::Receiver<Msg>]) -> Result<(), Failure> {
    let mut turn = 0;
    while let Ok(msg) = validated[turn].recv() {
        match msg {
            Msg::Header { header, fields } => run.on_header(header, &fields)?,
            Msg::Rows(rows) => {
                let mut at = Cursor::default();
                for item in &rows.items {
                    run.on_item(item, &rows, &mut at)?;
                }
                run.maybe_report()?;
                turn = (turn + 1) % validated.len();
            }
            Msg::Fail(f) => return Err(f),
            Msg::End { has_header } => {
                if !has_header {
                    return Err(file_failure(FileFailure::NoHeader));
                }
                return run.finish();
            }
        }
    }
    Err(anyhow::anyhow!("the file reader stopped before the end of the file").into())
}

/// Batches in flight between each pair of threads.
pub const PIPELINE_DEPTH: usize = 4;
/// Validation threads per job.
pub const VALIDATORS: usize = 2;
/// Rows per batch at most (the parser also ends a batch at each chunk's
/// end); a validator turns each batch into one message.
const ITEMS_PER_MSG: usize = 4096;
/// Bytes reserved per row of a message's encoded rows.
const ENCODED_ROW_GUESS: usize = 128;

/// The sending end of a hand-over between threads, which notes when the
/// other side has stopped listening (the job is over: stop working).
struct Outbox<T> {
    tx: std::sync::mpsc::SyncSender<T>,
    closed: bool,
}

impl<T> Outbox<T> {
    fn new(tx: std::sync::mpsc::SyncSender<T>) -> Self {
        Outbox { tx, closed: false }
    }

    fn send(&mut self, msg: T) {
        if !self.closed && self.tx.send(msg).is_err() {
            self.closed = true;
        }
    }
}

/// What the validation thread ([`Reader`]) sends the job thread.
enum Msg {
    /// The header fits the mapping: its columns and the mapped fields.
    Header {
        header: Vec<String>,
        fields: Vec<MappedField>,
    },
    /// Rows in file order.
    Rows(Rows),
    /// The job cannot go on.
    Fail(Failure),
    /// The whole file has been read.
    End { has_header: bool },
}

/// Rows in file order: the valid ones encoded one after another
/// ([`merge::encode_row`]: one buffer per message, no allocation per row),
/// the rejected ones' fields one after another in one string (not one
/// `String` per field: a rejected row may have up to 10,000 of them).
#[derive(Default)]
struct Rows {
    items: Vec<Item>,
    encoded: Vec<u8>,
    /// Fields of the rejected rows, one after another.
    rejected: String,
    /// Where each of those fields ends in `rejected`.
    rejected_ends: Vec<usize>,
}

impl Rows {
    fn with_capacity() -> Rows {
        Rows {
            items: Vec::with_capacity(ITEMS_PER_MSG),
            encoded: Vec::with_capacity(ITEMS_PER_MSG * ENCODED_ROW_GUESS),
            ..Rows::default()
        }
    }

    /// Adds a rejected row's fields.
    fn push_rejected<S: AsRef<str>>(&mut self, fields: &[S]) {
        for f in fields {
            self.rejected.push_str(f.as_ref());
            self.rejected_ends.push(self.rejected.len());
        }
    }
}

/// Where the next row of a [`Rows`] starts: its valid rows' encodings and
/// its rejected rows' fields.
#[derive(Default)]
struct Cursor {
    encoded: usize,
    field: usize,
    text: usize,
}

/// One data row, validated.
enum Item {
    /// Valid: the length of its encoding (the next bytes of
    /// [`Rows::encoded`]).
    Valid(usize),
    /// Rejected: why, and how many fields it has (the next ones of
    /// [`Rows::rejected`]).
    Rejected(RowError, usize),
}

/// The validation thread's part: checks the records the [`Parser`] sends
/// and sends the job thread the rows, valid ones encoded, in file order.
struct Reader<'a> {
    plan: &'a Plan<'a>,
    out: Outbox<Msg>,
    /// Whether this validator sends the job thread the header (one does).
    announce: bool,
    header: Vec<String>,
    validator: Option<RowValidator>,
    row: ValidRow,
    rows: Rows,
    fatal: Option<Failure>,
}

impl<'a> Reader<'a> {
    fn new(plan: &'a Plan<'a>, tx: std::sync::mpsc::SyncSender<Msg>, announce: bool) -> Self {
        Reader {
            plan,
            out: Outbox::new(tx),
            announce,
            header: Vec::new(),
            validator: None,
            row: ValidRow::default(),
            rows: Rows::with_capacity(),
            fatal: None,
        }
    }

    fn send(&mut self, msg: Msg) {
        self.out.send(msg);
    }

    fn flush(&mut self) {
        if !self.rows.items.is_empty() {
            let rows = std::mem::replace(&mut self.rows, Rows::with_capacity());
            self.send(Msg::Rows(rows));
        }
    }

    /// Sends the pending rows, then the failure; true when the job is over.
    fn stop_on_failure(&mut self) -> bool {
        match self.fatal.take() {
            Some(f) => {
                self.flush();
                self.send(Msg::Fail(f));
                true
            }
            None => self.out.closed,
        }
    }

    /// Validates what the parser sends, in order, until the end of the
    /// file or a failure.
    fn run(mut self, rx: std::sync::mpsc::Receiver<Parsed>) {
        let _timer = ThreadTimer::start();
        // Field texts of one record, borrowed from its message (allocated
        // once per message).
        for msg in rx.iter() {
            match msg {
                Parsed::Header(header) => {
                    let fields: Vec<&str> = header.iter().map(String::as_str).collect();
                    if let Err(f) = self.on_header(&fields) {
                        self.fatal = Some(f);
                    }
                }
                Parsed::Records(records) => self.on_records(&records),
                Parsed::Fail(f) => self.fatal = Some(f),
                Parsed::End { has_header } => {
                    if self.stop_on_failure() {
                        return;
                    }
                    self.flush();
                    self.send(Msg::End { has_header });
                    return;
                }
            }
            if self.stop_on_failure() {
                return;
            }
            self.flush();
        }
        // The parser stopped without an end: it has sent its failure, or
        // the job is being abandoned.
    }

    fn on_records(&mut self, records: &RawRecords) {
        let mut fields: Vec<&str> = Vec::new();
        let mut at = 0;
        let mut start = 0;
        for item in &records.items {
            if self.fatal.is_some() || self.out.closed {
                return;
            }
            let n = match item {
                RawItem::Row { fields, .. } => *fields,
                RawItem::Unreadable { fields, .. } => *fields,
            };
            fields.clear();
            for &end in &records.ends[at..at + n] {
                fields.push(&records.text[start..end]);
                start = end;
            }
            at += n;
            match item {
                RawItem::Row { row_number, .. } => self.on_row(*row_number, &fields),
                RawItem::Unreadable { error, .. } => {
                    let row_err = RowError::from_csv(error, &self.header);
                    self.rows.push_rejected(&fields);
                    self.push(Item::Rejected(row_err, n));
                }
            }
        }
    }

    fn on_row(&mut self, row_number: u64, fields: &[&str]) {
        let Some(validator) = self.validator.as_ref() else {
            self.fatal = Some(anyhow::anyhow!("a data row arrived before the header").into());
            return;
        };
        // The verdict's own row rules (`check_each`, as the preflight's
        // `check_into`): each kept value is encoded as it is accepted, its
        // text straight from the record.
        let start = self.rows.encoded.len();
        let encoded = &mut self.rows.encoded;
        let checked = validator.check_each(row_number, fields, &mut self.row, |v| {
            merge::encode_value(v, encoded)
        });
        let item = match checked {
            Ok(()) => Item::Valid(self.rows.encoded.len() - start),
            Err(e) => {
                // The values encoded before the rejected column.
                self.rows.encoded.truncate(start);
                self.rows.push_rejected(fields);
                Item::Rejected(e, fields.len())
            }
        };
        self.push(item);
    }

    /// Adds a row to the message of the batch (sent once the batch is done:
    /// one message per batch keeps the validators' turns).
    fn push(&mut self, item: Item) {
        self.rows.items.push(item);
    }

    fn on_header(&mut self, fields: &[&str]) -> Result<(), Failure> {
        self.header = fields.iter().map(|f| (*f).to_string()).collect();
        let validator = self
            .plan
            .rules
            .validator(&self.header)
            .map_err(file_failure)?;
        if self.announce {
            self.send(Msg::Header {
                header: self.header.clone(),
                fields: validator.fields().to_vec(),
            });
        }
        self.validator = Some(validator);
        Ok(())
    }
}

/// What the parse thread sends the validation thread ([`Reader`]).
enum Parsed {
    /// The header record's fields.
    Header(Vec<String>),
    /// Data records in file order.
    Records(RawRecords),
    /// The job cannot go on (the upload cannot be read, or is not CSV).
    Fail(Failure),
    /// The whole file has been read.
    End { has_header: bool },
}

/// Data records as read: their fields' texts one after another in one
/// string (no allocation per field).
#[derive(Default)]
struct RawRecords {
    text: String,
    /// Where each field ends in `text`.
    ends: Vec<usize>,
    items: Vec<RawItem>,
}

enum RawItem {
    /// A record of `fields` fields (the next ones of [`RawRecords::ends`]).
    Row { row_number: u64, fields: usize },
    /// A record the CSV reader could not read, with the `fields` it could
    /// (the next ones of [`RawRecords::ends`]; `error.fields` is empty).
    Unreadable { error: CsvRowError, fields: usize },
}

/// The parse thread's part: streams the blob through the CSV reader and
/// sends the records on; the validation thread ([`Reader`]) checks them
/// meanwhile, so reading and validating a file take two cores.
struct Parser {
    /// One per validator, which take the batches in turns.
    outs: Vec<Outbox<Parsed>>,
    /// Whose turn the next batch is.
    next: usize,
    records: RawRecords,
    fatal: Option<Failure>,
}

impl Parser {
    fn new(validators: Vec<std::sync::mpsc::SyncSender<Parsed>>) -> Self {
        Parser {
            outs: validators.into_iter().map(Outbox::new).collect(),
            next: 0,
            records: RawRecords::default(),
            fatal: None,
        }
    }

    /// Sends to the validator whose turn it is (the job thread reads that
    /// one next: a failure or the end must go there).
    fn send(&mut self, msg: Parsed) {
        self.outs[self.next].send(msg);
    }

    /// Whether a validator has stopped (the job is over).
    fn closed(&self) -> bool {
        self.outs.iter().any(|o| o.closed)
    }

    fn flush(&mut self) {
        if !self.records.items.is_empty() {
            let records = RawRecords {
                text: String::with_capacity(self.records.text.capacity()),
                ends: Vec::with_capacity(self.records.ends.capacity()),
                items: Vec::with_capacity(ITEMS_PER_MSG),
            };
            let records = std::mem::replace(&mut self.records, records);
            self.send(Parsed::Records(records));
            self.next = (self.next + 1) % self.outs.len();
        }
    }

    /// Sends the pending records, then the failure; true when the job is
    /// over.
    fn stop_on_failure(&mut self) -> bool {
        match self.fatal.take() {
            Some(f) => {
                self.flush();
                self.send(Parsed::Fail(f));
                true
            }
            None => self.closed(),
        }
    }

    fn run(mut self, mut file: Box<dyn Read + Send>) {
        let _timer = ThreadTimer::start();
        let mut stream = CsvStream::new(verdict::csv_options());
        let mut buf = vec![0u8; CHUNK_SIZE];
        let mut first = true;
        loop {
            let n = match read_chunk(&mut file, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    self.fatal = Some(Failure::Internal(
                        anyhow::Error::new(e).context("reading the upload"),
                    ));
                    self.stop_on_failure();
                    return;
                }
            };
            if n == 0 {
                break;
            }
            if first {
                first = false;
                if let Err(f) = verdict::check_head(&buf[..n]) {
                    self.fatal = Some(file_failure(f));
                    self.stop_on_failure();
                    return;
                }
            }
            stream.feed(&buf[..n], &mut |ev| self.on_event(ev));
            if self.stop_on_failure() {
                return;
            }
            self.flush();
        }
        let summary = stream.finish(&mut |ev| self.on_event(ev));
        if self.stop_on_failure() {
            return;
        }
        self.flush();
        self.send(Parsed::End {
            has_header: summary.has_header,
        });
    }

    fn on_event(&mut self, ev: RecordEvent<'_>) {
        if self.fatal.is_some() || self.closed() {
            return;
        }
        match ev {
            RecordEvent::Header(rec) => {
                let header: Vec<String> = rec.fields.iter().map(|f| (*f).to_string()).collect();
                // Every validator checks rows against the header.
                for out in &mut self.outs {
                    out.send(Parsed::Header(header.clone()));
                }
            }
            RecordEvent::Row(rec) => {
                let r = &mut self.records;
                for f in rec.fields {
                    r.text.push_str(f);
                    r.ends.push(r.text.len());
                }
                r.items.push(RawItem::Row {
                    row_number: rec.row_number,
                    fields: rec.fields.len(),
                });
                if r.items.len() >= ITEMS_PER_MSG {
                    self.flush();
                }
            }
            RecordEvent::Error(err) if err.row_number == 0 => {
                self.fatal = Some(file_failure(FileFailure::HeaderUnreadable(err.kind)));
            }
            RecordEvent::Error(mut error) => {
                let r = &mut self.records;
                let fields = std::mem::take(&mut error.fields);
                for f in &fields {
                    r.text.push_str(f);
                    r.ends.push(r.text.len());
                }
                r.items.push(RawItem::Unreadable {
                    error,
                    fields: fields.len(),
                });
                if self.records.items.len() >= ITEMS_PER_MSG {
                    self.flush();
                }
            }
        }
    }
}

/// Reads until `buf` is full or the input ends (a network stream hands out
/// whatever has arrived); returns the bytes read, 0 at the end.
fn read_chunk(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The state of one job while its file streams through.
struct Run<'a> {
    state: &'a App,
    records: &'a Records,
    conn: &'a Connection,
    job: &'a Job,
    plan: &'a Plan<'a>,
    header: Vec<String>,
    merger: Option<Merger<'a>>,
    /// Held from the header to the end of the transaction.
    gate: Option<MutexGuard<'a, ()>>,
    in_tx: bool,
    /// `readRows`, `validRows`, `invalidRows`, `errorSummary`.
    tally: Tally,
    /// `mergedInserts`, `mergedUpdates` (known once committed).
    merged: (u64, u64),
    errors: ErrorFile,
    stage: &'static str,
    last_report: Instant,
    rows_at_report: u64,
    /// When the job began reading its file, and the CPU time its thread
    /// (a pooled one) had used by then.
    started: Instant,
    started_cpu: Option<Duration>,
}

impl<'a> Run<'a> {
    fn new(
        state: &'a App,
        records: &'a Records,
        conn: &'a Connection,
        job: &'a Job,
        plan: &'a Plan<'a>,
    ) -> Self {
        Run {
            state,
            records,
            conn,
            job,
            plan,
            header: Vec::new(),
            merger: None,
            gate: None,
            in_tx: false,
            tally: Tally::default(),
            merged: (0, 0),
            errors: ErrorFile::new(&job.id),
            stage: STAGE_PARSE,
            last_report: Instant::now(),
            rows_at_report: 0,
            started: Instant::now(),
            // Read only for the debug log.
            started_cpu: tracing::enabled!(tracing::Level::DEBUG)
                .then(thread_cpu)
                .flatten(),
        }
    }

    /// The header fits the mapping: the job's transaction begins.
    fn on_header(&mut self, header: Vec<String>, fields: &[MappedField]) -> Result<(), Failure> {
        self.header = header;
        let plan = self.plan;
        self.gate = Some(self.records.write_gate());
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.in_tx = true;
        merge::ensure_table(self.conn, plan.schema)?;
        self.merger = Some(Merger::new(
            self.conn,
            &self.job.object_name,
            fields,
            plan.rules.key_field.as_deref(),
            &self.job.workspace,
            &self.job.id,
            Utc::now().timestamp_millis(),
        )?);
        if let Some(m) = self.merger.as_mut() {
            m.set_spill_dir(&self.records.spill_dir());
        }
        self.stage = STAGE_VALIDATE;
        self.report()
    }

    /// One row of a message; `at` is where the row's data starts in it.
    fn on_item(&mut self, item: &Item, rows: &Rows, at: &mut Cursor) -> Result<(), Failure> {
        match item {
            Item::Valid(len) => {
                let Some(merger) = self.merger.as_mut() else {
                    return Err(anyhow::anyhow!("a data row arrived before the header").into());
                };
                let row = rows
                    .encoded
                    .get(at.encoded..at.encoded + len)
                    .ok_or_else(|| anyhow::anyhow!("a row's encoding is missing"))?;
                at.encoded += len;
                merger.push_encoded(row)?;
                self.tally.accept();
                Ok(())
            }
            Item::Rejected(err, n) => {
                let ends = rows
                    .rejected_ends
                    .get(at.field..at.field + n)
                    .ok_or_else(|| anyhow::anyhow!("a rejected row's fields are missing"))?;
                let mut fields = Vec::with_capacity(*n);
                for &end in ends {
                    fields.push(&rows.rejected[at.text..end]);
                    at.text = end;
                }
                at.field += n;
                self.reject(err, &fields)
            }
        }
    }

    fn reject<F: AsRef<str>>(&mut self, err: &RowError, fields: &[F]) -> Result<(), Failure> {
        self.tally.reject(err);
        self.errors
            .push(&self.state.storage, err, &self.header, fields)?;
        Ok(())
    }

    /// The counters, with the merge's as known so far.
    fn counters(&self) -> Counters {
        Counters {
            read_rows: self.tally.read_rows,
            valid_rows: self.tally.valid_rows,
            invalid_rows: self.tally.invalid_rows,
            merged_inserts: self.merged.0,
            merged_updates: self.merged.1,
        }
    }

    /// Counters as published while the merge is uncommitted.
    fn visible(&self) -> Counters {
        Counters {
            merged_inserts: 0,
            merged_updates: 0,
            ..self.counters()
        }
    }

    fn report(&mut self) -> Result<(), Failure> {
        if self.stage == STAGE_VALIDATE && self.tally.read_rows > 0 {
            crate::hold::at("read", &self.job.id);
        }
        let c = self.visible();
        let running = self.state.db.update_progress(
            &self.job.id,
            self.stage,
            &c,
            Some(&self.tally.error_summary),
            self.state.now(),
        )?;
        self.last_report = Instant::now();
        self.rows_at_report = self.tally.read_rows;
        if running {
            Ok(())
        } else {
            Err(Failure::Gone)
        }
    }

    fn maybe_report(&mut self) -> Result<(), Failure> {
        if self.tally.read_rows - self.rows_at_report >= PROGRESS_ROWS
            || self.last_report.elapsed() >= PROGRESS_INTERVAL
        {
            self.report()?;
        }
        Ok(())
    }

    /// Commits the merge and the error file, and completes the job.
    fn finish(mut self) -> Result<(), Failure> {
        let read_end = Instant::now();
        let cpu_since = |start: Option<Duration>| {
            let start = start?;
            Some(thread_cpu()?.saturating_sub(start).as_millis() as u64)
        };
        let read_cpu = cpu_since(self.started_cpu);
        self.stage = STAGE_MERGE;
        self.report()?;
        if let Some(merger) = self.merger.as_mut() {
            merger.finish()?;
            self.merged = merger.counts();
        }
        let c = self.counters();
        if c.merged_inserts + c.merged_updates != c.valid_rows {
            return Err(anyhow::anyhow!(
                "merged {} + {} rows of {} valid rows",
                c.merged_inserts,
                c.merged_updates,
                c.valid_rows
            )
            .into());
        }
        let write_end = Instant::now();
        let unification = self.unify_profiles()?;
        let error_count = self.errors.count();
        let completion = merge::Completion {
            read_rows: c.read_rows,
            valid_rows: c.valid_rows,
            invalid_rows: c.invalid_rows,
            merged_inserts: c.merged_inserts,
            merged_updates: c.merged_updates,
            error_summary: self.tally.summary().cloned(),
            error_file: (error_count > 0).then(|| error_file::error_file_path(&self.job.id)),
            error_count,
            profile_unification: unification,
        };
        merge::record_job(
            self.conn,
            &self.job.id,
            &self.job.workspace,
            &self.job.object_name,
            &completion,
            Utc::now().timestamp_millis(),
        )?;
        crate::hold::at("merge", &self.job.id);
        let errors = std::mem::replace(&mut self.errors, ErrorFile::new(&self.job.id));
        let error_file = errors.commit()?;
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            if let Some((path, _)) = &error_file {
                let _ = self.state.storage.remove(path);
            }
            return Err(e.into());
        }
        self.in_tx = false;
        crate::hold::at("committed", &self.job.id);
        tracing::debug!(
            job = %self.job.id,
            read_ms = (read_end - self.started).as_millis() as u64,
            write_ms = (write_end - read_end).as_millis() as u64,
            commit_ms = write_end.elapsed().as_millis() as u64,
            job_cpu_ms = cpu_since(self.started_cpu),
            job_read_cpu_ms = read_cpu,
            "job merged"
        );
        self.gate = None;
        if let Some(outcome) = &unification {
            self.state
                .db
                .set_profile_unification(&self.job.id, outcome)?;
        }
        self.populate_lists()?;
        let summary = self.tally.summary();
        let (path, count) = match &error_file {
            Some((p, n)) => (Some(p.as_str()), *n),
            None => (None, 0),
        };
        let completed =
            self.state
                .db
                .complete_job(&self.job.id, &c, summary, path, count, self.state.now())?;
        merge::checkpoint(self.conn);
        if completed {
            Ok(())
        } else {
            Err(Failure::Gone)
        }
    }
}

impl Run<'_> {
    /// `autoProfileAfterImport`: stage `profile`, the unification of the
    /// workspace's profile object ([`profile`]), inside the job's
    /// transaction. None when the job did not ask for it or the workspace
    /// has no profile object.
    fn unify_profiles(&mut self) -> Result<Option<ProfileUnification>, Failure> {
        if !self.job.options.auto_profile_after_import {
            return Ok(None);
        }
        let Some(schema) = self
            .state
            .catalog
            .objects()
            .find(|o| o.summary.primary_profile_root)
        else {
            return Ok(None);
        };
        self.stage = STAGE_PROFILE;
        self.report()?;
        Ok(Some(profile::unify(
            self.conn,
            schema,
            &self.job.workspace,
        )?))
    }

    /// After the records commit and before the job reads `completed` (so a
    /// client that sees `completed` finds them): the list of `createList`,
    /// the members added to `targetListId`, the audience of `createAudience`.
    /// Members are the contact keys of the records the job inserted or
    /// updated: the object's `email` field when it has one, else its first
    /// identity key.
    fn populate_lists(&self) -> Result<(), Failure> {
        let opts = &self.job.options;
        if opts.list_name.is_none() && opts.target_list_id.is_none() && opts.audience_name.is_none()
        {
            return Ok(());
        }
        let Some(schema) = self.state.catalog.get(&self.job.object_name) else {
            return Ok(());
        };
        let field = if schema.fields.iter().any(|f| f.name == "email") {
            "email".to_string()
        } else if let Some(k) = schema.identity_keys.first() {
            k.clone()
        } else {
            return Ok(());
        };
        let keys = merge::job_keys(
            self.conn,
            &self.job.object_name,
            &field,
            &self.job.workspace,
            &self.job.id,
        )?;
        let now = self.state.now();
        let db = &self.state.db;
        if let Some(name) = &opts.list_name {
            crate::lists::create_import_list(db, &self.job.workspace, name, &keys, now)?;
        }
        if let Some(list_id) = &opts.target_list_id {
            crate::lists::add_members(db, list_id, &keys, now)?;
        }
        if let Some(name) = &opts.audience_name {
            crate::audiences::create_audience(
                db,
                &self.job.workspace,
                name,
                &self.job.object_name,
                &self.job.id,
                &keys,
                now,
            )?;
        }
        Ok(())
    }
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        if self.in_tx {
            // Statements are reset after every row, so rolling back is safe.
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(job = %self.job.id, error = %e, "rollback failed");
            }
        }
    }
}

/// Logs, at debug level, when dropped, the wall and CPU time of the thread
/// that made it (`RUST_LOG=import_devserver::processor=debug`): where a
/// job's time goes, thread by thread.
pub(crate) struct ThreadTimer {
    started: Instant,
}

impl ThreadTimer {
    pub(crate) fn start() -> ThreadTimer {
        ThreadTimer {
            started: Instant::now(),
        }
    }
}

impl Drop for ThreadTimer {
    fn drop(&mut self) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(
                thread = std::thread::current().name().unwrap_or("?"),
                wall_ms = self.started.elapsed().as_millis() as u64,
                cpu_ms = thread_cpu().map(|d| d.as_millis() as u64),
                "processing thread done"
            );
        }
    }
}

/// CPU time the calling thread has used (Linux; None elsewhere).
pub fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}
