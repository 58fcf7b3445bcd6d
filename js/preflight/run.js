// The preflight's driver (`import-uploader/preflight`), shared by every
// runtime: in browsers it runs inside the module Worker (worker.js), in
// Node, Deno and workerd in-process (the `preflight-*.js` entries that
// `cargo xtask build` writes). It reads the file in parts (never whole),
// decodes a legacy encoding with the platform's `TextDecoder` (streaming),
// and feeds the UTF-8 bytes to the preflight module of import-core
// (`core`: the wasm-bindgen glue of the `import-uploader-preflight` crate).
//
// Installed in the package as `preflight-run.js`, beside the glue.

/** How much of the file the first answer reads, by default. */
export const DEFAULT_SAMPLE_BYTES = 1 << 20;
/** The size of each part a `full` run reads after the sample. */
export const PART_BYTES = 4 << 20;
/** The options `preflight()` knows; anything else is refused. */
const OPTION_NAMES = ['schema', 'importMode', 'sampleBytes', 'full', 'signal', 'onProgress', 'templates', 'dialect', 'mapping'];
/** The import modes of the API (`custom` needs a server-side rule set). */
const IMPORT_MODES = ['strict', 'balanced', 'landing_friendly'];

/**
 * An `Error` in the package's shape (`ImportError`: `kind`, `status`,
 * `code`, `message`, `correlationId`, `retryable`), plus `field` for an
 * option at fault.
 */
export function preflightError(kind, code, message, extra = {}) {
  const err = new Error(message);
  err.name = 'ImportError';
  Object.assign(err, { kind, status: null, code, correlationId: null, retryable: false }, extra);
  return err;
}

/** The error of an option at fault (kind `validation`). */
function optionError(field, message) {
  return preflightError('validation', 'PREFLIGHT_OPTIONS_INVALID', `preflight(): ${message}`, { field });
}

/** The error of a run cancelled by its `signal`. */
export function abortError(signal) {
  const why = signal?.reason instanceof Error ? `: ${signal.reason.message}` : '';
  return preflightError('aborted', 'ABORTED', `the preflight was cancelled${why}`);
}

