//! Sorted runs on disk: a job's spill file, the spilling thread that sorts
//! full batches and appends them as runs, and the sorting thread of
//! [`super::Merger::finish`] that merges the runs with the last batch and
//! combines the rows of each key.

use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::codec::{combine, field_at, field_cmp};
use crate::processor::ThreadTimer;

/// Buffer of the spill file's writer and of each run's reader, bytes.
pub(super) const SPILL_BUFFER: usize = 64 * 1024;

/// A queued row: the first 16 bytes of its key (as a number that orders as
/// the bytes do), and its place in the arena.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) prefix: u128,
    pub(super) offset: usize,
    pub(super) len: usize,
}

/// A job's spill file: sorted runs of rows, one after another, removed when
/// the job's merger is done with it (and, after a crash, when the emulator
/// next opens its records).
pub(super) struct Spill {
    pub(super) path: PathBuf,
    pub(super) file: BufWriter<std::fs::File>,
    /// (byte offset, rows) of each run.
    pub(super) runs: Vec<(u64, u64)>,
    pub(super) written: u64,
}

impl Spill {
    pub(super) fn create(dir: &Path, job_id: &str) -> std::io::Result<Spill> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        std::fs::create_dir_all(dir)?;
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let safe: String = job_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.join(format!("merge-{}-{n}-{safe}.runs", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Spill {
            path,
            file: BufWriter::with_capacity(SPILL_BUFFER, file),
            runs: Vec::new(),
            written: 0,
        })
    }
}

impl Spill {
    /// Appends a sorted batch as a run (each row as its length, 4 bytes
    /// little-endian, and its encoding).
    pub(super) fn append_run(&mut self, batch: &Batch) -> std::io::Result<()> {
        let offset = self.written;
        for e in &batch.index {
            self.file.write_all(&(e.len as u32).to_le_bytes())?;
            self.file
                .write_all(&batch.arena[e.offset..e.offset + e.len])?;
            self.written += 4 + e.len as u64;
        }
        self.runs.push((offset, batch.index.len() as u64));
        Ok(())
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Queued rows of an `upsert` object: encoded one after another, and where
/// each one is.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub(super) arena: Vec<u8>,
    pub(super) index: Vec<Entry>,
}

/// The spilling thread of a [`Merger`]: sorts each full batch it is sent
/// and appends it, as a run, to the job's spill file; sends the emptied
/// buffers back for the next batch. Batches are spilled in the order they
/// were sent, so runs stay in file order.
pub(super) struct Spiller {
    pub(super) tx: Option<std::sync::mpsc::SyncSender<Batch>>,
    pub(super) back: std::sync::mpsc::Receiver<Batch>,
    /// Batches sent and not yet sent back.
    pub(super) out: usize,
    pub(super) thread: Option<std::thread::JoinHandle<anyhow::Result<Spill>>>,
}

impl Spiller {
    pub(super) fn start(k: usize, dir: &Path, job_id: &str) -> anyhow::Result<Spiller> {
        let mut spill = Spill::create(dir, job_id)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
        let (back_tx, back) = std::sync::mpsc::channel::<Batch>();
        let thread = std::thread::Builder::new()
            .name("merge-spill".into())
            .spawn(move || {
                let _timer = ThreadTimer::start();
                for mut batch in rx {
                    sort_entries(&mut batch.index, &batch.arena, k);
                    spill.append_run(&batch)?;
                    batch.arena.clear();
                    batch.index.clear();
                    let _ = back_tx.send(batch);
                }
                spill.file.flush()?;
                Ok(spill)
            })
            .context("starting the merge's spilling thread")?;
        Ok(Spiller {
            tx: Some(tx),
            back,
            out: 0,
            thread: Some(thread),
        })
    }

    /// Buffers for the next batch: new ones while only one batch is out,
    /// else the ones the thread sends back (waiting for it).
    pub(super) fn spare(&mut self) -> anyhow::Result<Batch> {
        if self.out == 0 {
            return Ok(Batch::default());
        }
        match self.back.recv() {
            Ok(b) => {
                self.out -= 1;
                Ok(b)
            }
            Err(_) => Err(self.failure()),
        }
    }

