// The Node side of the broker suites, shared by `run-node.mjs`,
// `run-deno.mjs` and `run-workerd.mjs`: each gives `runBrokerSuite` a
// `start(env)` that launches the test server (`app.mjs` around the built
// package) in its runtime and resolves to `{ url, entry, stop }`. This file
// then
//
// 1. asks the emulator with short-lived tokens for an OAuth token (it will
//    have expired when the upstream-expiry case runs: the broker's `token`);
// 2. serves the test page (`page.html`, `page.mjs`, and `pkg/` for the
//    package's browser entry) on its own origin, 127.0.0.1:PORT_A;
// 3. starts the runtime's server (the broker and the ticket endpoint) on
//    127.0.0.1:PORT_B, a different origin, with the secrets in its
//    environment;
// 4. launches Debian's Chromium through playwright-core (flags from
//    `webdriver.json`) and runs the cases of `cases.mjs`, printing
//    `ok - name` / `not ok - name: error` and the closing `N passed, M failed`.
//
// Environment (set by `cargo xtask test`, see xtask/src/js_suites.rs):
//   IMPORT_EMULATOR_URL           the main emulator's base URL
//   IMPORT_EMULATOR_URL_EXPIRING  an emulator started with `--token-ttl 2`
//   IMPORT_BROKER_CLIENT          ID:SECRET of an OAuth client both emulators know
//   IMPORT_BROKER_TOKEN           a static workspace token both emulators know
//   IMPORT_JS_SCRATCH             scratch directory (default target/xtask/js)
//   IMPORT_JS_ONLY                run only the cases whose name contains this text

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { resultLine, runTests, summaryLine } from '../js/harness.mjs';
import {
  bail,
  CONTENT_TYPES as TYPES,
  exportFor,
  packageManifest,
  pkgDir,
  root,
  scratchProject,
  stopChild,
} from '../js/support.mjs';
import { ENV } from './app.mjs';
import { cases } from './cases.mjs';
import { corpusCases } from './corpus.mjs';

// For the runners: the JS suite's helpers (`../js/support.mjs`).
export { bail, root, scratchProject, stopChild };

/** This directory (`tests/broker`). */
export const brokerDir = dirname(fileURLToPath(import.meta.url));
/** How long a runtime's server may take to listen. */
const START_TIMEOUT_MS = 30_000;
/** Lifetime of the expiring emulator's tokens (its `--token-ttl`), seconds. */
export const EXPIRING_TTL_S = 2;

/** The runner's settings from its environment; bails naming what is missing. */
export function settings(runner) {
  const need = (name, what) => {
    const v = process.env[name];
    if (!v) bail(runner, `${name} is not set (${what}); \`cargo xtask test\` sets it`);
    return v;
  };
  const emulator = need('IMPORT_EMULATOR_URL', "the main emulator's base URL").replace(/\/+$/, '');
  const expiring = need('IMPORT_EMULATOR_URL_EXPIRING', 'an emulator started with `--token-ttl 2`').replace(/\/+$/, '');
  const client = need('IMPORT_BROKER_CLIENT', 'ID:SECRET of an OAuth client of both emulators');
  const workspaceToken = need('IMPORT_BROKER_TOKEN', 'a static token of both emulators');
  const [clientId, ...rest] = client.split(':');
  const clientSecret = rest.join(':');
  if (!clientId || !clientSecret) bail(runner, 'IMPORT_BROKER_CLIENT must be ID:SECRET');
  const manifest = packageManifest(runner);
  const scratch = resolve(process.env.IMPORT_JS_SCRATCH ?? join(root, 'target', 'xtask', 'js'), 'broker');
  return {
    emulator,
    expiring,
    clientId,
    clientSecret,
    workspaceToken,
    manifest,
    scratch,
    only: process.env.IMPORT_JS_ONLY ?? '',
  };
}

