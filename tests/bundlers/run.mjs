// The bundlers suite (see README.md): the built package (`pkg/`), packed
// with `npm pack` and installed from the tarball into small apps, each
// built with a bundler's default configuration and loaded in headless
// Chromium, and imported by its name in Node, Deno and a workerd bundle;
// every app runs the checks of `checks.js` against the emulator.
//
//   IMPORT_EMULATOR_URL=http://127.0.0.1:PORT node tests/bundlers/run.mjs
//
// Environment: IMPORT_EMULATOR_URL (required), IMPORT_BUNDLERS_SCRATCH
// (default target/xtask/bundlers), IMPORT_BUNDLERS_ONLY (run only the apps
// whose name contains this text). Prints `ok - app: check` / `not ok - …`
// per check and closes with `N passed, M failed`; exits 1 when anything
// failed. An app that cannot be built or loaded counts as one failure.

import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { denoBinary, denoEnv, denoRunArgs } from '../runtimes/deno.mjs';
import { checkWorkerd, startWorkerd } from '../runtimes/workerd.mjs';
import { CONTENT_TYPES as TYPES, stopChild } from '../js/support.mjs';

const RUNNER = 'bundlers';
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const pkgDir = join(root, 'pkg');
const bin = (name) => join(root, 'node_modules', '.bin', name);
/** Flags for Debian's Chromium in a container (see the environment notes). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
/** How long a page may take to finish its checks, and a build step to run. */
const PAGE_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 180_000;

function bail(message) {
  console.error(`${RUNNER}: ${message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const emulator = process.env.IMPORT_EMULATOR_URL;
if (!emulator) bail('IMPORT_EMULATOR_URL is not set: start the emulator (or run `cargo xtask test`) and pass its URL');
const api = `${emulator.replace(/\/+$/, '')}/public/v1`;
const scratch = resolve(process.env.IMPORT_BUNDLERS_SCRATCH ?? join(root, 'target', 'xtask', 'bundlers'));
const only = process.env.IMPORT_BUNDLERS_ONLY ?? '';
let manifest;
try {
  manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
} catch (e) {
  bail(`cannot read pkg/package.json (${e.message}): build the package with \`cargo xtask build\``);
}
const version = manifest.version;

// ---- results ---------------------------------------------------------------

let passed = 0;
let failed = 0;
function report(app, name, ok, error) {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? 'ok' : 'not ok'} - ${app}: ${name}${ok ? '' : `: ${String(error).replace(/\s+/g, ' ').slice(0, 2000)}`}`);
}
function reportAll(app, results) {
  if (!Array.isArray(results) || results.length === 0) {
    report(app, 'checks', false, `no results (${JSON.stringify(results)?.slice(0, 500)})`);
    return;
  }
  for (const r of results) report(app, r.name, r.ok, r.error);
}

// ---- processes ---------------------------------------------------------------

/** Runs `cmd args` in `cwd`; throws with the tail of its output when it fails. */
function step(cwd, cmd, args, env = {}) {
  console.log(`# (${cwd.slice(scratch.length + 1) || '.'}) ${cmd.startsWith(root) ? cmd.slice(root.length + 1) : cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...env },
    encoding: 'utf8',
    timeout: STEP_TIMEOUT_MS,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  const output = `${r.stdout}\n${r.stderr}`.trim();
  if (r.status !== 0) {
    throw new Error(`${cmd.split(sep).pop()} ${args.join(' ')} failed (${r.signal ?? `exit code ${r.status}`}): ${output.slice(-3000)}`);
  }
  return r.stdout;
}

/** A TCP port that was free a moment ago. */
function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Resolves once `url` answers 200, polling for up to `ms`. */
async function waitFor(url, ms, child) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) before answering ${url}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops a child process we started, and waits for it. */
/** Serves the files under `dir` (GET; `/` is index.html), as any static host would. */
function serve(dir) {
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(dir, path));
    if (req.method !== 'GET' || !file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => {
    server.listen(0, '127.0.0.1', () =>
      ok({ url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((done) => server.close(done)) }),
    );
  });
}

// ---- the apps ----------------------------------------------------------------

/**
 * Makes the app `name` in the scratch directory from `apps/<template>/` and the
 * shared `files` ({ destination: source in this directory }), then installs
 * the package from `tarball` into it, as a user would.
 */
function makeApp(name, template, files, tarball) {
  const dir = join(scratch, 'apps', name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(join(here, 'apps', template), dir, { recursive: true });
  for (const [to, from] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, to)), { recursive: true });
    cpSync(join(here, from), join(dir, to));
  }
  step(dir, 'npm', ['install', '--no-save', '--offline', '--no-audit', '--no-fund', '--no-package-lock', tarball]);
  return dir;
}

const BROWSER_FILES = (entry) => ({ [entry]: 'main.js', 'src/checks.js': 'checks.js', 'src/preflight-checks.js': 'preflight-checks.js' });
const query = `?api=${encodeURIComponent(api)}&version=${encodeURIComponent(version)}`;

