// The package's end-to-end suite, shared by every JavaScript runtime the
// package supports (Node, Deno, Cloudflare workerd): each runner imports the
// built package the way that runtime does and calls these cases with
//
//   ctx = { pkg, preflight, apiUrl, apis, token, runtime, packageVersion }
//
// where `pkg` is the package's exports, `preflight` those of
// `import-uploader/preflight` (its cases are in `preflight-cases.mjs`), `apiUrl` the API base
// (`…/public/v1`) of the default emulator (Azure Block Blob storage), `apis`
// the API bases of the emulators by storage mode (see `EMULATORS`; `null`
// when not given) and `token` one of the emulators' dev tokens (made by
// `suiteContext`). Cases use only web-standard APIs (fetch, Request, Blob,
// EventTarget, AbortSignal, crypto), so the same file runs everywhere.
//
// Every upload is read back through the emulator's read-back extension
// (`GET /public/v1/import-jobs/{jobId}/upload`) and compared with its
// source by length and SHA-256 (`crypto.subtle.digest`); an aborted upload
// must leave nothing to read back.

import { assert, assertEqual, rejection, thrown } from './harness.mjs';
import { crc64Base64 } from './crc64.mjs';
import { base64, hex, md5 } from './md5.mjs';
import { PEOPLE_MAPPING, peopleCsv } from './people.mjs';
import { preflightTests } from './preflight-cases.mjs';

/** The emulators the suite uses, by storage mode, and the environment
 * variables that name their base URLs (the same as the wasm suites'). */
export const EMULATORS = {
  azure: 'IMPORT_EMULATOR_URL',
  s3: 'IMPORT_EMULATOR_URL_S3',
  gcs: 'IMPORT_EMULATOR_URL_GCS',
  faults: 'IMPORT_EMULATOR_URL_FAULTS',
  azurite: 'IMPORT_EMULATOR_URL_AZURITE',
};

/** The `ctx` of every case, from the emulators' base URLs by mode. */
export function suiteContext({ pkg, preflight, runtime, emulators, packageVersion }) {
  const apis = Object.fromEntries(
    Object.keys(EMULATORS).map((mode) => {
      const url = emulators?.[mode];
      return [mode, url ? `${url.replace(/\/+$/, '')}/public/v1` : null];
    }),
  );
  return { pkg, preflight, apiUrl: apis.azure, apis, token: 'dev-write', runtime, packageVersion };
}

/** The API base of the emulator for `mode`; fails the case when not given. */
function apiOf(ctx, mode) {
  const url = ctx.apis[mode];
  if (!url) {
    throw new Error(
      `no emulator with ${mode} storage: set ${EMULATORS[mode]} to its base URL (\`cargo xtask test\` starts one)`,
    );
  }
  return url;
}

/** Lower-case hex SHA-256 of `data` (a Blob, an ArrayBuffer or a view) by
 * Web Crypto. */
