// The checks of `import-uploader/preflight` every app of the bundlers suite
// runs (see README.md): in the bundled pages it runs in a module Worker
// that the bundler must have emitted with its `.wasm`; in Node, Deno and
// the workerd bundle, in-process. Plain ES module, web-standard APIs only;
// its helpers are those of `checks.js`, copied beside it in every app.

import { assert, collector, rejection } from './checks.js';

function preflightError(err, kind, code) {
  assert(err instanceof Error, `an Error, got ${String(err)}`);
  assert(err.name === 'ImportError', `name ImportError, got ${err.name}: ${err.message}`);
  assert(err.kind === kind, `kind ${kind}, got ${err.kind}: ${err.message}`);
  assert(err.code === code, `code ${code}, got ${err.code}: ${err.message}`);
}

/** JSON with sorted keys. */
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}

/**
 * Runs the checks; answers `[{ name, ok, error? }]`. `pkg` is the
 * package's main exports (for the import through the emulator at `api`),
 * `preflight` those of `import-uploader/preflight`; `workers()` (browsers
 * only) counts the Workers the page started.
 */
export async function checkPreflight(pkg, preflight, { api, workers }) {
  const { results, run } = collector('preflight: ');
  const small = new Blob(['email,first_name,loyalty_points\r\nann@example.com,Ann,12\r\nbob@example.com,Bob,many\r\n']);

  // In browsers a sample is read on the page and a whole file (`full`) in
  // a module Worker, kept for the next call.
  const full = { full: true };
  await run(workers ? 'answers a sample of up to 1 MiB on the page, a larger one and a whole file from a module Worker' : 'answers a report in-process', async () => {
    const before = workers?.();
    const report = await preflight.preflight(small);
    assert(report && typeof report === 'object', `a report, got ${report}`);
    for (const key of ['dialect', 'columns', 'mapping', 'suggestions', 'problems', 'prediction']) assert(key in report, `the report has ${key}`);
    assert(typeof report.prediction.readRows === 'number', 'prediction.readRows is a number');
    assert(report.bytesExamined === small.size, `bytesExamined ${report.bytesExamined}, expected ${small.size}`);
    if (workers) assert(workers() === before, `no Worker started for a sample (${workers() - before})`);
    if (workers) {
      // The default sample, 1 MiB, is read on the page; a byte more, in a Worker.
      const limit = preflight.DEFAULT_SAMPLE_BYTES;
      const rows = 'someone@example.com,Some,1\n'.repeat(Math.ceil(limit / 27) + 10);
      const big = new Blob([`email,first_name,loyalty_points\n${rows}`]);
      const onPage = await preflight.preflight(big, { sampleBytes: limit });
      assert(onPage.bytesExamined === limit, `a 1 MiB sample examined ${onPage.bytesExamined} bytes`);
      assert(workers() === before, `no Worker started for a 1 MiB sample (${workers() - before})`);
      const inWorker = await preflight.preflight(big, { sampleBytes: limit + 1 });
      assert(inWorker.bytesExamined === limit + 1, `a sample of 1 MiB + 1 B examined ${inWorker.bytesExamined} bytes`);
      assert(workers() === before + 1, `one Worker started for a sample of 1 MiB + 1 B (${workers() - before})`);
    }
    // The whole file: in a Worker (the one kept after the call above).
    const whole = await preflight.preflight(small, full);
    assert(canon(whole.prediction) === canon(report.prediction), `the whole file's prediction equals the sample's (the sample is the whole file): ${canon(whole.prediction)} vs ${canon(report.prediction)}`);
    if (workers) assert(workers() === before + 1, `the whole file read in the kept Worker (${workers() - before} started)`);
  });
  await run(workers ? 'the next whole-file call reuses the kept Worker; preload() resolves' : 'preload() resolves', async () => {
    assert(typeof preflight.preload === 'function', 'preload is exported');
    const before = workers?.();
    assert((await preflight.preload()) === undefined, 'preload() resolves to undefined');
    const again = await preflight.preflight(small, full);
    assert(again.prediction.readRows === 2, `two rows read, got ${again.prediction.readRows}`);
    if (workers) assert(workers() === before, `no Worker started (${workers() - before})`);
    // Calls at the same time each get a Worker: the kept one and a new one.
    const both = await Promise.all([preflight.preflight(small, full), preflight.preflight(small, full)]);
    assert(both.every((r) => r.prediction.readRows === 2), 'both calls answered');
    if (workers) assert(workers() === before + 1, `one more Worker for the second of two calls at once (${workers() - before})`);
  });
  if (workers) {
    await run('preload() settles when a cancelled call ends the Worker it waits on', async () => {
      // A cancelled call ends the kept Worker, so that preload() starts a
      // new one, still loading its module.
      const first = new AbortController();
      const ending = preflight.preflight(small, { ...full, signal: first.signal });
      first.abort();
      preflightError(await rejection(ending, 'the cancelled call'), 'aborted', 'ABORTED');
      const before = workers();
      const waiting = preflight.preload();
      assert(workers() === before + 1, `preload() started a Worker (${workers() - before})`);
      // The next call takes that Worker and is cancelled before its module loads.
      const second = new AbortController();
      const cancelled = preflight.preflight(small, { ...full, signal: second.signal });
      second.abort();
      preflightError(await rejection(cancelled, 'the second cancelled call'), 'aborted', 'ABORTED');
      let timer;
      const outcome = await Promise.race([
        waiting.then(
          () => 'resolved',
          (e) => e,
        ),
        new Promise((r) => {
          timer = setTimeout(() => r('pending'), 5000);
        }),
      ]);
      clearTimeout(timer);
      assert(outcome !== 'pending', 'preload() had not settled 5 s after its Worker was ended');
      preflightError(outcome, 'aborted', 'ABORTED');
      // And the preflight still works: preload() again, then a call.
      assert((await preflight.preload()) === undefined, 'preload() resolves again');
      const report = await preflight.preflight(small, full);
      assert(report.prediction.readRows === 2, `two rows read, got ${report.prediction.readRows}`);
    });
  }
  await run('bad options reject with PREFLIGHT_OPTIONS_INVALID', async () => {
    const err = await rejection(preflight.preflight(small, { sampleBytes: -1 }), 'sampleBytes -1');
    preflightError(err, 'validation', 'PREFLIGHT_OPTIONS_INVALID');
    assert(err.field === 'sampleBytes', `field sampleBytes, got ${err.field}`);
  });
  await run('full reads parts with progress; its signal cancels it', async () => {
    const big = new Blob([`email\n${'someone@example.com\n'.repeat(500_000)}`]);
    const progress = [];
    const report = await preflight.preflight(big, { full: true, onProgress: (p) => progress.push(p) });
    assert(report.bytesExamined === big.size, `bytesExamined ${report.bytesExamined} of ${big.size}`);
    assert(progress.filter((p) => p.phase === 'full').length >= 2, `progress per part: ${JSON.stringify(progress)}`);
    assert(progress.at(-1).loaded === big.size, 'the last progress is the whole file');
    // Cancelled once the first part after the sample is read.
    const controller = new AbortController();
    let aborted = 0;
    const after = [];
    const pending = preflight.preflight(big, {
      full: true,
      signal: controller.signal,
      onProgress: (p) => {
        if (aborted) after.push(p);
        else if (p.phase === 'full') {
          controller.abort();
          aborted = Date.now();
        }
      },
    });
    preflightError(await rejection(pending, 'the cancelled run'), 'aborted', 'ABORTED');
    assert(aborted > 0, 'the run was cancelled during its progress');
    assert(Date.now() - aborted < 2000, `cancelled within 2 s (${Date.now() - aborted} ms)`);
    assert(after.length === 0, `no progress after the abort: ${JSON.stringify(after)}`);
  });
  await run('normalised() re-writes a windows-1252 semicolon file as UTF-8 commas, read in parts', async () => {
    // "Zoë;Dupont, Jr.;12,5 €" in windows-1252, CRLF; and by hand.
    const row = [0x5a, 0x6f, 0xeb, 0x3b, ...[...'Dupont, Jr.;12,5 '].map((c) => c.charCodeAt(0)), 0x80, 0x0d, 0x0a];
    const header = [...'first_name;last_name;spent\r\n'].map((c) => c.charCodeAt(0));
    const n = 20_000;
    const original = new Uint8Array(header.length + n * row.length);
    original.set(header);
    for (let i = 0; i < n; i++) original.set(row, header.length + i * row.length);
    const converted = new TextEncoder().encode(`first_name,last_name,spent\n${'Zoë,"Dupont, Jr.","12,5 €"\n'.repeat(n)}`);
    const file = new Blob([original]);
    const report = await preflight.preflight(file, { full: true });
    assert(report.normalisedSize === converted.length, `normalisedSize ${report.normalisedSize}, by hand ${converted.length}`);
    const source = preflight.normalised(file, report);
    assert(source.size === converted.length, `size ${source.size}`);
    const got = new Uint8Array(source.size);
    const step = 100_000;
    for (let at = 0; at < source.size; at += step) got.set(await source.read(at, Math.min(step, source.size - at)), at);
    assert(got.every((b, i) => b === converted[i]), 'the bytes are the hand-converted file');
    const again = await source.read(step, step);
    assert(again.every((b, i) => b === converted[step + i]), 'a part read again');
    // Uploaded by the engine in parts, straight from the normalising Worker.
    const client = new pkg.ImportClient({ baseUrl: api, token: 'dev-write' });
    const job = await client.createJob({ objectName: 'profiles', fileName: 'normalised.csv', fileSize: source.size });
    await client.upload(job, preflight.normalised(file, report), { partSize: 128 * 1024 }).done;
    const back = await fetch(`${api}/import-jobs/${job.jobId}/upload`, { headers: { authorization: 'Bearer dev-write' } });
    const bytes = new Uint8Array(await back.arrayBuffer());
    assert(back.status === 200 && bytes.length === converted.length, `read back ${back.status}, ${bytes.length} bytes of ${converted.length}`);
    assert(bytes.every((b, i) => b === converted[i]), 'the upload read back is the hand-converted file');
  });
  await run("the prediction equals the emulator's verdict on the same file", async () => {
    const client = new pkg.ImportClient({ baseUrl: api, token: 'dev-write' });
    const schema = await client.objectSchema('profiles');
    const tag = crypto.randomUUID().slice(0, 8);
    const file = new Blob([`email,first_name,loyalty_points\r\na.${tag}@example.com,Ann,12\r\nnot-an-email,Bob,3\r\nc.${tag}@example.com,Cy,lots\r\n`]);
    const report = await preflight.preflight(file, { schema, full: true });
    const job = await client.createJob({ objectName: 'profiles', fileName: 'verdict.csv', fileSize: file.size });
    await client.upload(job, file).done;
    await client.setMapping(job.jobId, report.mapping);
    await client.start(job.jobId);
    const status = await client.waitForCompletion(job.jobId, { pollStartMs: 50, pollCapMs: 250 });
    const p = report.prediction;
    for (const k of ['readRows', 'validRows', 'invalidRows']) assert(p[k] === status[k], `${k}: predicted ${p[k]}, the emulator ${status[k]}`);
    assert(canon(p.errorSummary) === canon(status.errorSummary ?? null), `errorSummary: predicted ${canon(p.errorSummary)}, the emulator ${canon(status.errorSummary)}`);
    const rows = [];
    for await (const row of client.errorRows(job.jobId)) rows.push(row);
    assert(canon(p.firstErrors) === canon(rows), `firstErrors: predicted ${canon(p.firstErrors)}, the error file ${canon(rows)}`);
  });
  return results;
}
