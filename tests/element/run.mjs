// The `element` suite: `<import-uploader>` driven by Playwright
// (playwright-core with Debian's Chromium) against the emulator, through
// the package's broker in Node, on a bare page that has only the tag
// (`server.mjs`) and on the demo page (`www/`). Cases are in `cases.mjs`
// (and the Vue and Svelte apps' in `frameworks.mjs`);
// every step saves a screenshot under the scratch directory
// (`target/xtask/js/element/shots/`, not committed). Prints `ok - …` /
// `not ok - …` per case and `N passed, M failed`.
//
// Environment (set by `cargo xtask test`):
//   IMPORT_EMULATOR_URL    the emulator's base URL
//   IMPORT_BROKER_CLIENT   ID:SECRET of one of its OAuth clients
//   IMPORT_BROKER_TOKEN    a static workspace token it knows (the runner reads job statuses with it)
//   IMPORT_BROKER_SCOPES   the scopes of both (for the emulator the suite starts itself)
//   IMPORT_DEVSERVER_BIN   the emulator's binary (the job-step case runs one that holds its jobs)
//   IMPORT_JS_SCRATCH      scratch directory (default target/xtask/js)
//   IMPORT_JS_ONLY         run only the cases whose name contains this text

import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { resultLine, runTests, summaryLine } from '../js/harness.mjs';
import { bail, root } from '../js/support.mjs';
import { cases } from './cases.mjs';
import { frameworkCases } from './frameworks.mjs';
import { startBareApp, startDemo } from './server.mjs';

const RUNNER = 'element/run';

function need(name, what) {
  const v = process.env[name];
  if (!v) bail(RUNNER, `${name} is not set (${what}); \`cargo xtask test\` sets it`);
  return v;
}

/** Chromium's flags, from the workspace's `webdriver.json`. */
function chromiumOptions() {
  const wd = JSON.parse(readFileSync(join(root, 'webdriver.json'), 'utf8'))['goog:chromeOptions'];
  return { executablePath: wd.binary, args: wd.args.filter((a) => a !== '--headless'), headless: true };
}

const emulator = need('IMPORT_EMULATOR_URL', "the emulator's base URL").replace(/\/+$/, '');
const [clientId, ...rest] = need('IMPORT_BROKER_CLIENT', 'ID:SECRET of an OAuth client').split(':');
const clientSecret = rest.join(':');
const workspaceToken = need('IMPORT_BROKER_TOKEN', 'a static workspace token');
const scopes = need('IMPORT_BROKER_SCOPES', 'the scopes of the client and the token');
const devserverBin = need('IMPORT_DEVSERVER_BIN', "the emulator's binary");
const scratch = resolve(process.env.IMPORT_JS_SCRATCH ?? join(root, 'target', 'xtask', 'js'), 'element');
const shots = join(scratch, 'shots');
rmSync(shots, { recursive: true, force: true });
mkdirSync(shots, { recursive: true });

const cleanups = [];
let results = [];
try {
  const creds = { emulator, clientId, clientSecret };
  const bare = await startBareApp(creds);
  cleanups.push(bare.close);
  const demo = await startDemo(creds);
  cleanups.push(demo.stop);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch(chromiumOptions());
  cleanups.push(() => browser.close());
  console.log(`# bare page ${bare.url}/, demo page ${demo.url}/, emulator ${emulator}; screenshots in ${shots}`);
  const ctx = { browser, bare, demo, emulator, workspaceToken, clientSecret, shots, scratch, devserverBin, held: { client: `${clientId}:${clientSecret}`, token: workspaceToken, scopes } };
  results = await runTests([...cases, ...frameworkCases], ctx, {
    only: process.env.IMPORT_JS_ONLY || undefined,
    timeoutMs: 90_000,
    onResult: (r) => console.log(resultLine(r)),
  });
  if (results.length === 0) results = [{ name: 'the suite ran no case', ok: false }];
} catch (e) {
  console.error(`${RUNNER}: ${e.stack ?? e}`);
  results.push({ name: 'set-up', ok: false, error: String(e.message ?? e) });
  console.log(resultLine(results.at(-1)));
} finally {
  for (const f of cleanups.reverse()) await f().catch(() => {});
}
console.log(summaryLine(results));
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