/** An error as plain data (it crosses from the Worker with postMessage). */
export function errorData(err) {
  if (err && err.name === 'ImportError') {
    const { kind, status, code, correlationId, retryable, field } = err;
    return { name: err.name, message: err.message, kind, status, code, correlationId, retryable, field };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { name: 'ImportError', message: `the preflight failed: ${message}`, kind: 'protocol', status: null, code: 'PREFLIGHT_FAILED', correlationId: null, retryable: false };
}

/** The `Error` of {@link errorData}'s data. */
export function errorFromData(data) {
  const { message, kind, code, field, ...rest } = data;
  return preflightError(kind, code, message, { ...rest, ...(field === undefined ? {} : { field }) });
}

const isBlob = (v) => typeof Blob !== 'undefined' && v instanceof Blob;

/**
 * The file as `{ size, name, read(offset, length) → Promise<Uint8Array> }`:
 * a `Blob` (or `File`), read with `slice()`; or such a source object
 * already (the package's non-Blob file source, e.g. a Node file handle).
 */
export function fileSource(file) {
  if (isBlob(file)) {
    const read = async (offset, length) => new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
    return {
      size: file.size,
      name: typeof file.name === 'string' ? file.name : undefined,
      read,
      parts: typeof file.stream === 'function' ? (offset) => blobParts(file, offset) : (offset) => readParts(read, offset, file.size),
    };
  }
  if (file && typeof file === 'object' && typeof file.read === 'function' && Number.isSafeInteger(file.size) && file.size >= 0) {
    const read = (o, l) => Promise.resolve(file.read(o, l)).then(toBytes);
    return { size: file.size, name: typeof file.name === 'string' ? file.name : undefined, read, parts: (offset) => readParts(read, offset, file.size) };
  }
  throw preflightError(
    'validation',
    'PREFLIGHT_FILE_INVALID',
    `preflight(): the file must be a Blob or File, or a source { size, read(offset, length) }; got ${describe(file)}`,
    { field: 'file' },
  );
}

/**
 * The bytes of `file` from `offset` to its end, in parts, from the Blob's
 * own stream: into one buffer of PART_BYTES, reused for every part, where
 * the stream reads into a given buffer (a byte stream, as Chromium's and
 * Firefox's are); else the stream's own chunks (tens of KiB each). Either
 * way no part outlives the next read, so a `full` run holds no more of
 * the file at 1 GB than at 100 MB. A part is valid until the next one is
 * asked for.
 */
async function* blobParts(file, offset) {
  const stream = file.slice(offset).stream();
  let reader;
  try {
    reader = stream.getReader({ mode: 'byob' });
  } catch {
    reader = null;
  }
  if (reader) {
    let buffer = new ArrayBuffer(PART_BYTES);
    try {
      for (;;) {
        const { value, done } = await reader.read(new Uint8Array(buffer, 0, buffer.byteLength));
        if (done) return;
        yield value;
        buffer = value.buffer;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }
  const chunks = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await chunks.read();
      if (done) return;
      yield value;
    }
  } finally {
    chunks.cancel().catch(() => {});
  }
}

/** The bytes of a source from `offset` to `size`, in parts of PART_BYTES read with `read`. */
async function* readParts(read, offset, size) {
  while (offset < size) {
    const length = Math.min(PART_BYTES, size - offset);
    const part = await read(offset, length);
    if (part.length !== length) throw readError(offset, length, part.length);
    yield part;
    offset += length;
  }
}

function toBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw preflightError('validation', 'PREFLIGHT_FILE_INVALID', `preflight(): the file source's read() answered ${describe(v)}, not bytes`, { field: 'file' });
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an object (${Object.prototype.toString.call(v).slice(8, -1)})` : `a ${typeof v}`;
}

/**
 * Checks `preflight()`'s options. Answers the ones the core takes
 * (`{ schema, importMode, templates, dialect }`), `sampleBytes` and `full`;
 * `signal` and `onProgress` stay with the caller's side.
 */
export function checkOptions(options) {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) throw optionError('options', `the options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.includes(key)) throw optionError(key, `unknown option \`${key}\` (the options are ${OPTION_NAMES.join(', ')})`);
  }
  const { schema, importMode = 'balanced', sampleBytes = DEFAULT_SAMPLE_BYTES, full = false, signal, onProgress, templates, dialect, mapping } = options;
  if (schema !== undefined && schema !== null && (typeof schema !== 'object' || !Array.isArray(schema.fields))) {
    throw optionError('schema', 'schema must be an object schema of the Metadata API (`await client.objectSchema(name)`), with its `fields`');
  }
  if (!IMPORT_MODES.includes(importMode)) throw optionError('importMode', `importMode must be one of ${IMPORT_MODES.join(', ')}, got ${JSON.stringify(importMode)}`);
  if (!Number.isSafeInteger(sampleBytes) || sampleBytes < 1024) throw optionError('sampleBytes', `sampleBytes must be a whole number of bytes, at least 1024, got ${String(sampleBytes)}`);
  if (typeof full !== 'boolean') throw optionError('full', `full must be true or false, got ${describe(full)}`);
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function')) {
    throw optionError('signal', 'signal must be an AbortSignal');
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') throw optionError('onProgress', 'onProgress must be a function');
  if (templates !== undefined && !Array.isArray(templates)) throw optionError('templates', 'templates must be an array of saved templates');
  if (dialect !== undefined) checkDialect(dialect);
  if (mapping !== undefined && mapping !== null && (typeof mapping !== 'object' || typeof mapping.sourceFields !== 'object' || typeof mapping.fieldMap !== 'object')) {
    throw optionError('mapping', 'mapping must be { sourceFields, fieldMap }, as setMapping takes it');
  }
  return { schema: schema ?? null, importMode, templates: templates ?? [], dialect: dialect ?? {}, mapping: mapping ?? null, sampleBytes, full };
}