/**
 * The browser apps: `prepare(dir)` builds (or starts) the app and answers
 * `{ url, close }`, the page to open and how to stop serving it.
 */
const BROWSER_APPS = [
  {
    name: 'vite-dev',
    template: 'vite',
    entry: 'src/main.js',
    // `vite`: the dev server, which pre-bundles the package into
    // node_modules/.vite/deps and serves it from there.
    async prepare(dir) {
      const port = await freePort();
      const args = [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), '--host', '127.0.0.1', '--port', String(port), '--strictPort'];
      console.log(`# (apps/vite-dev) vite --host 127.0.0.1 --port ${port} --strictPort`);
      const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
      let log = '';
      child.stdout.on('data', (d) => (log += d));
      child.stderr.on('data', (d) => (log += d));
      const url = `http://127.0.0.1:${port}/`;
      try {
        await waitFor(url, 60_000, child);
      } catch (e) {
        await stopChild(child);
        throw new Error(`${e.message}\n${log}`);
      }
      return {
        url,
        close: async () => {
          await stopChild(child);
          if (/error/i.test(log)) console.log(`# vite dev server output:\n${log.replace(/^/gm, '#   ')}`);
        },
      };
    },
  },
  {
    name: 'vite-build',
    template: 'vite',
    entry: 'src/main.js',
    // `vite build`, then dist/ served as a static site.
    async prepare(dir) {
      step(dir, bin('vite'), ['build']);
      return serve(join(dir, 'dist'));
    },
  },
  {
    name: 'webpack',
    template: 'webpack',
    entry: 'src/index.js',
    // `webpack` without a configuration file: src/index.js → dist/main.js.
    async prepare(dir) {
      step(dir, bin('webpack'), ['--mode=production']);
      return serve(dir);
    },
  },
  {
    name: 'esbuild',
    template: 'esbuild',
    entry: 'src/main.js',
    // An ES module bundle, and the package's `import-uploader/` folder
    // (the .wasm files and the preflight's Worker) copied next to it
    // (esbuild does not copy what `new URL(…, import.meta.url)` names: the
    // README's step).
    async prepare(dir) {
      step(dir, bin('esbuild'), ['src/main.js', '--bundle', '--format=esm', '--outdir=dist']);
      const folder = 'import-uploader';
      console.log(`# (apps/esbuild) copy node_modules/import-uploader/${folder}/ to dist/${folder}/`);
      cpSync(join(dir, 'node_modules', 'import-uploader', folder), join(dir, 'dist', folder), { recursive: true });
      return serve(dir);
    },
  },
  {
    name: 'rollup',
    template: 'rollup',
    entry: 'src/main.js',
    // `rollup -c` with node-resolve and import-meta-assets (rollup.config.mjs).
    async prepare(dir) {
      step(dir, bin('rollup'), ['-c']);
      return serve(dir);
    },
  },
];

/** Opens `url` in a fresh context; answers the page's results. */
async function runPage(browser, app, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  // (The checks' own API refusals, 401 and 404, are expected.)
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().startsWith(api) && !r.url().endsWith('/favicon.ico')) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  let results;
  try {
    await page.goto(`${url}${query}`);
    await page.waitForFunction(() => document.body?.dataset.done === 'true', null, { timeout: PAGE_TIMEOUT_MS });
    results = await page.evaluate(() => globalThis.bundlerResults);
    return results;
  } catch (e) {
    throw new Error(`${e.message.split('\n')[0]}${problems.length ? `; the page: ${problems.join('; ')}` : ''}`);
  } finally {
    // What the page reported, when something failed.
    if (!results?.every((r) => r.ok)) for (const p of problems) console.log(`# ${app}: ${p}`);
    await context.close();
  }
}

async function browserApps(tarball) {
  const apps = BROWSER_APPS.filter((a) => a.name.includes(only));
  if (apps.length === 0) return;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    for (const app of apps) {
      let served;
      try {
        const dir = makeApp(app.name, app.template, BROWSER_FILES(app.entry), tarball);
        served = await app.prepare(dir);
        reportAll(app.name, await runPage(browser, app.name, served.url));
      } catch (e) {
        report(app.name, 'build and load', false, e.message);
      } finally {
        await served?.close();
      }
    }
  } finally {
    await browser.close();
  }
}

/** Reads the `RESULTS {…}` line of a Node or Deno app. */
function resultsOf(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULTS '));
  if (!line) throw new Error(`no RESULTS line in: ${stdout.slice(-2000)}`);
  return JSON.parse(line.slice('RESULTS '.length));
}

