// The preflight's module Worker (`import-uploader/preflight` in browsers):
// bundled by `cargo xtask build` with the driver and the glue into one
// file, `import-uploader/preflight-worker.js`, beside the `.wasm`. The page
// (preflight-browser.js) starts one, posts `{ type: 'load', wasmUrl,
// module: true }` then `{ type: 'module', module }`, the module it compiled
// itself meanwhile (`null` if it could not: the Worker then fetches
// `wasmUrl`); `{ type: 'load', wasmUrl }` alone loads from the URL at
// once. Answered `{ type: 'loaded' }` or `{ type: 'load-error', error }`.
// Then for each call, one at a time,
//
//   { type: 'run', file, options, progress, wasmUrl }
//
// and reads back `{ type: 'progress', phase, loaded, total }`, then one
// `{ type: 'done', report, memoryBytes }` (`memoryBytes`: the module's
// memory, which never shrinks: the page ends a Worker whose memory grew
// rather than keep it) or `{ type: 'error', error }`. It cancels a run by
// terminating the Worker.
//
// For `normalised()`, the page posts `{ type: 'normalise', file, report,
// wasmUrl }` once, then `{ type: 'read', id, offset, length }` per part,
// answered `{ type: 'bytes', id, bytes }` (transferred) or `{ type:
// 'read-error', id, error }`. `wasmUrl` is where the page's bundler put
// the `.wasm` (the page names it with `new URL(…, import.meta.url)`, the
// pattern bundlers emit); without it, the file beside this one.

import init, * as core from './import_uploader_preflight.js';
import { errorData, normalisedSource, preflightError, runPreflight } from './preflight-run.js';

let loading;
/** Called with the module the page compiled (`{ type: 'module' }`), or null. */
let moduleArrived = null;

/**
 * Loads the module once: the one the page posts when `fromPage` (the
 * page compiles it while this script loads), else, or when the page
 * could not, the `.wasm` at `wasmUrl`.
 */
function load(wasmUrl, fromPage = false) {
  if (loading) return loading;
  const module = fromPage ? new Promise((resolve) => (moduleArrived = resolve)) : Promise.resolve(null);
  loading = module.then((compiled) => init(compiled ? { module_or_path: compiled } : wasmUrl ? { module_or_path: wasmUrl } : undefined)).catch((cause) => {
    loading = undefined;
    throw preflightError(
      'network',
      'WASM_LOAD_FAILED',
      `the preflight could not load its WebAssembly module${wasmUrl ? ` from ${wasmUrl}` : ''}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { retryable: true },
    );
  });
  return loading;
}

/** The normalised file this Worker serves (`normalised()` in the page). */
let normalising;

globalThis.addEventListener('message', async ({ data }) => {
  if (data?.type === 'module') {
    moduleArrived?.(data.module ?? null);
    moduleArrived = null;
    return;
  }
  if (data?.type === 'load') {
    try {
      await load(data.wasmUrl, data.module === true);
      globalThis.postMessage({ type: 'loaded' });
    } catch (err) {
      globalThis.postMessage({ type: 'load-error', error: errorData(err) });
    }
    return;
  }
  if (data?.type === 'normalise') {
    // Set at once: the reads that follow wait for it.
    normalising = load(data.wasmUrl).then(() => normalisedSource(core, data.file, data.report));
    normalising.catch(() => {});
    return;
  }
  if (data?.type === 'read') {
    const { id, offset, length } = data;
    try {
      if (!normalising) throw preflightError('protocol', 'PREFLIGHT_FAILED', 'a read before the normalised file was opened');
      const bytes = await (await normalising).read(offset, length);
      globalThis.postMessage({ type: 'bytes', id, bytes }, [bytes.buffer]);
    } catch (err) {
      globalThis.postMessage({ type: 'read-error', id, error: errorData(err) });
    }
    return;
  }
  if (data?.type !== 'run') return;
  try {
    const wasm = await load(data.wasmUrl);
    const onProgress = data.progress ? (p) => globalThis.postMessage({ type: 'progress', ...p }) : undefined;
    const report = await runPreflight(core, data.file, data.options, { onProgress });
    globalThis.postMessage({ type: 'done', report, memoryBytes: wasm?.memory?.buffer?.byteLength ?? 0 });
  } catch (err) {
    globalThis.postMessage({ type: 'error', error: errorData(err) });
  }
});
