// The broker suite's cases, the same for every runtime (the runner hands
// them `ctx`: the broker's URL, the test page's origin, the Chromium
// browser, the secrets the page must never see). Each case opens the test
// page in a fresh browser context, records every request and response the
// page sees (headers and bodies, storage requests included) and, at its end,
// checks that none of them carries a workspace token (the static one, the
// expired one, and every OAuth token the brokers used upstream), the OAuth
// client secret or the ticket key, and that no storage request carries
// Authorization.

import { request as httpRequest } from 'node:http';

import { assert, assertEqual } from '../js/harness.mjs';
import { PEOPLE_MAPPING } from '../js/people.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What the brokers sent upstream (`app.mjs`'s `/test/upstream`). */
async function upstream(ctx) {
  const response = await fetch(`${ctx.broker}/test/upstream`);
  assertEqual(response.status, 200, 'GET /test/upstream status');
  return response.json();
}

/** Every workspace token the brokers used, and the secrets of the run. */
async function secretsOf(ctx) {
  const logs = await upstream(ctx);
  const tokens = Object.values(logs)
    .flatMap((l) => l.authorizations)
    .map((a) => a.replace(/^Bearer\s+/i, ''));
  const list = [...Object.values(ctx.secrets), ...tokens];
  return [...new Set(list)].filter((t) => t && t.length >= 8);
}

/**
 * Opens the test page at `origin` (default: the allowed page origin) in a
 * fresh context and records its traffic. Answers `call(path, opts)` (a
 * fetch from the page to the broker), `ticket(claims)`, `evaluate(fn,
 * arg)`, `settle()`, `check()` (the secrets check) and `close()`.
 */
async function openPage(ctx, { origin = ctx.pageOrigin } = {}) {
  const context = await ctx.browser.newContext();
  const page = await context.newPage();
  const entries = [];
  const pending = [];
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  // A page closed after a failed case must not leave these rejecting.
  const ignoreClosed = (f) => f().catch(() => {});
  page.on('request', (req) => {
    pending.push(
      ignoreClosed(async () => {
        entries.push({
          kind: 'request',
          method: req.method(),
          url: req.url(),
          headers: await req.allHeaders(),
          body: req.postDataBuffer()?.toString('latin1') ?? '',
        });
      }),
    );
  });
  page.on('response', (res) => {
    pending.push(
      ignoreClosed(async () => {
        let body = '';
        try {
          body = (await res.body()).toString('latin1');
        } catch {
          // no body (redirect, preflight) or gone with the page
        }
        entries.push({ kind: 'response', status: res.status(), url: res.url(), headers: await res.allHeaders(), body });
      }),
    );
  });
  await page.goto(`${origin}/`);
  try {
    await page.waitForFunction(() => document.body?.dataset.ready === 'true', null, { timeout: 15_000 });
  } catch {
    throw new Error(`the test page did not load: ${problems.join('; ') || 'no page error'}`);
  }
  const broker = ctx.broker;
  const opened = {
    page,
    entries,
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    call: (path, opts = {}) => page.evaluate(([url, o]) => globalThis.brokerTest.call(url, o), [`${broker}${path}`, opts]),
    ticket: (claims) => page.evaluate(([b, c]) => globalThis.brokerTest.ticket(b, c), [broker, claims]),
    async settle() {
      // Wait until the handlers of every recorded event have run.
      let n = -1;
      while (n !== pending.length) {
        n = pending.length;
        await Promise.allSettled(pending.slice());
      }
    },
    async check() {
      await opened.settle();
      assert(entries.length > 0, 'the page made requests');
      const secrets = await secretsOf(ctx);
      assert(secrets.length >= 4, 'the secrets to look for are known');
      for (const e of entries) {
        const text = `${e.url}\n${JSON.stringify(e.headers)}\n${e.body}`;
        for (const secret of secrets) {
          if (text.includes(secret)) {
            throw new Error(`a secret (${secret.slice(0, 4)}…) appears in the page's ${e.kind} ${e.method ?? e.status} ${e.url.split('?')[0]}`);
          }
        }
        if (e.kind === 'request' && e.url.includes('/storage/')) {
          assertEqual(e.headers.authorization, undefined, `Authorization on the storage request ${e.method} ${e.url.split('?')[0]}`);
        }
      }
    },
    close: () => context.close(),
  };
  return opened;
}

