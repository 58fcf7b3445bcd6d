// The crate's JavaScript: the host plumbing and checks that are nothing but
// calls into the runtime (timers, fetch, XHR, storage APIs, streams,
// property reads), which compiled from Rust took several times the bytes.
// The package build bundles this module into the glue.
//
// One module, on purpose: wasm-bindgen makes each `module = "/js/…"` file a
// module of its own, and unbundled glue (wasm-bindgen-test-runner's pages
// and workers) imports them all at once. The runner's HTTP server
// (tiny_http 0.12) answers a burst of new connections with only the
// threads it had idle, and each thread then stays on its keep-alive
// connection: with more modules than that, some never arrive and the test
// worker never starts ("Failed to detect test as having been run"). One
// module is fetched alone, after the glue. Keep new code here, in its own
// section.

// ---- runtime -------------------------------------------------------------

// What the client needs from its host (src/runtime.rs): a timer that an
// AbortSignal cancels, a monotonic clock, and UUIDs. Reached through the
// global scope only, so one build runs in a page, a worker, Node, Deno and
// workerd. In JavaScript because it is nothing but host calls: compiled
// from Rust, the timer's closures and promise plumbing took several times
// the bytes.

// Resolves after `ms` milliseconds (setTimeout; not finite or negative
// counts as 0), or rejects with the signal's reason when `signal` aborts
// first. The abort listener is removed when the timer fires, so repeated
// sleeps on one long-lived signal leave no listeners behind.
export function sleep(ms, signal) {
  if (signal && signal.aborted) return Promise.reject(signal.reason);
  ms = Number.isFinite(ms) ? Math.max(ms, 0) : 0;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(id);
      reject(signal.reason);
    };
    const id = setTimeout(() => {
      if (signal) signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal) signal.addEventListener("abort", onAbort, { once: true });
  });
}

// Monotonic milliseconds: performance.now() where present, else Date.now().
export function monotonicMs() {
  const perf = globalThis.performance;
  if (perf !== null && typeof perf === "object" && typeof perf.now === "function") {
    const t = perf.now();
    if (typeof t === "number") return t;
  }
  return Date.now();
}

// A random UUID v4: crypto.randomUUID() where present, else built from
// Math.random (an idempotency key, not a secret).
export function uuidV4() {
  const c = globalThis.crypto;
  if (c !== null && typeof c === "object" && typeof c.randomUUID === "function") {
    const s = c.randomUUID();
    if (typeof s === "string") return s;
  }
  const b = [];
  for (let i = 0; i < 16; i++) b.push(Math.floor(Math.random() * 256));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- api fetch -----------------------------------------------------------

// HTTP requests of the API client (src/fetch.rs), through the runtime's own
// fetch (globalThis.fetch, looked up at call time) or one the caller
// supplied. In JavaScript because it is nothing but calls into Headers,
// Request and fetch: compiled from Rust, their bindings took several times
// the bytes. The Rust side turns the failures below into the client's
// errors (and checks the AbortSignal that caused one).
//
// Failures reject with a Failure: `kind` names what failed (src/fetch.rs
// has the same names as an enum), `detail` says more:
//   "header"       a header name or value HTTP does not allow (detail: its name)
//   "token"        the token has characters HTTP does not allow in a header
//   "url"          no Request can be built for the URL (detail: the error)
//   "noResponse"   no response (detail: fetch's error)
//   "notResponse"  fetch resolved to something that is not a Response
//   "headers"      the Headers object cannot be built (detail: the error)
//   "aborted"      the signal had fired before the request was sent
class Failure {
  constructor(kind, detail) {
    this.kind = kind;
    this.detail = detail;
  }
}

// The request sent, awaited, and checked to be a Response.
async function send(request, signal, customFetch) {
  if (signal && signal.aborted) throw new Failure("aborted");
  let response;
  try {
    response = await (customFetch ? customFetch(request) : globalThis.fetch(request));
  } catch (e) {
    throw new Failure("noResponse", e);
  }
  if (!(response instanceof Response)) throw new Failure("notResponse");
  return response;
}

// An API call: `headers` is [name, value, …] (the client's, then the
// call's own); Authorization (Bearer `token`), Accept (unless given) and,
// with a body, Content-Type: application/json are set after them and win.
// Resolves with { status, statusText, correlationId (x-correlation-id),
// retryAfter (retry-after), body (text) } (absent headers as null).
export async function apiFetch(method, url, headers, token, body, signal, customFetch) {
  let h;
  try {
    h = new Headers();
  } catch (e) {
    throw new Failure("headers", e);
  }
  let accept = false;
  for (let i = 0; i < headers.length; i += 2) {
    try {
      h.set(headers[i], headers[i + 1]);
    } catch {
      throw new Failure("header", headers[i]);
    }
    accept ||= headers[i].toLowerCase() === "accept";
  }
  try {
    h.set("Authorization", "Bearer " + token);
  } catch {
    throw new Failure("token");
  }
  if (!accept) h.set("Accept", "application/json");
  const init = { method, headers: h };
  if (body !== undefined) {
    h.set("Content-Type", "application/json");
    init.body = body;
  }
  if (signal) init.signal = signal;
  let request;
  try {
    request = new Request(url, init);
  } catch (e) {
    throw new Failure("url", e);
  }
  const response = await send(request, signal, customFetch);
  let text;
  try {
    text = await response.text();
  } catch (e) {
    throw new Failure("noResponse", e);
  }
  const header = (name) => response.headers.get(name);
  return {
    status: response.status,
    statusText: response.statusText,
    correlationId: header("x-correlation-id"),
    retryAfter: header("retry-after"),
    body: text,
  };
}

// A plain GET of a pre-signed URL (no bearer token): the Response, unread.
export async function getFetch(url, signal, customFetch) {
  let request;
  try {
    request = new Request(url, signal ? { method: "GET", signal } : { method: "GET" });
  } catch (e) {
    throw new Failure("url", e);
  }
  return send(request, signal, customFetch);
}

// ---- storage transport ---------------------------------------------------

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
// resolves with { status, headers: [name, value, …], body (text) }, keeping
// only the response headers in KEPT (lower-case names); rejects with a
// StorageFailure { reason, cause } (the engine appends its description
// of `cause`, when there is one, to `reason`).

class StorageFailure {
  constructor(reason, cause) {
    this.reason = reason;
    this.cause = cause;
  }
}

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
    throw new StorageFailure("", e);
  }
  for (let i = 0; i < headers.length; i += 2) {
    try {
      h.set(headers[i], headers[i + 1]);
    } catch (e) {
      throw new StorageFailure("header `" + headers[i] + "`: ", e);
    }
  }
  try {
    const init = { method, headers: h, body, signal };
    // A file source's stream (src/upload/source.rs).
    if (body instanceof ReadableStream) init.duplex = "half";
    request = new Request(url, init);
    response = await (customFetch ? customFetch(request) : globalThis.fetch(request));
  } catch (e) {
    throw new StorageFailure("", e);
  }
  if (!(response instanceof Response)) {
    throw new StorageFailure("fetch did not resolve to a Response");
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
    throw new StorageFailure("", e);
  }
  return { status: response.status, headers: kept, body: text };
}