async function sha256Hex(data) {
  const bytes = data instanceof Blob ? await data.arrayBuffer() : data;
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/** `GET {api}/import-jobs/{jobId}/upload` (the emulator's read-back
 * extension: the bytes committed for the job, in every storage mode). */
function readBack(api, token, jobId) {
  return fetch(`${api}/import-jobs/${jobId}/upload`, { headers: { authorization: `Bearer ${token}` } });
}

/** Downloads what the emulator at `api` holds for `jobId` and asserts it is
 * `source`: the same length and the same SHA-256. */
async function assertReadBack(api, token, jobId, source) {
  const resp = await readBack(api, token, jobId);
  const got = new Uint8Array(await resp.arrayBuffer());
  assertEqual(resp.status, 200, `read-back status of ${jobId} (${new TextDecoder().decode(got.slice(0, 200))})`);
  assertEqual(got.length, source.size, 'length read back');
  assertEqual(await sha256Hex(got), await sha256Hex(source), `SHA-256 of the ${source.size} bytes read back`);
}

/** Asserts that nothing is committed for `jobId` (a 404 in the API's envelope). */
async function assertNothingCommitted(api, token, jobId) {
  const resp = await readBack(api, token, jobId);
  const body = await resp.text();
  assertEqual(resp.status, 404, `read-back status of ${jobId} (${body.slice(0, 200)})`);
  assertEqual(JSON.parse(body).error?.code, 'CDP_ETL.NOT_FOUND', 'read-back error code');
}

/** A `fetch` for `ImportClient({ fetch })` that records every request and
 * forwards it to the global `fetch`. */
function recordingFetch({ keepBodies = false, change } = {}) {
  const requests = [];
  const bodies = [];
  const fn = async (input, init) => {
    let req = new Request(input, init);
    requests.push(req);
    if (keepBodies || change) {
      const body = new Uint8Array(await req.clone().arrayBuffer());
      bodies.push(body);
      const changed = change?.(req, body);
      if (changed) req = new Request(req, { body: changed });
    }
    return fetch(req);
  };
  return { fn, requests, bodies };
}

/** Checks the shape every failure shares and returns the error. */
function assertImportError(err, kind) {
  assert(err instanceof Error, `an Error instance, got ${String(err)}`);
  assertEqual(err.name, 'ImportError', 'name');
  assertEqual(err.kind, kind, `kind (message: ${err.message})`);
  assert(typeof err.message === 'string' && err.message.length > 0, 'a message');
  assert(typeof err.code === 'string' && err.code.length > 0, 'a code');
  assertEqual(typeof err.retryable, 'boolean', 'typeof retryable');
  return err;
}

const SPRING = { objectName: 'profiles', fileName: 'spring-2026.csv', fileSize: 1_048_576 };

function newClient({ pkg, apiUrl, token }, extra = {}) {
  return new pkg.ImportClient({ baseUrl: apiUrl, token, ...extra });
}

/** Fast polling for tests (the API's recommended 5 s start is for production). */
const FAST_POLL = { pollStartMs: 50, pollCapMs: 250 };

/** Maps, starts and waits for a job whose file is uploaded; returns the final status. */
async function finishImport(client, jobId, waitOptions = {}) {
  const mapped = await client.setMapping(jobId, PEOPLE_MAPPING);
  assertEqual(mapped.ok, true, 'setMapping().ok');
  const started = await client.start(jobId);
  assertEqual(started.status, 'started', 'start().status');
  assertEqual(started.jobId, jobId, 'start().jobId');
  return client.waitForCompletion(jobId, { ...FAST_POLL, ...waitOptions });
}

/** Asserts the counters of a completed import of `peopleCsv(valid, invalid)`. */
function assertImported(status, valid, invalid) {
  assertEqual(status.state, 'completed', `state (errorMessage: ${status.errorMessage ?? '-'})`);
  assertEqual(status.readRows, valid + invalid, 'readRows');
  assertEqual(status.validRows, valid, 'validRows');
  assertEqual(status.invalidRows, invalid, 'invalidRows');
  assertEqual(status.mergedInserts, valid, 'mergedInserts');
}

/** Asserts that no storage request carried the bearer token. */
function assertNoToken(requests, token) {
  assert(requests.length > 0, 'storage requests were made');
  for (const req of requests) {
    assertEqual(req.headers.get('authorization'), null, `Authorization on ${req.method} storage request`);
    for (const [, value] of req.headers) assert(!value.includes(token), 'no header carries the token');
    assert(!req.url.includes(token), 'the storage URL does not carry the token');
  }
}

/** A `fetch` that waits `ms` before forwarding each request (and records them). */
function slowFetch(ms) {
  const rec = recordingFetch();
  const fn = async (input, init) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return rec.fn(input, init);
  };
  return { fn, requests: rec.requests };
}

/** Resolves on the first `name` event of `target`. */
function nextEvent(target, name) {
  return new Promise((resolve) => target.addEventListener(name, resolve, { once: true }));
}

/** A CSV of `rows` fresh people, as bytes (for the storage-mode cases). */
function bigPeopleCsv(rows) {
  return new TextEncoder().encode(peopleCsv(rows).text);
}

/** Checks what storage says it committed against the MD5 of `bytes`: the
 * MD5 it reported (S3, GCS, Put Blob) or, for an Azure block list, the
 * emulator's ETag (`0x` + the first 8 bytes of the blob's MD5). */