/** Serves `files` (URL path → file) and `dirs` (URL prefix → directory), GET only. */
export function staticServer({ files = {}, dirs = {} }) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let file = files[path];
    if (!file) {
      for (const [prefix, dir] of Object.entries(dirs)) {
        if (!path.startsWith(prefix)) continue;
        const candidate = normalize(join(dir, path.slice(prefix.length)));
        if (candidate.startsWith(dir + sep) && existsSync(candidate)) file = candidate;
      }
    }
    if (req.method !== 'GET' || !file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((ok) => {
    server.listen(0, '127.0.0.1', () => {
      ok({ port: server.address().port, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

/** The test page: an import map sends `import-uploader` to the browser entry. */
function pageHtml(browserEntry) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>broker test page</title>
<script type="importmap">${JSON.stringify({ imports: { 'import-uploader': `/pkg/${browserEntry}` } })}</script>
</head>
<body><script type="module" src="/page.mjs"></script></body>
</html>
`;
}

/**
 * Reads `listening on URL` from a child's stdout and resolves to `{ url,
 * entry }` (`entry` from an earlier `… resolved to ENTRY` line); other lines
 * are echoed as `# ` comments. Rejects when the child exits first or after
 * the timeout.
 */
export function listeningUrl(child, what) {
  let entry = null;
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${what} did not print \`listening on\` within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const url = line.trim().match(/^listening on (\S+)/)?.[1];
      entry = line.match(/resolved to (\S+)/)?.[1] ?? entry;
      if (url) {
        clearTimeout(timer);
        ok({ url: url.replace(/\/+$/, ''), entry });
      } else if (line.trim()) {
        console.log(line.startsWith('#') ? line : `# ${line}`);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${what} exited (${signal ?? `code ${code}`}) before listening; its messages are above`));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(new Error(`cannot start ${what}: ${e.message}`));
    });
  });
}


/** Asks `emulator`'s token endpoint for a client-credentials token. */
async function oauthToken(emulator, clientId, clientSecret) {
  const response = await fetch(`${emulator}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`POST /oauth/token answered ${response.status}: ${JSON.stringify(body)}`);
  return body.access_token;
}

/**
 * Two servers for the redirect cases: `elsewhere` records every request it
 * gets (a host the brokers must never reach) and answers as the API or the
 * token endpoint would, so that a broker following a redirect would
 * succeed; `redirector` answers every request with a redirect there (302
 * for GET, 307 for POST, which keeps the method, body and headers).
 */
async function redirectServers() {
  const seen = [];
  const elsewhere = createServer((req, res) => {
    let size = 0;
    req.on('data', (c) => (size += c.length));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization ?? null, size });
      const body = req.url.endsWith('/oauth/token')
        ? { access_token: 'token-from-elsewhere', token_type: 'Bearer', expires_in: 3600 }
        : { success: true, data: { items: [] }, correlationId: '00000000-0000-4000-8000-000000000000' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  const listen = (server) => new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${server.address().port}`)));
  const elsewhereUrl = await listen(elsewhere);
  const redirector = createServer((req, res) => {
    req.resume();
    res.writeHead(req.method === 'GET' ? 302 : 307, { location: `${elsewhereUrl}${req.url}` }).end();
  });
  const redirectorUrl = await listen(redirector);
  const close = (server) => new Promise((ok) => {
    server.closeAllConnections?.();
    server.close(ok);
  });
  return { url: redirectorUrl, elsewhere: { url: elsewhereUrl, seen }, close: () => Promise.all([close(elsewhere), close(redirector)]) };
}

/** Chromium's flags, from the workspace's `webdriver.json`. */
function chromiumOptions() {
  const wd = JSON.parse(readFileSync(join(root, 'webdriver.json'), 'utf8'))['goog:chromeOptions'];
  return { executablePath: wd.binary, args: wd.args.filter((a) => a !== '--headless'), headless: true };
}

/**
 * Runs the suite with the runtime server `start(env)` gives. `runtime` and
 * `expectedEntry` name the runtime and the package entry it must resolve.
 * Sets the exit code; the output ends with `N passed, M failed`.
 */
export async function runBrokerSuite({ runner, runtime, expectedEntry, start, extraCases = [] }) {
  const s = settings(runner);
  const cleanups = [];
  const cleanup = async () => {
    for (const f of cleanups.reverse()) await f().catch(() => {});
    cleanups.length = 0;
  };
  let results = [];
  try {
    const expiredToken = await oauthToken(s.expiring, s.clientId, s.clientSecret);
    const expiredTokenIssuedAt = Date.now();

    const browserEntry = exportFor(s.manifest, ['browser', 'import', 'default']);
    if (!browserEntry) throw new Error("the package's exports map has no browser entry");
    mkdirSync(s.scratch, { recursive: true });
    const htmlFile = join(s.scratch, 'page.html');
    writeFileSync(htmlFile, pageHtml(browserEntry));
    const page = await staticServer({
      files: { '/': htmlFile, '/page.mjs': join(brokerDir, 'page.mjs'), '/js/people.mjs': join(root, 'tests', 'js', 'people.mjs') },
      dirs: { '/pkg/': pkgDir },
    });
    cleanups.push(page.close);
    const pageOrigin = `http://127.0.0.1:${page.port}`;

    const redirects = await redirectServers();
    cleanups.push(redirects.close);

    const ticketSecret = randomBytes(32).toString('base64url');
    const env = {
      [ENV.apiUrl]: `${s.emulator}/public/v1`,
      [ENV.tokenUrl]: `${s.emulator}/oauth/token`,
      [ENV.expiringApiUrl]: `${s.expiring}/public/v1`,
      [ENV.expiringTokenUrl]: `${s.expiring}/oauth/token`,
      [ENV.clientId]: s.clientId,
      [ENV.pageOrigin]: pageOrigin,
      [ENV.clientSecret]: s.clientSecret,
      [ENV.workspaceToken]: s.workspaceToken,
      [ENV.expiredToken]: expiredToken,
      [ENV.ticketSecret]: ticketSecret,
      [ENV.redirectUrl]: redirects.url,
    };
    const server = await start(env, s);
    cleanups.push(server.stop);
    console.log(`# ${runtime}: import-uploader resolved to ${server.entry}; broker at ${server.url}, test page at ${pageOrigin}`);

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch(chromiumOptions());
    cleanups.push(() => browser.close());

    const ctx = {
      runtime,
      broker: server.url,
      pageOrigin,
      pagePort: page.port,
      browser,
      secrets: { clientSecret: s.clientSecret, workspaceToken: s.workspaceToken, expiredToken, ticketSecret },
      // When the broker's `token` has surely expired (a second of margin).
      expiredTokenExpiredAt: expiredTokenIssuedAt + (EXPIRING_TTL_S + 1) * 1000,
      emulator: s.emulator,
      settings: s,
      redirector: redirects.url,
      elsewhere: redirects.elsewhere,
    };
    const entryCase = {
      name: `the ${runtime} server imports the package's ${expectedEntry} by name`,
      fn() {
        if (!server.entry.endsWith(expectedEntry)) throw new Error(`resolved to ${server.entry}`);
      },
    };
    results = await runTests([entryCase, ...cases, ...corpusCases, ...extraCases], ctx, {
      only: s.only || undefined,
      timeoutMs: 60_000,
      onResult: (r) => console.log(resultLine(r)),
    });
    if (results.length === 0) results = [{ name: 'the suite ran no case', ok: false }];
  } catch (e) {
    console.error(`${runner}: ${e.stack ?? e}`);
    results.push({ name: 'set-up', ok: false, error: String(e.message ?? e) });
    console.log(resultLine(results.at(-1)));
  } finally {
    await cleanup();
  }
  console.log(summaryLine(results));
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}
