// The package's entry for browsers and bundlers (the `browser` and
// `default` conditions of its exports map), written into the package by
// `cargo xtask build` (`VERSION` filled in).
//
// No top-level await: bundlers whose default target lacks it (Vite,
// esbuild, Rollup's plugins) refuse a module that has one. The module is
// fetched and instantiated in the background from import time instead,
// and `ready` settles when that is done. Until then the API still works:
//
// * `new ImportClient(options)` keeps its options; the wasm client is
//   made on the first call that needs it (after `ready`, it is made at
//   once, and bad options throw there, as before).
// * The async methods wait for the module, then call.
// * `upload`, `resumeUpload`, `errorRows` and the standalone `upload()`
//   answer at once with an `Upload` or `ErrorRows` that starts when the
//   module is there: `events`, `pause()`, `resume()` and `abort()` work
//   meanwhile, and an option error rejects `done` (or the first `next()`).
// * `version()` is the package version either way.
//
// The .wasm file sits in a folder named after the package, and its URL,
// `import-uploader/…` relative to this file, is then also the package's own
// subpath: bundlers that move this file elsewhere before resolving it (the
// Vite dev server's dependency pre-bundling) still find it through
// `node_modules/import-uploader`, and those that resolve it in place
// (Vite's build, webpack, Rollup's import-meta-assets plugin, an unbundled
// page) find it next to this file. `new URL(…, import.meta.url)` with a
// string literal is the pattern they all look for.
//
// The module is compiled asynchronously, then instantiated with
// `initSync`, which does nothing once the module is instantiated: so an
// `initSync` of the caller's own (say, with bytes it embedded) and this
// background load cannot both instantiate it.

import * as wasm from './import_uploader.js';

export { ErrorRows, Upload } from './import_uploader.js';

const VERSION = '@VERSION@';

let loaded = false;
let loading;

/** An ImportError (kind `network`) for a module that could not be loaded. */
function loadError(url, status, cause) {
  const why = cause instanceof Error ? cause.message : String(cause);
  const err = new Error(`import-uploader could not load its WebAssembly module from ${url}: ${why}`, { cause });
  err.name = 'ImportError';
  Object.assign(err, { kind: 'network', status, code: 'WASM_LOAD_FAILED', correlationId: null, retryable: true });
  return err;
}

async function instantiate() {
  let url = 'import-uploader/import_uploader_bg.wasm';
  let status = null;
  try {
    url = new URL('import-uploader/import_uploader_bg.wasm', import.meta.url);
    const response = await fetch(url);
    if (!response.ok) {
      status = response.status;
      throw new Error(`HTTP ${response.status}`);
    }
    // compileStreaming needs the application/wasm type, which not every
    // server sends.
    const type = response.headers.get('content-type') || '';
    const module =
      typeof WebAssembly.compileStreaming === 'function' && type.split(';')[0].trim() === 'application/wasm'
        ? await WebAssembly.compileStreaming(response)
        : await WebAssembly.compile(await response.arrayBuffer());
    wasm.initSync({ module });
  } catch (cause) {
    throw loadError(url, status, cause);
  }
}

/** Loads the module once; after a failure, the next call tries again. */
function load() {
  if (loaded) return Promise.resolve();
  if (!loading) {
    loading = instantiate().then(
      () => {
        loaded = true;
      },
      (e) => {
        loading = undefined;
        throw e;
      },
    );
  }
  return loading;
}

/**
 * Resolves once the WebAssembly module is instantiated; rejects (an
 * ImportError of kind `network`, code `WASM_LOAD_FAILED`) when it cannot be
 * loaded. Awaiting it is optional.
 */
export const ready = load();
// Not an unhandled rejection when nobody awaits it: the calls report it.
ready.catch(() => {});

/**
 * Instantiates the module synchronously from `module` (a
 * `WebAssembly.Module` or the .wasm bytes) when it is not yet: for pages
 * that bring the module themselves. Does nothing once it is.
 */
export function initSync(module) {
  const exports = wasm.initSync(module);
  loaded = true;
  return exports;
}

/** The package version. */
export function version() {
  return loaded ? wasm.version() : VERSION;
}

// ---- deferred objects ------------------------------------------------------

const state = new WeakMap();
const own = (obj) => state.get(obj);

