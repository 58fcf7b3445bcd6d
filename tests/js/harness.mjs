// A tiny test harness that runs unchanged in Node, Deno and workerd: it uses
// nothing but the language and web-standard globals. The suite
// (`suite.mjs`) is a list of `{ name, fn }` cases; `runTests` runs them one
// after another, each under a timeout, and reports one result per case. The
// runners print the results as `ok - name` / `not ok - name: error` lines
// closed by the plain `N passed, M failed` line that `cargo xtask test`
// reads.

/** How long one case may take before it counts as failed. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Thrown by the assertions below. */
export class AssertionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AssertionError';
  }
}

/** Fails unless `cond` is truthy. */
export function assert(cond, message) {
  if (!cond) throw new AssertionError(message ?? 'assertion failed');
}

/** Fails unless `actual === expected` (both shown in the message). */
export function assertEqual(actual, expected, what = 'value') {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(
      `${what}: expected ${show(expected)}, got ${show(actual)}`,
    );
  }
}

/** Awaits `promiseOrFn` (a promise or a function returning one) and returns
 * its rejection; fails when it resolves. */
export async function rejection(promiseOrFn, what = 'the call') {
  let value;
  try {
    value = await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (err) {
    return err;
  }
  throw new AssertionError(`${what} should have failed, but resolved with ${show(value)}`);
}

/** Calls `fn` (synchronously) and returns what it throws; fails when it returns. */
export function thrown(fn, what = 'the call') {
  let value;
  try {
    value = fn();
  } catch (err) {
    return err;
  }
  throw new AssertionError(`${what} should have thrown, but returned ${show(value)}`);
}

/** A short, single-line rendering of a value for messages. */
export function show(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Error) return describeError(v);
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return String(v);
    return s.length > 300 ? `${s.slice(0, 300)}…` : s;
  } catch {
    return String(v);
  }
}

/** An error as one line, with the `ImportError` fields when present. */
export function describeError(err) {
  if (err === null || typeof err !== 'object') return String(err);
  const name = err.name ?? 'Error';
  const fields = ['kind', 'status', 'code']
    .filter((k) => err[k] !== undefined && err[k] !== null)
    .map((k) => `${k}=${err[k]}`);
  const extra = fields.length ? ` [${fields.join(' ')}]` : '';
  return `${name}: ${err.message ?? ''}${extra}`.replace(/\s*\n\s*/g, ' ');
}

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new AssertionError(`timed out after ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs every case in order. Returns `[{ name, ok, error?, ms }]`; calls
 * `onResult(result)` as each finishes (the runners print from there).
 * `only` (a substring) limits the run to matching names.
 */
export async function runTests(tests, ctx, { timeoutMs = DEFAULT_TIMEOUT_MS, onResult, only } = {}) {
  const results = [];
  for (const t of tests) {
    if (only && !t.name.includes(only)) continue;
    const started = Date.now();
    let result;
    try {
      await withTimeout(Promise.resolve().then(() => t.fn(ctx)), t.timeoutMs ?? timeoutMs);
      result = { name: t.name, ok: true, ms: Date.now() - started };
    } catch (err) {
      result = { name: t.name, ok: false, error: describeError(err), ms: Date.now() - started };
    }
    results.push(result);
    onResult?.(result);
  }
  return results;
}

/** The line printed for one result. */
export function resultLine(r) {
  return r.ok ? `ok - ${r.name}` : `not ok - ${r.name}: ${r.error}`;
}

/** The closing line (`N passed, M failed`). */
export function summaryLine(results) {
  const passed = results.filter((r) => r.ok).length;
  return `${passed} passed, ${results.length - passed} failed`;
}
