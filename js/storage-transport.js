// One HTTP request to storage, for the upload engine (src/upload/transport.rs).
//
// Written in JavaScript rather than Rust because it is nothing but calls
// into XMLHttpRequest and fetch: the same code compiled to WebAssembly (its
// event closures, promise plumbing and header handling) was ~6 KB gzip of
// the package, this is under 1 KB. The rules it follows are the engine's:
// storage requests carry only the pre-signed URL, the job's headers and the
// protocol's own headers; no credentials (fetch's default `same-origin`
// sends none cross-origin, and XHR is used without `withCredentials`).
//
// `sendStorage(method, url, headers, body, signal, onBytes, useXhr, customFetch)`
//   headers      [name, value, name, value, …]
//   body         a Blob, a Uint8Array or a string
//   onBytes      undefined, or called with the bytes of the body sent so far
//                (XHR only)
//   useXhr       send with XMLHttpRequest (byte-level progress)
//   customFetch  undefined, or the `fetch` to use instead of globalThis.fetch
// resolves with [status, [name, value, …], body text], keeping only the
// response headers in KEPT (lower-case names); rejects with [message] or
// [prefix, error] (the engine appends its description of `error`).

const KEPT = [
  "retry-after",
  "range",
  "etag",
  "content-md5",
  "x-ms-error-code",
  "x-ms-request-id",
  "x-amz-request-id",
  "x-guploader-uploadid",
];

export function sendStorage(method, url, headers, body, signal, onBytes, useXhr, customFetch) {
  return useXhr
    ? sendXhr(method, url, headers, body, signal, onBytes)
    : sendFetch(method, url, headers, body, signal, customFetch);
}

async function sendFetch(method, url, headers, body, signal, customFetch) {
  let h, request, response;
  try {
    h = new Headers();
  } catch (e) {
    throw ["", e];
  }
  for (let i = 0; i < headers.length; i += 2) {
    try {
      h.set(headers[i], headers[i + 1]);
    } catch (e) {
      throw ["header `" + headers[i] + "`: ", e];
    }
  }
  try {
    request = new Request(url, { method, headers: h, body, signal });
    response = await (customFetch ? customFetch(request) : globalThis.fetch(request));
  } catch (e) {
    throw ["", e];
  }
  if (!(response instanceof Response)) {
    throw ["fetch did not resolve to a Response"];
  }
  const kept = [];
  for (const name of KEPT) {
    const v = response.headers.get(name);
    if (v !== null) kept.push(name, v);
  }
  let text;
  try {
    text = await response.text();
  } catch (e) {
    throw ["", e];
  }
  return [response.status, kept, text];
}

function sendXhr(method, url, headers, body, signal, onBytes) {
  let xhr;
  try {
    xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
  } catch (e) {
    return Promise.reject(["", e]);
  }
  for (let i = 0; i < headers.length; i += 2) {
    try {
      xhr.setRequestHeader(headers[i], headers[i + 1]);
    } catch (e) {
      return Promise.reject(["header `" + headers[i] + "`: ", e]);
    }
  }
  return new Promise((resolve, reject) => {
    const abort = () => xhr.abort();
    const done = () => {
      // Detach every listener once the request settles.
      signal.removeEventListener("abort", abort);
      xhr.onload = xhr.onerror = xhr.onabort = xhr.ontimeout = null;
      if (xhr.upload) xhr.upload.onprogress = null;
    };
    const fail = (why) => () => {
      done();
      reject(["XMLHttpRequest: ", why]);
    };
    xhr.onload = () => {
      done();
      if (xhr.status === 0) {
        reject(["XMLHttpRequest ended without a status (connection or CORS failure)"]);
        return;
      }
      // All the headers the page may read, in one string: asking for a
      // header CORS does not expose (getResponseHeader) logs an error in
      // the console.
      const kept = [];
      for (const line of xhr.getAllResponseHeaders().split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        if (KEPT.includes(name)) kept.push(name, line.slice(colon + 1).trim());
      }
      resolve([xhr.status, kept, xhr.responseText || ""]);
    };
    xhr.onerror = fail("the connection failed");
    xhr.onabort = fail("aborted");
    xhr.ontimeout = fail("timed out");
    if (onBytes && xhr.upload) xhr.upload.onprogress = (e) => onBytes(e.loaded);
    signal.addEventListener("abort", abort);
    try {
      xhr.send(body);
    } catch (e) {
      done();
      reject(["XMLHttpRequest: ", e]);
    }
  });
}
