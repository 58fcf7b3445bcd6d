// The servers the element suite drives: a bare app page (just the tag),
// served with a broker and a ticket endpoint from one origin as an app
// would; the demo (`www/server.mjs`) as a child process; and an emulator
// that holds its jobs in processing.
//
// | path           | what |
// |----------------|------|
// | `/`            | a page with `<import-uploader broker-url="/api" ticket-url="/ticket">` and nothing else |
// | `/pkg/…`       | the built package |
// | `/api/…`       | `createBroker` (OAuth client credentials against the emulator; objects `profiles`, `orders`) |
// | `POST /ticket` | a 10-minute ticket for the subject `element-user` |

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

import { CONTENT_TYPES, pkgDir, root, stopChild } from '../js/support.mjs';
import { listeningUrl } from '../broker/runner.mjs';

export const SUBJECT = 'element-user';
const OBJECTS = ['profiles', 'orders'];
const MAX_FILE_SIZE = 100 * 1024 * 1024;

/** The bare page: the element's module and the tag, nothing else. */
export const BARE_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>import-uploader element</title>
<script type="module" src="/pkg/element.js"></script></head>
<body><main><import-uploader broker-url="/api" ticket-url="/ticket"></import-uploader></main></body>
</html>
`;

/** Imports the package's Node entry (as the `exports` map gives it). */
export async function nodePackage() {
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const entry = manifest.exports?.['.']?.node ?? './entry-node.js';
  const adapter = manifest.exports?.['./node']?.default ?? './node-adapter.js';
  const pkg = await import(pathToFileURL(join(pkgDir, entry)).href);
  const { toNodeListener } = await import(pathToFileURL(join(pkgDir, adapter)).href);
  return { ...pkg, toNodeListener };
}

/**
 * Starts the bare app: `{ url, ticketSecret, mint(), serve(path, body, type), close() }`.
 * `serve` adds a page or script of a case's own to the app's origin.
 */
export async function startBareApp({ emulator, clientId, clientSecret }) {
  const extra = new Map();
  const pkg = await nodePackage();
  const ticketSecret = randomBytes(32).toString('base64url');
  const mint = () => pkg.mintUploadTicket(ticketSecret, { subject: SUBJECT, objects: OBJECTS, maxFileSize: MAX_FILE_SIZE, ttlSeconds: 600 });
  let broker;
  const handle = async (request) => {
    const path = new URL(request.url).pathname;
    if (path === '/api' || path.startsWith('/api/')) return broker(request);
    if (path === '/ticket') {
      if (request.method !== 'POST') return new Response('use POST\n', { status: 405 });
      return Response.json({ ticket: mint() }, { headers: { 'cache-control': 'no-store' } });
    }
    if (extra.has(path)) return new Response(extra.get(path).body, { headers: { 'content-type': extra.get(path).type, 'cache-control': 'no-store' } });
    if (path === '/') return new Response(BARE_PAGE, { headers: { 'content-type': CONTENT_TYPES['.html'], 'cache-control': 'no-store' } });
    if (path.startsWith('/pkg/')) {
      const file = normalize(join(pkgDir, decodeURIComponent(path.slice(5))));
      if (file.startsWith(pkgDir + sep)) {
        try {
          return new Response(readFileSync(file), { headers: { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' } });
        } catch {
          // not there
        }
      }
    }
    return new Response('not found\n', { status: 404 });
  };
  const server = createServer(pkg.toNodeListener(handle, { onError: (e) => console.error('# bare app:', e) }));
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  broker = pkg.createBroker({
    apiBaseUrl: `${emulator}/public/v1`,
    oauth: { tokenUrl: `${emulator}/oauth/token`, clientId, clientSecret },
    ticketSecret,
    policy: { objects: OBJECTS, maxFileSize: MAX_FILE_SIZE, allowTemplates: true, rateLimit: { requests: 10_000, perSeconds: 60 } },
    allowedOrigins: [url],
    basePath: '/api',
  });
  return {
    url,
    mint,
    serve: (path, body, type) => extra.set(path, { body, type }),
    close: () =>
      new Promise((done) => {
        server.closeAllConnections?.();
        server.close(done);
      }),
  };
}

/** Starts the demo (`www/server.mjs`) in front of the emulator: `{ url, child, stop() }`. */
export async function startDemo({ emulator, clientId, clientSecret }) {
  const child = spawn(process.execPath, [join(root, 'www', 'server.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, DEMO_API: emulator, DEMO_ADDR: '127.0.0.1:0', DEMO_CLIENT: `${clientId}:${clientSecret}` },
  });
  try {
    const { url } = await listeningUrl(child, 'the demo server');
    return { url, child, stop: () => stopChild(child) };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

/**
 * Starts an emulator of its own (`bin`) whose processor holds every job at
 * `hold` (`IMPORT_DEVSERVER_HOLD`, see `devserver/src/hold.rs`), with the
 * same credentials as the suite's: `{ url, held(jobId), stop() }`.
 * `held(jobId)` resolves once the emulator prints `hold: POINT job=ID`.
 * A held job never ends, so `stop()` kills the process (SIGKILL, as the
 * crash tests release it) and removes its data directory.
 */
export async function startHeldEmulator({ bin, hold, client, token, scopes, dataDir }) {
  const child = spawn(bin, ['--addr', '127.0.0.1:0', '--data-dir', dataDir, '--client', `${client}=${scopes}`, '--token', `${token}=${scopes}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, IMPORT_DEVSERVER_HOLD: hold, RUST_LOG: 'warn' },
  });
  const holds = new Set();
  const waiters = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    const job = line.trim().match(/^hold: (\w+) job=(\S+)$/);
    if (job?.[1] === hold) {
      holds.add(job[2]);
      for (const w of waiters.splice(0)) w();
    }
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise((done) => {
        child.once('exit', done);
        child.kill('SIGKILL');
      });
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const { url } = await listeningUrl(child, `the emulator holding jobs at ${hold}`);
    const held = (jobId) =>
      new Promise((ok) => {
        const check = () => (holds.has(jobId) ? ok() : waiters.push(check));
        check();
      });
    return { url, held, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
