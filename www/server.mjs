// The demo's server (`cargo xtask demo` runs it with Node): the package's
// broker in front of the emulator, the demo page, the package for the
// browser, and a ticket endpoint standing in for an application's backend.
//
// | path              | what |
// |-------------------|------|
// | `/`, `/app.js`    | the demo page (this directory) |
// | `/pkg/…`          | the built npm package (its browser entry is what the page imports) |
// | `/api/…`          | `createBroker`: the Import Jobs API and the Metadata API, with the workspace token added here |
// | `POST /app/ticket`| mints a 10-minute upload ticket for the demo user (`mintUploadTicket`); only for a `Host` naming this server (its address, or localhost on loopback), so a page on another name that resolves here (DNS rebinding) gets 403 |
//
// The broker obtains the workspace token itself with OAuth client
// credentials from the emulator's `POST /oauth/token`; the page only ever
// holds tickets. Settings (environment):
//
//   DEMO_API        the emulator's base URL (required), e.g. http://127.0.0.1:PORT
//   DEMO_ADDR       where to listen (default 127.0.0.1:8787)
//   DEMO_CLIENT     OAuth client ID:SECRET (default the emulator's dev-client:dev-secret)
//   DEMO_PKG        the built package (default ../pkg next to this directory)
//
// It prints `listening on http://ADDR` (then a short guide) once it accepts
// requests.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { toNodeListener } from '../pkg/node-adapter.js';

const here = dirname(fileURLToPath(import.meta.url));
const api = process.env.DEMO_API?.replace(/\/+$/, '');
if (!api) {
  console.error('DEMO_API is not set: the emulator\'s base URL (`cargo xtask demo` sets it)');
  process.exit(2);
}
const [host, portText] = (process.env.DEMO_ADDR ?? '127.0.0.1:8787').split(/:(?=\d+$)/);
const [clientId, ...secretParts] = (process.env.DEMO_CLIENT ?? 'dev-client:dev-secret').split(':');
const pkgDir = resolve(process.env.DEMO_PKG ?? join(here, '..', 'pkg'));

// The package's Node entry, as its `exports` map names it.
const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const nodeEntry = manifest.exports?.['.']?.node ?? './entry-node.js';
const { createBroker, mintUploadTicket } = await import(pathToFileURL(join(pkgDir, nodeEntry)).href);

// A fresh ticket key per start: tickets of an earlier run stop working.
const ticketSecret = randomBytes(32).toString('base64url');
/** Who the demo's visitor is; a real backend takes it from its session. */
const DEMO_SUBJECT = 'demo-user';
const MAX_FILE_SIZE = 100 * 1024 * 1024;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * The `Host` values the ticket endpoint answers: the bound address and, on
 * a loopback or wildcard address, `localhost` and `127.0.0.1` (with the port).
 */
function allowedHosts(port) {
  const names = new Set([host.includes(':') && !host.startsWith('[') ? `[${host}]` : host]);
  if (LOOPBACK.has(host) || host === '0.0.0.0' || host === '::') {
    names.add('localhost');
    names.add('127.0.0.1');
    names.add('[::1]');
  }
  return new Set([...names].map((n) => `${n}:${port}`.toLowerCase()));
}

/** The origins the page may be opened from (the broker's CORS list). */
function origins(port) {
  const list = [`http://${host}:${port}`];
  if (host === '127.0.0.1') list.push(`http://localhost:${port}`);
  return list;
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};
/** The page's own files; nothing else of this directory is served. */
const PAGE_FILES = { '/': 'index.html', '/index.html': 'index.html', '/app.js': 'app.js' };

function fileResponse(path) {
  try {
    return new Response(readFileSync(path), {
      headers: { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-cache' },
    });
  } catch {
    return new Response('not found\n', { status: 404 });
  }
}

let broker;

/** The demo's fetch-style handler. */
async function handle(request) {
  const url = new URL(request.url);
  const path = url.pathname;
  if (path === '/api' || path.startsWith('/api/')) return broker(request);
  if (path === '/app/ticket') {
    if (request.method !== 'POST') return new Response('use POST\n', { status: 405, headers: { allow: 'POST' } });
    const hostHeader = (request.headers.get('host') ?? '').toLowerCase();
    if (!allowedHosts(server.address().port).has(hostHeader)) {
      return Response.json(
        {
          success: false,
          error: {
            code: 'DEMO.HOST.NOT_ALLOWED',
            message: 'This ticket endpoint answers only requests addressed to the demo server itself (its address or localhost), not to another host name.',
          },
        },
        { status: 403, headers: { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } },
      );
    }
    const ticket = mintUploadTicket(ticketSecret, {
      subject: DEMO_SUBJECT,
      objects: ['profiles', 'orders'],
      maxFileSize: MAX_FILE_SIZE,
      ttlSeconds: 600,
    });
    return Response.json({ ticket }, { headers: { 'cache-control': 'no-store' } });
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') return new Response('not found\n', { status: 404 });
  if (PAGE_FILES[path]) return fileResponse(join(here, PAGE_FILES[path]));
  if (path.startsWith('/pkg/')) {
    const file = normalize(join(pkgDir, decodeURIComponent(path.slice('/pkg/'.length))));
    if (file.startsWith(pkgDir + sep)) return fileResponse(file);
  }
  return new Response('not found\n', { status: 404 });
}

const server = createServer(toNodeListener(handle, { onError: (e) => console.error('demo server:', e) }));
server.listen(Number(portText), host, () => {
  const port = server.address().port;
  broker = createBroker({
    apiBaseUrl: `${api}/public/v1`,
    oauth: { tokenUrl: `${api}/oauth/token`, clientId, clientSecret: secretParts.join(':') },
    ticketSecret,
    policy: { objects: ['profiles', 'orders'], maxFileSize: MAX_FILE_SIZE },
    allowedOrigins: origins(port),
    basePath: '/api',
  });
  console.log(`listening on http://${host}:${port}`);
  console.log(`
  Open http://${host}:${port}/ and drop a CSV file: the page's <import-uploader>
  previews it, suggests a mapping to the object's fields, and imports it.

  The page talks to the broker at /api with upload tickets from POST /app/ticket;
  the broker gets its workspace token from ${api}/oauth/token and forwards the
  calls to ${api}/public/v1. The API's OpenAPI document: ${api}/openapi.json.
  Ctrl-C stops the demo.
`);
});
