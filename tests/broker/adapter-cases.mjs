// Cases of the Node adapter (`js/node-adapter.js`, shipped as `import-uploader/node`) on its own, run by the
// Node broker suite: a real `http` server around small fetch-style handlers,
// called with Node's fetch and raw sockets.

import { createServer, request as httpRequest } from 'node:http';
import { createHash } from 'node:crypto';

import { assert, assertEqual } from '../js/harness.mjs';
import { toNodeListener } from '../../js/node-adapter.js';

/**
 * Serves `handler` on 127.0.0.1:0 for the duration of `fn(baseUrl,
 * socketBytes)`; `socketBytes()` is how many bytes the server has read from
 * its sockets so far.
 */
async function serving(handler, fn, options) {
  const server = createServer(toNodeListener(handler, options));
  let read = 0;
  server.on('connection', (socket) => socket.on('data', (d) => (read += d.length)));
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`, () => read);
  } finally {
    server.closeAllConnections?.();
    await new Promise((ok) => server.close(ok));
  }
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const MiB = 1024 * 1024;

/**
 * Sends `size` bytes to `url` with chunked transfer encoding (or with
 * `contentLength`), as fast as the socket takes them, until answered.
 * Resolves to `{ status, body, written }`, or `{ error, written }` when the
 * connection ends first.
 */
function streamTo(url, size, { contentLength } = {}) {
  return new Promise((ok) => {
    let written = 0;
    let answered = false;
    const headers = contentLength === undefined ? { 'transfer-encoding': 'chunked' } : { 'content-length': contentLength };
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body, written }));
      res.on('error', (e) => ok({ error: e.message, written }));
    });
    req.on('error', (e) => {
      if (!answered) ok({ error: e.message, written });
    });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const write = () => {
      while (written < size && !answered && !req.destroyed) {
        const n = Math.min(chunk.length, size - written);
        written += n;
        if (!req.write(chunk.subarray(0, n))) return req.once('drain', write);
      }
      if (!answered && !req.destroyed) req.end();
    };
    write();
  });
}

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
        { maxBodySize: 16 * 1024 * 1024 },
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
  {
    name: 'node adapter: bodies over maxBodySize (default 1 MiB) are answered 413 and not read further, chunked or declared; the server stays up',
    async fn() {
      let calls = 0;
      let seen = 0;
      let readError = null;
      await serving(
        async (req) => {
          calls += 1;
          // A handler that would buffer everything it is given.
          const reader = req.body.getReader();
          let mine = 0;
          try {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              mine += value.byteLength;
            }
          } catch (e) {
            readError = e;
          }
          seen = mine;
          return new Response(`read ${mine}`);
        },
        async (base, socketBytes) => {
          // Just over the limit, chunked.
          const over = await streamTo(`${base}/x`, MiB + 1);
          assertEqual(over.status, 413, `1 MiB + 1 chunked: status (${over.error ?? over.body})`);
          assertEqual(JSON.parse(over.body).error.code, 'BROKER.REQUEST.TOO_LARGE', 'code');
          assert(seen <= MiB, `the handler was given ${seen} bytes`);
          assert(readError !== null, "the handler's read failed at the limit");
          // At the limit: fine.
          const at = await streamTo(`${base}/x`, MiB);
          assertEqual(at.status, 200, 'exactly 1 MiB');
          assertEqual(at.body, `read ${MiB}`, 'the handler read it all');
          // A large stream: refused early, the rest never read.
          const before = socketBytes();
          const huge = await streamTo(`${base}/x`, 256 * MiB);
          assert(huge.status === 413 || huge.error, `256 MiB chunked: ${huge.status ?? huge.error}`);
          const read = socketBytes() - before;
          assert(read < 8 * MiB, `the server read ${read} bytes of a 256 MiB body (the client wrote ${huge.written})`);
          // A declared Content-Length over the limit: refused before the handler runs.
          const callsBefore = calls;
          const declared = await streamTo(`${base}/x`, 2 * MiB, { contentLength: 2 * MiB });
          assert(declared.status === 413 || declared.error, `a declared 2 MiB: ${declared.status ?? declared.error}`);
          assertEqual(calls, callsBefore, 'the handler was not called');
          const after = await fetch(`${base}/x`, { method: 'POST', body: 'small' });
          assertEqual(await after.text(), 'read 5', 'the server answers afterwards');
        },
      );
    },
  },
];
