// The test page's module (served by the runner from an origin other than
// the broker's): imports the package's browser entry by name (an import map
// on the page maps `import-uploader` to the file the package's `exports`
// give browsers) and exposes functions the runner calls with
// `page.evaluate`. Everything here is what an application's page would do:
// get a ticket from the app's backend, then talk to the broker with it.

import * as pkg from 'import-uploader';

import { PEOPLE_MAPPING, peopleCsv } from '../js/people.mjs';

/** GETs a ticket from the app's backend (`claims` as query parameters). */
async function ticket(backend, claims) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(claims)) q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  const response = await fetch(`${backend}/app/ticket?${q}`);
  const body = await response.json();
  if (!response.ok) throw new Error(`ticket endpoint answered ${response.status}: ${JSON.stringify(body)}`);
  return body.ticket;
}

/**
 * One request to the broker; answers `{ status, headers, body }` (`body`
 * parsed as JSON when it is) or `{ failed: message }` when fetch rejects
 * (e.g. a CORS refusal).
 */
async function call(url, { method = 'GET', ticket: t, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (t !== undefined) init.headers.authorization = `Bearer ${t}`;
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    return { failed: String(e.message ?? e) };
  }
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body: parsed };
}

/**
 * A whole import through the broker: `new ImportClient({ baseUrl, getToken })`
 * and `importFile` of a generated CSV in parts of `partSize` bytes, then the
 * first rejected rows. `tickets` are handed out by getToken in order (the
 * last one repeats); when absent, getToken asks the app's backend.
 */
async function importThrough({ baseUrl, backend, subject, valid, invalid, partSize, tickets }) {
  let getTokenCalls = 0;
  const getToken = async () => {
    getTokenCalls += 1;
    if (tickets) return tickets[Math.min(getTokenCalls, tickets.length) - 1];
    return ticket(backend, { subject });
  };
  const client = new pkg.ImportClient({ baseUrl, getToken });
  const file = new File([peopleCsv(valid, invalid).text], 'people.csv', { type: 'text/csv' });
  const events = new EventTarget();
  let jobId = null;
  events.addEventListener('job', (e) => {
    jobId = e.detail.jobId;
  });
  const progress = [];
  const status = await client.importFile(file, {
    objectName: 'profiles',
    mapping: PEOPLE_MAPPING,
    events,
    onProgress: (p) => progress.push({ phase: p.phase, loaded: p.loaded, total: p.total, partsTotal: p.partsTotal }),
    upload: { partSize, concurrency: 2 },
    poll: { pollStartMs: 100, pollCapMs: 400 },
  });
  const rejected = [];
  for await (const row of client.errorRows(jobId)) {
    rejected.push({ rowNumber: row.rowNumber, code: row.code });
    if (rejected.length >= 5) break;
  }
  return { status, jobId, fileSize: file.size, progress, rejected, getTokenCalls };
}

/** Runs `fn` and answers its result, or `{ error }` with the ImportError fields. */
async function settle(fn) {
  try {
    return await fn();
  } catch (e) {
    return { error: { name: e.name, kind: e.kind, status: e.status, code: e.code, message: e.message } };
  }
}

globalThis.brokerTest = {
  version: pkg.version(),
  ticket,
  call,
  importThrough: (o) => settle(() => importThrough(o)),
};
document.body.dataset.ready = 'true';