const isObject = (v) => v !== null && typeof v === 'object';
function readEvents(options) {
  try {
    return isObject(options) ? options.events : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An `Upload` that starts once the module is loaded: `start(options)`
 * makes the real one. Without `events` in the options, it passes an
 * EventTarget of its own there, so that listeners added now hear the
 * upload's events.
 */
class PendingUpload extends wasm.Upload {
  constructor(start, options) {
    super();
    const given = readEvents(options);
    const events = given instanceof EventTarget ? given : new EventTarget();
    if (given === undefined || given === null) {
      options = options === undefined || options === null ? { events } : isObject(options) ? Object.create(options, { events: { value: events, enumerable: true } }) : options;
    }
    const s = { real: undefined, paused: false, abort: undefined, freed: false, events };
    state.set(this, s);
    s.done = load().then(() => {
      if (s.freed) throw new Error('The upload was freed before it started.');
      s.real = start(options);
      if (s.abort) s.real.abort(s.abort.reason);
      else if (s.paused) s.real.pause();
      return s.real.done;
    });
  }
  get done() {
    return own(this).done;
  }
  get events() {
    return own(this).events;
  }
  get paused() {
    const s = own(this);
    return s.real ? s.real.paused : s.paused;
  }
  pause() {
    const s = own(this);
    if (s.real) s.real.pause();
    else s.paused = true;
  }
  resume() {
    const s = own(this);
    if (s.real) s.real.resume();
    else s.paused = false;
  }
  abort(reason) {
    const s = own(this);
    if (s.real) s.real.abort(reason);
    else if (!s.abort) s.abort = { reason };
  }
  free() {
    const s = own(this);
    if (s.real) s.real.free();
    s.freed = true;
  }
}

/** An `ErrorRows` whose stream is made (by `start()`) on first use. */
class PendingErrorRows extends wasm.ErrorRows {
  constructor(start) {
    super();
    state.set(this, { start, real: undefined });
  }
  [Symbol.asyncIterator]() {
    return this;
  }
  next() {
    return load().then(() => rows(this).next());
  }
  return() {
    return load().then(() => rows(this).return());
  }
  free() {
    const s = own(this);
    if (s.real) s.real.free();
    s.start = () => {
      throw new Error('The error rows were freed.');
    };
  }
}

function rows(pending) {
  const s = own(pending);
  if (!s.real) s.real = s.start();
  return s.real;
}

for (const C of [PendingUpload, PendingErrorRows]) {
  if (typeof Symbol.dispose === 'symbol') C.prototype[Symbol.dispose] = C.prototype.free;
}

// ---- the API ---------------------------------------------------------------

/**
 * `upload(blob, { url, method?, headers?, expiresAt?, ...UploadOptions })`:
 * the engine on its own, for any pre-signed URL.
 */
export function upload(blob, options) {
  return loaded ? wasm.upload(blob, options) : new PendingUpload((o) => wasm.upload(blob, o), options);
}

/** The wasm client of `client`, made on first need (the module is loaded). */
function inner(client) {
  const s = own(client);
  if (!s.inner) {
    if (s.freed) throw new Error('The ImportClient was freed.');
    s.inner = new wasm.ImportClient(s.options);
    s.options = undefined;
  }
  return s.inner;
}

/** `fn(wasm client)` once the module is loaded. */
function later(client, fn) {
  return load().then(() => fn(inner(client)));
}

/** Client of the Import Jobs API (see the types for every method). */
export class ImportClient {
  constructor(options) {
    const s = { options, inner: undefined, freed: false };
    state.set(this, s);
    if (loaded) inner(this);
  }
  get baseUrl() {
    const s = own(this);
    if (loaded || s.inner) return inner(this).baseUrl;
    const base = isObject(s.options) ? s.options.baseUrl : undefined;
    return typeof base === 'string' ? base.replace(/\/+$/, '') : undefined;
  }
  createJob(...a) {
    return later(this, (c) => c.createJob(...a));
  }
  setMapping(...a) {
    return later(this, (c) => c.setMapping(...a));
  }
  start(...a) {
    return later(this, (c) => c.start(...a));
  }
  status(...a) {
    return later(this, (c) => c.status(...a));
  }
  waitForCompletion(...a) {
    return later(this, (c) => c.waitForCompletion(...a));
  }
  errors(...a) {
    return later(this, (c) => c.errors(...a));
  }
  importFile(...a) {
    return later(this, (c) => c.importFile(...a));
  }
  listObjects(...a) {
    return later(this, (c) => c.listObjects(...a));
  }
  objectSchema(...a) {
    return later(this, (c) => c.objectSchema(...a));
  }
  upload(job, blob, options) {
    if (loaded) return inner(this).upload(job, blob, options);
    return new PendingUpload((o) => inner(this).upload(job, blob, o), options);
  }
  resumeUpload(job, blob, options) {
    if (loaded) return inner(this).resumeUpload(job, blob, options);
    return new PendingUpload((o) => inner(this).resumeUpload(job, blob, o), options);
  }
  errorRows(jobId, options) {
    if (loaded) return inner(this).errorRows(jobId, options);
    return new PendingErrorRows(() => inner(this).errorRows(jobId, options));
  }
  free() {
    const s = own(this);
    if (s.inner) s.inner.free();
    s.inner = undefined;
    s.options = undefined;
    s.freed = true;
  }
}
if (typeof Symbol.dispose === 'symbol') ImportClient.prototype[Symbol.dispose] = ImportClient.prototype.free;