function sendXhr(method, url, headers, body, signal, onBytes) {
  let xhr;
  try {
    xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
  } catch (e) {
    return Promise.reject(new StorageFailure("", e));
  }
  for (let i = 0; i < headers.length; i += 2) {
    try {
      xhr.setRequestHeader(headers[i], headers[i + 1]);
    } catch (e) {
      return Promise.reject(new StorageFailure("header `" + headers[i] + "`: ", e));
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
      reject(new StorageFailure("XMLHttpRequest: ", why));
    };
    xhr.onload = () => {
      done();
      if (xhr.status === 0) {
        reject(new StorageFailure("XMLHttpRequest ended without a status (connection or CORS failure)"));
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
      resolve({ status: xhr.status, headers: kept, body: xhr.responseText || "" });
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
      reject(new StorageFailure("XMLHttpRequest: ", e));
    }
  });
}

// ---- resume store --------------------------------------------------------

// Where the upload engine records acknowledged parts (src/upload/resume_store.rs
// documents the backends and the record). In JavaScript because it is
// nothing but calls into storage APIs (a custom store, localStorage,
// IndexedDB): compiled from Rust, their promise plumbing and closures took
// several times the bytes.
//
// openResumeStore(custom) resolves with { name, get(key), set(key, value),
// remove(key) }: `name` is "custom", "localStorage", "indexedDB" or
// "memory"; the methods return promises that never reject (a failed
// storage call reads as nothing and writes nothing: losing the record only
// means sending parts again); `get` resolves with a string or undefined.
// Keys are stored under the prefix "import-uploader:upload:".

const PREFIX = "import-uploader:upload:";
const DB_NAME = "import-uploader";
const DB_STORE = "uploads";

// The in-memory records: they live as long as the loaded module.
const memory = new Map();
// The open IndexedDB database, once opened.
let database;

const text = (v) => (typeof v === "string" ? v : undefined);

// obj[method](...args), awaited when it returns a promise; undefined on
// any failure.
async function call(obj, method, args) {
  try {
    const f = obj[method];
    if (typeof f !== "function") return undefined;
    const v = f.apply(obj, args);
    return v instanceof Promise ? await v : v;
  } catch {
    return undefined;
  }
}

// The result of an IndexedDB request.
function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = resolve;
    req.onerror = reject;
  }).then(() => req.result);
}