/** Runs `fn(page)` with a page open, then the secrets check, then closes it. */
async function withPage(ctx, fn, opts) {
  const p = await openPage(ctx, opts);
  try {
    const out = await fn(p);
    await p.check();
    return out;
  } finally {
    await p.close();
  }
}

/** Asserts a broker refusal: status and `error.code` in the API's envelope. */
function assertRefusal(answer, status, code, what) {
  assert(!answer.failed, `${what}: the request failed in the browser (${answer.failed}); CORS headers missing on the refusal?`);
  assertEqual(answer.status, status, `${what}: status (body ${JSON.stringify(answer.body).slice(0, 300)})`);
  assertEqual(answer.body?.success, false, `${what}: success`);
  assertEqual(answer.body?.error?.code, code, `${what}: error.code`);
  assert(typeof answer.body.error.message === 'string' && answer.body.error.message.length > 0, `${what}: a message`);
}

/** Asserts a 2xx answer with the API's success envelope. */
function assertOk(answer, what) {
  assert(!answer.failed, `${what}: the request failed in the browser (${answer.failed})`);
  assert(answer.status >= 200 && answer.status < 300, `${what}: status ${answer.status} (body ${JSON.stringify(answer.body).slice(0, 300)})`);
  assertEqual(answer.body?.success, true, `${what}: success`);
  return answer.body.data;
}

const JOB = { objectName: 'profiles', fileName: 'people.csv', fileSize: 100 };
const unique = (name) => `${name}-${Math.random().toString(36).slice(2, 10)}`;

/** A JWT with one character of its signature changed. */
function tamperSignature(jwt) {
  const i = jwt.length - 2;
  return jwt.slice(0, i) + (jwt[i] === 'A' ? 'B' : 'A') + jwt.slice(i + 1);
}

/** A JWT whose payload names another subject, with the original signature. */
function tamperSubject(jwt, subject) {
  const [h, p, s] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  claims.sub = subject;
  if ('subject' in claims) claims.subject = subject;
  return [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
}

/** The header of a JWT. */
function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
}

/** A whole import from the page (see `page.mjs`). */
function importFromPage(p, options) {
  return p.evaluate((o) => globalThis.brokerTest.importThrough(o), options);
}

/** Asserts a completed import of `valid` + `invalid` rows. */
function assertImported(r, valid, invalid) {
  assert(!r.error, `the import failed: ${JSON.stringify(r.error)}`);
  const s = r.status;
  assertEqual(s.state, 'completed', `state (errorMessage: ${s.errorMessage ?? '-'})`);
  assertEqual(s.readRows, valid + invalid, 'readRows');
  assertEqual(s.validRows, valid, 'validRows');
  assertEqual(s.invalidRows, invalid, 'invalidRows');
  assertEqual(s.mergedInserts, valid, 'mergedInserts');
  assertEqual(r.rejected.length, Math.min(invalid, 5), 'rejected rows read back');
  assertEqual(r.rejected[0]?.rowNumber, valid + 1, 'first rejected row number');
}