    pub(super) fn send(&mut self, batch: Batch) -> anyhow::Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send(batch).is_ok());
        if sent != Some(true) {
            return Err(self.failure());
        }
        self.out += 1;
        Ok(())
    }

    /// The thread's error, once it has stopped early.
    pub(super) fn failure(&mut self) -> anyhow::Error {
        self.tx = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(Err(e))) => e.context("spilling sorted rows"),
            Some(Err(_)) => anyhow::anyhow!("the merge's spilling thread panicked"),
            _ => anyhow::anyhow!("the merge's spilling thread stopped"),
        }
    }

    /// Waits for every batch to be spilled; the spill file.
    pub(super) fn finish(mut self) -> anyhow::Result<Option<Spill>> {
        self.tx = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(spilled)) => spilled.map(Some),
            Some(Err(_)) => Err(anyhow::anyhow!("the merge's spilling thread panicked")),
            None => Ok(None),
        }
    }
}

/// Reads the rows of one run back.
pub(super) struct RunReader {
    pub(super) reader: BufReader<std::fs::File>,
    pub(super) left: u64,
}

impl RunReader {
    /// Reads the next row into `row`; false at the end of the run.
    pub(super) fn next(&mut self, row: &mut Vec<u8>) -> std::io::Result<bool> {
        if self.left == 0 {
            return Ok(false);
        }
        self.left -= 1;
        let mut len = [0u8; 4];
        self.reader.read_exact(&mut len)?;
        let len = u32::from_le_bytes(len) as usize;
        row.clear();
        // Mostly straight from the read buffer (no zeroing first).
        if let Some(bytes) = self.reader.buffer().get(..len) {
            row.extend_from_slice(bytes);
            std::io::BufRead::consume(&mut self.reader, len);
        } else {
            row.resize(len, 0);
            self.reader.read_exact(row)?;
        }
        Ok(true)
    }
}

/// Rows of distinct keys in key order, encoded one after another, and
/// where each one is: what the sorting thread of [`Merger::finish`] hands
/// over.
#[derive(Debug, Default)]
pub(super) struct Block {
    pub(super) bytes: Vec<u8>,
    pub(super) rows: Vec<(usize, usize)>,
}

impl Block {
    pub(super) fn push(&mut self, row: &[u8]) {
        self.rows.push((self.bytes.len(), row.len()));
        self.bytes.extend_from_slice(row);
    }
}

