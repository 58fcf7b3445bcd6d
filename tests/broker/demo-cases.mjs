// The demo page's smoke test (run by the Node broker suite): starts the
// demo's server (`www/server.mjs`: the broker in front of the emulator, the
// page, the package, a ticket endpoint) on an ephemeral port, opens the page
// in Chromium, drops a CSV on it with a synthetic drag-and-drop, and waits
// for `completed` with the expected counts and rejected rows. The page's
// traffic must carry neither the OAuth client secret nor any workspace token
// of the emulator (recognised by the JWT header every token of the emulator
// shares).

import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';

import { assert, assertEqual } from '../js/harness.mjs';
import { listeningUrl, root, stopChild } from './runner.mjs';

/** A CSV of `valid` fresh people and `invalid` bad addresses. */
function csv(valid, invalid) {
  const run = Math.random().toString(36).slice(2, 10);
  const lines = ['email_address,First Name'];
  for (let i = 0; i < valid; i++) lines.push(`demo${i}.${run}@example.com,Demo ${i}`);
  for (let i = 0; i < invalid; i++) lines.push(`broken-${i},Broken ${i}`);
  return `${lines.join('\n')}\n`;
}

/** The JWT header segment of the emulator's OAuth tokens (shared by all). */
async function tokenHeader(ctx) {
  const { clientId, clientSecret } = ctx.settings;
  const response = await fetch(`${ctx.emulator}/oauth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const { access_token: token } = await response.json();
  return `${token.split('.')[0]}.`;
}

/** `POST url` with the given `Host` header (which fetch cannot set): `{ status, body }`. */
function postWithHost(url, host) {
  return new Promise((ok, fail) => {
    const req = httpRequest(url, { method: 'POST', headers: { host, 'content-length': 0 } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => ok({ status: res.statusCode, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** Starts the demo server; resolves to `{ url, child }`. */
async function startDemo(ctx) {
  const { clientId, clientSecret } = ctx.settings;
  const child = spawn(process.execPath, [join(root, 'www', 'server.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, DEMO_API: ctx.emulator, DEMO_ADDR: '127.0.0.1:0', DEMO_CLIENT: `${clientId}:${clientSecret}` },
  });
  try {
    const { url } = await listeningUrl(child, 'the demo server');
    return { url, child };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

export const demoCases = [
  {
    name: "the demo's ticket endpoint answers only its own Host (no DNS rebinding)",
    async fn(ctx) {
      const { url, child } = await startDemo(ctx);
      try {
        const port = new URL(url).port;
        for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
          const r = await postWithHost(`${url}/app/ticket`, host);
          assertEqual(r.status, 200, `Host ${host} (body ${r.body.slice(0, 200)})`);
          assert(typeof JSON.parse(r.body).ticket === 'string', `a ticket for Host ${host}`);
        }
        for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, `localhost:${Number(port) + 1}`]) {
          const r = await postWithHost(`${url}/app/ticket`, host);
          assertEqual(r.status, 403, `Host ${host}`);
          const body = JSON.parse(r.body);
          assertEqual(body.error?.code, 'DEMO.HOST.NOT_ALLOWED', `Host ${host}: code`);
          assert(!('ticket' in body), `no ticket for Host ${host}`);
        }
      } finally {
        await stopChild(child);
      }
    },
  },
  {
    name: 'the demo page imports a dropped CSV through the broker and shows the counts and rejected rows',
    async fn(ctx) {
      const { clientId, clientSecret } = ctx.settings;
      const child = spawn(process.execPath, [join(root, 'www', 'server.mjs')], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, DEMO_API: ctx.emulator, DEMO_ADDR: '127.0.0.1:0', DEMO_CLIENT: `${clientId}:${clientSecret}` },
      });
      const context = await ctx.browser.newContext();
      try {
        const { url } = await listeningUrl(child, 'the demo server');
        const page = await context.newPage();
        const seen = [];
        const pending = [];
        page.on('request', (r) => pending.push(r.allHeaders().then((h) => seen.push({ what: `request ${r.url()}`, text: `${r.url()} ${JSON.stringify(h)} ${r.postData() ?? ''}`, storage: r.url().includes('/storage/'), auth: h.authorization }))));
        page.on('response', (r) =>
          pending.push(
            Promise.all([r.allHeaders(), r.body().catch(() => Buffer.alloc(0))]).then(([h, b]) => seen.push({ what: `response ${r.url()}`, text: `${JSON.stringify(h)} ${b.toString('latin1')}` })),
          ),
        );
        await page.goto(`${url}/`);
        await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 20_000 });
        const objects = await page.$$eval('#objects option', (os) => os.map((o) => o.value));
        assert(objects.includes('profiles') && objects.includes('orders'), `the objects come from /metadata/objects: ${objects}`);
        await page.selectOption('#objects', 'profiles');

        const dataTransfer = await page.evaluateHandle((text) => {
          const dt = new DataTransfer();
          dt.items.add(new File([text], 'people.csv', { type: 'text/csv' }));
          return dt;
        }, csv(25, 3));
        await page.dispatchEvent('#drop', 'drop', { dataTransfer });
        await page.waitForFunction(
          () => ['completed', 'failed'].includes(document.getElementById('state').dataset.state) || document.getElementById('message').className === 'error',
          null,
          { timeout: 40_000 },
        );
        const shown = await page.evaluate(() => ({
          state: document.getElementById('state').dataset.state,
          message: document.getElementById('message').textContent,
          read: document.getElementById('read-rows').textContent,
          valid: document.getElementById('valid-rows').textContent,
          invalid: document.getElementById('invalid-rows').textContent,
          inserted: document.getElementById('merged-inserts').textContent,
          progress: document.getElementById('upload-progress').value,
          progressMax: document.getElementById('upload-progress').max,
          mapping: [...document.querySelectorAll('#mapping tr')].map((tr) => tr.textContent),
        }));
        assertEqual(shown.state, 'completed', `state (message: ${shown.message})`);
        assertEqual(shown.read, '28', 'rows read');
        assertEqual(shown.valid, '25', 'valid rows');
        assertEqual(shown.invalid, '3', 'rejected rows');
        assertEqual(shown.inserted, '25', 'inserted');
        assertEqual(shown.progress, shown.progressMax, 'the progress bar is full');
        await page.waitForFunction(() => document.querySelectorAll('#rejected tr').length === 3, null, { timeout: 10_000 });
        const rejected = await page.$$eval('#rejected tr', (trs) => trs.map((tr) => tr.cells[0].textContent));
        assertEqual(rejected.join(), '26,27,28', 'rejected row numbers');

        let n = -1;
        while (n !== pending.length) {
          n = pending.length;
          await Promise.allSettled(pending.slice());
        }
        const jwtHeader = await tokenHeader(ctx);
        assert(seen.some((e) => e.storage), 'the page uploaded to storage directly');
        for (const e of seen) {
          assert(!e.text.includes(clientSecret), `the client secret appears in the page's ${e.what}`);
          assert(!e.text.includes(jwtHeader), `a workspace token appears in the page's ${e.what}`);
          if (e.storage) assertEqual(e.auth, undefined, `Authorization on ${e.what}`);
        }
      } finally {
        await context.close();
        await stopChild(child);
      }
    },
  },
];
