// The resume journal: one JSON file per input file, in a directory
// (`.import-uploader/` next to the files by default). Each records the
// file (path, size, modification time), what was asked (object, mapping,
// options), the job (its create response: id, upload URL, headers,
// expiry), the parts storage acknowledged, and how far the import got.
// Every write goes to a temporary file that is renamed over the entry, so
// a `kill -9` at any moment leaves the previous or the new version, never
// a torn one. Entries hold the upload URL (a signed, expiring storage URL)
// but never the API's token; they are written with mode 0600.

import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** Steps of an import, in order. */
export const STEPS = ['creating', 'uploading', 'uploaded', 'started', 'done', 'failed'];

export const JOURNAL_DIR = '.import-uploader';

/** The journal file name of `path` (absolute). */
function entryName(path) {
  return createHash('sha256').update(path).digest('hex').slice(0, 24) + '.json';
}

/** The default journal directory for `files` (absolute paths): next to the first. */
export function defaultJournal(files) {
  return join(dirname(files[0]), JOURNAL_DIR);
}

export class Journal {
  constructor(dir) {
    this.dir = resolve(dir);
    // Writes of one entry, one after the other: each serialises the entry
    // as it is when its turn comes, so the last write is the latest state.
    this.queues = new Map();
  }

  fileOf(path) {
    return join(this.dir, entryName(path));
  }

  /** The entry of `path`, or undefined. An unreadable entry is an error. */
  async get(path) {
    return this.read(this.fileOf(path));
  }

  async read(file) {
    let text;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const entry = JSON.parse(text);
      entry.journalFile = file;
      return entry;
    } catch (e) {
      throw new Error(`journal entry ${file} is not JSON (${e.message}): delete it to start that file over`);
    }
  }

  /** Every entry, oldest first. */
  async all() {
    let names;
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (e.code === 'ENOENT') return [];
      throw e;
    }
    const entries = [];
    for (const n of names.filter((n) => /^[0-9a-f]{24}\.json$/.test(n)).sort()) {
      const e = await this.read(join(this.dir, n));
      if (e) entries.push(e);
    }
    return entries.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  /** Writes `entry` atomically (temporary file, fsync, rename), after the
   * writes of the same entry queued before. */
  put(entry) {
    const before = this.queues.get(entry.path) ?? Promise.resolve();
    const write = before.catch(() => {}).then(() => this.write(entry));
    this.queues.set(entry.path, write);
    return write;
  }

  async write(entry) {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.fileOf(entry.path);
    const tmp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
    const { journalFile, ...data } = entry;
    data.updatedAt = new Date().toISOString();
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(data, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    entry.journalFile = file;
    entry.updatedAt = data.updatedAt;
  }

  /** Removes the entry of `path`. */
  async remove(path) {
    await rm(this.fileOf(path), { force: true });
  }
}

/**
 * A `resumeStore` for the upload engine that keeps the acknowledged parts
 * in the journal entry (`entry.parts`); each part the engine records is one
 * atomic journal write, one at a time.
 */
export function partStore(journal, entry) {
  // A failed write only means parts are sent again after a crash.
  const save = () => journal.put(entry).catch(() => {});
  return {
    getItem(key) {
      return entry.parts && entry.parts.key === key ? entry.parts.value : null;
    },
    setItem(key, value) {
      entry.parts = { key, value };
      return save();
    },
    removeItem(key) {
      if (entry.parts && entry.parts.key === key) entry.parts = { key, value: null, complete: true };
      return save();
    },
  };
}

/** How many parts a record says are stored, for messages. The record is
 * the engine's `<protocol>|1:<size>:<partSize>:r:<ranges>` or `…:b:<bitmap>`
 * (base64url). */
export function storedParts(entry) {
  const value = entry.parts?.value;
  if (typeof value !== 'string') return 0;
  const m = /:(r|b):([^:]*)$/.exec(value);
  if (!m) return 0;
  if (m[1] === 'b') {
    let n = 0;
    for (const byte of Buffer.from(m[2], 'base64url')) for (let b = byte; b; b &= b - 1) n++;
    return n;
  }
  let n = 0;
  for (const range of m[2].split(',').filter(Boolean)) {
    const r = /^(\d+)(?:-(\d+))?$/.exec(range);
    if (r) n += r[2] === undefined ? 1 : Number(r[2]) - Number(r[1]) + 1;
  }
  return n;
}
