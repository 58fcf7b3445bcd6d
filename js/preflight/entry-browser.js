// `import-uploader/preflight` in browsers (the `browser` and `default`
// conditions): `preflight(file, options)` runs in a module Worker, so the
// page never freezes, whatever the file's size. A Worker whose module is
// loaded is kept after a call (one, for a minute, unless its memory grew
// past 64 MiB) and the next call reuses it: starting a Worker and
// instantiating the module cost more than a first answer. Calls at the
// same time each get a Worker; `signal` ends a call's Worker at once.
// `preload()` starts that Worker ahead of the first call (a page calls it
// when a file is about to be chosen).
//
// `new Worker(new URL('…', import.meta.url), { type: 'module' })` with
// string literals is the form Vite, webpack 5 and Rollup's plugins
// recognise (esbuild users copy the package's `import-uploader/` folder
// beside the bundle). The Worker is one bundled file beside the `.wasm`;
// the page names the `.wasm` too, so that bundlers that copy the Worker
// without looking inside still emit the module, and tells the Worker
// where it went. The subpaths `import-uploader/…` are also the package's
// own exports (see entry-browser.js for why).
//
// This file is small and loads no WebAssembly itself: the Worker does.

import { abortError, checkOptions, checkReport, errorFromData, preflightError } from './preflight-run.js';

export { DEFAULT_SAMPLE_BYTES } from './preflight-run.js';

/** How long a loaded Worker is kept after a call, waiting for the next. */
const IDLE_MS = 60_000;
/** A Worker whose module's memory grew past this is ended, not kept. */
const KEEP_MEMORY_BYTES = 64 << 20;

/** The kept Worker: `{ worker, timer }`, or null. */
let idle = null;

function wasmUrl() {
  return new URL('import-uploader/import_uploader_preflight_bg.wasm', import.meta.url).href;
}

/** A new Worker, already loading the module. */
function startWorker() {
  const worker = new Worker(new URL('import-uploader/preflight-worker.js', import.meta.url), { type: 'module' });
  worker.addEventListener('error', () => {
    // A kept Worker that fails is not reused.
    if (idle?.worker === worker) dropIdle();
  });
  worker.postMessage({ type: 'load', wasmUrl: wasmUrl() });
  return worker;
}

function dropIdle() {
  if (!idle) return;
  clearTimeout(idle.timer);
  idle.worker.terminate();
  idle = null;
}

/** The kept Worker, or a new one. */
function takeWorker() {
  if (idle) {
    const { worker, timer } = idle;
    clearTimeout(timer);
    idle = null;
    return worker;
  }
  return startWorker();
}

/** Keeps `worker` for the next call, unless one is kept already. */
function keepWorker(worker) {
  if (idle) {
    worker.terminate();
    return;
  }
  const timer = setTimeout(() => {
    if (idle?.worker === worker) dropIdle();
  }, IDLE_MS);
  idle = { worker, timer };
}

/**
 * Starts the preflight's Worker and loads its module ahead of the first
 * call; resolves when it is loaded. Calling it again while a loaded
 * Worker is kept does nothing.
 */
export function preload() {
  if (!idle) keepWorker(startWorker());
  const { worker } = idle;
  return new Promise((resolve, reject) => {
    function done() {
      worker.removeEventListener('message', onMessage);
      worker.removeEventListener('error', onError);
    }
    function onMessage({ data }) {
      if (data?.type === 'loaded') {
        done();
        resolve();
      } else if (data?.type === 'load-error') {
        done();
        if (idle?.worker === worker) dropIdle();
        reject(errorFromData(data.error));
      }
    }
    function onError(event) {
      done();
      reject(preflightError('network', 'WASM_LOAD_FAILED', `the preflight's Worker failed: ${event.message || 'it could not be loaded'}`, { retryable: true }));
    }
    worker.addEventListener('message', onMessage);
    worker.addEventListener('error', onError);
    worker.postMessage({ type: 'load', wasmUrl: wasmUrl() });
  });
}