async function openDatabase() {
  if (database) return database;
  try {
    const factory = globalThis.indexedDB;
    if (factory === null || typeof factory !== "object") return undefined;
    const req = factory.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      try {
        req.result.createObjectStore(DB_STORE);
      } catch {
        // The open request reports the failure.
      }
    };
    const db = await request(req);
    if (db !== null && typeof db === "object") database = db;
  } catch {
    // No IndexedDB here.
  }
  return database;
}

async function databaseOp(db, mode, method, args) {
  try {
    const store = db.transaction(DB_STORE, mode).objectStore(DB_STORE);
    return await request(store[method](...args));
  } catch {
    return undefined;
  }
}

// A usable localStorage: reading it throws in some contexts (opaque
// origins, disabled storage), and Node 22+ may expose a broken one, so it
// is probed.
function localStore() {
  try {
    const s = globalThis.localStorage;
    if (typeof Storage !== "function" || !(s instanceof Storage)) return undefined;
    const probe = PREFIX + "probe";
    s.setItem(probe, "1");
    s.removeItem(probe);
    return s;
  } catch {
    return undefined;
  }
}

// A store whose three operations are synchronous calls that may throw.
function syncStore(name, get, set, remove) {
  const guard = (f) => async (...args) => {
    try {
      return f(...args);
    } catch {
      return undefined;
    }
  };
  return { name, get: guard(get), set: guard(set), remove: guard(remove) };
}

export async function openResumeStore(custom) {
  if (custom !== undefined && custom !== null) {
    return {
      name: "custom",
      get: async (k) => text(await call(custom, "getItem", [PREFIX + k])),
      set: async (k, v) => void (await call(custom, "setItem", [PREFIX + k, v])),
      remove: async (k) => void (await call(custom, "removeItem", [PREFIX + k])),
    };
  }
  const local = localStore();
  if (local) {
    return syncStore(
      "localStorage",
      (k) => text(local.getItem(PREFIX + k)),
      (k, v) => void local.setItem(PREFIX + k, v),
      (k) => void local.removeItem(PREFIX + k),
    );
  }
  const db = await openDatabase();
  if (db) {
    return {
      name: "indexedDB",
      get: async (k) => text(await databaseOp(db, "readonly", "get", [PREFIX + k])),
      set: async (k, v) => void (await databaseOp(db, "readwrite", "put", [v, PREFIX + k])),
      remove: async (k) => void (await databaseOp(db, "readwrite", "delete", [PREFIX + k])),
    };
  }
  return syncStore(
    "memory",
    (k) => memory.get(PREFIX + k),
    (k, v) => void memory.set(PREFIX + k, v),
    (k) => void memory.delete(PREFIX + k),
  );
}

// ---- options -------------------------------------------------------------

// The option objects of the JS-facing API, checked and normalised before
// the Rust side reads them (src/client/options.rs, src/client/poll.rs,
// src/client/import_file.rs, src/client/error_rows.rs,
// src/upload/options.rs). In JavaScript because it is nothing but property
// reads and type tests: compiled from Rust, each option's checks and
// conversions took several times the bytes.
//
// Each function returns an object: the options, normalised, under their
// own names (absent ones undefined, defaults filled in where noted), which
// the Rust side reads through named getters; and `complaint`: undefined,
// or the first check that failed, a Complaint { order, field, message }.
// The Rust side makes the complaint an ImportError of kind `validation`
// (field null: none). `order` counts the checks in order, so that the few
// checks made in Rust (protocol names, retry policies and request bodies
// belong to import-core and the wire shapes) keep their place among them:
// Rust reports a complaint of JavaScript's only once its own earlier checks
// have passed. A new option is one line here (read and check) and one
// getter on the Rust side.
//
// An option that is undefined, null or unreadable (a getter that throws)
// is absent, and each property is read once, in the documented order.

const present = (v) => v !== undefined && v !== null;
// Property `key` of `o`: undefined when absent, null, or unreadable (`o`
// not an object, or a getter that throws).
const read = (o, key) => {
  try {
    const v = Reflect.get(o, key);
    return present(v) ? v : undefined;
  } catch {
    return undefined;
  }
};
const isObject = (v) => v !== null && typeof v === "object";
const isInstance = (v, name) => {
  try {
    return v instanceof globalThis[name];
  } catch {
    return false;
  }
};

class Complaint {
  constructor(order, field, message) {
    this.order = order;
    this.field = field;
    this.message = message;
  }
}

// Runs `read(o, out, arg)`, which fills `out` and throws a Complaint at the
// first failed check; returns `out`, with the complaint, if any.
function run(read, o, arg) {
  const out = {};
  try {
    read(o, out, arg);
  } catch (e) {
    if (!(e instanceof Complaint)) throw e;
    out.complaint = e;
  }
  return out;
}

function complain(order, field, message) {
  throw new Complaint(order, field, message);
}

