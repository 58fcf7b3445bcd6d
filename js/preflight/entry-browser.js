// `import-uploader/preflight` in browsers (the `browser` and `default`
// conditions): `preflight(file, options)` never freezes the page, whatever
// the file's size. A sample is read on the page in short tasks (below); a
// whole file (`full`) in a module Worker. A Worker whose module is loaded
// is kept after a call (one, for a minute, unless its memory grew past 64
// MiB) and the next call reuses it: starting a Worker and instantiating
// the module cost more than a first answer. Calls at the same time each
// get a Worker; `signal` ends a call's Worker at once. `preload()` loads
// both ahead of the first call (a page calls it when a file is about to
// be chosen).
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
// The `.wasm` is fetched and compiled here, on the page, once (compiling
// streams on a background thread as the bytes arrive), at the same time
// as a Worker starts; the compiled `WebAssembly.Module` is posted to it
// (modules are structured-cloneable), so the Worker's own script and the
// module load side by side and the Worker fetches nothing more. A sample
// (`sampleBytes` up to the default 1 MiB, not `full`) is read on the page
// itself, from that module, fed to it in 16 KiB slices, each its own
// task: the first answer then waits for no Worker to start, and the page
// is never held for long (tens of milliseconds at most: "main thread
// held at most" in `cargo xtask bench preflight`). Whole files go to the
// Worker. `preload()` also runs the page's module once over a small
// generated table, so that the first answer after it runs compiled code
// (wasm code is compiled lazily, on its first call).
//
// `cargo xtask build` bundles this file with the driver and the glue it
// imports into one script: a page fetches it, then the `.wasm` (and the
// Worker for a whole file), nothing else.

import * as glue from './import_uploader_preflight.js';
import { abortError, checkOptions, checkReport, DEFAULT_SAMPLE_BYTES, errorFromData, preflightError, runPreflight } from './preflight-run.js';

export { DEFAULT_SAMPLE_BYTES } from './preflight-run.js';

/** How long a loaded Worker is kept after a call, waiting for the next. */
const IDLE_MS = 60_000;
/** A Worker whose module's memory grew past this is ended, not kept. */
const KEEP_MEMORY_BYTES = 64 << 20;

/** The kept Worker: `{ worker, timer }`, or null. */
let idle = null;

/**
 * The `preload()` calls waiting on a Worker's module: Worker → functions
 * to call with an error when that Worker is ended first (a call that took
 * it was cancelled, or failed), so that no `preload()` waits for ever.
 */
const waiting = new WeakMap();

/** Ends `worker`, and fails the `preload()` calls still waiting on it. */
function endWorker(worker) {
  worker.terminate();
  const waiters = waiting.get(worker);
  if (!waiters) return;
  waiting.delete(worker);
  const err = preflightError('aborted', 'ABORTED', "preload(): the preflight's Worker was ended before its module loaded (a call that used it was cancelled or failed); call preload() again");
  for (const fail of waiters) fail(err);
}

/** The largest sample read on the page itself (see the top of this file). */
const IN_PAGE_MAX_BYTES = DEFAULT_SAMPLE_BYTES;
/** Whether the page's module has run once (its code is compiled). */
let warmed = false;
/** The warm-up under way (calls of `preload()` at the same time share it). */
let warming = null;
/** Rows of the table `preload()` warms the page's module with. */
const WARM_ROWS = 1000;
/** On the page, the sample goes to the core in slices this long, a task each. */
const IN_PAGE_SLICE_BYTES = 16 * 1024;

function wasmUrl() {
  return new URL('import-uploader/import_uploader_preflight_bg.wasm', import.meta.url).href;
}

/** The module, compiled on the page: a promise, kept (null after a failure). */
let compiling = null;

/** The preflight's `WebAssembly.Module`, fetched and compiled once per page. */
function compiledModule() {
  compiling ??= (async () => {
    const url = wasmUrl();
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
    // Streaming needs the server to say `application/wasm`; else the bytes.
    if (typeof WebAssembly.compileStreaming === 'function' && /^application\/wasm\b/.test(response.headers.get('content-type') ?? '')) {
      return WebAssembly.compileStreaming(response);
    }
    return WebAssembly.compile(await response.arrayBuffer());
  })().catch((cause) => {
    compiling = null;
    throw preflightError('network', 'WASM_LOAD_FAILED', `the preflight could not load its WebAssembly module from ${wasmUrl()}: ${cause instanceof Error ? cause.message : String(cause)}`, { retryable: true });
  });
  return compiling;
}

