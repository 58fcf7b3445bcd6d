// The option objects of the JS-facing API, checked and normalised before
// the Rust side reads them (src/client.rs, src/poll.rs,
// src/upload/options.rs). In JavaScript because it is nothing but property
// reads and type tests: compiled from Rust, each option's checks and
// conversions took several times the bytes.
//
// Each function returns an array: [complaint, value, value, …]. The values
// are the options, normalised (absent ones undefined, defaults filled in
// where noted); `complaint` is undefined, or the first check that failed,
// as [position, field, message]: the Rust side makes the complaint an
// ImportError of kind `validation` (field null: none). `position` counts
// the checks in order, so that the few checks made in Rust (protocol names
// and retry policies belong to import-core and the wire shapes) keep their
// place among them: Rust reports a complaint of JavaScript's only once its
// own earlier checks have passed.
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
  constructor(position, field, message) {
    this.c = [position, field, message];
  }
}

// Runs `read(o)`, which fills `out` and throws a Complaint at the first
// failed check; returns [complaint, ...out].
function run(read, o) {
  const out = [];
  try {
    read(o, out);
    return [undefined, ...out];
  } catch (e) {
    if (e instanceof Complaint) return [e.c, ...out];
    throw e;
  }
}

function complain(position, field, message) {
  throw new Complaint(position, field, message);
}

// The option `key` of `o`: undefined when absent, else checked by `ok`.
function option(o, key, position, ok, message) {
  const v = read(o, key);
  if (v === undefined) return undefined;
  if (!ok(v)) complain(position, key, message ?? "`" + key + "` must be " + ok.what + ".");
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

// `{ signal?, idempotencyKey? }` of a call → [complaint, signal,
// idempotencyKey].
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
    out[1] = key;
    out[0] = option(o, "signal", 3, signal);
  }, o);
}

// `new ImportClient(options)` → [complaint, baseUrl (without trailing
// slashes), token, getToken, fetch, headers ([name, value, …] as given),
// retry (unchecked: position 10 is Rust's)].
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
    out[0] = base.replace(/\/+$/, "");
    const token = option(o, "token", 4, string);
    if (token !== undefined && blank.test(token)) {
      complain(5, "token", "`token` is empty: give the bearer token, or a `getToken` function.");
    }
    out[1] = token;
    out[2] = option(o, "getToken", 6, func);
    if (token === undefined && out[2] === undefined) {
      complain(
        7,
        "token",
        "`token` or `getToken` is required: the bearer token sent as `Authorization: Bearer …`, or a function returning it.",
      );
    }
    out[3] = option(o, "fetch", 8, func);
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
    out[4] = flat;
    out[5] = read(o, "retry");
  }, o);
}

// `waitForCompletion` options → [complaint, pollStartMs, pollCapMs, signal,
// onStatus, events]. Position 3 (the cap below the start) is Rust's.
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
    out[0] = option(o, "pollStartMs", 1, nonNegative);
    out[1] = option(o, "pollCapMs", 2, nonNegative);
    out[2] = option(o, "signal", 4, signal);
    out[3] = option(o, "onStatus", 5, func);
    out[4] = option(o, "events", 6, eventTarget);
  }, o);
}

// A whole number, 1 or more, that a u64 holds exactly enough.
const count = (v) => typeof v === "number" && Number.isFinite(v) && v >= 1 && Number.isInteger(v) && v <= 9.007e15;
count.what = "a whole number, 1 or more";

// `UploadOptions` → [complaint, protocol (unparsed: position 2 is Rust's),
// partSize, concurrency, checksum (default true), resume (false), useXhr
// (true), signal, onProgress, fetch, events, retry (unchecked: position 12
// is Rust's), resumeKey, resumeStore, progressIntervalMs (default 100)].
export function uploadOptions(o) {
  return run((o, out) => {
    out.push(undefined, undefined, undefined, true, false, true);
    out[13] = 100;
    if (!present(o)) return;
    if (!isObject(o)) complain(0, null, "Upload options must be an object.");
    out[0] = option(o, "protocol", 1, string);
    out[1] = option(o, "partSize", 3, count);
    const concurrency = option(o, "concurrency", 4, count);
    if (concurrency > 4294967295) complain(4, "concurrency", "`concurrency` is too large.");
    out[2] = concurrency;
    out[3] = option(o, "checksum", 5, boolean) ?? true;
    out[4] = option(o, "resume", 6, boolean) ?? false;
    out[5] = option(o, "useXhr", 7, boolean) ?? true;
    out[6] = option(o, "signal", 8, signal);
    out[7] = option(o, "onProgress", 9, func);
    out[8] = option(o, "fetch", 10, func);
    out[9] = option(o, "events", 11, eventTarget);
    out[10] = read(o, "retry");
    out[11] = option(o, "resumeKey", 13, (v) => typeof v === "string" && v !== "", "`resumeKey` must be a non-empty string.");
    out[12] = option(
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
    out[13] =
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
  return run((o, out) => {
    const get = (k) => read(o, k);
    let url;
    if (job) {
      if (!isObject(o)) complain(0, "job", "The job must be the createJob() response object.");
      const missing = (f) => complain(0, f, "The job must be the createJob() response: its `" + f + "` is missing.");
      out[4] = get("jobId");
      if (typeof out[4] !== "string") missing("jobId");
      url = get("uploadUrl");
      if (typeof url !== "string") missing("uploadUrl");
    } else {
      url = get("url");
      if (typeof url !== "string") complain(0, "url", "`url` is required: the pre-signed upload URL.");
    }
    if (!(url.startsWith("https://") || url.startsWith("http://"))) {
      complain(0, "url", "The upload URL must be an absolute http(s) URL, got `" + redact(url) + "`.");
    }
    out[0] = url;
    const method = get("method");
    // Compared as ASCII, case-insensitively (`/i` without `u` maps no
    // other letter to an ASCII one).
    if (method !== undefined && !(typeof method === "string" && /^put$/i.test(method))) {
      complain(0, "method", "Only `PUT` upload URLs are supported (every storage protocol here uploads with PUT).");
    }
    out[1] = "PUT";
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
    out[2] = flat;
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
      out[3] = ms;
    }
  }, o);
}