// The option `key` of `o`: undefined when absent, else checked by `ok`.
function option(o, key, order, ok, message) {
  const v = read(o, key);
  if (v === undefined) return undefined;
  if (!ok(v)) complain(order, key, message ?? "`" + key + "` must be " + ok.what + ".");
  return v;
}
const string = (v) => typeof v === "string";
string.what = "a string";
const func = (v) => typeof v === "function";
func.what = "a function";
const boolean = (v) => typeof v === "boolean";
boolean.what = "a boolean";
const signal = (v) => isInstance(v, "AbortSignal");
signal.what = "an AbortSignal";
const eventTarget = (v) => isInstance(v, "EventTarget");
eventTarget.what = "an EventTarget";
const nonNegative = (v) => typeof v === "number" && Number.isFinite(v) && v >= 0;
nonNegative.what = "a non-negative number";

// Only Unicode White_Space, as Rust's `str::trim` counts it (JavaScript's
// `trim` also removes U+FEFF and keeps U+0085).
const blank = /^[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;

// A URL without its query and fragment (for messages).
const redact = (url) => url.split(/[?#]/)[0];

// `{ signal?, idempotencyKey? }` of a call → { signal, idempotencyKey }.
export function callOptions(o) {
  return run((o, out) => {
    if (!present(o)) return;
    if (!isObject(o)) complain(0, null, "Call options must be an object: { signal?, idempotencyKey? }.");
    const key = option(o, "idempotencyKey", 1, string);
    if (key !== undefined && !/^[\x20-\x7e]{1,255}$/.test(key)) {
      complain(
        2,
        "idempotencyKey",
        "`idempotencyKey` must be 1 to 255 printable ASCII characters (a UUID v4 is recommended).",
      );
    }
    out.idempotencyKey = key;
    out.signal = option(o, "signal", 3, signal);
  }, o);
}

// `new ImportClient(options)` → { baseUrl (without trailing slashes),
// token, getToken, fetch, headers ([name, value, …] as given), retry
// (unchecked: order 10 is Rust's) }.
export function clientOptions(o) {
  return run((o, out) => {
    if (!isObject(o)) {
      complain(0, null, "ImportClient needs an options object: new ImportClient({ baseUrl, token }).");
    }
    const base = option(o, "baseUrl", 1, string);
    if (base === undefined) {
      complain(
        2,
        "baseUrl",
        "`baseUrl` is required: the API's base URL, e.g. https://api.experiture.ai/public/v1.",
      );
    }
    if (!(base.startsWith("https://") || base.startsWith("http://"))) {
      complain(3, "baseUrl", "`baseUrl` must be an absolute http(s) URL, got `" + redact(base) + "`.");
    }
    out.baseUrl = base.replace(/\/+$/, "");
    const token = option(o, "token", 4, string);
    if (token !== undefined && blank.test(token)) {
      complain(5, "token", "`token` is empty: give the bearer token, or a `getToken` function.");
    }
    out.token = token;
    out.getToken = option(o, "getToken", 6, func);
    if (token === undefined && out.getToken === undefined) {
      complain(
        7,
        "token",
        "`token` or `getToken` is required: the bearer token sent as `Authorization: Bearer …`, or a function returning it.",
      );
    }
    out.fetch = option(o, "fetch", 8, func);
    const h = read(o, "headers");
    const flat = [];
    if (h !== undefined) {
      const bad = () =>
        complain(
          9,
          "headers",
          '`headers` must be an object of string values, e.g. { "x-request-source": "nightly" }.',
        );
      // As JSON carries it (what the requests send).
      let copy;
      try {
        copy = JSON.parse(JSON.stringify(h));
      } catch {
        bad();
      }
      if (!isObject(copy) || Array.isArray(copy)) bad();
      for (const [name, value] of Object.entries(copy)) {
        if (typeof value !== "string") bad();
        flat.push(name, value);
      }
    }
    out.headers = flat;
    out.retry = read(o, "retry");
  }, o);
}

// `waitForCompletion` options → { pollStartMs, pollCapMs, signal, onStatus,
// events }. Order 3 (the cap below the start) is Rust's.
export function waitOptions(o) {
  return run((o, out) => {
    if (!present(o)) return;
    if (!isObject(o)) {
      complain(
        0,
        null,
        "waitForCompletion options must be an object: { signal?, pollStartMs?, pollCapMs?, onStatus?, events? }.",
      );
    }
    out.pollStartMs = option(o, "pollStartMs", 1, nonNegative);
    out.pollCapMs = option(o, "pollCapMs", 2, nonNegative);
    out.signal = option(o, "signal", 4, signal);
    out.onStatus = option(o, "onStatus", 5, func);
    out.events = option(o, "events", 6, eventTarget);
  }, o);
}

// A whole number, 1 or more, that a u64 holds exactly enough.
const count = (v) => typeof v === "number" && Number.isFinite(v) && v >= 1 && Number.isInteger(v) && v <= 9.007e15;
count.what = "a whole number, 1 or more";

// `UploadOptions` → { protocol (unparsed: order 2 is Rust's), partSize,
// concurrency, checksum (default true), resume (false), useXhr (true),
// signal, onProgress, fetch, events, retry (unchecked: order 12 is Rust's),
// resumeKey, resumeStore, progressIntervalMs (default 100) }.
export function uploadOptions(o) {
  return run((o, out) => {
    out.checksum = true;
    out.resume = false;
    out.useXhr = true;
    out.progressIntervalMs = 100;
    if (!present(o)) return;
    if (!isObject(o)) complain(0, null, "Upload options must be an object.");
    out.protocol = option(o, "protocol", 1, string);
    out.partSize = option(o, "partSize", 3, count);
    const concurrency = option(o, "concurrency", 4, count);
    if (concurrency > 4294967295) complain(4, "concurrency", "`concurrency` is too large.");
    out.concurrency = concurrency;
    out.checksum = option(o, "checksum", 5, boolean) ?? true;
    out.resume = option(o, "resume", 6, boolean) ?? false;
    out.useXhr = option(o, "useXhr", 7, boolean) ?? true;
    out.signal = option(o, "signal", 8, signal);
    out.onProgress = option(o, "onProgress", 9, func);
    out.fetch = option(o, "fetch", 10, func);
    out.events = option(o, "events", 11, eventTarget);
    out.retry = read(o, "retry");
    out.resumeKey = option(o, "resumeKey", 13, (v) => typeof v === "string" && v !== "", "`resumeKey` must be a non-empty string.");
    out.resumeStore = option(
      o,
      "resumeStore",
      14,
      (v) =>
        ["getItem", "setItem", "removeItem"].every((m) => {
          try {
            return typeof Reflect.get(v, m) === "function";
          } catch {
            return false;
          }
        }),
      "`resumeStore` must have getItem(key), setItem(key, value) and removeItem(key) methods (like localStorage).",
    );
    out.progressIntervalMs =
      option(
        o,
        "progressIntervalMs",
        15,
        nonNegative,
        "`progressIntervalMs` must be a number of milliseconds, 0 or more.",
      ) ?? 100;
  }, o);
}

// The upload target: `url`, `method`, `headers` and `expiresAt` (of the
// standalone `upload()`'s options, or of a createJob() response) →
// [complaint, url, method ("PUT"), headers ([name, value, …]), expiresAt
// (epoch ms, or undefined), jobId]. With `job` true, `o` is a createJob()
// response and its `jobId` and `uploadUrl` are read first.
export function uploadTarget(o, job) {
  return run((o, out, job) => {
    const get = (k) => read(o, k);
    let url;
    if (job) {
      if (!isObject(o)) complain(0, "job", "The job must be the createJob() response object.");
      const missing = (f) => complain(0, f, "The job must be the createJob() response: its `" + f + "` is missing.");
      out.jobId = get("jobId");
      if (typeof out.jobId !== "string") missing("jobId");
      url = get("uploadUrl");
      if (typeof url !== "string") missing("uploadUrl");
    } else {
      url = get("url");
      if (typeof url !== "string") complain(0, "url", "`url` is required: the pre-signed upload URL.");
    }
    if (!(url.startsWith("https://") || url.startsWith("http://"))) {
      complain(0, "url", "The upload URL must be an absolute http(s) URL, got `" + redact(url) + "`.");
    }
    out.url = url;
    const method = get("method");
    // Compared as ASCII, case-insensitively (`/i` without `u` maps no
    // other letter to an ASCII one).
    if (method !== undefined && !(typeof method === "string" && /^put$/i.test(method))) {
      complain(0, "method", "Only `PUT` upload URLs are supported (every storage protocol here uploads with PUT).");
    }
    out.method = "PUT";
    const headers = get("headers");
    const flat = [];
    if (headers !== undefined) {
      const bad = () => complain(0, "headers", "`headers` must be an object of strings.");
      if (!(headers instanceof Object)) bad();
      for (const [name, value] of Object.entries(headers)) {
        if (typeof value !== "string") bad();
        if (/^authorization$/i.test(name)) {
          complain(
            0,
            "headers",
            "`headers` must not carry an Authorization header: storage is authorised by the URL's signature, and a bearer token must never reach it.",
          );
        }
        flat.push(name, value);
      }
    }
    out.headers = flat;
    const expires = get("expiresAt");
    if (expires !== undefined) {
      const ms =
        typeof expires === "string"
          ? Date.parse(expires)
          : typeof expires === "number"
            ? expires
            : isInstance(expires, "Date")
              ? expires.getTime()
              : NaN;
      if (!Number.isFinite(ms)) {
        complain(
          0,
          "expiresAt",
          "`expiresAt` must be an RFC 3339 date string, a Date or milliseconds since the epoch.",
        );
      }
      out.expiresAt = ms;
    }
  }, o, job);
}

// `importFile(file, options)` → { create (the create request:
// `createOptions` with `objectName`, `fileName` (default: the File's name)
// and `fileSize` set), mapping, start, signal, events, onProgress, upload,
// poll, onStatus, idempotencyKey }. Orders 6 (the create request), 8 (the
// mapping and the start body) and 12 (the upload and poll options) are
// Rust's.
export function importFileOptions(o, file) {
  return run((o, out, file) => {
    if (!isObject(o)) complain(0, null, "importFile needs options: { objectName, mapping, fileName?, … }.");
    const objectName = option(o, "objectName", 1, string);
    if (objectName === undefined) complain(2, "objectName", "`objectName` is required, e.g. `profiles`.");
    let fileName = option(o, "fileName", 3, string);
    if (fileName === undefined) {
      fileName = read(file, "name");
      if (typeof fileName !== "string" || fileName === "") {
        complain(4, "fileName", "`fileName` is required when the file is a Blob without a name.");
      }
    }
    const extra = option(
      o,
      "createOptions",
      5,
      isObject,
      "`createOptions` must be an object (createList, listName, targetListId, …).",
    );
    out.create = Object.assign({}, extra, { objectName, fileName, fileSize: file.size });
    out.mapping = read(o, "mapping");
    if (out.mapping === undefined) {
      complain(7, "mapping", "`mapping` is required: { sourceFields, fieldMap } or { templateId }.");
    }
    out.start = read(o, "start");
    out.signal = option(o, "signal", 9, signal);
    out.events = option(o, "events", 10, eventTarget);
    out.onProgress = option(o, "onProgress", 11, func);
    out.upload = read(o, "upload");
    out.poll = read(o, "poll");
    out.onStatus = option(o, "onStatus", 13, func);
    out.idempotencyKey = option(o, "idempotencyKey", 14, string);
  }, o, file);
}

// `errorRows` options → { signal } (options that are not an object are
// none).
export function rowsOptions(o) {
  return run((o, out) => {
    if (isObject(o)) out.signal = option(o, "signal", 0, signal);
  }, o);
}

// `createBroker(options)` (src/broker/options.rs) → { apiBaseUrl (without
// trailing slashes), ticketSecret, token, oauth ({ tokenUrl, clientId,
// clientSecret, scope }, or undefined), authorize, fetch, policy ({
// objects, maxFileSize (a finite number, unchecked: order 9 is Rust's),
// importModes, allowCreateList, allowCreateAudience, allowAutoProfile,
// allowTemplates, rateRequests, ratePerSeconds }, or undefined), origins,
// basePath ("" or "/prefix") }. Order 5 (the secret's length) is Rust's.
// The messages are those of a TypeError the broker throws at start-up.
export function brokerOptions(o) {
  return run((o, out) => {
    if (!isObject(o)) complain(0, null, "createBroker: options must be an object (see the README's Broker section)");
    const text = (o, key, order, name = key) => option(o, key, order, string, name + " must be a string");
    const httpUrl = (url, name, order) => {
      const rest = url.startsWith("https://") ? url.slice(8) : url.startsWith("http://") ? url.slice(7) : undefined;
      if (rest === undefined) {
        complain(order, name, "createBroker: " + name + " must be an http(s) URL (got `" + url + "`)");
      }
      if (rest === "" || rest.startsWith("/")) {
        complain(order, name, "createBroker: " + name + " has no host (got `" + url + "`)");
      }
    };
    const strings = (v, name, order) => {
      const bad = () => complain(order, name, name + " must be an array of strings");
      if (!Array.isArray(v)) bad();
      for (let i = 0; i < v.length; i++) if (typeof v[i] !== "string") bad();
      return Array.from(v);
    };
    const api = text(o, "apiBaseUrl", 1);
    if (api === undefined) {
      complain(
        2,
        "apiBaseUrl",
        "createBroker: apiBaseUrl is required (the API's base URL, e.g. https://api.example.com/public/v1)",
      );
    }
    httpUrl(api, "apiBaseUrl", 2);
    out.apiBaseUrl = api.replace(/\/+$/, "");
    out.ticketSecret = text(o, "ticketSecret", 3);
    if (out.ticketSecret === undefined) {
      complain(
        4,
        "ticketSecret",
        "createBroker: ticketSecret is required (the key shared with the app's backend that mints upload tickets)",
      );
    }
    out.token = text(o, "token", 6);
    if (out.token === "") complain(6, "token", "createBroker: token must not be empty");
    const oauth = read(o, "oauth");
    if (oauth !== undefined) {
      if (!isObject(oauth)) {
        complain(6, "oauth", "createBroker: oauth must be an object { tokenUrl, clientId, clientSecret, scope? }");
      }
      const required = (key) => {
        const v = text(oauth, key, 6);
        if (v === undefined || v === "") complain(6, "oauth." + key, "createBroker: oauth." + key + " is required");
        return v;
      };
      const tokenUrl = required("tokenUrl");
      httpUrl(tokenUrl, "oauth.tokenUrl", 6);
      const clientId = required("clientId");
      const clientSecret = required("clientSecret");
      const scope = text(oauth, "scope", 6);
      const given = scope === undefined || blank.test(scope) ? undefined : scope;
      out.oauth = { tokenUrl, clientId, clientSecret, scope: given };
    }
    if (out.token === undefined && out.oauth === undefined) {
      complain(6, null, "createBroker: give the workspace token (`token`) or OAuth client credentials (`oauth`)");
    }
    const fn = (key) => option(o, key, 6, func, "createBroker: " + key + " must be a function");
    out.authorize = fn("authorize");
    out.fetch = fn("fetch");
    const p = read(o, "policy");
    if (p !== undefined) {
      if (!isObject(p)) complain(6, "policy", "createBroker: policy must be an object");
      const policy = {};
      const objects = read(p, "objects");
      if (objects !== undefined) policy.objects = strings(objects, "policy.objects", 6);
      const finite = (v) => typeof v === "number" && Number.isFinite(v);
      const size = "createBroker: policy.maxFileSize must be a finite number";
      policy.maxFileSize = option(p, "maxFileSize", 6, finite, size);
      out.policy = policy;
      const modes = read(p, "importModes");
      if (modes !== undefined) policy.importModes = strings(modes, "policy.importModes", 10);
      for (const key of ["allowCreateList", "allowCreateAudience", "allowAutoProfile", "allowTemplates"]) {
        policy[key] = option(p, key, 10, boolean, "createBroker: policy." + key + " must be true or false") ?? false;
      }
      const rate = read(p, "rateLimit");
      if (rate !== undefined) {
        const whole = (key, min) => {
          const n = option(rate, key, 10, finite, "createBroker: policy.rateLimit." + key + " must be a finite number");
          if (!(n >= min && Number.isInteger(n) && n <= 4294967295)) {
            const message = "createBroker: policy.rateLimit." + key + " must be a whole number ≥ " + min;
            complain(10, "policy.rateLimit." + key, message);
          }
          return n;
        };
        policy.rateRequests = whole("requests", 0);
        policy.ratePerSeconds = whole("perSeconds", 1);
      }
    }
    const origins = read(o, "allowedOrigins");
    out.origins = origins === undefined ? [] : strings(origins, "allowedOrigins", 10);
    for (const origin of out.origins) {
      if (origin.includes("*")) {
        const message = "createBroker: allowedOrigins must list exact origins; wildcards are not allowed";
        complain(10, "allowedOrigins", message);
      }
      httpUrl(origin, "allowedOrigins", 10);
      if (origin.endsWith("/") || origin.split("/").length > 3) {
        complain(
          10,
          "allowedOrigins",
          "createBroker: allowedOrigins entry `" +
            origin +
            "` is not an origin (scheme://host[:port], no path or trailing slash)",
        );
      }
    }
    const base = text(o, "basePath", 10);
    out.basePath = base === undefined ? "" : base.replace(/\/+$/, "");
    if (out.basePath !== "" && !out.basePath.startsWith("/")) {
      complain(10, "basePath", "createBroker: basePath must start with `/` (got `" + out.basePath + "`)");
    }
  }, o);
}

// ---- file sources --------------------------------------------------------

// What an upload reads besides a Blob (src/upload/source.rs): an object
// `{ size, name?, type?, lastModified?, read(offset, length) }` whose
// `read` resolves with exactly `length` bytes from byte `offset`.

// 1 for a Blob, 2 for a file source, else a message saying what is wrong.
export function fileSource(v) {
  if (isInstance(v, "Blob")) return 1;
  const size = read(v, "size");
  if (typeof read(v, "read") === "function" && Number.isSafeInteger(size) && size >= 0) return 2;
  return typeof v === "string" || isInstance(v, "URL")
    ? "A path or URL names a file only in Node, where the package opens it; here, give a Blob, a File or a file source { size, read(offset, length) }."
    : "The file must be a Blob, a File or a file source { size, read(offset, length) } (`size` a whole number of bytes, `read` resolving with that many bytes as a Uint8Array).";
}

// `length` bytes from `offset`: anything else is an error (the file changed,
// or the source is wrong).
export async function readSource(s, offset, length) {
  const b = await s.read(offset, length);
  if (b instanceof Uint8Array && b.length === length) return b;
  throw new Error(
    "read(" + offset + ", " + length + ") resolved with " +
      (b instanceof Uint8Array ? b.length + " bytes" : "no Uint8Array") + ", not " + length + " bytes",
  );
}

// Bytes [start, end) of a file source as a stream, read a MiB at a time.
export function sourceStream(s, start, end) {
  return new ReadableStream({
    async pull(c) {
      const n = Math.min(end - start, 1048576);
      c.enqueue(await readSource(s, start, n));
      start += n;
      if (start >= end) c.close();
    },
  });
}

// ---- blob reader ---------------------------------------------------------

// Reading a Blob's bytes into one reused buffer, for the upload engine's
// integrity check of a part (src/upload/session.rs, `digest_with`). In
// JavaScript because it is nothing but stream calls: compiled from Rust,
// their reflection and promise plumbing took several times the bytes.

// A BYOB ("bring your own buffer") reader of `blob`'s bytes where the
// runtime's `Blob.stream()` is a byte stream (browsers, Deno, workerd);
// undefined elsewhere.
export function byobReader(blob) {
  try {
    return blob.stream().getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

// Reads the next bytes into `view`'s buffer (which the stream takes and
// hands back in the bytes it resolves with). At the end: an empty view of
// that buffer (a byte stream never resolves an unfinished read with no
// bytes), so the next range reads into it again; undefined when the stream
// did not hand it back.
//
// `min`: the read resolves once the whole view is filled (or the stream
// ends). Chromium's `Blob.stream()` of a file hands out 64 KiB chunks,
// so without it a 1 MiB view took about 16 reads, each a promise round
// trip through wasm-bindgen and a handful of short-lived objects: most of
// the JS heap's churn during an upload. Where `min` is unknown the option
// is ignored and reads return what is there, as before.
export async function byobRead(reader, view) {
  return (await reader.read(view, { min: view.byteLength })).value;
}

// ---- line reader ---------------------------------------------------------

// The lines of the JSONL error file as `client.errorRows` reads them
// (src/client/error_rows.rs). In JavaScript because it is nothing but
// stream reads and byte scans: compiled from Rust, the chunk and line
// buffers and their promise plumbing took several times the bytes.
//
// Only the current chunk and the current line are held, never the whole
// file. Lines are split on the newline *byte* before being decoded, so a
// UTF-8 character cut by a chunk boundary is decoded whole; a leading UTF-8
// byte-order mark is dropped, a trailing "\r" too, and blank lines (ASCII
// whitespace only) are skipped.

const BOM = [0xef, 0xbb, 0xbf];
// ASCII whitespace: space, \t, \n, \f, \r.
const asciiBlank = (b) => b === 32 || b === 9 || b === 10 || b === 12 || b === 13;
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function join(pieces) {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class LineReader {
  // Reads `body`, a ReadableStream of bytes.
  constructor(body) {
    this.reader = body.getReader();
    // The current, incomplete line, in pieces.
    this.pieces = [];
    // Complete lines not yet handed out, and the next one's index.
    this.lines = [];
    this.at = 0;
    // Still before the first line (byte-order mark)?
    this.start = true;
    this.done = false;
  }

  // Cancels the download.
  cancel() {
    return this.reader.cancel();
  }

  // The next line that is not blank: its text, null when it is not UTF-8,
  // undefined after the last one. Rejects with a Failure: "noResponse"
  // (detail: the error) when the download breaks off, "notBytes" (detail:
  // the chunk) for a chunk that is not bytes.
  async next() {
    for (;;) {
      while (this.at < this.lines.length) {
        let line = this.lines[this.at];
        this.lines[this.at++] = undefined;
        if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
        if (line.every(asciiBlank)) continue;
        try {
          return decoder.decode(line);
        } catch {
          return null;
        }
      }
      this.lines = [];
      this.at = 0;
      if (this.done) return undefined;
      let result;
      try {
        result = await this.reader.read();
      } catch (e) {
        throw new Failure("noResponse", e);
      }
      if (result === null || typeof result !== "object" || result.done) {
        this.done = true;
        if (this.pieces.length > 0) this.lines.push(join(this.pieces));
        this.pieces = [];
        continue;
      }
      if (!(result.value instanceof Uint8Array)) throw new Failure("notBytes", result.value);
      this.take(result.value);
    }
  }

  // Splits `bytes` into lines on "\n".
  take(bytes) {
    if (this.start) {
      this.pieces.push(bytes);
      const head = join(this.pieces);
      this.pieces = [];
      if (head.length < 3 && head.every((b, i) => b === BOM[i])) {
        if (head.length > 0) this.pieces.push(head);
        return;
      }
      this.start = false;
      bytes = head[0] === BOM[0] && head[1] === BOM[1] && head[2] === BOM[2] ? head.subarray(3) : head;
    }
    let from = 0;
    for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, from)) {
      this.pieces.push(bytes.subarray(from, i));
      this.lines.push(join(this.pieces));
      this.pieces = [];
      from = i + 1;
    }
    if (from < bytes.length) this.pieces.push(bytes.subarray(from));
  }
}