export function preflight(file, options) {
  return new Promise((resolve, reject) => {
    const checked = checkOptions(options);
    const { signal, onProgress } = options ?? {};
    if (typeof Blob === 'undefined' || !(file instanceof Blob)) {
      throw preflightError('validation', 'PREFLIGHT_FILE_INVALID', 'preflight(): in a browser, the file must be a Blob or File', { field: 'file' });
    }
    if (signal?.aborted) throw abortError(signal);
    let worker;
    try {
      worker = takeWorker();
    } catch (cause) {
      throw preflightError('network', 'WASM_LOAD_FAILED', `the preflight's Worker could not start: ${cause instanceof Error ? cause.message : String(cause)}`, { retryable: true });
    }
    let settled = false;
    const onAbort = () => settle(reject, abortError(signal));
    /** Ends the call; `keep`: the Worker finished cleanly and may serve the next one. */
    function settle(how, value, keep = false) {
      if (settled) return;
      settled = true;
      worker.removeEventListener('message', onMessage);
      worker.removeEventListener('error', onError);
      worker.removeEventListener('messageerror', onMessageError);
      signal?.removeEventListener('abort', onAbort);
      if (keep) keepWorker(worker);
      else worker.terminate();
      how(value);
    }
    function onMessage({ data }) {
      if (data?.type === 'progress') {
        if (settled) return;
        const { phase, loaded, total } = data;
        try {
          onProgress?.({ phase, loaded, total });
        } catch (err) {
          settle(reject, err);
        }
      } else if (data?.type === 'done') {
        settle(resolve, data.report, !(data.memoryBytes > KEEP_MEMORY_BYTES));
      } else if (data?.type === 'error') {
        settle(reject, errorFromData(data.error));
      }
    }
    function onError(event) {
      event.preventDefault?.();
      settle(reject, preflightError('network', 'WASM_LOAD_FAILED', `the preflight's Worker failed: ${event.message || 'it could not be loaded'}`, { retryable: true }));
    }
    function onMessageError() {
      settle(reject, preflightError('protocol', 'PREFLIGHT_FAILED', "the preflight's Worker answered a message that could not be read"));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.addEventListener('message', onMessage);
    worker.addEventListener('error', onError);
    worker.addEventListener('messageerror', onMessageError);
    worker.postMessage({ type: 'run', file, options: checked, progress: typeof onProgress === 'function', wasmUrl: wasmUrl() });
  });
}

/**
 * The file as the API reads it (UTF-8, `,`), as a file source `{ size,
 * name, read(offset, length) }` for `importFile` and `upload`: decoded and
 * re-written in a Worker, part by part as the upload reads them. `report`
 * is the `full` preflight of the same file. The Worker ends after the last
 * byte is read (a later read starts another).
 */
export function normalised(file, report) {
  checkReport(report);
  if (typeof Blob === 'undefined' || !(file instanceof Blob)) {
    throw preflightError('validation', 'PREFLIGHT_FILE_INVALID', 'normalised(): in a browser, the file must be a Blob or File', { field: 'file' });
  }
  const size = report.normalisedSize;
  let worker = null;
  let next = 0;
  const pending = new Map();
  function fail(err) {
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
    worker?.terminate();
    worker = null;
  }
  function open() {
    worker = new Worker(new URL('import-uploader/preflight-worker.js', import.meta.url), { type: 'module' });
    worker.addEventListener('message', ({ data }) => {
      const waiting = pending.get(data?.id);
      if (!waiting) return;
      pending.delete(data.id);
      if (data.type === 'bytes') waiting.resolve(data.bytes);
      else waiting.reject(errorFromData(data.error));
    });
    worker.addEventListener('error', (event) => {
      event.preventDefault?.();
      fail(preflightError('network', 'WASM_LOAD_FAILED', `the preflight's Worker failed: ${event.message || 'it could not be loaded'}`, { retryable: true }));
    });
    worker.postMessage({ type: 'normalise', file, report, wasmUrl: wasmUrl() });
  }
  return {
    size,
    name: typeof file.name === 'string' ? file.name : undefined,
    read(offset, length) {
      return new Promise((resolve, reject) => {
        if (!worker) open();
        const id = (next += 1);
        pending.set(id, {
          resolve: (bytes) => {
            resolve(bytes);
            // The last part: the Worker is done.
            if (offset + length >= size && pending.size === 0) {
              worker?.terminate();
              worker = null;
            }
          },
          reject,
        });
        worker.postMessage({ type: 'read', id, offset, length });
      });
    },
  };
}
