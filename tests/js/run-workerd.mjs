// Runs the end-to-end suite (`suite.mjs`) in Cloudflare's workerd (the
// `workerd` binary from the workspace's npm dependencies) against the
// built package in `pkg/`.
//
// It writes a scratch directory with a workerd config that embeds
// `worker.mjs`, the suite, and the package's module files, the bare name
// `import-uploader` mapped to the file the package's `exports` map gives a
// Workers bundler, which must be `entry-workerd.js` (see
// `tests/runtimes/workerd.mjs`). The worker may reach only loopback
// addresses, which is where the emulator listens; the emulators' URLs (JSON)
// and the package version are text bindings. The runner calls `GET /run`,
// prints the results and stops workerd.
//
//   IMPORT_EMULATOR_URL=http://127.0.0.1:PORT node tests/js/run-workerd.mjs

import { join } from 'node:path';

import { checkWorkerd, CONDITIONS, layOutWorker, PACKAGE_DIR, startWorkerd } from '../runtimes/workerd.mjs';
import { resultLine, summaryLine } from './harness.mjs';
import { bail, settings, testsDir } from './support.mjs';

const RUNNER = 'run-workerd';
/** How long the suite may take. */
const RUN_TIMEOUT_MS = 300_000;
/** The test modules the worker is made of (the first is the main module). */
const TEST_MODULES = ['worker.mjs', 'harness.mjs', 'suite.mjs', 'people.mjs', 'md5.mjs', 'crc64.mjs', 'preflight-cases.mjs'];

const { emulators, manifest, scratch, only } = settings(RUNNER);
checkWorkerd(RUNNER);

const dir = join(scratch, 'workerd');
let config;
try {
  config = layOutWorker({
    dir,
    sourceDir: testsDir,
    modules: TEST_MODULES,
    manifest,
    bindings: [
      { name: 'EMULATORS', text: JSON.stringify(emulators) },
      { name: 'PACKAGE_VERSION', text: manifest.version },
    ],
    title: "tests/js/run-workerd.mjs: the package's end-to-end suite in workerd",
  });
} catch (e) {
  bail(RUNNER, e.message);
}
const { entry, entries } = config;

function timeout(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms).unref());
}

const { port, exited, stop } = await startWorkerd(config.path, { dir }).catch((e) => bail(RUNNER, e.message));
process.on('exit', stop);

console.log(`# workerd: import-uploader resolved to ${PACKAGE_DIR}/${entry} (conditions ${CONDITIONS.join(', ')})`);
console.log(`# workerd: import-uploader/preflight resolved to ${PACKAGE_DIR}/${entries['./preflight']}`);
let ok = entry === 'entry-workerd.js' && entries['./preflight'] === 'preflight-workerd.js';
if (!ok) {
  console.log(`not ok - the package's exports give workerd its entries: expected entry-workerd.js and preflight-workerd.js, got ${entry} and ${entries['./preflight']}`);
}

let results = [];
if (ok) {
  try {
    const query = only ? `?only=${encodeURIComponent(only)}` : '';
    const response = await Promise.race([
      fetch(`http://127.0.0.1:${port}/run${query}`),
      exited.then((how) => Promise.reject(new Error(`workerd ended (${how}) during the run`))),
      timeout(RUN_TIMEOUT_MS, 'the suite'),
    ]);
    const text = await response.text();
    if (!response.ok) throw new Error(`GET /run answered ${response.status}: ${text.slice(0, 2000)}`);
    results = JSON.parse(text).results;
  } catch (e) {
    console.error(`${RUNNER}: ${e.message}`);
    ok = false;
  }
}
stop();
for (const r of results) console.log(resultLine(r));
if (results.length === 0) results = [{ name: 'workerd run', ok: false }];
console.log(summaryLine(results));
process.exitCode = ok && results.every((r) => r.ok) ? 0 : 1;
