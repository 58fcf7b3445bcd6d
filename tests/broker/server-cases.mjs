// Cases of the broker called in this process (run by the Node broker
// suite), where a test needs to see inside a request: how many bytes of a
// streamed body the broker pulled, what `createBroker` throws, two broker
// instances sharing one `rateLimiter`. The package is the built one
// (`pkg/`, its Node entry); the upstream is the suite's emulator.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { assert, assertEqual, thrown } from '../js/harness.mjs';
import { pkgDir } from '../js/support.mjs';

const SECRET = 'server-cases-ticket-secret-0123456789abcdef';
const MiB = 1024 * 1024;

/** The built package, as Node loads it. */
const load = () => import(pathToFileURL(join(pkgDir, 'entry-node.js')).href);

/** `createBroker` options in front of the suite's emulator (static token). */
function options(ctx, extra = {}) {
  return {
    apiBaseUrl: `${ctx.emulator}/public/v1`,
    token: ctx.settings.workspaceToken,
    ticketSecret: SECRET,
    ...extra,
  };
}

/** A body stream of `total` bytes in `chunk`-byte pieces that counts what is pulled. */
function countingBody(total, chunk = 64 * 1024) {
  const counter = { pulled: 0, cancelled: false };
  const piece = new Uint8Array(chunk).fill(0x20);
  const stream = new ReadableStream({
    pull(controller) {
      if (counter.pulled >= total) return controller.close();
      const n = Math.min(chunk, total - counter.pulled);
      counter.pulled += n;
      controller.enqueue(piece.slice(0, n));
    },
    cancel() {
      counter.cancelled = true;
    },
  });
  return { stream, counter };
}

