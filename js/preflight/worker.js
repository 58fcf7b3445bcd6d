// The preflight's module Worker (`import-uploader/preflight` in browsers):
// bundled by `cargo xtask build` with the driver and the glue into one
// file, `import-uploader/preflight-worker.js`, beside the `.wasm`. The page
// (preflight-browser.js) starts one per call, posts
//
//   { type: 'run', file, options, progress, wasmUrl }
//
// and reads back `{ type: 'progress', phase, loaded, total }`, then one
// `{ type: 'done', report }` or `{ type: 'error', error }`. It cancels a
// run by terminating the Worker. `wasmUrl` is where the page's bundler put
// the `.wasm` (the page names it with `new URL(…, import.meta.url)`, the
// pattern bundlers emit); without it, the file beside this one.

import init, * as core from './import_uploader_preflight.js';
import { errorData, preflightError, runPreflight } from './preflight-run.js';

let loading;

function load(wasmUrl) {
  loading ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined).catch((cause) => {
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

globalThis.addEventListener('message', async ({ data }) => {
  if (data?.type !== 'run') return;
  try {
    await load(data.wasmUrl);
    const onProgress = data.progress ? (p) => globalThis.postMessage({ type: 'progress', ...p }) : undefined;
    const report = await runPreflight(core, data.file, data.options, { onProgress });
    globalThis.postMessage({ type: 'done', report });
  } catch (err) {
    globalThis.postMessage({ type: 'error', error: errorData(err) });
  }
});
