// The broker family of the bad-input corpus (`tests/corpus/broker/`, format
// in `tests/corpus/README.md`): one case per JSON file, run by every broker
// suite (Node, Deno, workerd) against the test app (`app.mjs`). Requests go
// over raw HTTP from the runner (`node:http`: paths exactly as written, any
// method and header), with tickets the runner signs itself with the suite's
// ticket secret (tampered, expired, from the future, of another audience…).
//
// After each case: the answer has the expected status, `error.code` (in the
// API's envelope) and message fragment; the broker still answers a good
// request; and, unless the case expects the request to be forwarded, the
// API received nothing (the test app's recording `fetch` counts every
// upstream call), so a refused create made no job and a refused mapping
// changed none.

import { createHmac, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';

import { assert, assertEqual } from '../js/harness.mjs';
import { root } from '../js/support.mjs';

/** The folder of the broker family. */
export const corpusDir = join(root, 'tests', 'corpus', 'broker');
/** The audience of tickets the brokers accept by default. */
const AUDIENCE = 'import-uploader-broker';

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

/** `{name}` in `text` replaced by `vars.name`. */
function fill(text, vars) {
  return text.replace(/\{([A-Za-z.]+)\}/g, (m, k) => (k in vars ? vars[k] : m));
}

/** The bytes a body description stands for (see the corpus README). */
export function bodyBytes(spec, vars = {}) {
  if (spec === null || spec === undefined) return Buffer.alloc(0);
  if (typeof spec === 'string') return Buffer.from(fill(spec, vars), 'utf8');
  if (Array.isArray(spec)) return Buffer.concat(spec.map((p) => bodyBytes(p, vars)));
  if ('text' in spec) return Buffer.from(fill(spec.text, vars), 'utf8');
  if ('file' in spec) {
    if (/[/\\]|^\./.test(spec.file)) throw new Error(`data file \`${spec.file}\` must be a plain name next to the case`);
    return readFileSync(join(corpusDir, spec.file));
  }
  if ('base64' in spec) return Buffer.from(spec.base64, 'base64');
  if ('hex' in spec) return Buffer.from(spec.hex.replace(/\s+/g, ''), 'hex');
  if ('utf16le' in spec) return Buffer.from(fill(spec.utf16le, vars), 'utf16le');
  if ('json' in spec) return Buffer.from(JSON.stringify(spec.json), 'utf8');
  if ('repeat' in spec) {
    if (!Number.isInteger(spec.times)) throw new Error('`repeat` needs `times`');
    // latin1 maps every byte to one character and back.
    return Buffer.from(bodyBytes(spec.repeat, vars).toString('latin1').repeat(spec.times), 'latin1');
  }
  throw new Error(`unknown body description ${JSON.stringify(spec)}`);
}

/** A claim's time: a number, `now`, `now+N` or `now-N` (seconds). */
function when(v, now) {
  if (typeof v !== 'string') return v;
  const m = /^now([+-]\d+)?$/.exec(v);
  return m ? now + Number(m[1] ?? 0) : v;
}

/**
 * A ticket as a case describes it: `raw` (the header value's token as is),
 * or a JWT of `claims` (merged over `aud`, `sub`, `iat: now`, `exp:
 * now+600`; `null` removes one) and `header` (merged over HS256/JWT),
 * signed with the suite's secret (or `secret`), then `tamper`ed:
 * `signature` (one character changed) or `subject` (the payload's `sub`
 * replaced, the signature kept).
 */
export function makeTicket(spec, { secret, subject }) {
  if (typeof spec.raw === 'string') return spec.raw;
  const now = Math.floor(Date.now() / 1000);
  const claims = { aud: AUDIENCE, sub: subject, iat: now, exp: now + 600 };
  for (const [k, v] of Object.entries(spec.claims ?? {})) {
    if (v === null) delete claims[k];
    else claims[k] = when(v, now);
  }
  const header = { alg: 'HS256', typ: 'JWT' };
  for (const [k, v] of Object.entries(spec.header ?? {})) {
    if (v === null) delete header[k];
    else header[k] = v;
  }
  const h = b64url(JSON.stringify(header));
  const p = b64url(JSON.stringify(claims));
  let s = spec.signature ?? b64url(createHmac('sha256', spec.secret ?? secret).update(`${h}.${p}`).digest());
  let payload = p;
  if (spec.tamper === 'signature') s = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  if (spec.tamper === 'subject') payload = b64url(JSON.stringify({ ...claims, sub: `${subject}-mallory` }));
  return `${h}.${payload}.${s}`;
}

/**
 * Sends one request to `base` (the broker's origin) with `target` exactly
 * as written; resolves to `{ status, headers, text, body }` (`body` parsed
 * JSON or null). With `chunked`, the body goes without a Content-Length.
 */
export function rawRequest(base, { method = 'GET', target, headers = {}, body = Buffer.alloc(0), chunked = false }) {
  const url = new URL(base);
  return new Promise((ok, fail) => {
    let answered = false;
    const h = { ...headers };
    if (chunked) h['transfer-encoding'] = 'chunked';
    else if (body.length > 0 && !Object.keys(h).some((k) => k.toLowerCase() === 'content-length')) h['content-length'] = String(body.length);
    const req = httpRequest({ host: url.hostname, port: url.port, method, path: target, headers: h, agent: false }, (res) => {
      answered = true;
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let parsed = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        ok({ status: res.statusCode, headers: res.headers, text, body: parsed });
        // A body the server refused unread must not linger on the socket.
        req.destroy();
      });
      res.on('error', fail);
    });
    // Write errors after the answer (a server closing the connection on a
    // refused body) are expected.
    req.on('error', (e) => {
      if (!answered) fail(e);
    });
    const piece = 64 * 1024;
    let at = 0;
    const write = () => {
      while (at < body.length && !answered) {
        const chunk = body.subarray(at, at + piece);
        at += chunk.length;
        if (!req.write(chunk)) return req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

/** The codes' documentation: the broker's and the API's codes are all there. */
const CODES_RS = readFileSync(join(root, 'core', 'src', 'codes.rs'), 'utf8');

/** Every API call the test app's brokers made so far (token requests aside). */
async function upstreamCalls(ctx) {
  const r = await fetch(`${ctx.broker}/test/upstream`);
  const logs = await r.json();
  return Object.values(logs).reduce((n, l) => n + l.apiRequests, 0);
}

/** The case files, sorted; fails when there are none. */
export function corpusFiles() {
  const files = readdirSync(corpusDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`the corpus family \`broker\` has no case in ${corpusDir}`);
  return files;
}

/** Runs one case file against the suite's broker. */
async function runCase(ctx, file) {
  const spec = JSON.parse(readFileSync(join(corpusDir, file), 'utf8'));
  assert(typeof spec.description === 'string' && spec.description.length > 0, `${file}: a case needs a description`);
  const secret = ctx.secrets.ticketSecret;
  const tag = randomBytes(4).toString('hex');
  const subject = `corpus-${tag}`;
  const owner = `corpus-owner-${tag}`;
  const vars = { subject, owner };
  const ticketFor = (who) => makeTicket({}, { secret, subject: who });

  if (spec.setup === 'job') {
    const created = await rawRequest(ctx.broker, {
      method: 'POST',
      target: '/api/import-jobs',
      headers: { authorization: `Bearer ${ticketFor(owner)}`, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ objectName: 'profiles', fileName: 'people.csv', fileSize: 100 })),
    });
    assertEqual(created.status, 201, `set-up: create (${created.text.slice(0, 200)})`);
    const handle = created.body.data.jobId;
    vars.handle = handle;
    vars.jobId = handle.split('.')[0];
    const mac = handle.split('.')[1];
    vars.handleTampered = `${vars.jobId}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`;
  } else if (spec.setup !== undefined) {
    throw new Error(`unknown setup \`${spec.setup}\``);
  }

  const req = spec.request ?? {};
  const headers = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k] = fill(String(v), vars);
  if (req.ticket !== null && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) {
    const t = req.ticket ?? {};
    const who = t.as === 'owner' ? owner : subject;
    headers.authorization = `${t.scheme ?? 'Bearer'} ${makeTicket(t, { secret, subject: who })}`;
  }
  const body = bodyBytes(req.body, vars);
  if (body.length > 0 && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';

  if (spec.expect?.code) assert(CODES_RS.includes(`"${spec.expect.code}"`), `the expected code ${spec.expect.code} is not documented in core/src/codes.rs`);
  const before = await upstreamCalls(ctx);
  const answer = await rawRequest(ctx.broker, {
    method: req.method ?? 'GET',
    target: fill(req.target, vars),
    headers,
    body,
    chunked: req.chunked === true,
  });
  const expect = spec.expect ?? {};
  const shown = answer.text.slice(0, 300);
  assertEqual(answer.status, expect.status, `status (${shown})`);
  if (expect.status >= 400) {
    assert(typeof expect.code === 'string', 'a refusal case names its code');
    assertEqual(answer.body?.success, false, `success (${shown})`);
    assertEqual(answer.body?.error?.code, expect.code, `error.code (${shown})`);
    const message = answer.body.error.message;
    assert(typeof message === 'string' && message.length > 0, 'a message');
    if (expect.message) assert(message.toLowerCase().includes(expect.message.toLowerCase()), `message \`${message}\` lacks \`${expect.message}\``);
    for (const [k, v] of Object.entries(expect.details ?? {})) {
      assertEqual(JSON.stringify(answer.body.error.details?.[k]), JSON.stringify(v), `details.${k}`);
    }
  }
  assertEqual(answer.headers['x-content-type-options'], 'nosniff', 'X-Content-Type-Options');

  // Still up, and nothing reached the API unless the case says it should.
  const health = await rawRequest(ctx.broker, { target: '/api/metadata/objects', headers: { authorization: `Bearer ${ticketFor(`${subject}-health`)}` } });
  assertEqual(health.status, 200, `a good request afterwards (${health.text.slice(0, 200)})`);
  const after = await upstreamCalls(ctx);
  const forwarded = after - before - 1; // the good request made one call
  if (expect.forwarded === true) assert(forwarded >= 1, 'the request was forwarded to the API');
  else assertEqual(forwarded, 0, 'upstream calls made for the refused request');
}

/** One test per case file (each runtime's suite runs them all). */
export const corpusCases = corpusFiles().map((file) => ({
  name: `corpus broker/${file.replace(/\.json$/, '')}`,
  fn: (ctx) => runCase(ctx, file),
}));
