// Files on disk as upload sources, for the package's Node entry only
// (browsers never load this module): `upload`, `client.upload`,
// `client.resumeUpload` and `client.importFile` take a path or a `file:`
// URL besides a Blob or a file source.
//
// The size comes from `stat`, and every part is read at its byte offset
// with `FileHandle.read(buffer, 0, length, position)`. Never
// `fs.openAsBlob`: in Node 20 its Blob of a 5 GiB file says 1 GiB (the
// size wraps every 4 GiB) and reads past 2 GiB are empty
// (nodejs/node#52585), so an upload of it would store a fifth of the file
// and call it done. The file is opened at the first read and closed when
// the upload settles; a file whose size changed since the call fails the
// upload instead of sending other bytes.

import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const VALIDATION_CODE = 'CDP_ETL.VALIDATION.REQUEST_INVALID';

/** An `ImportError` of kind `validation` about the file (`rule` says which). */
function fileError(rule, message, cause) {
  const e = new Error(message, { cause });
  return Object.assign(e, {
    name: 'ImportError',
    kind: 'validation',
    status: null,
    code: VALIDATION_CODE,
    correlationId: null,
    retryable: false,
    rule,
    field: 'file',
  });
}

/** A file on disk, read by byte offset: a file source for the engine. */
export class FileSource {
  /** `path` as given; `stats` from `stat`. */
  constructor(path, stats) {
    this.path = path;
    this.size = stats.size;
    this.name = basename(path);
    this.lastModified = Math.trunc(stats.mtimeMs);
    this.opening = undefined;
  }

  /** Opens `path` (a string or a `file:` URL) and stats it. */
  static async open(path) {
    const p = toPath(path);
    let handle;
    try {
      handle = await open(p, 'r');
      const stats = await handle.stat();
      if (!stats.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
      const source = new FileSource(p, stats);
      source.opening = Promise.resolve(handle);
      return source;
    } catch (e) {
      await handle?.close().catch(() => {});
      throw unreadable(p, e);
    }
  }

  /** Stats `path` now and opens it at the first read (for the calls that answer at once). */
  static sync(path) {
    const p = toPath(path);
    let stats;
    try {
      stats = statSync(p);
      if (!stats.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    } catch (e) {
      throw unreadable(p, e);
    }
    return new FileSource(p, stats);
  }

  /** `length` bytes from `offset` (fewer only at an unexpected end of file). */
  async read(offset, length) {
    this.opening ??= this.reopen();
    const handle = await this.opening;
    // Not from Buffer's shared pool: each part is its own memory, freed
    // when its request is done.
    const buffer = Buffer.allocUnsafeSlow(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await handle.read(buffer, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === length ? buffer : buffer.subarray(0, got);
  }

  async reopen() {
    const handle = await open(this.path, 'r');
    const stats = await handle.stat();
    if (stats.size !== this.size) {
      await handle.close().catch(() => {});
      throw new Error(`${this.path} is ${stats.size} bytes now but was ${this.size} when the upload began`);
    }
    return handle;
  }

  /** Closes the file (the next read opens it again). */
  async close() {
    const opening = this.opening;
    this.opening = undefined;
    const handle = await opening?.catch(() => undefined);
    await handle?.close().catch(() => {});
  }
}

function toPath(path) {
  return path instanceof URL ? fileURLToPath(path) : path;
}

function unreadable(path, e) {
  const why = e?.code === 'ENOENT'
    ? ['FILE_NOT_FOUND', `${path}: no such file`]
    : e?.code === 'EISDIR'
      ? ['FILE_UNREADABLE', `${path} is not a regular file`]
      : e?.code === 'EACCES' || e?.code === 'EPERM'
        ? ['FILE_UNREADABLE', `${path} cannot be read: permission denied`]
        : ['FILE_UNREADABLE', `${path} cannot be read: ${e?.message ?? e}`];
  return fileError(why[0], `${why[1]}. Check the path and that the file is readable.`, e);
}

const isPath = (v) => typeof v === 'string' || v instanceof URL;

/**
 * Makes `upload`, `ImportClient#upload`, `#resumeUpload` and `#importFile`
 * take paths; returns the standalone `upload` that does.
 */
export function acceptPaths(ImportClient, upload) {
  const proto = ImportClient.prototype;
  const started = (source, handle) => {
    const close = () => source.close();
    handle.done.then(close, close);
    return handle;
  };
  for (const name of ['upload', 'resumeUpload']) {
    const original = proto[name];
    proto[name] = function (job, file, options) {
      if (!isPath(file)) return original.call(this, job, file, options);
      const source = FileSource.sync(file);
      return started(source, original.call(this, job, source, options));
    };
  }
  const importFile = proto.importFile;
  proto.importFile = async function (file, options) {
    if (!isPath(file)) return importFile.call(this, file, options);
    const source = await FileSource.open(file);
    try {
      return await importFile.call(this, source, options);
    } finally {
      await source.close();
    }
  };
  return function uploadFile(file, options) {
    if (!isPath(file)) return upload(file, options);
    const source = FileSource.sync(file);
    return started(source, upload(source, options));
  };
}