/** The module instantiated on the page (its glue), for the samples. */
let inPage = null;

function inPageCore() {
  inPage ??= compiledModule()
    .then(async (module) => {
      await glue.default({ module_or_path: module });
      return glue;
    })
    .catch((err) => {
      inPage = null;
      throw err.name === 'ImportError' ? err : preflightError('network', 'WASM_LOAD_FAILED', `the preflight could not load on the page: ${err instanceof Error ? err.message : String(err)}`, { retryable: true });
    });
  return inPage;
}

/**
 * A new Worker, already loading the module: its script starts while the
 * page compiles the module, which follows in a `module` message (or
 * `null` if the page could not compile it: the Worker then loads it from
 * `wasmUrl` itself, and reports what fails).
 */
function startWorker() {
  const worker = new Worker(new URL('import-uploader/preflight-worker.js', import.meta.url), { type: 'module' });
  worker.addEventListener('error', () => {
    // A kept Worker that fails is not reused.
    if (idle?.worker === worker) dropIdle();
  });
  worker.postMessage({ type: 'load', wasmUrl: wasmUrl(), module: true });
  compiledModule().then(
    (module) => worker.postMessage({ type: 'module', module }),
    () => worker.postMessage({ type: 'module', module: null }),
  );
  return worker;
}

function dropIdle() {
  if (!idle) return;
  clearTimeout(idle.timer);
  const { worker } = idle;
  idle = null;
  endWorker(worker);
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
    endWorker(worker);
    return;
  }
  const timer = setTimeout(() => {
    if (idle?.worker === worker) dropIdle();
  }, IDLE_MS);
  idle = { worker, timer };
}

/**
 * Loads the preflight ahead of the first call: the module on the page
 * (compiled, instantiated, and run once over a small table, with
 * `options.schema` and `options.importMode` if given), and a Worker for
 * whole-file runs (kept for the next call); resolves when both are ready.
 * Calling it again while a loaded Worker is kept starts no other. It
 * always settles: a `preflight()` call that takes the Worker and is
 * cancelled (or fails) before the module loads ends it, and then this
 * rejects (`ABORTED`).
 */
export function preload(options) {
  warming ??= inPageCore()
    .then((core) => warm(core, options))
    .finally(() => {
      warming = null;
    });
  const page = warming;
  return Promise.all([page, preloadWorker()]).then(() => undefined);
}

/**
 * Runs the page's module once over a small generated table (with the
 * caller's schema, if any), so that the code a sample's answer runs is
 * compiled before the file comes.
 */
async function warm(core, options) {
  if (warmed) return;
  let csv = 'email,name,count,amount,day,at,flag,phone,site\n';
  for (let i = 0; i < WARM_ROWS; i++) {
    csv += `p${i}@example.com,Name ${i},${i},${i}.25,2024-01-${10 + (i % 19)},2024-01-01T10:${10 + (i % 50)}:00Z,${i % 2 === 0},+1415555${1000 + i},https://example.com/${i}\n`;
  }
  const checked = checkOptions({ schema: options?.schema, importMode: options?.importMode });
  await runPreflight(core, new Blob([csv]), { ...checked, sliceBytes: IN_PAGE_SLICE_BYTES });
  warmed = true;
}

function preloadWorker() {
  if (!idle) keepWorker(startWorker());
  const { worker } = idle;
  return new Promise((resolve, reject) => {
    function done() {
      worker.removeEventListener('message', onMessage);
      worker.removeEventListener('error', onError);
      waiting.get(worker)?.delete(onEnded);
    }
    function onEnded(err) {
      done();
      reject(err);
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
    if (!waiting.has(worker)) waiting.set(worker, new Set());
    waiting.get(worker).add(onEnded);
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
    if (!checked.full && checked.sampleBytes <= IN_PAGE_MAX_BYTES) {
      // A small sample: here, from the module compiled on the page (the
      // file is read while the module loads).
      resolve(
        runPreflight(inPageCore(), file, { ...checked, sliceBytes: IN_PAGE_SLICE_BYTES }, { signal, onProgress }).then((report) => {
          warmed = true;
          return report;
        }),
      );
      return;
    }
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
      else endWorker(worker);
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