/** Checks that the package name resolved to `entry`, then reports the results. */
function reportServer(app, { resolved, preflightResolved, results }, entry) {
  report(app, `import-uploader resolves to ${entry}`, String(resolved).endsWith(`/node_modules/import-uploader/${entry}`), `resolved to ${resolved}`);
  const preflightEntry = entry.replace(/^entry-/, 'preflight-');
  report(
    app,
    `import-uploader/preflight resolves to ${preflightEntry}`,
    String(preflightResolved).endsWith(`/node_modules/import-uploader/${preflightEntry}`),
    `resolved to ${preflightResolved}`,
  );
  reportAll(app, results);
}

const SERVER_FILES = { 'main.js': 'server-main.js', 'checks.js': 'checks.js', 'preflight-checks.js': 'preflight-checks.js' };

async function nodeApp(tarball) {
  const dir = makeApp('node', 'node', SERVER_FILES, tarball);
  reportServer('node', resultsOf(step(dir, process.execPath, ['main.js', api, version])), 'entry-node.js');
}

async function denoApp(tarball) {
  const deno = denoBinary(RUNNER);
  const dir = makeApp('deno', 'deno', SERVER_FILES, tarball);
  console.log(`# (apps/deno) deno ${denoRunArgs('main.js', { args: ['API_URL', 'VERSION'] }).join(' ')}`);
  const out = spawnSync(deno, denoRunArgs('main.js', { args: [api, version] }), { cwd: dir, env: denoEnv(dir), encoding: 'utf8', timeout: STEP_TIMEOUT_MS });
  if (out.status !== 0) throw new Error(`deno failed (${out.signal ?? out.status}): ${`${out.stdout}\n${out.stderr}`.slice(-3000)}`);
  reportServer('deno', resultsOf(out.stdout), 'entry-deno.js');
}

/**
 * The workerd app: worker.js bundled by esbuild as a Workers bundler does
 * (conditions `workerd`, `worker`, `browser`; `.wasm` imports left to the
 * runtime, which gets the module next to the bundle), served by workerd.
 */
async function workerdApp(tarball) {
  checkWorkerd(RUNNER);
  const dir = makeApp('workerd', 'workerd', { 'worker.js': 'worker.js', 'checks.js': 'checks.js', 'preflight-checks.js': 'preflight-checks.js' }, tarball);
  step(dir, bin('esbuild'), [
    'worker.js',
    '--bundle',
    '--format=esm',
    '--platform=neutral',
    '--conditions=workerd,worker,browser',
    '--main-fields=module,main',
    '--external:*.wasm',
    '--metafile=dist/meta.json',
    '--outfile=dist/worker.js',
  ]);
  const inputs = Object.keys(JSON.parse(readFileSync(join(dir, 'dist', 'meta.json'), 'utf8')).inputs);
  const entry = inputs.find((f) => /node_modules\/import-uploader\/entry-[a-z]+\.js$/.test(f));
  report('workerd', 'the bundle takes entry-workerd.js', entry?.endsWith('entry-workerd.js'), `it took ${entry}`);
  // The modules the bundle imports, where its imports name them.
  const wasm = 'import_uploader_server_bg.wasm';
  const preflightWasm = 'import-uploader/import_uploader_preflight_bg.wasm';
  for (const f of [wasm, preflightWasm]) {
    mkdirSync(dirname(join(dir, 'dist', f)), { recursive: true });
    cpSync(join(dir, 'node_modules', 'import-uploader', f), join(dir, 'dist', f));
  }
  const config = join(dir, 'config.capnp');
  writeFileSync(
    config,
    `# Generated by tests/bundlers/run.mjs: the bundled worker and the module it imports.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .app),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const app :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "dist/worker.js"),
    (name = "${wasm}", wasm = embed "dist/${wasm}"),
    (name = "${preflightWasm}", wasm = embed "dist/${preflightWasm}"),
  ],
  compatibilityDate = "2025-09-01",
  globalOutbound = "loopback",
);
`,
  );
  console.log('# (apps/workerd) workerd serve config.capnp');
  const server = await startWorkerd(config, { dir });
  try {
    const r = await fetch(`http://127.0.0.1:${server.port}/${query}`);
    const text = await r.text();
    if (!r.ok) throw new Error(`the worker answered ${r.status}: ${text.slice(0, 2000)}`);
    reportAll('workerd', JSON.parse(text));
  } finally {
    await server.stop();
  }
}

// ---- main ----------------------------------------------------------------------

rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
console.log(`# package ${manifest.name} ${version}; emulator ${emulator}; scratch ${scratch}`);
let tarball;
try {
  const packed = JSON.parse(step(pkgDir, 'npm', ['pack', '--json', '--pack-destination', scratch]));
  tarball = join(scratch, packed[0].filename);
} catch (e) {
  bail(`npm pack of pkg/ failed: ${e.message}`);
}

await browserApps(tarball);
for (const [name, app] of [
  ['node', nodeApp],
  ['deno', denoApp],
  ['workerd', workerdApp],
]) {
  if (!name.includes(only)) continue;
  try {
    await app(tarball);
  } catch (e) {
    report(name, 'build and run', false, e.message);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