/** The dialect overrides: `{ delimiter?, hasHeader?, encoding? }`. */
function checkDialect(dialect) {
  if (typeof dialect !== 'object' || dialect === null || Array.isArray(dialect)) throw optionError('dialect', 'dialect must be an object: { delimiter?, hasHeader?, encoding? }');
  for (const key of Object.keys(dialect)) {
    if (!['delimiter', 'hasHeader', 'encoding'].includes(key)) throw optionError(`dialect.${key}`, `unknown dialect override \`${key}\` (they are delimiter, hasHeader, encoding)`);
  }
  const { delimiter, hasHeader, encoding } = dialect;
  if (delimiter !== undefined && ![',', ';', '\t', '|'].includes(delimiter)) throw optionError('dialect.delimiter', `dialect.delimiter must be ",", ";", "\\t" or "|", got ${JSON.stringify(delimiter)}`);
  if (hasHeader !== undefined && typeof hasHeader !== 'boolean') throw optionError('dialect.hasHeader', 'dialect.hasHeader must be true or false');
  if (encoding !== undefined) {
    let known = false;
    try {
      known = typeof encoding === 'string' && new TextDecoder(encoding) !== null;
    } catch {
      known = false;
    }
    if (!known) throw optionError('dialect.encoding', `dialect.encoding must be an encoding label this runtime's TextDecoder knows (utf-8, windows-1252, …), got ${JSON.stringify(encoding)}`);
  }
}

/**
 * A streaming decoder from the file's encoding to UTF-8 bytes, or `null`
 * when the bytes are UTF-8 already (they go to the core as they are, as
 * the server would read them). Fails with a clear error when this
 * runtime's `TextDecoder` does not know the encoding.
 */
export function utf8Transcoder(encoding) {
  if (!encoding || /^utf-?8$/i.test(encoding)) return null;
  let decoder;
  try {
    decoder = new TextDecoder(encoding, { ignoreBOM: false });
  } catch {
    throw preflightError(
      'validation',
      'PREFLIGHT_ENCODING_UNSUPPORTED',
      `the file looks like ${encoding}, which this runtime's TextDecoder cannot decode: convert it to UTF-8, or give dialect.encoding`,
      { field: 'file' },
    );
  }
  const encoder = new TextEncoder();
  return {
    encoding: decoder.encoding,
    push: (bytes) => encoder.encode(decoder.decode(bytes, { stream: true })),
    end: () => encoder.encode(decoder.decode()),
  };
}