/// The sorting thread of [`Merger::finish`]: sorts the rows in memory,
/// merges them with the sorted runs of `spill` (rows of one key in file
/// order: runs were spilled in file order, and the rows in memory came
/// last), combines the rows of each key into one ([`combine`]: the last
/// non-empty value of each field wins, as writing them one by one would
/// leave it) and sends the combined rows in blocks of `block_rows` on `tx`,
/// taking spent blocks back from `reuse`. Returns how many rows were
/// combined into an earlier row of their key (each one an update); stops
/// early, without error, when the writer has stopped listening.
pub(super) fn sorted_groups(
    k: usize,
    arena: Vec<u8>,
    mut index: Vec<Entry>,
    spill: Option<Spill>,
    block_rows: usize,
    tx: &std::sync::mpsc::SyncSender<Block>,
    reuse: &std::sync::mpsc::Receiver<Block>,
) -> anyhow::Result<u64> {
    // The rows in memory are sorted in two halves side by side (the job
    // thread waits for them meanwhile): two sources, the earlier rows first.
    let arena = std::sync::Arc::new(arena);
    let mut later = index.split_off(index.len() / 2);
    std::thread::scope(|scope| {
        let arena = &arena;
        scope.spawn(|| sort_entries(&mut later, arena, k));
        sort_entries(&mut index, arena, k);
    });
    let mut sources = Vec::new();
    // Flushed by the spilling thread; removed (on drop) once the merge is
    // over.
    if let Some(spill) = &spill {
        for &(offset, rows) in &spill.runs {
            let mut f = std::fs::File::open(&spill.path)?;
            f.seek(SeekFrom::Start(offset))?;
            sources.push(Source::Run(RunReader {
                reader: BufReader::with_capacity(SPILL_BUFFER, f),
                left: rows,
            }));
        }
    }
    for half in [index, later] {
        sources.push(Source::Memory {
            arena: arena.clone(),
            index: half.into_iter(),
        });
    }
    let mut heap = std::collections::BinaryHeap::with_capacity(sources.len());
    for (run, mut source) in sources.into_iter().enumerate() {
        let mut row = Vec::new();
        if source.next(&mut row)? {
            heap.push(Head::new(run, k, row, source));
        }
    }
    let mut combined = 0u64;
    let mut group: Vec<u8> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    let mut block = Block::default();
    // The next block is one the writer has finished with when there is one
    // (no allocation, and no fresh memory for the system to clear): when
    // there is none, every other block is on its way or being written, so
    // there are never more than `BLOCKS_IN_FLIGHT + 2`.
    let send = |block: &mut Block| -> bool {
        if tx.send(std::mem::take(block)).is_err() {
            return false;
        }
        *block = reuse.try_recv().unwrap_or_default();
        block.bytes.clear();
        block.rows.clear();
        true
    };
    while let Some(mut head) = heap.pop() {
        if !group.is_empty()
            && field_cmp(field_at(&group, k), field_at(&head.row, k)) == std::cmp::Ordering::Equal
        {
            scratch.clear();
            combine(&group, &head.row, &mut scratch);
            std::mem::swap(&mut group, &mut scratch);
            combined += 1;
        } else {
            if !group.is_empty() {
                block.push(&group);
                if block.rows.len() >= block_rows && !send(&mut block) {
                    return Ok(combined);
                }
            }
            group.clear();
            group.extend_from_slice(&head.row);
        }
        if head.source.next(&mut head.row)? {
            head.prefix = field_at(&head.row, k).map(|f| f.prefix()).unwrap_or(0);
            heap.push(head);
        }
    }
    if !group.is_empty() {
        block.push(&group);
    }
    if !block.rows.is_empty() {
        send(&mut block);
    }
    Ok(combined)
}

/// Sorts queued rows in key order; equal keys keep their file order.
pub(super) fn sort_entries(index: &mut [Entry], arena: &[u8], k: usize) {
    let key = |e: &Entry| field_at(&arena[e.offset..e.offset + e.len], k);
    // Most comparisons end on the prefix, without reading the key.
    index.sort_unstable_by(|a, b| {
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| field_cmp(key(a), key(b)))
            .then(a.offset.cmp(&b.offset))
    });
}

/// Where the merge of [`sorted_groups`] reads sorted rows from.
pub(super) enum Source {
    /// A run spilled to disk.
    Run(RunReader),
    /// Rows still in memory, sorted.
    Memory {
        arena: std::sync::Arc<Vec<u8>>,
        index: std::vec::IntoIter<Entry>,
    },
}

impl Source {
    /// Reads the next row into `row`; false at the end.
    pub(super) fn next(&mut self, row: &mut Vec<u8>) -> std::io::Result<bool> {
        match self {
            Source::Run(r) => r.next(row),
            Source::Memory { arena, index } => {
                let Some(e) = index.next() else {
                    return Ok(false);
                };
                row.clear();
                row.extend_from_slice(&arena[e.offset..e.offset + e.len]);
                Ok(true)
            }
        }
    }
}

/// The head row of a run in the merge of runs: a min-heap entry ordered as
/// [`Merger::sort_batch`] orders rows, earlier runs (earlier rows of the
/// file) first among equal keys.
pub(super) struct Head {
    pub(super) prefix: u128,
    pub(super) run: usize,
    pub(super) key: usize,
    pub(super) row: Vec<u8>,
    pub(super) source: Source,
}

impl Head {
    pub(super) fn new(run: usize, key: usize, row: Vec<u8>, source: Source) -> Head {
        Head {
            prefix: field_at(&row, key).map(|f| f.prefix()).unwrap_or(0),
            run,
            key,
            row,
            source,
        }
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Reversed: `BinaryHeap` pops its greatest entry.
        other
            .prefix
            .cmp(&self.prefix)
            .then_with(|| {
                field_cmp(
                    field_at(&other.row, other.key),
                    field_at(&self.row, self.key),
                )
            })
            .then(other.run.cmp(&self.run))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Head {}
