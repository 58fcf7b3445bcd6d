// Serves a fetch-style handler — `(Request) => Promise<Response>`, such as
// the one `createBroker(options)` returns — with Node's `http` module.
//
// Node 20 has `Request` and `Response` but no server that speaks them
// (Deno has `Deno.serve(handler)`, Workers call `fetch(request, env)`), so
// this file adapts both ways:
//
// * `http.IncomingMessage` → `Request`: the URL from the `Host` header and
//   the request target, the method and every header, and the body as a
//   stream (`duplex: 'half'`, which Node requires for a streamed body), so a
//   large body is never held in memory. When the client goes away before
//   the answer is written, the Request's `signal` aborts.
// * Body limit (`maxBodySize`, default 1 MiB, the broker's own limit): a
//   declared `Content-Length` over it is answered 413 before the handler
//   runs; a body without one (chunked) is counted as it is read, and at the
//   limit the adapter stops reading (the handler's read fails), answers 413
//   whatever the handler answered, and closes the connection rather than
//   read the rest. Only what the handler pulls is read from the socket
//   (back-pressure), so memory stays bounded either way.
// * `Response` → `http.ServerResponse`: status, headers (each `Set-Cookie`
//   kept separate) and the body streamed chunk by chunk, respecting the
//   socket's back-pressure.
//
// A handler that throws answers 500 with a JSON body that says nothing about
// the error (the handler's own refusals are its business; a crash must not
// leak details). The package ships it as `import-uploader/node`; it depends on
// nothing but Node's standard library:
//
//   import { createServer } from 'node:http';
//   import { createBroker } from 'import-uploader';
//   import { toNodeListener } from 'import-uploader/node';
//
//   const handle = createBroker({ apiBaseUrl, token, ticketSecret, allowedOrigins });
//   createServer(toNodeListener(handle)).listen(8788, '127.0.0.1');

import { Readable } from 'node:stream';

/** Methods whose requests have no body. */
const BODYLESS = new Set(['GET', 'HEAD']);
/** Default `maxBodySize`: the broker's own limit (1 MiB). */
export const DEFAULT_MAX_BODY_SIZE = 1024 * 1024;

/** The answer to a body over the limit (the broker's error envelope). */
function tooLarge(limit) {
  return Response.json(
    {
      success: false,
      error: {
        code: 'BROKER.REQUEST.TOO_LARGE',
        message: `The request body is over this server's limit of ${limit} bytes.`,
        details: { maxBytes: limit },
      },
    },
    { status: 413, headers: { connection: 'close', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' } },
  );
}

/**
 * `req` as a web stream that reads only what is pulled and errors past
 * `limit` bytes (calling `onLimit` once, and reading nothing more).
 */
function cappedBody(req, limit, onLimit) {
  let seen = 0;
  let done = false;
  const stop = () => {
    done = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.pause();
  };
  let controller;
  const onData = (chunk) => {
    if (done) return;
    seen += chunk.length;
    if (seen > limit) {
      stop();
      onLimit();
      controller.error(Object.assign(new Error(`request body over ${limit} bytes`), { code: 'BROKER.REQUEST.TOO_LARGE' }));
      return;
    }
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    if (controller.desiredSize <= 0) req.pause();
  };
  const onEnd = () => {
    if (done) return;
    stop();
    controller.close();
  };
  const onError = (e) => {
    if (done) return;
    stop();
    controller.error(e);
  };
  return new ReadableStream(
    {
      start(c) {
        controller = c;
        req.on('data', onData);
        req.on('end', onEnd);
        req.on('error', onError);
        req.pause();
      },
      pull() {
        if (!done) req.resume();
      },
      cancel() {
        stop();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
}

/**
 * The `Request` for a Node request. `origin` overrides the scheme and host
 * (default: `http://` + the `Host` header); give it behind a TLS-terminating
 * proxy, e.g. `https://uploads.example.com`. With `maxBodySize`, the body
 * errors past that many bytes and `onBodyLimit()` is called.
 */
export function toRequest(req, { origin, signal, maxBodySize = Infinity, onBodyLimit = () => {} } = {}) {
  const base = origin ?? `http://${req.headers.host ?? 'localhost'}`;
  const headers = new Headers();
  // rawHeaders keeps repeated headers apart; `Headers` joins them as fetch does.
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    // HTTP/2 pseudo-headers (`:path`) are not header names.
    if (!name.startsWith(':')) headers.append(name, req.rawHeaders[i + 1]);
  }
  const method = req.method ?? 'GET';
  const init = { method, headers, signal };
  if (!BODYLESS.has(method)) {
    init.body = Number.isFinite(maxBodySize) ? cappedBody(req, maxBodySize, onBodyLimit) : Readable.toWeb(req);
    init.duplex = 'half';
  }
  return new Request(new URL(req.url ?? '/', base), init);
}

/** Writes `response` to the Node response `res`, streaming its body. */
export async function writeResponse(response, res) {
  const headers = {};
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue;
    headers[name] = value;
  }
  const cookies = response.headers.getSetCookie?.() ?? [];
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // Wait for the socket to drain before reading more (back-pressure).
      if (!res.write(value)) {
        await new Promise((resolve) => {
          const go = () => {
            res.off('drain', go);
            res.off('close', go);
            resolve();
          };
          res.on('drain', go);
          res.on('close', go);
        });
      }
      if (res.destroyed) break;
    }
  } finally {
    if (res.destroyed) await reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  res.end();
}

/**
 * A listener for `http.createServer` that answers every request with
 * `handler(request)`. Options as `toRequest`, plus `maxBodySize` (bytes,
 * default 1 MiB; `Infinity` for none): a larger body is answered 413
 * `BROKER.REQUEST.TOO_LARGE` and not read further. `onError(error)` sees a
 * handler's exceptions (default: ignored; the client gets a bare 500).
 */
export function toNodeListener(handler, { origin, onError, maxBodySize = DEFAULT_MAX_BODY_SIZE } = {}) {
  if (!(maxBodySize >= 0)) throw new TypeError('toNodeListener: maxBodySize must be a number of bytes ≥ 0 (or Infinity)');
  return async (req, res) => {
    const aborter = new AbortController();
    // 'close' on the response fires when it is finished or the client went
    // away; only the latter (not yet finished) aborts the handler's work.
    res.on('close', () => {
      if (!res.writableFinished) aborter.abort();
    });
    let response;
    let overLimit = false;
    const declared = Number(req.headers['content-length']);
    if (!BODYLESS.has(req.method ?? 'GET') && declared > maxBodySize) {
      overLimit = true;
    } else {
      try {
        const onBodyLimit = () => {
          overLimit = true;
        };
        response = await handler(toRequest(req, { origin, signal: aborter.signal, maxBodySize, onBodyLimit }));
      } catch (error) {
        if (!overLimit) onError?.(error);
        response = Response.json(
          { success: false, error: { code: 'INTERNAL', message: 'The server failed to answer.', details: {} } },
          { status: 500 },
        );
      }
    }
    if (overLimit) {
      await response?.body?.cancel().catch(() => {});
      response = tooLarge(maxBodySize);
    }
    // A body left unread (refused early, or not read by the handler) is not
    // drained: the connection closes once the answer is written.
    if (!req.complete && !BODYLESS.has(req.method ?? 'GET')) res.shouldKeepAlive = false;
    try {
      await writeResponse(response, res);
    } catch (error) {
      onError?.(error);
      res.destroy();
    }
  };
}