/** Rejects when `signal` fires; `wait(promise)` races a step against it. */
function abortable(signal) {
  if (!signal) return { check() {}, wait: (p) => p, done() {} };
  let onAbort;
  const aborted = new Promise((_, reject) => {
    onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  return {
    check() {
      if (signal.aborted) throw abortError(signal);
    },
    wait: (p) => Promise.race([p, aborted]),
    done: () => signal.removeEventListener('abort', onAbort),
  };
}

/**
 * Runs a preflight of `file` with the core (`core`: the glue's exports, or
 * a promise of them: the sample is read while it loads). `checked` are
 * {@link checkOptions}'s; `signal` cancels between parts and during a read;
 * `onProgress({ phase, loaded, total })` is called after each part.
 * Resolves to the core's `Preflight` report.
 */
export async function runPreflight(loading, file, checked, { signal, onProgress } = {}) {
  const source = fileSource(file);
  const abort = abortable(signal);
  try {
    abort.check();
    const total = source.size;
    const sampleLength = Math.min(total, checked.sampleBytes);
    const reading = source.read(0, sampleLength);
    // Settled here if the core fails first (its error is the one reported).
    reading.catch(() => {});
    const core = await abort.wait(Promise.resolve(loading));
    abort.check();
    const head = await abort.wait(reading);
    abort.check();
    if (head.length !== sampleLength) throw readError(0, sampleLength, head.length);
    const sniffed = core.sniffEncoding(head);
    // The caller's encoding wins over the guess; a binary file goes to the
    // core as it is, which says what it is.
    const guess = checked.dialect.encoding
      ? { encoding: checked.dialect.encoding, confidence: 1, bom: sniffed.bom, bomLength: sniffed.bomLength, binary: false }
      : sniffed;
    const transcoder = guess.binary ? null : utf8Transcoder(guess.encoding);
    let run;
    try {
      run = new core.PreflightRun({
        schema: checked.schema,
        importMode: checked.importMode,
        templates: checked.templates,
        mapping: checked.mapping,
        dialect: { delimiter: checked.dialect.delimiter ?? null, hasHeader: checked.dialect.hasHeader ?? null, encoding: guess },
      });
    } catch (e) {
      throw optionError('options', e instanceof Error ? e.message : String(e));
    }
    try {
      const sample = transcoder ? transcoder.push(head) : head;
      if (checked.sliceBytes) {
        // On a page's own thread: the sample in slices, each its own task,
        // so that the page stays responsive between them.
        for (let at = 0; at < sample.length; at += checked.sliceBytes) {
          run.feed(sample.subarray(at, at + checked.sliceBytes));
          await abort.wait(nextTask());
          abort.check();
        }
      } else {
        run.feed(sample);
      }
      let loaded = sampleLength;
      const wholeFile = checked.full || sampleLength === total;
      onProgress?.({ phase: 'sample', loaded, total });
      if (checked.full && loaded < total) {
        const parts = source.parts(loaded);
        let reported = loaded;
        try {
          for (;;) {
            abort.check();
            const { value: part, done } = await abort.wait(parts.next());
            if (done) break;
            abort.check();
            if (loaded + part.length > total) throw readError(loaded, total - loaded, part.length);
            // The core copies the part: its buffer is the next read's.
            run.feed(transcoder ? transcoder.push(part) : part);
            loaded += part.length;
            if (loaded - reported >= PART_BYTES || loaded === total) {
              reported = loaded;
              onProgress?.({ phase: 'full', loaded, total });
            }
          }
        } finally {
          parts.return().catch(() => {});
        }
        if (loaded !== total) throw readError(loaded, total - loaded, 0);
      }
      if (transcoder && wholeFile) {
        const rest = transcoder.end();
        if (rest.length) run.feed(rest);
      }
      return run.finish(wholeFile);
    } finally {
      run.free();
    }
  } finally {
    abort.done();
  }
}

/** The channel {@link nextTask} posts to itself through (kept: a port that nothing references may be collected with its message). */
let channel = null;
const waitingTasks = [];

/** Resolves in a task of its own: `scheduler.yield()`, else a message to itself (no timer clamping). */
function nextTask() {
  if (typeof globalThis.scheduler?.yield === 'function') return globalThis.scheduler.yield();
  return new Promise((resolve) => {
    if (!channel) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => waitingTasks.shift()?.();
    }
    waitingTasks.push(resolve);
    channel.port2.postMessage(null);
  });
}

function readError(offset, wanted, got) {
  return preflightError(
    'validation',
    'PREFLIGHT_READ_FAILED',
    `reading the file at byte ${offset} gave ${got} bytes instead of ${wanted}: the file changed or shrank while being read`,
    { field: 'file' },
  );
}

/**
 * `preflight(file, options)` run in this thread, with the core's glue
 * `core` already instantiated: what Node, Deno and workerd export.
 */
export function inProcess(core) {
  return async function preflight(file, options) {
    const checked = checkOptions(options);
    const { signal, onProgress } = options ?? {};
    return runPreflight(core, file, checked, { signal, onProgress });
  };
}

/** `normalised(file, report)` in this thread (see {@link normalisedSource}). */
export function normalisedInProcess(core) {
  return function normalised(file, report) {
    return normalisedSource(core, file, report);
  };
}

/** Fails unless `report` is a `full` preflight's, with the normalised size. */
export function checkReport(report) {
  if (!report || typeof report !== 'object' || !report.dialect || typeof report.dialect !== 'object') {
    throw preflightError('validation', 'PREFLIGHT_OPTIONS_INVALID', 'normalising needs the report of preflight(file, { full: true })', { field: 'report' });
  }
  if (report.sampled || !Number.isSafeInteger(report.normalisedSize)) {
    throw preflightError(
      'validation',
      'PREFLIGHT_NOT_FULL',
      report.needsNormalising === false
        ? 'this file needs no normalising: upload it as it is'
        : 'normalising needs the exact normalised size: run preflight(file, { full: true }) on the file first',
      { field: 'report' },
    );
  }
}

/** Normalised bytes kept behind the furthest read, so that a part read
 * again (an upload's retry) is served without starting over. */
export const NORMALISED_WINDOW = 64 << 20;

/**
 * The file as the API reads it (UTF-8, `,`), as a file source
 * `{ size, name, read(offset, length) }` for the upload engine: decoded with
 * `TextDecoder` and re-written by the core's `Normaliser` part by part as
 * the engine reads, never whole. `report` is a `full` preflight of the same
 * file (its `normalisedSize` is the exact size to declare). Reads are
 * served in order; one behind what is kept re-runs from the start, which
 * gives the same bytes.
 */
export function normalisedSource(core, file, report) {
  checkReport(report);
  const source = fileSource(file);
  const size = report.normalisedSize;
  let state = null;
  let queue = Promise.resolve();

  function restart() {
    state?.normaliser.free();
    const transcoder = report.dialect.encoding && !/^utf-?8$/i.test(report.dialect.encoding) ? utf8Transcoder(report.dialect.encoding) : null;
    state = { inOffset: 0, transcoder, normaliser: new core.NormaliserRun(report.dialect), kept: [], keptStart: 0, produced: 0, done: false };
  }

  async function produce() {
    const s = state;
    let out;
    if (s.inOffset < source.size) {
      const length = Math.min(PART_BYTES, source.size - s.inOffset);
      const part = await source.read(s.inOffset, length);
      if (part.length !== length) throw readError(s.inOffset, length, part.length);
      s.inOffset += length;
      out = s.normaliser.push(s.transcoder ? s.transcoder.push(part) : part);
    } else {
      const rest = s.transcoder ? s.transcoder.end() : new Uint8Array(0);
      const tail = rest.length ? s.normaliser.push(rest) : new Uint8Array(0);
      const last = s.normaliser.finish();
      out = new Uint8Array(tail.length + last.length);
      out.set(tail);
      out.set(last, tail.length);
      s.done = true;
    }
    if (out.length) {
      s.kept.push({ start: s.produced, bytes: out });
      s.produced += out.length;
    }
    if (s.produced > size || (s.done && s.produced !== size)) {
      throw preflightError(
        'validation',
        'PREFLIGHT_FILE_CHANGED',
        `the normalised file is ${s.done ? '' : 'at least '}${s.produced} bytes, not the ${size} its preflight measured: the file changed since; run the preflight again`,
        { field: 'file' },
      );
    }
  }

  async function read(offset, length) {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw preflightError('validation', 'PREFLIGHT_READ_FAILED', `read(${offset}, ${length}) is outside the normalised file's ${size} bytes`);
    }
    if (!state || offset < state.keptStart) restart();
    while (state.produced < offset + length) await produce();
    const out = new Uint8Array(length);
    for (const { start, bytes } of state.kept) {
      const from = Math.max(offset, start);
      const to = Math.min(offset + length, start + bytes.length);
      if (from < to) out.set(bytes.subarray(from - start, to - start), from - offset);
    }
    // Forget what is far behind this read.
    const keepFrom = offset + length - NORMALISED_WINDOW;
    while (state.kept.length > 1 && state.kept[0].start + state.kept[0].bytes.length <= keepFrom) {
      const dropped = state.kept.shift();
      state.keptStart = dropped.start + dropped.bytes.length;
    }
    return out;
  }

  return {
    size,
    name: source.name,
    /** The bytes `[offset, offset + length)` of the normalised file. */
    read(offset, length) {
      const answer = queue.then(() => read(offset, length));
      queue = answer.catch(() => {});
      return answer;
    },
  };
}
