// The page `cargo xtask bench preflight` drives in headless Chromium
// (through `driver.mjs`). Served by the emulator (`--www`, with the package
// at `/pkg/` and Papa Parse beside this file), so the Metadata API is
// same-origin. The file is a generated CSV on disk, chosen through the
// file input as a user would.
//
// `window.bench.run({ method })` times one method on the file:
//
// * `preflight`: `import-uploader/preflight`, as a page uses it: the first
//   answer (the 1 MiB sample) from the `preflight()` call on a page that
//   has not loaded the module yet (the module imported, its Worker
//   started, its wasm loaded: "cold"), the same again ("warm": the kept
//   Worker), a call on a tiny file (what a warm call costs besides the
//   file), then the whole file (`full: true`, with progress).
// * `papaparse`: Papa Parse in a Worker (`papa-worker.js`), streaming in
//   header mode with a per-row type check.
//
// While the whole-file run goes, the page records its main thread's long
// tasks (PerformanceObserver `longtask`, tasks of 50 ms and more) and the
// largest delay of a 10 ms timer. The element's drop → preview is timed on
// `element.html` (element.mjs).

import { timerLag } from './timer-lag.mjs';

const API = `${location.origin}/public/v1`;
let file = null;

async function schema() {
  const r = await fetch(`${API}/metadata/objects/profiles`, { headers: { authorization: 'Bearer dev-read' } });
  if (!r.ok) throw new Error(`metadata: HTTP ${r.status}`);
  return (await r.json()).data;
}

/** Watches the main thread until `stop()`: longest task and timer delay. */
function watchMainThread() {
  let longest = 0;
  let tasks = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      tasks += 1;
      longest = Math.max(longest, e.duration);
    }
  });
  observer.observe({ type: 'longtask', buffered: false });
  const stopLag = timerLag(10);
  return () => {
    observer.disconnect();
    return { longestTaskMs: longest, longTasks: tasks, timerLagMs: stopLag() };
  };
}

async function runPreflight(s) {
  // The first answer on a page that has not loaded the preflight.
  let t = performance.now();
  const { preflight } = await import('/pkg/preflight-browser.js');
  const first = await preflight(file, { schema: s });
  const firstAnswerMs = performance.now() - t;
  t = performance.now();
  await preflight(file, { schema: s });
  const warmFirstAnswerMs = performance.now() - t;
  // What a warm call costs besides the file.
  t = performance.now();
  await preflight(new Blob(['email\na@example.com\n']), { schema: s });
  const overheadMs = performance.now() - t;
  const stop = watchMainThread();
  let progress = 0;
  t = performance.now();
  const report = await preflight(file, { schema: s, full: true, onProgress: () => (progress += 1) });
  const ms = performance.now() - t;
  return {
    ms,
    firstAnswerMs,
    warmFirstAnswerMs,
    overheadMs,
    ...stop(),
    progress,
    rows: report.prediction.readRows,
    valid: report.prediction.validRows,
    invalid: report.prediction.invalidRows,
    sampledRows: first.prediction.readRows,
  };
}

async function runPapa(s) {
  const types = Object.fromEntries(s.fields.map((f) => [f.name, f.type]));
  const worker = new Worker(new URL('./papa-worker.js', import.meta.url));
  const stop = watchMainThread();
  const t = performance.now();
  try {
    const answer = await new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data));
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage({ file, types });
    });
    return { ms: performance.now() - t, ...stop(), rows: answer.rows, valid: answer.valid, invalid: answer.invalid };
  } finally {
    worker.terminate();
  }
}

window.bench = {
  useFile() {
    file = document.getElementById('file').files[0];
    return { size: file.size };
  },
  async run({ method }) {
    const s = await schema();
    return method === 'papaparse' ? runPapa(s) : runPreflight(s);
  },
};
document.getElementById('state').textContent = 'ready';