/** A ticket from the test app's backend, asked from here (not the page). */
async function nodeTicket(ctx, claims) {
  const q = new URLSearchParams(Object.entries(claims).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
  const r = await fetch(`${ctx.broker}/app/ticket?${q}`);
  const body = await r.json();
  assertEqual(r.status, 200, `ticket endpoint (${JSON.stringify(body)})`);
  return body.ticket;
}

/**
 * POSTs `size` bytes of spaces to `url` in 64 KiB chunks with chunked
 * transfer encoding (no Content-Length); resolves to `{ status, body }` once
 * answered. Write errors after the answer (the server closing the
 * connection on a refused body) are ignored.
 */
function chunkedPost(url, headers, size) {
  return new Promise((ok, fail) => {
    let answered = false;
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let body = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        ok({ status: res.statusCode, headers: res.headers, body });
      });
    });
    req.on('error', (e) => {
      if (!answered) fail(e);
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let left = size;
    const write = () => {
      while (left > 0 && !answered) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(chunk.subarray(0, n))) return req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

/** Asserts that an answer's message names no internal host or cause. */
function assertGenericMessage(answer, what, hosts) {
  const text = JSON.stringify(answer.body);
  for (const leak of [...hosts, 'ECONNREFUSED', 'fetch failed', 'invalid_client', 'redirect', 'TypeError']) {
    assert(!text.includes(leak), `${what}: the answer names \`${leak}\`: ${text.slice(0, 300)}`);
  }
}

export const cases = [
  {
    name: 'a browser import through the broker (OAuth upstream) completes with the right counts, and the page never sees a workspace token',
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const partSize = 512;
        const r = await importFromPage(p, {
          baseUrl: `${ctx.broker}/api`,
          backend: ctx.broker,
          subject: unique('alice'),
          valid: 40,
          invalid: 2,
          partSize,
        });
        assertImported(r, 40, 2);
        assert(/^imp_[0-9A-Z]+\.\S+$/.test(r.jobId), `the page got a signed job handle, not a bare id: ${r.jobId}`);
        const parts = Math.ceil(r.fileSize / partSize);
        assert(parts >= 3, `a few parts (${parts})`);
        assertEqual(r.progress.at(-1).loaded, r.fileSize, 'last progress loaded');
        assertEqual(r.getTokenCalls, 1, 'getToken() calls');

        await p.settle();
        const toBroker = p.entries.filter((e) => e.kind === 'request' && e.url.startsWith(`${ctx.broker}/api/`));
        const toStorage = p.entries.filter((e) => e.kind === 'request' && e.url.includes('/storage/'));
        assert(toBroker.length >= 5, `the page called the broker (create, mapping, start, status, errors): ${toBroker.length}`);
        assert(toStorage.length >= parts, `one storage request per part at least: ${toStorage.length} < ${parts}`);
        assert(toStorage.every((e) => !e.url.startsWith(ctx.broker)), 'file bytes go to storage, not through the broker');
        for (const e of toBroker) {
          const auth = e.headers.authorization ?? '';
          assert(auth.startsWith('Bearer ') && jwtHeader(auth.slice(7)).alg === 'HS256', `the page sends its ticket to the broker (${e.method} ${e.url})`);
        }
        const logs = await upstream(ctx);
        assert(logs.api.tokenRequests >= 1, 'the broker asked the OAuth endpoint for a token');
        assert(logs.api.authorizations.length >= 1, 'the broker called the API');
        for (const a of logs.api.authorizations) {
          assertEqual(jwtHeader(a.replace(/^Bearer /, '')).alg, 'RS256', 'upstream Authorization is the workspace token (the ticket is never forwarded)');
        }
      });
    },
  },
  {
    name: 'an expired ticket is refused (401 BROKER.TICKET.EXPIRED) and ImportClient gets a fresh one from getToken',
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const subject = unique('erin');
        const expired = await p.ticket({ subject, ttlSeconds: 1 });
        await sleep(2100);
        assertRefusal(await p.call('/static/metadata/objects', { ticket: expired }), 401, 'BROKER.TICKET.EXPIRED', 'expired ticket');
        const fresh = await p.ticket({ subject });
        const r = await importFromPage(p, {
          baseUrl: `${ctx.broker}/static`,
          backend: ctx.broker,
          subject,
          valid: 12,
          invalid: 1,
          partSize: 256,
          tickets: [expired, fresh],
        });
        assertImported(r, 12, 1);
        assertEqual(r.getTokenCalls, 2, 'getToken() calls (the expired ticket, then a fresh one)');
        const logs = await upstream(ctx);
        assertEqual(logs.static.authorizations.join(), `Bearer ${ctx.secrets.workspaceToken}`, 'the static broker sends only its workspace token upstream');
      });
    },
  },
  {
    name: 'a missing or tampered ticket is refused (401 BROKER.TICKET.MISSING / INVALID)',
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const good = await p.ticket({ subject: unique('tom') });
        assertOk(await p.call('/api/metadata/objects', { ticket: good }), 'a good ticket');
        assertRefusal(await p.call('/api/metadata/objects'), 401, 'BROKER.TICKET.MISSING', 'no ticket');
        assertRefusal(await p.call('/api/metadata/objects', { ticket: tamperSignature(good) }), 401, 'BROKER.TICKET.INVALID', 'a changed signature');
        assertRefusal(await p.call('/api/metadata/objects', { ticket: tamperSubject(good, 'mallory') }), 401, 'BROKER.TICKET.INVALID', 'a changed subject');
        assertRefusal(await p.call('/api/metadata/objects', { ticket: 'not-a-ticket' }), 401, 'BROKER.TICKET.INVALID', 'garbage');
      });
    },
  },
  {
    name: "another subject's job handle is refused (403 BROKER.JOB.FORBIDDEN)",
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const alice = await p.ticket({ subject: unique('alice') });
        const bob = await p.ticket({ subject: unique('bob') });
        const created = assertOk(await p.call('/api/import-jobs', { method: 'POST', ticket: alice, body: JOB }), 'create');
        const handle = created.jobId;
        assert(typeof handle === 'string' && handle.startsWith('imp_') && handle.includes('.'), `a signed handle: ${handle}`);
        const mine = assertOk(await p.call(`/api/import-jobs/${handle}`, { ticket: alice }), "the owner's status");
        assertEqual(mine.state, 'pending', 'state');
        assertRefusal(await p.call(`/api/import-jobs/${handle}`, { ticket: bob }), 403, 'BROKER.JOB.FORBIDDEN', "another subject's status");
        assertRefusal(
          await p.call(`/api/import-jobs/${handle}/mapping`, { method: 'POST', ticket: bob, body: PEOPLE_MAPPING }),
          403,
          'BROKER.JOB.FORBIDDEN',
          "another subject's mapping",
        );
        assertRefusal(await p.call(`/api/import-jobs/${handle}/start`, { method: 'POST', ticket: bob, body: {} }), 403, 'BROKER.JOB.FORBIDDEN', "another subject's start");
        assertRefusal(await p.call(`/api/import-jobs/${handle}/errors`, { ticket: bob }), 403, 'BROKER.JOB.FORBIDDEN', "another subject's errors");
        const bare = handle.split('.')[0];
        const forged = await p.call(`/api/import-jobs/${bare}.${'A'.repeat(43)}`, { ticket: alice });
        assert(forged.status >= 400 && forged.status < 500, `a forged handle is refused: ${forged.status}`);
        const raw = await p.call(`/api/import-jobs/${bare}`, { ticket: alice });
        assert(raw.status >= 400 && raw.status < 500, `a bare job id is refused: ${raw.status}`);
      });
    },
  },
  {
    name: 'an object outside the ticket or the policy is refused (403 BROKER.POLICY.OBJECT_NOT_ALLOWED)',
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const narrow = await p.ticket({ subject: unique('olga'), objects: ['profiles'] });
        assertOk(await p.call('/api/import-jobs', { method: 'POST', ticket: narrow, body: JOB }), 'an allowed object');
        assertRefusal(
          await p.call('/api/import-jobs', { method: 'POST', ticket: narrow, body: { ...JOB, objectName: 'orders' } }),
          403,
          'BROKER.POLICY.OBJECT_NOT_ALLOWED',
          "an object outside the ticket's",
        );
        const wide = await p.ticket({ subject: unique('olga') });
        assertOk(await p.call('/api/import-jobs', { method: 'POST', ticket: wide, body: { ...JOB, objectName: 'orders' } }), "an object of the policy's");
        assertRefusal(
          await p.call('/api/import-jobs', { method: 'POST', ticket: wide, body: { ...JOB, objectName: 'accounts' } }),
          403,
          'BROKER.POLICY.OBJECT_NOT_ALLOWED',
          "an object outside the policy's",
        );
      });
    },
  },
  {
    name: "a file over the ticket's or the policy's limit is refused (413 BROKER.POLICY.FILE_TOO_LARGE)",
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const small = await p.ticket({ subject: unique('fred'), maxFileSize: 1000 });
        assertOk(await p.call('/api/import-jobs', { method: 'POST', ticket: small, body: { ...JOB, fileSize: 1000 } }), 'at the limit');
        assertRefusal(
          await p.call('/api/import-jobs', { method: 'POST', ticket: small, body: { ...JOB, fileSize: 5000 } }),
          413,
          'BROKER.POLICY.FILE_TOO_LARGE',
          "over the ticket's limit",
        );
        const any = await p.ticket({ subject: unique('fred') });
        assertRefusal(
          await p.call('/api/import-jobs', { method: 'POST', ticket: any, body: { ...JOB, fileSize: 2_000_000 } }),
          413,
          'BROKER.POLICY.FILE_TOO_LARGE',
          "over the policy's 1 MB",
        );
      });
    },
  },
  {
    name: 'the `custom` import mode and createList are refused (403 BROKER.POLICY.IMPORT_MODE_NOT_ALLOWED / OPTION_NOT_ALLOWED)',
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const t = await p.ticket({ subject: unique('cora') });
        const { jobId } = assertOk(await p.call('/api/import-jobs', { method: 'POST', ticket: t, body: JOB }), 'create');
        assertRefusal(
          await p.call(`/api/import-jobs/${jobId}/mapping`, { method: 'POST', ticket: t, body: { ...PEOPLE_MAPPING, importMode: 'custom' } }),
          403,
          'BROKER.POLICY.IMPORT_MODE_NOT_ALLOWED',
          'importMode custom',
        );
        assertRefusal(
          await p.call('/api/import-jobs', { method: 'POST', ticket: t, body: { ...JOB, createList: true, listName: 'x' } }),
          403,
          'BROKER.POLICY.OPTION_NOT_ALLOWED',
          'createList',
        );
      });
    },
  },
  {
    name: 'an origin not allowed is refused (403 BROKER.CORS.ORIGIN_NOT_ALLOWED), and a page there cannot read answers',
    async fn(ctx) {
      const ticket = await withPage(ctx, (p) => p.ticket({ subject: unique('otto') }));
      const evil = 'http://evil.example';
      const refused = await fetch(`${ctx.broker}/api/metadata/objects`, { headers: { origin: evil, authorization: `Bearer ${ticket}` } });
      const body = await refused.json();
      assertEqual(refused.status, 403, 'status');
      assertEqual(body.error?.code, 'BROKER.CORS.ORIGIN_NOT_ALLOWED', 'error.code');
      assertEqual(refused.headers.get('access-control-allow-origin'), null, 'no Access-Control-Allow-Origin for it');
      const preflight = await fetch(`${ctx.broker}/api/import-jobs`, {
        method: 'OPTIONS',
        headers: { origin: evil, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      assertEqual(preflight.headers.get('access-control-allow-origin'), null, 'a preflight from it gets no Access-Control-Allow-Origin');
      const allowed = await fetch(`${ctx.broker}/api/import-jobs`, {
        method: 'OPTIONS',
        headers: { origin: ctx.pageOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      assert(allowed.status >= 200 && allowed.status < 300, `the allowed origin's preflight: ${allowed.status}`);
      assertEqual(allowed.headers.get('access-control-allow-origin'), ctx.pageOrigin, "the allowed origin's preflight");
      // The same test page, served from http://localhost:PORT: another origin.
      await withPage(
        ctx,
        async (p) => {
          const answer = await p.call('/api/metadata/objects', { ticket });
          assert(answer.failed, `the browser must refuse the answer: ${JSON.stringify(answer).slice(0, 200)}`);
        },
        { origin: `http://localhost:${ctx.pagePort}` },
      );
    },
  },
  {
    name: 'the per-subject rate limit answers 429 BROKER.RATE.LIMITED with Retry-After',
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const t = await p.ticket({ subject: unique('rita') });
        for (let i = 1; i <= 3; i++) assertOk(await p.call('/limited/metadata/objects', { ticket: t }), `request ${i} of 3`);
        const limited = await p.call('/limited/metadata/objects', { ticket: t });
        assertRefusal(limited, 429, 'BROKER.RATE.LIMITED', 'request 4');
        const retryAfter = Number(limited.headers['retry-after']);
        assert(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After readable by the page, whole seconds ≥ 1: ${limited.headers['retry-after']}`);
        const other = await p.ticket({ subject: unique('sam') });
        assertOk(await p.call('/limited/metadata/objects', { ticket: other }), 'another subject is not limited');
      });
    },
  },
  {
    name: 'an expired upstream token is refreshed once for concurrent calls, transparently',
    async fn(ctx) {
      const wait = ctx.expiredTokenExpiredAt - Date.now();
      if (wait > 0) await sleep(wait);
      const before = (await upstream(ctx)).expiring;
      assertEqual(before.tokenRequests, 0, 'no token request before the first call');
      await withPage(ctx, async (p) => {
        const t = await p.ticket({ subject: unique('zoe') });
        const answers = await p.evaluate(
          ([url, ticket]) => Promise.all(Array.from({ length: 5 }, () => globalThis.brokerTest.call(url, { ticket }))),
          [`${ctx.broker}/expiring/metadata/objects`, t],
        );
        answers.forEach((a, i) => assertOk(a, `concurrent call ${i + 1}`));
      });
      const after = (await upstream(ctx)).expiring;
      assertEqual(after.tokenRequests, 1, 'token requests');
      assertEqual(after.authorizations[0], `Bearer ${ctx.secrets.expiredToken}`, 'the given token was tried first');
      assertEqual(after.authorizations.length, 2, 'workspace tokens used (the expired one, then one fresh)');
      assert(after.apiRequests >= 6, `the refused calls were retried: ${after.apiRequests} API requests`);
    },
  },
  {
    name: "unknown routes and methods get the broker's codes (404 BROKER.ROUTE.NOT_FOUND, 405 BROKER.ROUTE.METHOD_NOT_ALLOWED)",
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const t = await p.ticket({ subject: unique('rob') });
        // Preflights pass for any path under the base path, so the page
        // reads the broker's own codes.
        assertRefusal(await p.call('/api/lists', { ticket: t }), 404, 'BROKER.ROUTE.NOT_FOUND', 'GET /lists from the page');
        assertRefusal(await p.call('/api/import-jobs/x/y/z', { ticket: t }), 404, 'BROKER.ROUTE.NOT_FOUND', 'GET /import-jobs/x/y/z from the page');
        assertRefusal(await p.call('/api/import-jobs', { method: 'GET', ticket: t }), 405, 'BROKER.ROUTE.METHOD_NOT_ALLOWED', 'GET /import-jobs from the page');
        // A method a preflight does not list is still refused by the browser;
        // asked from here, it gets 405 with the broker's code.
        const del = await fetch(`${ctx.broker}/api/import-jobs`, { method: 'DELETE', headers: { origin: ctx.pageOrigin, authorization: `Bearer ${t}` } });
        const body = await del.json();
        assertRefusal({ status: del.status, body }, 405, 'BROKER.ROUTE.METHOD_NOT_ALLOWED', 'DELETE /import-jobs');
      });
    },
  },
  {
    name: "an authorize hook (the app's own sessions) grants a subject and objects; tickets still work without it",
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const who = unique('sue');
        const session = `session:${who}`;
        const created = assertOk(await p.call('/session/import-jobs', { method: 'POST', ticket: session, body: JOB }), 'create with a session');
        assertOk(await p.call(`/session/import-jobs/${created.jobId}`, { ticket: session }), 'status with the same session');
        assertRefusal(await p.call(`/session/import-jobs/${created.jobId}`, { ticket: `session:${unique('sid')}` }), 403, 'BROKER.JOB.FORBIDDEN', "another session's job");
        assertRefusal(
          await p.call('/session/import-jobs', { method: 'POST', ticket: session, body: { ...JOB, objectName: 'orders' } }),
          403,
          'BROKER.POLICY.OBJECT_NOT_ALLOWED',
          "an object outside the hook's grant",
        );
        const ticket = await p.ticket({ subject: who });
        assertOk(await p.call(`/session/import-jobs/${created.jobId}`, { ticket }), "a ticket of the same subject (the hook answered null)");
        assertRefusal(await p.call('/session/metadata/objects'), 401, 'BROKER.TICKET.MISSING', 'neither a session nor a ticket');
      });
    },
  },
  {
    name: 'an API that refuses the broker or cannot be reached gives 502 BROKER.UPSTREAM.AUTH_FAILED / UNREACHABLE',
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const t = await p.ticket({ subject: unique('ursula') });
        const badcreds = await p.call('/badcreds/metadata/objects', { ticket: t });
        assertRefusal(badcreds, 502, 'BROKER.UPSTREAM.AUTH_FAILED', 'a wrong client secret');
        const emulatorHost = new URL(ctx.emulator).host;
        assertGenericMessage(badcreds, 'a wrong client secret', [emulatorHost, '/oauth/token']);
        const down = await p.call('/down/metadata/objects', { ticket: t });
        assertRefusal(down, 502, 'BROKER.UPSTREAM.UNREACHABLE', 'nothing listening');
        assertGenericMessage(down, 'nothing listening', ['127.0.0.1', ':9/']);
      });
      const logs = await upstream(ctx);
      assert(logs.badcreds.tokenRequests >= 1, 'the broker asked for a token');
      assertEqual(logs.badcreds.apiRequests, 0, 'no API call without a token');
    },
  },
  {
    name: "the API's own answers keep their envelope, status and x-correlation-id",
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const t = await p.ticket({ subject: unique('ann') });
        const list = await p.call('/api/metadata/objects', { ticket: t });
        const data = assertOk(list, 'GET /metadata/objects');
        const names = (data.items ?? data).map((o) => o.name ?? o.objectName);
        assert(names.includes('profiles'), `profiles is listed: ${names}`);
        assert(/^[0-9a-f-]{36}$/.test(list.headers['x-correlation-id'] ?? ''), `x-correlation-id readable by the page: ${list.headers['x-correlation-id']}`);
        assertEqual(list.body.correlationId, list.headers['x-correlation-id'], 'correlationId matches the header');
        const { jobId } = assertOk(await p.call('/api/import-jobs', { method: 'POST', ticket: t, body: JOB }), 'create');
        const early = await p.call(`/api/import-jobs/${jobId}/start`, { method: 'POST', ticket: t, body: {} });
        assertEqual(early.status, 409, `start before the upload: status (body ${JSON.stringify(early.body).slice(0, 200)})`);
        assertEqual(early.body?.error?.code, 'CDP_ETL.JOB.STATE_CONFLICT', "the API's code");
        assertEqual(early.body.correlationId, early.headers['x-correlation-id'], "the error's correlationId matches the header");
      });
    },
  },
  {
    name: 'a chunked body just over 1 MiB (no Content-Length) is refused with 413 BROKER.REQUEST.TOO_LARGE, and the broker stays up',
    async fn(ctx) {
      const t = await nodeTicket(ctx, { subject: unique('bea') });
      const headers = { authorization: `Bearer ${t}`, 'content-type': 'application/json' };
      const big = await chunkedPost(`${ctx.broker}/api/import-jobs`, headers, 1024 * 1024 + 1);
      assertRefusal(big, 413, 'BROKER.REQUEST.TOO_LARGE', 'a chunked body of 1 MiB + 1 byte');
      const small = await chunkedPost(`${ctx.broker}/api/import-jobs`, headers, 1024);
      assertRefusal(small, 400, 'CDP_ETL.VALIDATION.REQUEST_INVALID', 'a chunked body of 1 KiB of spaces (read, then refused as not JSON)');
      const after = await fetch(`${ctx.broker}/api/metadata/objects`, { headers: { authorization: `Bearer ${t}` } });
      assertEqual(after.status, 200, 'the broker answers afterwards');
    },
  },
  {
    name: 'every broker answer carries X-Content-Type-Options: nosniff',
    async fn(ctx) {
      const t = await nodeTicket(ctx, { subject: unique('nina') });
      const answers = {
        'a forwarded answer': await fetch(`${ctx.broker}/api/metadata/objects`, { headers: { authorization: `Bearer ${t}` } }),
        'a refusal': await fetch(`${ctx.broker}/api/metadata/objects`),
        'an unknown route': await fetch(`${ctx.broker}/api/nowhere`, { headers: { authorization: `Bearer ${t}` } }),
        'a preflight': await fetch(`${ctx.broker}/api/import-jobs`, {
          method: 'OPTIONS',
          headers: { origin: ctx.pageOrigin, 'access-control-request-method': 'POST' },
        }),
        'a CORS refusal': await fetch(`${ctx.broker}/api/metadata/objects`, { headers: { origin: 'http://evil.example' } }),
        'a 502': await fetch(`${ctx.broker}/down/metadata/objects`, { headers: { authorization: `Bearer ${t}` } }),
      };
      for (const [what, r] of Object.entries(answers)) {
        await r.arrayBuffer();
        assertEqual(r.headers.get('x-content-type-options'), 'nosniff', what);
      }
    },
  },
  {
    name: 'upstream redirects are not followed: the workspace token and the client secret never reach another host',
    async fn(ctx) {
      const before = ctx.elsewhere.seen.length;
      await withPage(ctx, async (p) => {
        const t = await p.ticket({ subject: unique('rex') });
        const api = await p.call('/redirected/metadata/objects', { ticket: t });
        assertRefusal(api, 502, 'BROKER.UPSTREAM.UNREACHABLE', 'an API answering 302');
        assertGenericMessage(api, 'an API answering 302', [new URL(ctx.redirector).host, new URL(ctx.elsewhere.url).host]);
        const created = await p.call('/redirected/import-jobs', { method: 'POST', ticket: t, body: JOB });
        assertRefusal(created, 502, 'BROKER.UPSTREAM.UNREACHABLE', 'an API answering 307 to a POST');
        const token = await p.call('/redirectedauth/metadata/objects', { ticket: t });
        assertRefusal(token, 502, 'BROKER.UPSTREAM.AUTH_FAILED', 'a token endpoint answering 307');
        assertGenericMessage(token, 'a token endpoint answering 307', [new URL(ctx.redirector).host, new URL(ctx.elsewhere.url).host]);
      });
      const reached = ctx.elsewhere.seen.slice(before);
      assertEqual(JSON.stringify(reached), '[]', 'requests that reached the other host');
      const logs = await upstream(ctx);
      assert(logs.redirected.apiRequests >= 2, `the broker did call its API (which redirected): ${logs.redirected.apiRequests}`);
      assert(logs.redirectedauth.tokenRequests >= 1, 'the broker did call its token endpoint (which redirected)');
      assertEqual(logs.redirectedauth.apiRequests, 0, 'no API call without a token');
    },
  },
  {
    name: "the metadata routes honour the allowed objects: the list is filtered, another object's schema is 403",
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const narrow = await p.ticket({ subject: unique('mo'), objects: ['profiles'] });
        const names = (answer) => {
          const data = assertOk(answer, 'GET /metadata/objects');
          return (data.items ?? data).map((o) => o.objectName).sort().join();
        };
        assertEqual(names(await p.call('/api/metadata/objects', { ticket: narrow })), 'profiles', "objects listed for a ticket narrowed to profiles");
        assertOk(await p.call('/api/metadata/objects/profiles', { ticket: narrow }), 'the schema of an allowed object');
        assertRefusal(await p.call('/api/metadata/objects/orders', { ticket: narrow }), 403, 'BROKER.POLICY.OBJECT_NOT_ALLOWED', "the schema of an object outside the ticket's");
        const wide = await p.ticket({ subject: unique('mo') });
        assertEqual(names(await p.call('/api/metadata/objects', { ticket: wide })), 'orders,profiles', "objects listed under the policy's two");
        assertRefusal(await p.call('/api/metadata/objects/accounts', { ticket: wide }), 403, 'BROKER.POLICY.OBJECT_NOT_ALLOWED', "an object outside the policy's");
      });
    },
  },
  {
    name: 'policy.fields: a mapping that writes a field outside the allowlist is refused (403 BROKER.POLICY.FIELD_NOT_ALLOWED) before forwarding',
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const t = await p.ticket({ subject: unique('fay') });
        const { jobId } = assertOk(await p.call('/static/import-jobs', { method: 'POST', ticket: t, body: JOB }), 'create');
        const before = (await upstream(ctx)).static.apiRequests;
        const bad = { ...PEOPLE_MAPPING, fieldMap: { ...PEOPLE_MAPPING.fieldMap, FirstName: 'lifetime_value' } };
        const refused = await p.call(`/static/import-jobs/${jobId}/mapping`, { method: 'POST', ticket: t, body: bad });
        assertRefusal(refused, 403, 'BROKER.POLICY.FIELD_NOT_ALLOWED', 'a destination outside policy.fields');
        assertEqual(refused.body.error.details?.destination, 'lifetime_value', 'details.destination');
        assertEqual((await upstream(ctx)).static.apiRequests, before, 'nothing was forwarded');
        assertOk(await p.call(`/static/import-jobs/${jobId}/mapping`, { method: 'POST', ticket: t, body: PEOPLE_MAPPING }), 'the allowed mapping');
      });
    },
  },
  {
    name: 'ticketAudience: a ticket minted for another audience is refused (401 BROKER.TICKET.INVALID)',
    async fn(ctx) {
      await withPage(ctx, async (p) => {
        const subject = unique('stan');
        const staging = await p.ticket({ subject, audience: 'staging' });
        const plain = await p.ticket({ subject });
        assertOk(await p.call('/staging/metadata/objects', { ticket: staging }), 'a staging ticket at the staging broker');
        assertRefusal(await p.call('/staging/metadata/objects', { ticket: plain }), 401, 'BROKER.TICKET.INVALID', 'a default-audience ticket at the staging broker');
        assertRefusal(await p.call('/api/metadata/objects', { ticket: staging }), 401, 'BROKER.TICKET.INVALID', 'a staging ticket at a default-audience broker');
      });
    },
  },
];
