// The demo's server in the Node broker suite: starts it (`www/server.mjs`:
// the broker in front of the emulator, the page, the package, a ticket
// endpoint) on an ephemeral port; its ticket endpoint answers only its own
// Host, and its page (`<import-uploader>`) lists the objects through the
// broker, its traffic carrying neither the OAuth client secret nor any
// workspace token of the emulator (recognised by the JWT header every token
// of the emulator shares). Whole imports on the page are the `element`
// suite's (tests/element/).

import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';

import { assert, assertEqual } from '../js/harness.mjs';
import { listeningUrl, root, stopChild } from './runner.mjs';

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
    name: 'the demo page embeds <import-uploader>, which lists the objects through the broker without ever seeing a workspace token',
    async fn(ctx) {
      const { url, child } = await startDemo(ctx);
      const context = await ctx.browser.newContext();
      try {
        const page = await context.newPage();
        const seen = [];
        const pending = [];
        page.on('request', (r) => pending.push(r.allHeaders().then((h) => seen.push({ what: `request ${r.url()}`, text: `${r.url()} ${JSON.stringify(h)} ${r.postData() ?? ''}` }))));
        page.on('response', (r) =>
          pending.push(
            Promise.all([r.allHeaders(), r.body().catch(() => Buffer.alloc(0))]).then(([h, b]) => seen.push({ what: `response ${r.url()}`, text: `${JSON.stringify(h)} ${b.toString('latin1')}` })),
          ),
        );
        await page.goto(`${url}/`);
        await page.waitForFunction(() => document.querySelector('import-uploader')?.dataset.ready === 'true', null, { timeout: 20_000 });
        const objects = await page.$$eval('import-uploader [id$="-object"] option', (os) => os.map((o) => o.value));
        assert(objects.includes('profiles') && objects.includes('orders'), `the objects come from /metadata/objects: ${objects}`);
        let n = -1;
        while (n !== pending.length) {
          n = pending.length;
          await Promise.allSettled(pending.slice());
        }
        assert(seen.some((e) => e.what.includes('/api/metadata/objects')), 'the element asked the broker for the objects');
        const jwtHeader = await tokenHeader(ctx);
        for (const e of seen) {
          assert(!e.text.includes(ctx.settings.clientSecret), `the client secret appears in the page's ${e.what}`);
          assert(!e.text.includes(jwtHeader), `a workspace token appears in the page's ${e.what}`);
        }
      } finally {
        await context.close();
        await stopChild(child);
      }
    },
  },
];
