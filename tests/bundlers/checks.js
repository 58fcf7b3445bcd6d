// The checks every app of the bundlers suite runs against the installed
// package (see README.md): the same in each bundled page, in Node, in Deno
// and in the workerd bundle. Plain ES module, web-standard APIs only.
//
// `atImport` runs synchronously right after the app imported the package:
// in a browser the WebAssembly module cannot be loaded yet (it is fetched
// in the background from import time), so these calls are the ones made
// before `ready`. `check` then awaits their results and makes the rest.

/** What the app does before anything can have loaded. */
export function atImport(pkg, api) {
  const early = { version: pkg.version() };
  try {
    early.client = new pkg.ImportClient({ baseUrl: api, token: 'dev-read' });
  } catch (e) {
    early.clientError = e;
  }
  // The first call, made at once, and the error rows of an unknown job
  // (an ErrorRows at once; the request goes with the first `next()`).
  early.firstCall = early.client?.listObjects();
  early.firstCall?.catch(() => {});
  try {
    early.rows = early.client?.errorRows('imp_01JZZZZZZZZZZZZZZZZZZZZZZZ');
  } catch (e) {
    early.rowsError = e;
  }
  // A standalone upload with a bad option: before the module is loaded,
  // the Upload is there at once and the option error comes through
  // `done`; once it is loaded (servers load it at import), it throws.
  try {
    early.upload = pkg.upload(new Blob(['email\na@example.com\n']), { url: 'http://127.0.0.1:9/none', partSize: -1 });
    early.upload.done.catch(() => {});
  } catch (e) {
    early.uploadError = e;
  }
  return early;
}

export function assert(ok, what) {
  if (!ok) throw new Error(what);
}

/** Awaits `promise`, which must reject; answers the reason. */
export async function rejection(promise, what) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error(`${what} resolved; it should have rejected`);
}

/** Fails unless `err` is an ImportError of `kind`. */
function importError(err, kind) {
  assert(err instanceof Error, `an Error, got ${String(err)}`);
  assert(err.name === 'ImportError', `name ImportError, got ${err.name}: ${err.message}`);
  assert(err.kind === kind, `kind ${kind}, got ${err.kind}: ${err.message}`);
  assert(typeof err.code === 'string' && err.code !== '', `a code, got ${err.code}`);
  assert(typeof err.retryable === 'boolean', `retryable is a boolean, got ${err.retryable}`);
  assert(err.status === null || typeof err.status === 'number', `status is a number or null, got ${err.status}`);
}

/**
 * The results of a list of checks: `run(name, fn)` runs one (awaiting
 * `fn`) and records `{ name: prefix + name, ok, error? }` in `results`.
 */
export function collector(prefix = '') {
  const results = [];
  const run = async (name, fn) => {
    try {
      await fn();
      results.push({ name: `${prefix}${name}`, ok: true });
    } catch (e) {
      results.push({ name: `${prefix}${name}`, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  };
  return { results, run };
}

/**
 * Runs the checks; answers `[{ name, ok, error? }]`. `api` is the
 * emulator's API base URL, `version` the package version; `loadedAtImport`
 * says whether the runtime instantiates the module at import (the server
 * entries) or in the background (the browser entry).
 */
export async function check(pkg, early, { api, version, loadedAtImport }) {
  const { results, run } = collector();

  await run('version() at import', () => {
    assert(early.version === version, `version() is ${early.version}, expected ${version}`);
  });
  await run('new ImportClient() at import', () => {
    assert(!early.clientError, `it threw: ${early.clientError}`);
    assert(early.client instanceof pkg.ImportClient, 'it is no ImportClient');
  });
  await run('the first call, listObjects(), made at import', async () => {
    const list = await early.firstCall;
    assert(Array.isArray(list?.items), 'items is an array');
    assert(list.items.some((o) => o.objectName === 'profiles'), 'profiles is listed');
  });
  if (loadedAtImport) {
    await run('upload() at import with a bad option throws a validation ImportError', () => {
      assert(early.uploadError, 'it did not throw');
      importError(early.uploadError, 'validation');
    });
  } else {
    await run('upload() at import, before the module is loaded: an Upload whose done rejects with a validation ImportError', async () => {
      assert(!early.uploadError, `it threw: ${early.uploadError}`);
      assert(early.upload instanceof pkg.Upload, 'it is no Upload');
      assert(early.upload.events instanceof EventTarget, 'its events is no EventTarget');
      importError(await rejection(early.upload.done, 'done'), 'validation');
    });
  }
  await run('ready resolves', async () => {
    assert(pkg.ready instanceof Promise, 'ready is no Promise');
    assert((await pkg.ready) === undefined, 'ready resolves to undefined');
    assert(pkg.version() === version, `version() after ready is ${pkg.version()}`);
  });
  await run('an API refusal is an ImportError (api, 401, correlationId)', async () => {
    const client = new pkg.ImportClient({ baseUrl: api, token: 'not-a-token' });
    const err = await rejection(client.listObjects(), 'listObjects with a bad token');
    importError(err, 'api');
    assert(err.status === 401, `status 401, got ${err.status}`);
    assert(err.code.startsWith('CDP_ETL.'), `an API code, got ${err.code}`);
    assert(typeof err.correlationId === 'string' && err.correlationId !== '', 'a correlationId');
    assert(err.retryable === false, 'not retryable');
  });
  await run('errorRows() at import, of an unknown job: next() rejects with an api ImportError', async () => {
    assert(!early.rowsError, `it threw: ${early.rowsError}`);
    const rows = early.rows;
    assert(rows instanceof pkg.ErrorRows, 'it is no ErrorRows');
    assert(rows[Symbol.asyncIterator]() === rows, 'it is its own async iterator');
    importError(await rejection(rows.next(), 'next()'), 'api');
  });
  await run('after ready, bad options throw at once (validation ImportError)', () => {
    let thrown;
    try {
      new pkg.ImportClient({ token: 'dev-read' });
    } catch (e) {
      thrown = e;
    }
    assert(thrown, 'new ImportClient without baseUrl did not throw');
    importError(thrown, 'validation');
  });
  return results;
}
