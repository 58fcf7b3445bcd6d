// Cases of the Node adapter (`js/node-adapter.js`, shipped as `import-uploader/node`) on its own, run by the
// Node broker suite: a real `http` server around small fetch-style handlers,
// called with Node's fetch and raw sockets.

import { createServer, request as httpRequest } from 'node:http';
import { createHash } from 'node:crypto';

import { assert, assertEqual } from '../js/harness.mjs';
import { toNodeListener } from '../../js/node-adapter.js';

/** Serves `handler` on 127.0.0.1:0 for the duration of `fn(baseUrl)`. */
async function serving(handler, fn, options) {
  const server = createServer(toNodeListener(handler, options));
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`);
  } finally {
    server.closeAllConnections?.();
    await new Promise((ok) => server.close(ok));
  }
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

export const adapterCases = [
  {
    name: 'node adapter: method, URL, headers and a streamed 8 MiB body reach the handler; the answer streams back',
    async fn() {
      const body = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 31) % 251);
      await serving(
        async (req) => {
          const url = new URL(req.url);
          const got = new Uint8Array(await req.arrayBuffer());
          const headers = new Headers({ 'x-method': req.method, 'x-path': `${url.pathname}${url.search}`, 'x-sum': sha256(got) });
          headers.append('set-cookie', 'a=1; Path=/');
          headers.append('set-cookie', 'b=2; Path=/');
          headers.set('x-seen', req.headers.get('x-test') ?? '');
          // Answer the same bytes as a stream of 64 KiB chunks.
          let offset = 0;
          const stream = new ReadableStream({
            pull(controller) {
              if (offset >= got.length) return controller.close();
              controller.enqueue(got.subarray(offset, offset + 65536));
              offset += 65536;
            },
          });
          return new Response(stream, { status: 201, headers });
        },
        async (base) => {
          const r = await fetch(`${base}/echo/x?y=1`, { method: 'PUT', body, headers: { 'x-test': 'hello' } });
          assertEqual(r.status, 201, 'status');
          assertEqual(r.headers.get('x-method'), 'PUT', 'method');
          assertEqual(r.headers.get('x-path'), '/echo/x?y=1', 'path and query');
          assertEqual(r.headers.get('x-seen'), 'hello', 'a request header');
          assertEqual(r.headers.get('x-sum'), sha256(body), 'the body the handler read');
          assertEqual(r.headers.getSetCookie().join(' | '), 'a=1; Path=/ | b=2; Path=/', 'Set-Cookie headers kept apart');
          const back = new Uint8Array(await r.arrayBuffer());
          assertEqual(sha256(back), sha256(body), 'the streamed answer');
        },
      );
    },
  },
  {
    name: "node adapter: a handler's exception is a bare 500; a client that goes away aborts the request's signal",
    async fn() {
      let aborted;
      const seen = new Promise((ok) => {
        aborted = ok;
      });
      const errors = [];
      await serving(
        async (req) => {
          if (new URL(req.url).pathname === '/throw') throw new Error('secret detail');
          req.signal.addEventListener('abort', () => aborted(true));
          await new Promise((ok) => setTimeout(ok, 5000));
          return new Response('late');
        },
        async (base) => {
          const r = await fetch(`${base}/throw`);
          assertEqual(r.status, 500, 'status');
          const text = await r.text();
          assert(!text.includes('secret detail'), `the error stays on the server: ${text}`);
          assertEqual(errors.length, 1, 'onError saw it');
          const req = httpRequest(`${base}/slow`);
          req.on('error', () => {});
          req.end();
          await new Promise((ok) => setTimeout(ok, 200));
          req.destroy();
          const result = await Promise.race([seen, new Promise((ok) => setTimeout(() => ok(false), 3000))]);
          assertEqual(result, true, "the handler's request.signal aborted");
        },
        { onError: (e) => errors.push(e) },
      );
    },
  },
];