export const serverCases = [
  {
    name: 'broker: a streamed 64 MiB body without Content-Length is refused at 1 MiB (413 BROKER.REQUEST.TOO_LARGE), pulling no more',
    async fn(ctx) {
      const pkg = await load();
      const handle = pkg.createBroker(options(ctx));
      const ticket = pkg.mintUploadTicket(SECRET, { subject: 'streamer' });
      const { stream, counter } = countingBody(64 * MiB);
      const response = await handle(
        new Request('http://broker.test/import-jobs', {
          method: 'POST',
          headers: { authorization: `Bearer ${ticket}`, 'content-type': 'application/json' },
          body: stream,
          duplex: 'half',
        }),
      );
      const body = await response.json();
      assertEqual(response.status, 413, `status (${JSON.stringify(body)})`);
      assertEqual(body.error?.code, 'BROKER.REQUEST.TOO_LARGE', 'error.code');
      assert(counter.pulled <= MiB + 4 * 64 * 1024, `bytes pulled from the body: ${counter.pulled} (limit ${MiB})`);
      assert(counter.cancelled, 'the body stream was cancelled');
      // The same broker goes on answering.
      const ok = await handle(new Request('http://broker.test/metadata/objects', { headers: { authorization: `Bearer ${ticket}` } }));
      assertEqual(ok.status, 200, 'a request afterwards');
    },
  },
  {
    name: 'createBroker refuses apiBaseUrl and oauth.tokenUrl with credentials (BROKER.CONFIG.INVALID), without repeating them',
    async fn(ctx) {
      const pkg = await load();
      const oauth = { tokenUrl: `${ctx.emulator}/oauth/token`, clientId: 'c', clientSecret: 's' };
      const host = new URL(ctx.emulator).host;
      for (const [what, extra] of [
        ['apiBaseUrl', { apiBaseUrl: `http://apiuser:hunter2-secret@${host}/public/v1` }],
        ['apiBaseUrl', { apiBaseUrl: `ftp://apiuser:hunter2-secret@${host}/public/v1` }],
        ['oauth.tokenUrl', { token: undefined, oauth: { ...oauth, tokenUrl: `https://id:hunter2-secret@${host}/oauth/token` } }],
      ]) {
        const e = thrown(() => pkg.createBroker(options(ctx, extra)), `createBroker with credentials in ${what}`);
        assert(e instanceof TypeError, `a TypeError: ${e}`);
        assertEqual(e.code, 'BROKER.CONFIG.INVALID', `${what}: code`);
        assert(e.message.includes(what) && e.message.includes('credentials'), `${what}: message names the option: ${e.message}`);
        assert(!e.message.includes('hunter2'), `${what}: the message repeats the password: ${e.message}`);
      }
      // Other configuration errors carry the code too; an @ in a path is fine.
      assertEqual(thrown(() => pkg.createBroker({ ...options(ctx), ticketSecret: 'short' })).code, 'BROKER.CONFIG.INVALID', 'a short secret');
      pkg.createBroker(options(ctx, { apiBaseUrl: `${ctx.emulator}/public/v1/@x` }));
      pkg.createBroker(options(ctx, { oauth }));
    },
  },
  {
    name: 'a rateLimiter shared by two broker instances holds across both; one that fails answers 503 BROKER.RATE.UNAVAILABLE',
    async fn(ctx) {
      const pkg = await load();
      // A shared store standing in for one a deployment would share (a
      // Durable Object, Redis): 3 requests per subject, whichever instance.
      const counts = new Map();
      const shared = {
        async limit(subject) {
          const n = (counts.get(subject) ?? 0) + 1;
          counts.set(subject, n);
          return n <= 3 ? { ok: true } : { ok: false, retryAfter: 42 };
        },
      };
      const a = pkg.createBroker(options(ctx, { rateLimiter: shared }));
      const b = pkg.createBroker(options(ctx, { rateLimiter: shared }));
      const ticket = pkg.mintUploadTicket(SECRET, { subject: 'shared-subject' });
      const get = (handle, t = ticket) => handle(new Request('http://broker.test/metadata/objects', { headers: { authorization: `Bearer ${t}` } }));
      for (const [i, handle] of [a, b, a].entries()) assertEqual((await get(handle)).status, 200, `request ${i + 1} of 3`);
      const limited = await get(b);
      assertEqual(limited.status, 429, 'request 4, on the other instance');
      assertEqual((await limited.json()).error.code, 'BROKER.RATE.LIMITED', 'code');
      assertEqual(limited.headers.get('retry-after'), '42', 'Retry-After from the limiter');
      const other = pkg.mintUploadTicket(SECRET, { subject: 'another-subject' });
      assertEqual((await get(b, other)).status, 200, 'another subject');
      assertEqual(counts.get('shared-subject'), 4, 'the limiter saw every request of the subject');

      const failing = pkg.createBroker(options(ctx, { rateLimiter: { limit: async () => { throw new Error('limiter store at 10.0.0.7 is down'); } } }));
      const r = await get(failing);
      const body = await r.json();
      assertEqual(r.status, 503, 'a failing limiter: status');
      assertEqual(body.error.code, 'BROKER.RATE.UNAVAILABLE', 'a failing limiter: code');
      assert(!JSON.stringify(body).includes('10.0.0.7'), `the cause stays in the log: ${JSON.stringify(body)}`);
      const odd = pkg.createBroker(options(ctx, { rateLimiter: { limit: () => 'yes' } }));
      assertEqual((await get(odd)).status, 503, 'a limiter answering something else');
      for (const bad of [{}, { limit: 1 }, 'limiter']) {
        assertEqual(thrown(() => pkg.createBroker(options(ctx, { rateLimiter: bad }))).code, 'BROKER.CONFIG.INVALID', `rateLimiter ${JSON.stringify(bad)}`);
      }
    },
  },
  {
    name: "broker: the authorize hook gets the request without its body, so a streamed 64 MiB body is refused at 1 MiB whatever the hook does",
    async fn(ctx) {
      const pkg = await load();
      const seen = [];
      const handle = pkg.createBroker(
        options(ctx, {
          // A hook that reads what it is given, as a careless one might.
          authorize: async (request) => {
            const text = request.body === null ? null : await request.text();
            seen.push({ method: request.method, auth: request.headers.get('authorization'), body: text === null ? null : text.length });
            return { subject: 'hooked' };
          },
        }),
      );
      const { stream, counter } = countingBody(64 * MiB);
      const response = await handle(
        new Request('http://broker.test/import-jobs', {
          method: 'POST',
          headers: { authorization: 'Bearer session:abc', 'content-type': 'application/json' },
          body: stream,
          duplex: 'half',
        }),
      );
      const body = await response.json();
      assertEqual(response.status, 413, `status (${JSON.stringify(body)})`);
      assertEqual(body.error?.code, 'BROKER.REQUEST.TOO_LARGE', 'error.code');
      assertEqual(seen.length, 1, 'the hook was called once');
      assertEqual(seen[0].method, 'POST', 'the hook saw the method');
      assertEqual(seen[0].auth, 'Bearer session:abc', 'the hook saw the headers');
      assertEqual(seen[0].body, null, 'the hook got no body');
      assert(counter.pulled <= MiB + 4 * 64 * 1024, `bytes pulled from the body: ${counter.pulled} (limit ${MiB})`);
    },
  },
];