function assertCommitted(result, bytes) {
  const digest = md5(bytes);
  assertEqual(result.size, bytes.length, 'size');
  if (result.storageMd5 != null) {
    assertEqual(result.storageMd5, base64(digest), 'MD5 storage reported');
  } else {
    assertEqual(result.protocol, 'azure-blocks', 'protocol of an upload without a storage MD5');
    assertEqual((result.etag ?? '').replace(/"/g, ''), `0x${hex(digest.slice(0, 8))}`, 'Azure ETag');
  }
}

/**
 * A whole import of `rows` people through the emulator with `mode` storage:
 * upload with `uploadOptions`, check the committed bytes, import, check the
 * counters. Returns the upload result.
 */
async function importThrough(ctx, mode, rows, uploadOptions) {
  const client = newClient(ctx, { baseUrl: apiOf(ctx, mode) });
  const bytes = bigPeopleCsv(rows);
  const blob = new Blob([bytes], { type: 'text/csv' });
  const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
  const storage = recordingFetch();
  const result = await client.upload(job, blob, { ...uploadOptions, fetch: storage.fn }).done;
  assertNoToken(storage.requests, ctx.token);
  assertCommitted(result, bytes);
  await assertReadBack(apiOf(ctx, mode), ctx.token, job.jobId, blob);
  assertImported(await finishImport(client, job.jobId), rows, 0);
  return result;
}

/** An in-memory resume store (what `localStorage` is in a page). */
function memoryStore() {
  const map = new Map();
  return {
    map,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
  };
}

export const tests = [
  {
    name: 'version() is the package version',
    fn({ pkg, packageVersion }) {
      const v = pkg.version();
      assert(/^\d+\.\d+\.\d+/.test(v), `a semver, got ${v}`);
      assertEqual(v, packageVersion, 'version() vs package.json');
    },
  },
  {
    name: 'the package exports ImportClient and ImportError-shaped failures',
    fn({ pkg }) {
      assertEqual(typeof pkg.ImportClient, 'function', 'typeof ImportClient');
      const err = thrown(() => new pkg.ImportClient({ token: 'dev-write' }), 'no baseUrl');
      assertImportError(err, 'validation');
      assertEqual(err.field, 'baseUrl', 'field');
      assertEqual(err.status, null, 'status');
    },
  },
  {
    name: 'constructor options are checked (http(s) baseUrl, a token)',
    fn({ pkg, apiUrl }) {
      let err = thrown(() => new pkg.ImportClient({ baseUrl: 'ftp://example.test', token: 't' }));
      assertImportError(err, 'validation');
      assertEqual(err.field, 'baseUrl', 'field');
      err = thrown(() => new pkg.ImportClient({ baseUrl: apiUrl }));
      assertImportError(err, 'validation');
      assertEqual(err.field, 'token', 'field');
    },
  },
  {
    name: 'baseUrl is kept without a trailing slash',
    fn({ pkg, apiUrl, token }) {
      const client = new pkg.ImportClient({ baseUrl: `${apiUrl}/`, token });
      assertEqual(client.baseUrl, apiUrl, 'baseUrl');
    },
  },
  {
    name: 'createJob returns an upload slot from the emulator',
    async fn({ pkg, apiUrl, token }) {
      const client = new pkg.ImportClient({ baseUrl: apiUrl, token });
      const job = await client.createJob(SPRING);
      assert(/^imp_[0-9A-HJKMNP-TV-Z]{26}$/.test(job.jobId), `a job id, got ${job.jobId}`);
      assert(job.uploadUrl.startsWith('http'), 'an http(s) uploadUrl');
      assert(!Number.isNaN(Date.parse(job.expiresAt)), `an RFC 3339 expiresAt, got ${job.expiresAt}`);
      assert(Date.parse(job.expiresAt) > Date.now(), 'expiresAt is in the future');
      assertEqual(job.method, 'PUT', 'method');
      assert(
        job.headers !== null && typeof job.headers === 'object' && !(job.headers instanceof Map),
        'headers is a plain object',
      );
      assertEqual(typeof job.requestedBy, 'string', 'typeof requestedBy');
    },
  },
  {
    name: 'a custom fetch carries the request (method, URL, bearer token, JSON body)',
    async fn({ pkg, apiUrl, token }) {
      const rec = recordingFetch();
      const client = new pkg.ImportClient({ baseUrl: apiUrl, token, fetch: rec.fn });
      const job = await client.createJob(SPRING);
      assert(job.jobId.startsWith('imp_'), 'a job was created');
      assertEqual(rec.requests.length, 1, 'requests sent');
      const req = rec.requests[0];
      assertEqual(req.method, 'POST', 'method');
      assertEqual(req.url, `${apiUrl}/import-jobs`, 'url');
      assertEqual(req.headers.get('authorization'), `Bearer ${token}`, 'authorization');
      assert(/application\/json/.test(req.headers.get('content-type') ?? ''), 'a JSON content type');
    },
  },
  {
    name: 'a rule violation is refused before anything is sent',
    async fn({ pkg, apiUrl, token }) {
      const rec = recordingFetch();
      const client = new pkg.ImportClient({ baseUrl: apiUrl, token, fetch: rec.fn });
      let err = await rejection(client.createJob({ ...SPRING, fileSize: 0 }), 'an empty file');
      assertImportError(err, 'validation');
      assertEqual(err.code, 'CDP_ETL.VALIDATION.REQUEST_INVALID', 'code');
      assertEqual(err.field, 'fileSize', 'field');
      assert(typeof err.rule === 'string' && err.rule.length > 0, 'the broken rule is named');
      assertEqual(err.status, null, 'status');
      assertEqual(err.retryable, false, 'retryable');

      err = await rejection(client.createJob({ ...SPRING, createList: true }), 'a list without a name');
      assertImportError(err, 'validation');
      assertEqual(err.field, 'listName', 'field');

      err = await rejection(client.createJob({ ...SPRING, listname: 'typo' }), 'an unknown field');
      assertImportError(err, 'validation');
      assert(err.message.includes('listname'), `the unknown field is named: ${err.message}`);

      assertEqual(rec.requests.length, 0, 'requests sent');
    },
  },
  {
    name: 'a bad token is an api error with the auth code',
    async fn({ pkg, apiUrl }) {
      const rec = recordingFetch();
      const client = new pkg.ImportClient({ baseUrl: apiUrl, token: 'not-a-valid-token', fetch: rec.fn });
      const err = await rejection(client.createJob(SPRING));
      assertImportError(err, 'api');
      assertEqual(err.status, 401, 'status');
      assert(
        err.code === 'CDP_ETL.AUTH.TOKEN_INVALID' || err.code === 'CDP_ETL.AUTH.UNAUTHORIZED',
        `an auth code, got ${err.code}`,
      );
      assert(typeof err.correlationId === 'string' && err.correlationId.length > 0, 'a correlation id');
      assertEqual(err.retryable, false, 'retryable');
      assertEqual(rec.requests.length, 1, 'requests sent (an auth failure is not retried)');
      assert(!err.message.includes('not-a-valid-token'), 'the token is not echoed in the message');
    },
  },
  {
    name: 'no server is a retryable network error',
    async fn({ pkg }) {
      // Port 9 (discard) on loopback: nothing listens there.
      const client = new pkg.ImportClient({
        baseUrl: 'http://127.0.0.1:9/public/v1',
        token: 'dev-write',
        retry: { maxAttempts: 1 },
      });
      const err = await rejection(client.createJob(SPRING));
      assertImportError(err, 'network');
      assertEqual(err.code, 'NETWORK_ERROR', 'code');
      assertEqual(err.status, null, 'status');
      assertEqual(err.retryable, true, 'retryable');
    },
  },
  {
    name: 'getToken() supplies the bearer token',
    async fn(ctx) {
      let calls = 0;
      const client = newClient(ctx, {
        token: undefined,
        getToken: async () => {
          calls += 1;
          return ctx.token;
        },
      });
      const job = await client.createJob(SPRING);
      assert(job.jobId.startsWith('imp_'), 'a job was created');
      assert(calls >= 1, 'getToken() was called');
    },
  },
  {
    name: 'an aborted signal rejects with kind aborted before sending',
    async fn(ctx) {
      const rec = recordingFetch();
      const client = newClient(ctx, { fetch: rec.fn });
      const err = await rejection(client.createJob(SPRING, { signal: AbortSignal.abort() }));
      assertImportError(err, 'aborted');
      assertEqual(rec.requests.length, 0, 'requests sent');
    },
  },
  {
    name: 'the Metadata API lists objects and describes profiles',
    async fn(ctx) {
      const client = newClient(ctx);
      const list = await client.listObjects();
      assert(Array.isArray(list.items), 'items is an array');
      assert(list.items.some((o) => o.objectName === 'profiles'), 'profiles is listed');
      const schema = await client.objectSchema('profiles');
      assertEqual(schema.objectName, 'profiles', 'objectName');
      assert(schema.identityKeys.includes('email'), 'email is an identity key');
      assert(schema.fields.some((f) => f.name === 'first_name'), 'first_name is a field');
      const err = await rejection(client.objectSchema('no_such_object'));
      assertImportError(err, 'api');
      assertEqual(err.status, 404, 'status');
    },
  },
  {
    name: 'a whole import: createJob, upload in many parts, setMapping, start, waitForCompletion',
    async fn(ctx) {
      const client = newClient(ctx);
      const { text } = peopleCsv(40, 2);
      const blob = new Blob([text], { type: 'text/csv' });
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });

      const storage = recordingFetch({ keepBodies: true });
      const progress = [];
      const partEvents = [];
      const partSize = 256;
      const up = client.upload(job, blob, {
        partSize,
        concurrency: 3,
        fetch: storage.fn,
        onProgress: (p) => progress.push(p),
      });
      up.events.addEventListener('part', (e) => partEvents.push(e.detail));
      const result = await up.done;
      const parts = Math.ceil(blob.size / partSize);
      assertEqual(result.protocol, 'azure-blocks', 'protocol');
      assertEqual(result.size, blob.size, 'size');
      assertEqual(result.parts, parts, 'parts');
      assert(result.requests >= parts + 1, `a request per part plus the commit, got ${result.requests}`);
      assertEqual(partEvents.length, parts, "'part' events");
      const last = progress.at(-1);
      assert(last, 'progress was reported');
      assertEqual(last.loaded, blob.size, 'last progress loaded');
      assertEqual(last.total, blob.size, 'last progress total');
      assertEqual(last.partsDone, parts, 'last progress partsDone');
      assertNoToken(storage.requests, ctx.token);
      const blocks = storage.requests.filter((r) => /[?&]comp=block(&|$)/.test(r.url));
      assertEqual(blocks.length, parts, 'Put Block requests');
      for (const r of storage.requests) {
        const body = storage.bodies[storage.requests.indexOf(r)];
        assertEqual(r.headers.get('x-ms-content-crc64'), crc64Base64(body), `x-ms-content-crc64 of ${r.url.replace(/\?.*/, '')}`);
        assertEqual(r.headers.get('content-md5'), null, 'no Content-MD5 beside it');
      }
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, blob);

      const events = new EventTarget();
      const dispatched = [];
      events.addEventListener('status', (e) => dispatched.push(e.detail));
      const reported = [];
      const final = await finishImport(client, job.jobId, { events, onStatus: (s) => reported.push(s) });
      assertImported(final, 40, 2);
      assertEqual(final.errorSummary?.VALIDATION_TYPE_MISMATCH, 2, 'errorSummary.VALIDATION_TYPE_MISMATCH');
      assert(reported.length >= 1, 'onStatus was called');
      assertEqual(dispatched.length, reported.length, "'status' events vs onStatus calls");
      assertEqual(dispatched.at(-1).state, 'completed', "last 'status' event state");

      const status = await client.status(job.jobId);
      assertEqual(status.state, 'completed', 'status().state');
    },
  },
  {
    name: 'errors() and errorRows() report the rejected rows',
    async fn(ctx) {
      const rec = recordingFetch();
      const client = newClient(ctx, { fetch: rec.fn });
      const { text, invalidRows } = peopleCsv(3, 2);
      const blob = new Blob([text]);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      await client.upload(job, blob).done;
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, blob);
      assertImported(await finishImport(client, job.jobId), 3, 2);

      const errors = await client.errors(job.jobId);
      assertEqual(errors.hasErrors, true, 'hasErrors');
      assertEqual(errors.errorCount, 2, 'errorCount');
      assert(typeof errors.errorFileUrl === 'string' && errors.errorFileUrl.startsWith('http'), 'an error file URL');

      const rows = [];
      for await (const row of client.errorRows(job.jobId)) rows.push(row);
      assertEqual(rows.length, 2, 'rows');
      assertEqual(JSON.stringify(rows.map((r) => r.rowNumber)), JSON.stringify(invalidRows), 'rowNumbers');
      assertEqual(rows[0].sourceRow.email_address, 'not-an-email-0', 'sourceRow of the first');
      assert(typeof rows[0].error === 'string' && rows[0].error.length > 0, 'an error text');
      const downloads = rec.requests.filter((r) => !r.url.startsWith(ctx.apiUrl));
      assertEqual(downloads.length, 1, 'error file downloads');
      assertNoToken(downloads, ctx.token);
    },
  },
  {
    name: 'a clean import has no error rows',
    async fn(ctx) {
      const client = newClient(ctx);
      const blob = new Blob([peopleCsv(2).text]);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      await client.upload(job, blob).done;
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, blob);
      assertImported(await finishImport(client, job.jobId), 2, 0);
      assertEqual((await client.errors(job.jobId)).hasErrors, false, 'hasErrors');
      const rows = [];
      for await (const row of client.errorRows(job.jobId)) rows.push(row);
      assertEqual(rows.length, 0, 'rows');
    },
  },
  {
    name: 'importFile runs the whole import in one call, with every event',
    async fn(ctx) {
      const client = newClient(ctx);
      const file = new File([peopleCsv(30, 1).text], 'people.csv', { type: 'text/csv' });
      const events = new EventTarget();
      const seen = [];
      for (const type of ['job', 'progress', 'part', 'status']) {
        events.addEventListener(type, (e) => seen.push({ type, detail: e.detail }));
      }
      const progress = [];
      const statuses = [];
      const final = await client.importFile(file, {
        objectName: 'profiles',
        mapping: PEOPLE_MAPPING,
        events,
        onProgress: (p) => progress.push(p),
        onStatus: (s) => statuses.push(s),
        upload: { partSize: 512 },
        poll: FAST_POLL,
      });
      assertImported(final, 30, 1);

      const types = seen.map((e) => e.type);
      assertEqual(types[0], 'job', 'first event');
      assertEqual(types.filter((t) => t === 'job').length, 1, "'job' events");
      const job = seen[0].detail;
      assert(job.jobId.startsWith('imp_'), 'the job event carries the created job');
      assertEqual(final.jobId, job.jobId, 'final status jobId');
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, file);
      const parts = Math.ceil(file.size / 512);
      assertEqual(types.filter((t) => t === 'part').length, parts, "'part' events");
      assert(types.lastIndexOf('progress') < types.indexOf('status'), 'upload events come before status events');
      assertEqual(seen.at(-1).type, 'status', 'last event');
      assertEqual(seen.at(-1).detail.state, 'completed', "last 'status' event state");
      assertEqual(progress.at(-1).loaded, file.size, 'last progress loaded');
      assertEqual(statuses.length, types.filter((t) => t === 'status').length, 'onStatus calls');
    },
  },
  {
    name: 'importFile refuses a broken mapping or create request before sending',
    async fn(ctx) {
      const rec = recordingFetch();
      const client = newClient(ctx, { fetch: rec.fn });
      const file = new File([peopleCsv(1).text], 'people.csv');
      let err = await rejection(
        client.importFile(file, { objectName: 'profiles', mapping: { sourceFields: { a: 'string' } } }),
        'a mapping without fieldMap',
      );
      assertImportError(err, 'validation');
      err = await rejection(
        client.importFile(file, {
          objectName: 'profiles',
          mapping: PEOPLE_MAPPING,
          createOptions: { createList: true },
        }),
        'a list without a name',
      );
      assertImportError(err, 'validation');
      assertEqual(err.field, 'listName', 'field');
      assertEqual(rec.requests.length, 0, 'requests sent');
    },
  },
  {
    name: 'importFile aborted mid-upload rejects with kind aborted and names the job',
    async fn(ctx) {
      const client = newClient(ctx);
      const file = new File([peopleCsv(20).text], 'people.csv');
      const controller = new AbortController();
      const events = new EventTarget();
      events.addEventListener('part', () => controller.abort(), { once: true });
      const storage = slowFetch(20);
      const err = await rejection(
        client.importFile(file, {
          objectName: 'profiles',
          mapping: PEOPLE_MAPPING,
          signal: controller.signal,
          events,
          upload: { partSize: 128, concurrency: 1, fetch: storage.fn },
          poll: FAST_POLL,
        }),
      );
      assertImportError(err, 'aborted');
      assert(typeof err.jobId === 'string' && err.jobId.startsWith('imp_'), `the error names the job, got ${err.jobId}`);
      assertEqual((await client.status(err.jobId)).state, 'pending', 'the job was not started');
      assert(storage.requests.every((r) => !/comp=blocklist/.test(r.url)), 'nothing was committed');
      await assertNothingCommitted(ctx.apiUrl, ctx.token, err.jobId);
    },
  },
  {
    name: 'a mapping to an unknown field is a 422 and the job stays pending',
    async fn(ctx) {
      const client = newClient(ctx);
      const job = await client.createJob(SPRING);
      const err = await rejection(
        client.setMapping(job.jobId, { sourceFields: { a: 'string' }, fieldMap: { a: 'no_such_field' } }),
      );
      assertImportError(err, 'api');
      assertEqual(err.status, 422, 'status');
      assertEqual(err.code, 'CDP_ETL.VALIDATION.REQUEST_SCHEMA', 'code');
      assertEqual((await client.status(job.jobId)).state, 'pending', 'state');
    },
  },
  {
    name: 'starting a job twice is a 409 state conflict, reported without a retry',
    async fn(ctx) {
      const rec = recordingFetch();
      const client = newClient(ctx, { fetch: rec.fn });
      const blob = new Blob([peopleCsv(1).text]);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      await client.upload(job, blob).done;
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, blob);
      await client.setMapping(job.jobId, PEOPLE_MAPPING);
      await client.start(job.jobId);
      const before = rec.requests.length;
      const err = await rejection(client.start(job.jobId), 'a second start');
      assertImportError(err, 'api');
      assertEqual(err.status, 409, 'status');
      assert(err.code.startsWith('CDP_ETL.'), `a CDP_ETL code, got ${err.code}`);
      assertEqual(err.retryable, false, 'retryable');
      assertEqual(rec.requests.length - before, 1, 'requests for the second start');
    },
  },
  {
    name: 'the standalone upload() sends a Blob to any pre-signed URL',
    async fn(ctx) {
      const client = newClient(ctx);
      const blob = new Blob([peopleCsv(5).text]);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      const storage = recordingFetch();
      const up = ctx.pkg.upload(blob, {
        url: job.uploadUrl,
        method: job.method,
        headers: job.headers,
        expiresAt: job.expiresAt,
        fetch: storage.fn,
      });
      const result = await up.done;
      assertEqual(result.size, blob.size, 'size');
      assertEqual(result.parts, 1, 'parts (a small file is one request)');
      assertEqual(storage.requests.length, 1, 'storage requests');
      for (const [k, v] of Object.entries(job.headers)) {
        assertEqual(storage.requests[0].headers.get(k), v, `job header ${k}`);
      }
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, blob);
      assertImported(await finishImport(client, job.jobId), 5, 0);
    },
  },
  {
    name: 'S3-style storage: one PUT of the whole file, byte-identical, imported',
    async fn(ctx) {
      const result = await importThrough(ctx, 's3', 8000, { partSize: 64 * 1024 });
      assertEqual(result.protocol, 'single-put', 'protocol');
      assertEqual(result.parts, 1, 'parts');
    },
  },
  {
    name: 'GCS-style storage: a resumable session in 256 KiB chunks, byte-identical, imported',
    async fn(ctx) {
      const rows = 16000;
      const size = bigPeopleCsv(rows).length;
      const result = await importThrough(ctx, 'gcs', rows, { partSize: 256 * 1024 });
      assertEqual(result.protocol, 'gcs-resumable', 'protocol');
      assertEqual(result.parts, Math.ceil(size / (256 * 1024)), 'parts');
      assert(result.parts >= 2, `several chunks, got ${result.parts}`);
    },
  },
  {
    name: 'storage faults (503s, dropped connections): many parts still arrive byte-identical',
    timeoutMs: 60_000,
    async fn(ctx) {
      // About 90 parts: with 15 % of storage requests failing, a run without
      // a single fault has a chance below one in a million.
      const result = await importThrough(ctx, 'faults', 3000, { partSize: 1536, concurrency: 4 });
      assertEqual(result.protocol, 'azure-blocks', 'protocol');
      assert(result.parts >= 80, `many parts, got ${result.parts}`);
      assert(result.retries >= 1, `faults were met and retried, got ${result.retries} retries`);
      assertEqual(result.requests, result.parts + 1 + result.retries, 'requests: parts, the commit and the retries');
    },
  },
  {
    name: 'a part whose bytes are not the ones hashed is refused by storage and nothing is committed',
    async fn(ctx) {
      const client = newClient(ctx);
      const blob = new Blob([peopleCsv(8).text]);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      // The file "changes" between hashing and sending: one byte of the
      // second part differs from what its x-ms-content-crc64 was computed on.
      const storage = recordingFetch({
        change: (req, body) => {
          if (!/[?&]comp=block(&|$)/.test(req.url) || body.length === 0 || storage.bodies.length !== 2) return null;
          const other = body.slice();
          other[0] ^= 0x20;
          return other;
        },
      });
      const err = await rejection(client.upload(job, blob, { partSize: 64, concurrency: 1, fetch: storage.fn }).done, 'a changed part');
      assertImportError(err, 'storage');
      assertEqual(err.code, 'Crc64Mismatch', `code (message: ${err.message})`);
      assertEqual(err.retryable, false, 'retryable');
      assert(/Crc64Mismatch/.test(err.message), `the message names the refusal: ${err.message}`);
      assert(storage.requests.every((r) => !/comp=blocklist/.test(r.url)), 'no block list was sent');
      await assertNothingCommitted(ctx.apiUrl, ctx.token, job.jobId);
    },
  },
  {
    name: 'one lane hashes the parts ahead of the senders: one read of the file at a time, none waiting for a send slot',
    async fn(ctx) {
      const client = newClient(ctx);
      const blob = new Blob([peopleCsv(40).text]);
      const partSize = 128;
      const parts = Math.ceil(blob.size / partSize);
      assert(parts >= 8, `more parts than senders, got ${parts}`);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      // Every BYOB read of a Blob is the engine hashing a part (request
      // bodies are read otherwise): count those open at once and finished.
      let open = 0;
      let mostOpen = 0;
      let hashed = 0;
      const stream = Blob.prototype.stream;
      Blob.prototype.stream = function () {
        const s = stream.call(this);
        const getReader = s.getReader.bind(s);
        s.getReader = (opts) => {
          const reader = getReader(opts);
          if (opts?.mode !== 'byob') return reader;
          open += 1;
          mostOpen = Math.max(mostOpen, open);
          const read = reader.read.bind(reader);
          reader.read = async (view) => {
            const r = await read(view);
            if (r.done) {
              open -= 1;
              hashed += 1;
            }
            return r;
          };
          return reader;
        };
        return s;
      };
      // Storage answers no Put Block before every part is hashed: with a
      // lane that waited for a free sender, this upload would never end.
      const inner = recordingFetch({ keepBodies: true });
      let gate;
      let hashedBeforeFirstAnswer = -1;
      const held = async (input, init) => {
        gate ??= (async () => {
          for (let waited = 0; hashed < parts && waited < 10_000; waited += 5) {
            await new Promise((r) => setTimeout(r, 5));
          }
          hashedBeforeFirstAnswer = hashed;
        })();
        await gate;
        return inner.fn(input, init);
      };
      let result;
      try {
        result = await client.upload(job, blob, { partSize, concurrency: 4, fetch: held }).done;
      } finally {
        Blob.prototype.stream = stream;
      }
      assertEqual(result.parts, parts, 'parts');
      assertEqual(hashedBeforeFirstAnswer, parts, 'parts hashed while the first four were held unanswered');
      assertEqual(mostOpen, 1, 'reads of the file open at once');
      assertEqual(hashed, parts, 'each part read once for its checksum');
      for (const [i, r] of inner.requests.entries()) {
        assertEqual(r.headers.get('x-ms-content-crc64'), crc64Base64(inner.bodies[i]), `x-ms-content-crc64 of request ${i}`);
      }
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, blob);
    },
  },
  {
    name: 'checksum: false sends parts without a checksum header',
    async fn(ctx) {
      const client = newClient(ctx);
      const blob = new Blob([peopleCsv(4).text]);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      const storage = recordingFetch();
      const result = await client.upload(job, blob, { partSize: 64, checksum: false, fetch: storage.fn }).done;
      assert(result.parts > 1, 'several parts');
      assert(
        storage.requests.every((r) => r.headers.get('content-md5') === null && r.headers.get('x-ms-content-crc64') === null),
        'no Content-MD5 or x-ms-content-crc64',
      );
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, blob);
      assertImported(await finishImport(client, job.jobId), 4, 0);
    },
  },
  {
    name: 'an upload URL past its expiresAt fails at once with kind expired',
    async fn(ctx) {
      const client = newClient(ctx);
      const blob = new Blob(['email_address\nsomeone@example.com\n']);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      const storage = recordingFetch();
      const up = ctx.pkg.upload(blob, {
        url: job.uploadUrl,
        headers: job.headers,
        expiresAt: Date.now() - 1000,
        fetch: storage.fn,
      });
      const err = await rejection(up.done, 'an upload to an expired URL');
      assertImportError(err, 'expired');
      assertEqual(err.retryable, false, 'retryable');
      assertEqual(storage.requests.length, 0, 'storage requests');
    },
  },
  {
    name: 'abort() mid-upload rejects with kind aborted and commits nothing',
    async fn(ctx) {
      const client = newClient(ctx);
      const blob = new Blob([peopleCsv(20).text]);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      const storage = slowFetch(20);
      const up = client.upload(job, blob, { partSize: 128, concurrency: 1, fetch: storage.fn });
      await nextEvent(up.events, 'part');
      up.abort(new Error('stop'));
      const err = await rejection(up.done, 'an aborted upload');
      assertImportError(err, 'aborted');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const commits = storage.requests.filter((r) => /comp=blocklist/.test(r.url));
      assertEqual(commits.length, 0, 'block list commits');
      assert(storage.requests.length < Math.ceil(blob.size / 128), 'not every part was sent');
      await assertNothingCommitted(ctx.apiUrl, ctx.token, job.jobId);
    },
  },
  {
    name: 'pause() holds new parts back and resume() finishes the upload',
    async fn(ctx) {
      const client = newClient(ctx);
      const blob = new Blob([peopleCsv(20).text]);
      const job = await client.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      const storage = slowFetch(10);
      const up = client.upload(job, blob, { partSize: 128, concurrency: 1, fetch: storage.fn });
      await nextEvent(up.events, 'part');
      up.pause();
      assertEqual(up.paused, true, 'paused');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const held = storage.requests.length;
      await new Promise((resolve) => setTimeout(resolve, 150));
      assertEqual(storage.requests.length, held, 'requests started while paused');
      up.resume();
      assertEqual(up.paused, false, 'paused after resume()');
      const result = await up.done;
      assertEqual(result.parts, Math.ceil(blob.size / 128), 'parts');
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, blob);
      assertImported(await finishImport(client, job.jobId), 20, 0);
    },
  },
  {
    name: 'resumeUpload() in a fresh client skips the parts stored before',
    async fn(ctx) {
      const store = memoryStore();
      const blob = new Blob([peopleCsv(20).text]);
      const partSize = 128;
      const parts = Math.ceil(blob.size / partSize);
      const first = newClient(ctx);
      const job = await first.createJob({ objectName: 'profiles', fileName: 'people.csv', fileSize: blob.size });
      const slow = slowFetch(10);
      const up = first.upload(job, blob, { partSize, concurrency: 1, fetch: slow.fn, resumeStore: store });
      let stored = 0;
      await new Promise((resolve) =>
        up.events.addEventListener('part', () => {
          stored += 1;
          if (stored === 3) resolve();
        }),
      );
      up.abort();
      assertImportError(await rejection(up.done), 'aborted');
      assert(store.map.size > 0, 'acknowledged parts were recorded');

      // As after a page reload: a new client, the same file and store.
      const second = newClient(ctx);
      const result = await second.resumeUpload(job, blob, { partSize, resumeStore: store }).done;
      assert(result.partsSkipped >= 3, `at least the 3 stored parts were skipped, got ${result.partsSkipped}`);
      assert(result.partsSkipped < parts, 'not every part was skipped');
      assertEqual(result.parts, parts, 'parts');
      await assertReadBack(ctx.apiUrl, ctx.token, job.jobId, blob);
      assertImported(await finishImport(second, job.jobId), 20, 0);
    },
  },
  {
    name: 'every size in every storage mode reads back byte-identical (SHA-256)',
    timeoutMs: 180_000,
    async fn(ctx) {
      const KIB = 1024;
      const PART = 256 * KIB;
      // 64-byte parts of RAISED would be more than 50,000: the plan raises
      // the part size (to whole MiB; GCS chunks round up to 256 KiB first).
      const RAISED = 50_000 * 64 + 1;
      const cases = [
        [0, PART], [1, PART], [PART, PART], [PART + 1, PART], [5 * PART + 17, PART], [RAISED, 64],
      ];
      const expectedPartSize = { azure: 1024 * KIB, faults: 1024 * KIB, azurite: 1024 * KIB, gcs: PART };
      const protocols = { azure: 'azure-blocks', faults: 'azure-blocks', azurite: 'azure-blocks', s3: 'single-put', gcs: 'gcs-resumable' };
      for (const mode of ['azure', 's3', 'gcs', 'faults', 'azurite']) {
        const api = apiOf(ctx, mode);
        const client = newClient(ctx, { baseUrl: api });
        for (const [size, partSize] of cases) {
          const bytes = new Uint8Array(size);
          for (let i = 0; i < size; i++) bytes[i] = Math.imul(i, 2654435761) >>> 24;
          const blob = new Blob([bytes]);
          const job = await client.createJob({ objectName: 'profiles', fileName: 'sizes.bin', fileSize: Math.max(size, 1) });
          const storage = recordingFetch();
          const what = `${mode} ${size} B`;
          const result = await client
            .upload(job, blob, { partSize, fetch: storage.fn, retry: { maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 100 } })
            .done.catch((e) => {
              throw new Error(`${what}: ${e.message}`);
            });
          assertNoToken(storage.requests, ctx.token);
          assertEqual(result.protocol, protocols[mode], `${what}: protocol`);
          assertEqual(result.size, size, `${what}: size`);
          if (size === RAISED && expectedPartSize[mode]) {
            assertEqual(result.partSize, expectedPartSize[mode], `${what}: raised partSize`);
            assertEqual(result.parts, Math.ceil(size / expectedPartSize[mode]), `${what}: parts`);
          }
          await assertReadBack(api, ctx.token, job.jobId, blob);
        }
      }
    },
  },
  ...preflightTests,
];
