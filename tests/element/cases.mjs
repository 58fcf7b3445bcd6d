// The element's cases (run by `run.mjs`). Each opens a fresh browser
// context on the bare page (only the tag) or the demo page, gives the
// element a file (a synthetic drag-and-drop, or `setInputFiles`), and
// checks what the element shows against the emulator's own answers: the
// job's status read with a workspace token, the error file.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { assert, assertEqual } from '../js/harness.mjs';
import { root } from '../js/support.mjs';
import { startBareApp, startHeldEmulator } from './server.mjs';

// ---- files -------------------------------------------------------------------------------

const run = () => Math.random().toString(36).slice(2, 10);

/** A CSV of people: `valid` good rows and `invalid` bad e-mails. */
export function people(valid, invalid, { header = 'email,first_name', sep = ',', eol = '\n', bom = false } = {}) {
  const r = run();
  const lines = [header];
  for (let i = 0; i < valid; i++) lines.push([`p${i}.${r}@example.com`, `Person ${i}`].join(sep));
  for (let i = 0; i < invalid; i++) lines.push([`broken-${i}.${r}`, `Broken ${i}`].join(sep));
  return `${bom ? '\uFEFF' : ''}${lines.join(eol)}${eol}`;
}

/** A file for the page: `{ name, bytes: number[], type, lastModified }`. */
export function file(name, content, lastModified = Date.now()) {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  return { name, bytes: [...bytes], type: 'text/csv', lastModified };
}

/** `count` rows of about 100 bytes, so that a file spans several parts. */
function bigPeople(rows) {
  const r = run();
  const pad = 'x'.repeat(70);
  const lines = ['email,first_name'];
  for (let i = 0; i < rows; i++) lines.push(`big${i}.${r}@example.com,${pad}`);
  return `${lines.join('\n')}\n`;
}


// ---- the page ----------------------------------------------------------------------------

/** Records the element's events in `window.__events` (details made plain). */
function recordEvents() {
  window.__events = [];
  for (const n of ['file', 'mapping', 'progress', 'status', 'done', 'error', 'download']) {
    document.addEventListener(`import-uploader:${n}`, (e) => {
      const d = e.detail;
      const plain =
        n === 'file'
          ? { name: d.name, size: d.size, type: d.type, isFile: d.file instanceof File, sameFile: d.file?.name === d.name && d.file?.size === d.size }
          : n === 'error'
            ? { name: d.name, code: d.code, kind: d.kind, message: d.message, status: d.status, correlationId: d.correlationId, retryable: d.retryable, isError: d instanceof Error }
            : JSON.parse(JSON.stringify(d));
      window.__events.push({ type: n, detail: plain });
    });
  }
}

const el = (suffix) => `import-uploader [id$="-${suffix}"]`;

/** A fresh context and page on `url`, with events recorded; `options` for the context. */
export async function open(ctx, url, options = {}, { fast = true } = {}) {
  const context = await ctx.browser.newContext({ viewport: { width: 1100, height: 900 }, ...options });
  await context.addInitScript(recordEvents);
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? '' }));
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('import-uploader')?.dataset.ready === 'true', null, { timeout: 20_000 });
  if (fast) await tune(page);
  return { context, page, dialogs, requests };
}

/** Runs `fn` on the page `opening` (an `open(…)`) resolves to, and closes its context whatever happens. */
export async function withPage(opening, fn) {
  const opened = await opening;
  try {
    return await fn(opened);
  } finally {
    await opened.context.close();
  }
}

/** Faster status polling for tests (an app may set the same properties). */
async function tune(page, upload = {}) {
  await page.evaluate((upload) => {
    const u = document.querySelector('import-uploader');
    u.pollOptions = { pollStartMs: 150, pollCapMs: 400 };
    u.uploadOptions = upload;
  }, upload);
}

export async function shot(ctx, page, name) {
  await page.screenshot({ path: join(ctx.shots, `${name}.png`), fullPage: true });
}

/** Gives the element `f` by a synthetic drag-and-drop on its drop zone. */
export async function drop(page, ...files) {
  const dt = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: f.type, lastModified: f.lastModified }));
    return dt;
  }, files);
  await page.dispatchEvent(el('drop'), 'drop', { dataTransfer: dt });
}

/**
 * Drops real paths (files or folders) on the element's drop zone the way
 * the browser does when they are dragged in from the desktop: the DevTools
 * protocol's `Input.dispatchDragEvent`, so Chromium itself builds the
 * `DataTransfer` (with `webkitGetAsEntry()` entries) from the paths.
 */
async function osDrop(page, paths) {
  const box = await page.locator(el('drop')).boundingBox();
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const cdp = await page.context().newCDPSession(page);
  try {
    const data = { items: [], files: paths, dragOperationsMask: 1 };
    for (const type of ['dragEnter', 'dragOver', 'drop']) await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
  } finally {
    await cdp.detach();
  }
}

/** Gives the element `f` through its file input. */
export async function pick(page, f) {
  await page.setInputFiles(el('input'), { name: f.name, mimeType: f.type, buffer: Buffer.from(f.bytes) });
}

/** Waits for the element's step `name`; fails at once when it shows an error instead. */
async function step(page, name, timeout = 30_000) {
  const outcome = await page.waitForFunction(
    (s) => {
      const u = document.querySelector('import-uploader');
      if (u.dataset.step === s) return 'ok';
      const live = u.shadowRoot.querySelector('[role=status]');
      return live?.classList.contains('error') ? live.textContent : false;
    },
    name,
    { timeout },
  );
  const v = await outcome.jsonValue();
  assert(v === 'ok', `the element shows an error instead of reaching ${name}: ${v}`);
}

/** Waits for the review step with its mapping editor filled. */
export async function review(page) {
  await step(page, 'review');
  const outcome = await page.waitForFunction(
    () => {
      const root = document.querySelector('import-uploader').shadowRoot;
      if (root.querySelector('[id$="-mapping"] tbody tr')) return 'ok';
      const live = root.querySelector('[role=status]');
      return live?.classList.contains('error') ? live.textContent : false;
    },
    null,
    { timeout: 20_000 },
  );
  const v = await outcome.jsonValue();
  assert(v === 'ok', `the element shows an error instead of the mapping: ${v}`);
}

export async function events(page, type) {
  return page.evaluate((t) => window.__events.filter((e) => !t || e.type === t), type);
}

/** Waits until the element has sent the error event with `code` (a refusal
 * can come after an asynchronous read of the file), and returns its detail. */
export async function errorEvent(page, code) {
  await page
    .waitForFunction((c) => window.__events.some((e) => e.type === 'error' && e.detail?.code === c), code, { timeout: 10_000 })
    .catch(() => {});
  return (await events(page, 'error')).at(-1)?.detail;
}

/** The counts the element shows (`data-key` → text, digits only). */
async function shownCounts(page) {
  return page.$$eval(`${el('counts')} dd`, (dds) => Object.fromEntries(dds.map((d) => [d.dataset.key, d.textContent])));
}

const num = (text) => Number(String(text).replace(/[^\d]/g, ''));

/** The job's status from the emulator itself (workspace token, raw job id). */
async function emulatorStatus(ctx, handle) {
  const jobId = handle.split('.')[0];
  const response = await fetch(`${ctx.emulator}/public/v1/import-jobs/${jobId}`, { headers: { authorization: `Bearer ${ctx.workspaceToken}` } });
  const body = await response.json();
  assertEqual(response.status, 200, `GET /import-jobs/${jobId} (${JSON.stringify(body).slice(0, 200)})`);
  return body.data;
}

/** The error file's lines, from the emulator. */
async function errorFile(ctx, handle) {
  const jobId = handle.split('.')[0];
  const response = await fetch(`${ctx.emulator}/public/v1/import-jobs/${jobId}/errors`, { headers: { authorization: `Bearer ${ctx.workspaceToken}` } });
  const { data } = await response.json();
  assert(data.hasErrors && data.errorFileUrl, `the job has an error file: ${JSON.stringify(data)}`);
  const text = await (await fetch(data.errorFileUrl)).text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Starts the import and waits for the result; answers `{ done, counts }`. */
export async function startAndFinish(page, timeout = 60_000) {
  await page.click(el('start'));
  await step(page, 'result', timeout);
  const done = (await events(page, 'done')).at(-1)?.detail;
  assert(done, 'a done event');
  return { done, counts: await shownCounts(page) };
}

/** Asserts the counts on screen equal the emulator's status of the job. */
export async function countsMatchEmulator(ctx, page, done) {
  const status = await emulatorStatus(ctx, done.jobId);
  const counts = await shownCounts(page);
  assertEqual(status.state, 'completed', 'the emulator says');
  assertEqual(counts.state, status.state, 'state on screen');
  for (const k of ['readRows', 'validRows', 'invalidRows', 'mergedInserts', 'mergedUpdates']) {
    assertEqual(num(counts[k]), status[k], `${k} on screen vs the emulator`);
  }
  return status;
}

/** axe-core on the page: fails on any serious or critical violation. */
async function axe(page, where) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.addScriptTag({ path: join(root, 'node_modules', 'axe-core', 'axe.min.js') });
  }
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(bad.length === 0, `axe-core at ${where}: ${JSON.stringify(bad)}`);
  return violations.length;
}

/** Where keyboard focus is: the id inside the element's shadow root, or the page element's. */
async function focused(page) {
  return page.evaluate(() => {
    const u = document.querySelector('import-uploader');
    return document.activeElement === u ? `shadow:${u.shadowRoot.activeElement?.id ?? ''}` : document.activeElement?.id ?? document.activeElement?.tagName;
  });
}

/** Presses Tab until the element's control `suffix` has focus. */
async function tabTo(page, suffix, max = 60) {
  for (let i = 0; i < max; i++) {
    if ((await focused(page)).endsWith(`-${suffix}`)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${suffix} (focus: ${await focused(page)})`);
}

/** Delays storage requests by `ms` and counts them (`counter.n`, block PUTs `counter.blocks`). */
async function slowStorage(page, ms) {
  const counter = { n: 0, blocks: 0 };
  await page.route('**/storage/**', async (route) => {
    counter.n++;
    if (route.request().url().includes('comp=block&')) counter.blocks++;
    await new Promise((r) => setTimeout(r, ms));
    await route.continue().catch(() => {});
  });
  return counter;
}

async function loaded(page) {
  return page.$eval(el('progress-text'), (p) => Number(p.dataset.loaded ?? 0));
}

async function waitLoaded(page, atLeast) {
  await page.waitForFunction(
    (n) => Number(document.querySelector('import-uploader').shadowRoot.querySelector('[id$="-progress-text"]')?.dataset.loaded ?? 0) >= n,
    atLeast,
    { timeout: 30_000 },
  );
}

/** Parses CSV text (RFC 4180) into rows. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell.replace(/\r$/, '')), rows.push(row), (row = []), (cell = '');
    else cell += c;
  }
  if (cell || row.length) row.push(cell), rows.push(row);
  return rows;
}

/** Checks CSV rows of the download against the error file's lines. */
function sameAsErrorFile(csvRows, lines) {
  const [head, ...body] = csvRows;
  assertEqual(head.slice(0, 4).join(), 'rowNumber,code,column,error', 'CSV header');
  assertEqual(body.length, lines.length, 'rows in the download vs lines of the error file');
  const sourceCols = head.slice(4);
  body.forEach((r, i) => {
    const l = lines[i];
    assertEqual(Number(r[0]), l.rowNumber, `row ${i} rowNumber`);
    assertEqual(r[1], l.code ?? '', `row ${i} code`);
    assertEqual(r[2], l.column ?? '', `row ${i} column`);
    assertEqual(r[3], l.error, `row ${i} error`);
    sourceCols.forEach((c, j) => assertEqual(r[4 + j], l.sourceRow[c] ?? '', `row ${i} ${c}`));
  });
}

// ---- the cases ---------------------------------------------------------------------------

export const cases = [
  {
    name: 'bare page: a picked file (setInputFiles) imports, the preflight loads only then, the events carry the client types, the counts equal the emulator status',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page, requests }) => {
        assert(!requests.some((r) => /preflight/.test(r.url)), 'nothing of the preflight is loaded before a file is chosen');
        await axe(page, 'the drop zone');
        await shot(ctx, page, '01-pick');
        await pick(page, file('people.csv', people(20, 3)));
        await review(page);
        assert(requests.some((r) => /preflight/.test(r.url)), 'the preflight module is loaded once a file is chosen');
        const fieldMap = await page.$$eval(`${el('mapping')} select`, (ss) => Object.fromEntries(ss.map((s) => [s.dataset.column, s.value])));
        assertEqual(JSON.stringify(fieldMap), JSON.stringify({ email: 'email', first_name: 'first_name' }), 'the suggested mapping');
        await axe(page, 'the preview and mapping');
        await shot(ctx, page, '02-review');
        const { done } = await startAndFinish(page);
        const status = await countsMatchEmulator(ctx, page, done);
        assertEqual(done.validRows, 20, 'valid rows');
        // The done event's detail is the client's JobStatus, as the API gave it (jobId: the broker's handle).
        assertEqual(Object.keys(done).filter((k) => k !== 'jobId').sort().join(), Object.keys(status).filter((k) => k !== 'jobId').sort().join(), "the done event's keys");
        for (const k of Object.keys(status).filter((k) => k !== 'jobId')) assertEqual(JSON.stringify(done[k]), JSON.stringify(status[k]), `done.${k}`);
        assert(done.jobId.startsWith(status.jobId), `done.jobId ${done.jobId} names ${status.jobId}`);
        assertEqual(done.invalidRows, 3, 'rejected rows');
        await page.waitForSelector(`${el('rejected')} tbody tr`);
        const rejected = await page.$$eval(`${el('rejected')} tbody tr`, (trs) => trs.map((tr) => tr.cells[0].textContent));
        assertEqual(rejected.join(), '21,22,23', 'the first rejected rows');
        await axe(page, 'the results');
        await shot(ctx, page, '05-result');
        const types = new Set((await events(page)).map((e) => e.type));
        for (const t of ['file', 'mapping', 'progress', 'status', 'done']) assert(types.has(t), `an import-uploader:${t} event`);
        const progress = (await events(page, 'progress')).at(-1).detail;
        for (const k of ['phase', 'loaded', 'total', 'bytesPerSecond', 'partsDone', 'partsTotal']) assert(k in progress, `progress detail has ${k}`);
        assertEqual(progress.loaded, progress.total, 'the last progress is the whole file');
        const mapping = (await events(page, 'mapping')).at(-1).detail;
        assertEqual(mapping.fieldMap.email, 'email', 'the mapping event');
        // A MappingRequest, as setMapping takes it.
        assertEqual(Object.keys(mapping).sort().join(), 'fieldMap,importMode,sourceFields', "the mapping event's keys");
        assertEqual(JSON.stringify(mapping.sourceFields), JSON.stringify({ email: 'email', first_name: 'string' }), 'sourceFields (the inferred types)');
        assertEqual(mapping.importMode, 'balanced', 'importMode');
        const message = await page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('[role=status]').textContent);
        assert(/20 of 23/.test(message), `the result is announced in the live region: ${message}`);
      });
    },
  },
  {
    name: 'demo page: a dropped semicolon, BOM and CRLF file is previewed in columns and imports; the page never sees a workspace token or the client secret',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.demo.url}/`), async ({ context, page, requests }) => {
        const seen = [];
        // A response still arriving as the context closes has nothing to read.
        page.on('response', (r) => seen.push(r.allHeaders().then((h) => r.body().then((b) => `${JSON.stringify(h)} ${b.toString('latin1')}`, () => JSON.stringify(h)), () => '')));
        await axe(page, 'the demo page');
        await drop(page, file('europe.csv', people(12, 2, { header: 'email;first_name', sep: ';', eol: '\r\n', bom: true })));
        await review(page);
        assertEqual(await page.$eval(el('delimiter'), (s) => s.value), ';', 'the detected delimiter');
        const head = await page.$$eval(`${el('preview')} thead th`, (ths) => ths.map((t) => t.textContent));
        assertEqual(head.join('|'), 'email|first_name', 'the preview header (BOM gone, split on ;)');
        const cells = await page.$$eval(`${el('preview')} tbody tr:first-child td`, (tds) => tds.map((t) => t.textContent));
        assertEqual(cells.length, 2, 'two cells in the first preview row');
        assert(!cells[1].endsWith('\r'), 'no CR left in a cell');
        await shot(ctx, page, '03-demo-semicolon');
        const { done } = await startAndFinish(page);
        const status = await countsMatchEmulator(ctx, page, done);
        assertEqual(status.readRows, 14, 'rows read');
        assertEqual(status.validRows, 12, 'valid rows');
        const texts = await Promise.all(seen);
        const log = await page.$$eval('#log li', (lis) => lis.map((l) => l.textContent));
        assert(log.some((l) => l.includes('done: 12 of 14')), `the page's own script heard the done event: ${log.slice(0, 3)}`);
        assert(requests.some((r) => r.url.includes('/storage/')), 'the file went to storage directly');
        for (const t of texts.concat(requests.map((r) => `${r.url} ${r.body}`))) {
          assert(!t.includes(ctx.clientSecret), 'the OAuth client secret reached the page');
          assert(!t.includes(ctx.workspaceToken), 'a workspace token reached the page');
        }
      });
    },
  },
  {
    name: 'a windows-1252 file is detected as such and previewed with its accents',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        const r = run();
        const text = `email;first_name;last_name\r\nm.${r}@example.com;J\u00fcrgen;M\u00fcller\r\nf.${r}@example.com;Fran\u00e7oise;L\u00e9ger\r\n`;
        await drop(page, file('legacy.csv', Buffer.from(text, 'latin1')));
        await review(page);
        const enc = await page.$eval(el('encoding'), (s) => s.value);
        assertEqual(enc, 'windows-1252', 'the detected encoding');
        const cells = await page.$$eval(`${el('preview')} tbody td`, (tds) => tds.map((t) => t.textContent));
        assert(cells.includes('J\u00fcrgen') && cells.includes('L\u00e9ger'), `the preview decodes the accents: ${cells}`);
        await shot(ctx, page, '03-windows-1252');
        const { done } = await startAndFinish(page);
        const status = await countsMatchEmulator(ctx, page, done);
        assertEqual(status.validRows, 2, 'both rows import');
      });
    },
  },
  {
    name: 'a file over the first read: the preview (100 rows, the detected dialect) is shown before the mapping editor, read further when 100 rows do not fit in 64 KiB, then the mapping follows',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        // Rows of about 1 KiB: 100 of them do not fit in the first 64 KiB.
        const r = run();
        const pad = 'y'.repeat(1000);
        const lines = ['email;first_name;notes'];
        for (let i = 0; i < 300; i++) lines.push(`w${i}.${r}@example.com;Wide ${i};${pad}`);
        const text = `${lines.join('\r\n')}\r\n`;
        assert(text.length > 4 * 65536, 'the file is larger than the first read');
        // What the document holds the first time the preview has rows.
        await page.evaluate(() => {
          const u = document.querySelector('import-uploader');
          window.__firstPreview = null;
          const observer = new MutationObserver(() => {
            const root = u.shadowRoot;
            const rows = root.querySelectorAll('[id$="-preview"] tbody tr').length;
            if (!rows) return;
            observer.disconnect();
            window.__firstPreview = {
              rows,
              detected: root.querySelector('[id$="-detected"]')?.textContent ?? null,
              head: [...root.querySelectorAll('[id$="-preview"] thead th')].map((t) => t.textContent),
              mapping: !!root.querySelector('[id$="-mapping"]'),
            };
          });
          observer.observe(u.shadowRoot, { childList: true, subtree: true });
        });
        await drop(page, file('wide.csv', text));
        await review(page);
        const first = await page.evaluate(() => window.__firstPreview);
        assert(first, 'the preview was shown');
        assertEqual(first.mapping, false, 'the preview is shown before the mapping editor');
        assertEqual(first.rows, 100, 'the preview shows 100 rows, read beyond the first 64 KiB');
        assertEqual(first.head.join('|'), 'email|first_name|notes', 'the preview is split on the detected ;');
        assert(/;/.test(first.detected ?? ''), `the detected dialect is shown with the preview: ${first.detected}`);
        const columns = await page.$$eval(`${el('mapping')} tbody tr`, (trs) => trs.map((tr) => tr.dataset.column));
        assertEqual(columns.join('|'), 'email|first_name|notes', 'the mapping editor lists the columns');
        assertEqual(await page.$$eval(`${el('preview')} tbody tr`, (trs) => trs.length), 100, 'the preview keeps its 100 rows');
      });
    },
  },
  {
    name: 'the "E-mail Address, First Name, Zip" header: e-mail and first name suggested with a reason, Zip left unmapped; changing a suggestion changes the mapping sent',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page, requests }) => {
        const r = run();
        const text = `E-mail Address,First Name,Zip\na.${r}@example.com,Ada,10115\nb.${r}@example.com,Bob,75001\n`;
        await pick(page, file('crm.csv', text));
        await review(page);
        const fieldMap = await page.$$eval(`${el('mapping')} select`, (ss) => Object.fromEntries(ss.map((s) => [s.dataset.column, s.value])));
        assertEqual(fieldMap['E-mail Address'], 'email', 'E-mail Address');
        assertEqual(fieldMap['First Name'], 'first_name', 'First Name');
        assertEqual(fieldMap.Zip, '', 'Zip is left unmapped');
        const why = await page.$eval(`${el('mapping')} tbody tr:first-child td:last-child`, (td) => td.textContent);
        assert(/email/.test(why) && /%/.test(why), `the suggestion shows its confidence and reason: ${why}`);
        // Change one: First Name → last_name.
        await page.selectOption(`${el('mapping')} select[data-column="First Name"]`, 'last_name');
        const mapping = (await events(page, 'mapping')).at(-1).detail;
        assertEqual(mapping.fieldMap['First Name'], 'last_name', 'the mapping event after the change');
        // Unmap the key: the start button is disabled, with the reason shown.
        await page.selectOption(`${el('mapping')} select[data-column="E-mail Address"]`, '');
        assert(await page.$eval(el('start'), (b) => b.disabled), 'start is disabled while the key is unmapped');
        const blockers = await page.$eval(el('blockers'), (u) => u.textContent);
        assert(blockers.includes('email'), `the blocker names the key: ${blockers}`);
        await page.selectOption(`${el('mapping')} select[data-column="E-mail Address"]`, 'email');
        assert(!(await page.$eval(el('start'), (b) => b.disabled)), 'start is enabled again');
        const { done } = await startAndFinish(page);
        await countsMatchEmulator(ctx, page, done);
        const sent = requests.find((q) => q.url.endsWith('/mapping') && q.method === 'POST');
        const body = JSON.parse(sent.body);
        assertEqual(JSON.stringify(body.fieldMap), JSON.stringify({ 'E-mail Address': 'email', 'First Name': 'last_name' }), 'the fieldMap sent');
      });
    },
  },
  {
    name: 'each import mode: described, sent with the mapping, and the counts on screen equal the emulator status',
    async fn(ctx) {
      const r = run();
      const text = ['email,first_name,loyalty_points', `a.${r}@example.com,Ann,10`, `b.${r}@example.com,Ben,`, `c.${r}@example.com,Cy,12.5`, `d.${r}@example.com,,7`, `bad.${r},Eve,3`].join('\n') + '\n';
      const valid = {};
      for (const mode of ['strict', 'balanced', 'landing_friendly']) {
        await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page, requests }) => {
          await page.selectOption(el('mode'), mode);
          const desc = await page.$eval(el('mode-desc'), (p) => p.textContent);
          assert(desc.length > 20, `${mode} is described: ${desc}`);
          await pick(page, file(`modes-${mode}.csv`, text.replaceAll(r, `${r}${mode}`)));
          await review(page);
          await page.waitForSelector(el('prediction'));
          const { done } = await startAndFinish(page);
          const status = await countsMatchEmulator(ctx, page, done);
          const sent = JSON.parse(requests.find((q) => q.url.endsWith('/mapping')).body);
          assertEqual(sent.importMode, mode, 'importMode sent');
          valid[mode] = status.validRows;
        });
      }
      assert(new Set(Object.values(valid)).size > 1, `the modes gave different verdicts: ${JSON.stringify(valid)}`);
    },
  },
  {
    name: 'the full check: a progress bar to the end, then a prediction equal to the final status, errorSummary as bars, the first problem rows; the preflight fetched is its entry, its .wasm and its Worker, within its 150 KB budget',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ context, page }) => {
        const fetched = new Set();
        context.on('request', (r) => fetched.add(r.url()));
        await pick(page, file('check.csv', people(300, 7)));
        await review(page);
        // Every state of the check's progress bar while it exists.
        await page.evaluate(() => {
          const root = document.querySelector('import-uploader').shadowRoot;
          window.__checkBar = [];
          new MutationObserver(() => {
            const bar = root.querySelector('[id$="-check-progress"]');
            if (bar) window.__checkBar.push({ value: bar.value, max: bar.max, label: bar.getAttribute('aria-label') });
          }).observe(root, { childList: true, subtree: true, attributes: true });
        });
        await page.click(el('check'));
        await page.waitForSelector(`${el('prediction')}[data-full="true"]`, { timeout: 30_000 });
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.activeElement?.id.endsWith('-check-heading'));
        const bar = await page.evaluate(() => window.__checkBar);
        const size = await page.evaluate(() => document.querySelector('import-uploader').shadowRoot.querySelector('[id$="-file-name"]').parentElement.textContent);
        assert(bar.length > 0 && bar.every((b) => b.label), `a labelled progress bar while checking: ${JSON.stringify(bar.slice(0, 3))} (${size})`);
        assert(bar.some((b) => b.value > 0 && b.value === b.max), `the bar reaches the end: ${JSON.stringify(bar.slice(-3))}`);
        const predicted = await page.$eval(el('prediction'), (p) => p.textContent);
        const bars = await page.$$eval(`${el('predicted-summary')} [data-code]`, (ds) => ds.map((d) => d.dataset.code));
        assert(bars.length > 0, 'errorSummary bars');
        const firstErrors = await page.$$eval(`${el('predicted-errors')} tbody tr`, (trs) => trs.map((tr) => Number(tr.cells[0].textContent)));
        assert(firstErrors.length > 0 && firstErrors[0] === 301, `the first problem rows: ${firstErrors}`);
        // What the page fetched of the preflight for a sample and a whole
        // file: the size gate of `cargo xtask build` counts exactly these.
        const preflightFiles = [...fetched].filter((u) => /preflight/.test(u)).sort();
        assertEqual(
          preflightFiles.map((u) => new URL(u).pathname.split('/').pop()).sort().join(),
          ['import_uploader_preflight_bg.wasm', 'preflight-browser.js', 'preflight-worker.js'].join(),
          `the preflight files fetched: ${preflightFiles.join(', ')}`,
        );
        let gzipped = 0;
        for (const u of preflightFiles) gzipped += gzipSync(Buffer.from(await (await fetch(u)).arrayBuffer()), { level: 9 }).length;
        assert(gzipped <= 150_000, `the preflight a page fetches is ${gzipped} bytes gzip -9, over its 150,000`);
        await axe(page, 'the check');
        await shot(ctx, page, '04-check');
        const { done } = await startAndFinish(page);
        const status = await countsMatchEmulator(ctx, page, done);
        assert(predicted.includes(`${status.validRows} of ${status.readRows}`) && predicted.includes(`${status.invalidRows} rejected`), `prediction "${predicted}" vs ${JSON.stringify(status)}`);
        const summary = await page.$$eval(`${el('summary')} [data-code]`, (ds) => ds.map((d) => d.dataset.code).sort());
        assertEqual(summary.join(), Object.keys(status.errorSummary).sort().join(), 'errorSummary bars vs the emulator');
        assertEqual(bars.sort().join(), summary.join(), 'predicted vs final errorSummary');
      });
    },
  },
  {
    name: 'upload: pause stops sending, resume finishes; progress shows bytes, rate and ETA; the live region announces each quarter, the pause, the job and the result',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        const part = 256 * 1024;
        await tune(page, { partSize: part, concurrency: 1 });
        const counter = await slowStorage(page, 250);
        await pick(page, file('big.csv', bigPeople(16_000)));
        await review(page);
        // Everything the live region says, in order.
        await page.evaluate(() => {
          const live = document.querySelector('import-uploader').shadowRoot.querySelector('[role=status][aria-live=polite]');
          window.__said = [];
          new MutationObserver(() => window.__said.push(live.textContent)).observe(live, { childList: true, characterData: true, subtree: true });
        });
        await page.click(el('start'));
        await step(page, 'upload');
        await waitLoaded(page, part);
        const text = await page.$eval(el('progress-text'), (p) => p.textContent);
        assert(/of/.test(text) && /\/s/.test(text) && /left/.test(text), `bytes, rate and ETA: ${text}`);
        await page.click(el('pause'));
        await page.waitForSelector(`${el('resume')}:not([hidden])`);
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.activeElement?.id.endsWith('-resume'));
        await axe(page, 'the paused upload');
        await shot(ctx, page, '04-upload-paused');
        await new Promise((r) => setTimeout(r, 400));
        const before = counter.n;
        const at = await loaded(page);
        await new Promise((r) => setTimeout(r, 1200));
        assertEqual(counter.n, before, 'no storage request while paused');
        assertEqual(await loaded(page), at, 'no progress while paused');
        await page.click(el('resume'));
        await step(page, 'result', 60_000);
        const done = (await events(page, 'done')).at(-1).detail;
        const status = await countsMatchEmulator(ctx, page, done);
        assertEqual(status.validRows, 16_000, 'every row imported');
        const said = await page.evaluate(() => window.__said);
        for (const q of [25, 50, 75]) assert(said.includes(`${q} % of big.csv uploaded.`), `${q} % announced: ${said}`);
        assert(said.some((t) => /^Paused at /.test(t)) && said.some((t) => /^Uploaded /.test(t)) && said.some((t) => /^The job is /.test(t)), `pause, upload and job announced: ${said}`);
        assert(/^Done: 16\D?000 of 16\D?000 /.test(said.at(-1)), `the result announced last: ${said.at(-1)}`);
      });
    },
  },
  {
    name: 'upload: cancel stops it and goes back to the mapping, without an error',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        await tune(page, { partSize: 256 * 1024, concurrency: 1 });
        const counter = await slowStorage(page, 250);
        await pick(page, file('cancel.csv', bigPeople(16_000)));
        await review(page);
        await page.click(el('start'));
        await step(page, 'upload');
        await waitLoaded(page, 1);
        await page.click(el('cancel'));
        await step(page, 'review');
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.activeElement?.id.endsWith('-review-heading'));
        await new Promise((r) => setTimeout(r, 800));
        const n = counter.n;
        await new Promise((r) => setTimeout(r, 800));
        assertEqual(counter.n, n, 'no storage request after cancel');
        const message = await page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('[role=status]').textContent);
        assert(/cancelled/i.test(message), `announced: ${message}`);
        assertEqual((await events(page, 'error')).length, 0, 'no error event');
        assert(!(await page.$eval(el('start'), (b) => b.disabled)), 'the import can start again');
      });
    },
  },
  {
    name: 'upload: after a reload, dropping the same file again offers to resume, and only the missing parts are sent',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        const part = 256 * 1024;
        await tune(page, { partSize: part, concurrency: 1 });
        await slowStorage(page, 300);
        const f = file('resume.csv', bigPeople(16_000), Date.now() - 60_000);
        const parts = Math.ceil(f.bytes.length / part);
        await drop(page, f);
        await review(page);
        await page.click(el('start'));
        await step(page, 'upload');
        await waitLoaded(page, 3 * part);
        await page.reload();
        await page.waitForFunction(() => document.querySelector('import-uploader')?.dataset.ready === 'true');
        await tune(page, { partSize: part, concurrency: 1 });
        const counter = await slowStorage(page, 0);
        await drop(page, f);
        await page.waitForSelector(el('resume-offer'), { timeout: 20_000 });
        await shot(ctx, page, '04-resume-offer');
        await page.click(el('resume-offer'));
        await step(page, 'result', 60_000);
        const done = (await events(page, 'done')).at(-1).detail;
        const status = await countsMatchEmulator(ctx, page, done);
        assertEqual(status.validRows, 16_000, 'every row imported');
        assert(counter.blocks > 0 && counter.blocks <= parts - 3, `blocks sent after the reload: ${counter.blocks} of ${parts}`);
      });
    },
  },
  {
    name: 'the rejected rows download (a Blob download) equals the error file',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`, { acceptDownloads: true }), async ({ page }) => {
        await page.evaluate(() => delete window.showSaveFilePicker);
        await pick(page, file('rejects.csv', people(5, 40)));
        await review(page);
        const { done } = await startAndFinish(page);
        const [download] = await Promise.all([page.waitForEvent('download'), page.click(el('download'))]);
        const path = join(ctx.shots, '..', 'rejected-download.csv');
        await download.saveAs(path);
        const lines = await errorFile(ctx, done.jobId);
        sameAsErrorFile(parseCsv(readFileSync(path, 'utf8')), lines);
        assertEqual(download.suggestedFilename(), 'rejects-rejected.csv', 'the file name');
        await page.waitForFunction(() => window.__events.some((e) => e.type === 'download'));
        const saved = (await events(page, 'download')).at(-1).detail;
        assertEqual(JSON.stringify(saved), JSON.stringify({ rows: lines.length, fileName: 'rejects-rejected.csv' }), 'the download event');
      });
    },
  },
  {
    name: 'the rejected rows download streams into a picked file in chunks of rows, and equals the error file',
    async fn(ctx) {
      const context = await ctx.browser.newContext();
      await context.addInitScript(recordEvents);
      // The File System Access API's writable, recording each write.
      await context.addInitScript(() => {
        window.__writes = [];
        window.showSaveFilePicker = async () => ({
          createWritable: async () => ({
            write: async (t) => window.__writes.push(String(t)),
            close: async () => (window.__closed = true),
            abort: async () => {},
          }),
        });
      });
      const page = await context.newPage();
      try {
        await page.goto(`${ctx.bare.url}/`);
        await page.waitForFunction(() => document.querySelector('import-uploader')?.dataset.ready === 'true');
        await tune(page);
        await pick(page, file('many-rejects.csv', people(10, 2_500)));
        await review(page);
        const { done } = await startAndFinish(page);
        await page.click(el('download'));
        await page.waitForFunction(() => window.__closed === true, null, { timeout: 30_000 });
        const writes = await page.evaluate(() => window.__writes);
        assert(writes.length >= 3, `written in chunks: ${writes.length} writes`);
        const rowsPerWrite = writes.map((w) => w.split('\r\n').length - 1);
        assert(Math.max(...rowsPerWrite) <= 1001, `at most 1,000 rows per write (+ header): ${rowsPerWrite}`);
        sameAsErrorFile(parseCsv(writes.join('')), await errorFile(ctx, done.jobId));
      } finally {
        await context.close();
      }
    },
  },
  {
    name: 'a file named <img src=x onerror=alert(1)>.csv and cells of HTML are shown as text and run nothing',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.demo.url}/`), async ({ page, dialogs }) => {
        const r = run();
        const name = '<img src=x onerror=alert(1)>.csv';
        const text = `email,first_name\n"<img src=x onerror=alert(2)>",<b>bold</b>\nx.${r}@example.com,<script>alert(3)</script>\n`;
        await drop(page, file(name, text));
        await review(page);
        const { done } = await startAndFinish(page);
        assertEqual(done.invalidRows, 1, 'the HTML e-mail is rejected');
        await page.waitForSelector(`${el('rejected')} tbody tr`);
        const found = await page.evaluate(() => {
          const root = document.querySelector('import-uploader').shadowRoot;
          return {
            markup: root.querySelectorAll('img, b, script').length + document.querySelectorAll('body img, body b, body script:not([type=module])').length,
            name: root.querySelector('[id$="-file-name"]').textContent,
            log: [...document.querySelectorAll('#log li')].map((l) => l.textContent).join('\n'),
          };
        });
        assertEqual(found.markup, 0, 'elements made from the file name or cells');
        assertEqual(found.name, name, 'the file name, as text');
        assert(found.log.includes(name), 'the page log shows the name as text');
        await new Promise((r) => setTimeout(r, 300));
        assertEqual(dialogs.length, 0, `dialogs opened: ${dialogs}`);
        await shot(ctx, page, '06-xss');
      });
    },
  },
  {
    name: 'two files dropped at once are refused with a clear message and an error event',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        await drop(page, file('a.csv', people(1, 0)), file('b.csv', people(1, 0)));
        const err = await errorEvent(page, 'ELEMENT.FILE.SEVERAL');
        assertEqual(err?.code, 'ELEMENT.FILE.SEVERAL', 'error code');
        const message = await page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('[role=status]').textContent);
        assert(/one file/.test(message) && /2/.test(message), `message: ${message}`);
        assertEqual(await page.$eval('import-uploader', (u) => u.dataset.step), 'pick', 'still on the drop zone');
        await pick(page, { ...file('empty.csv', ''), bytes: [] });
        assertEqual((await errorEvent(page, 'ELEMENT.FILE.EMPTY'))?.code, 'ELEMENT.FILE.EMPTY', 'an empty file is refused');
      });
    },
  },
  {
    name: 'strings translate the labels, lang formats the numbers, CSS custom properties and ::part() style it',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        await page.addStyleTag({ content: 'import-uploader { --iu-accent: rgb(1, 2, 3); } import-uploader::part(dropzone) { border-color: rgb(4, 5, 6); }' });
        await page.evaluate(() => {
          const u = document.querySelector('import-uploader');
          u.setAttribute('lang', 'de');
          u.strings = { choose: 'Datei auswählen', title: 'CSV-Datei importieren', readRows: 'Gelesene Zeilen' };
        });
        const texts = await page.evaluate(() => {
          const root = document.querySelector('import-uploader').shadowRoot;
          const choose = root.querySelector('[id$="-choose"]');
          return {
            choose: choose.textContent,
            title: root.querySelector('h2').textContent,
            color: getComputedStyle(choose).backgroundColor,
            border: getComputedStyle(root.querySelector('[part~=dropzone]')).borderTopColor,
          };
        });
        assertEqual(texts.choose, 'Datei auswählen', 'a translated button');
        assertEqual(texts.title, 'CSV-Datei importieren', 'a translated heading');
        assertEqual(texts.color, 'rgb(1, 2, 3)', '--iu-accent');
        assertEqual(texts.border, 'rgb(4, 5, 6)', '::part(dropzone)');
        // The README's strings table is the element's.
        const strings = await page.evaluate(async () => (await import('/pkg/element.js')).STRINGS);
        const readme = readFileSync(join(root, 'README.md'), 'utf8');
        const table = readme.slice(readme.indexOf('| key | English |')).split('\n\n')[0];
        const documented = Object.fromEntries(
          table
            .split('\n')
            .slice(2)
            .filter((l) => l.startsWith('| `'))
            .map((l) => l.match(/^\| `([^`]+)` \| (.*) \|$/).slice(1, 3))
            .map(([k, v]) => [k, v.replaceAll('\\|', '|')]),
        );
        assertEqual(JSON.stringify(documented), JSON.stringify(strings), "README's strings table vs STRINGS");
        await pick(page, file('de.csv', people(1_234, 0)));
        await review(page);
        const { done } = await startAndFinish(page);
        assertEqual(done.validRows, 1_234, 'valid rows');
        const counts = await page.$$eval(`${el('counts')} dt, ${el('counts')} dd`, (xs) => xs.map((x) => x.textContent));
        assert(counts.includes('Gelesene Zeilen') && counts.includes('1.234'), `German label and number: ${counts}`);
      });
    },
  },
  {
    name: 'every documented CSS custom property takes effect',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        const props = {
          '--iu-font': '13px/1.25 monospace',
          '--iu-fg': 'rgb(1, 1, 1)',
          '--iu-bg': 'rgb(2, 2, 2)',
          '--iu-muted': 'rgb(3, 3, 3)',
          '--iu-border': 'rgb(4, 4, 4)',
          '--iu-accent': 'rgb(5, 5, 5)',
          '--iu-on-accent': 'rgb(6, 6, 6)',
          '--iu-danger': 'rgb(7, 7, 7)',
          '--iu-focus': 'rgb(8, 8, 8)',
          '--iu-radius': '9px',
          '--iu-drop-over': 'rgb(10, 10, 10)',
        };
        await page.addStyleTag({ content: `import-uploader { ${Object.entries(props).map(([k, v]) => `${k}: ${v};`).join(' ')} }` });
        // Focus by keyboard (for :focus-visible), a drag over the drop zone, and an error message.
        await page.focus('body');
        await tabTo(page, 'choose');
        await drop(page, file('a.csv', people(1, 0)), file('b.csv', people(1, 0)));
        await page.dispatchEvent(el('drop'), 'dragover');
        const got = await page.evaluate(() => {
          const u = document.querySelector('import-uploader');
          const root = u.shadowRoot;
          const css = (e) => getComputedStyle(e);
          const choose = root.querySelector('[id$="-choose"]');
          return {
            '--iu-font': css(u).fontFamily + ' ' + css(u).fontSize,
            '--iu-fg': css(u).color,
            '--iu-bg': css(u).backgroundColor,
            '--iu-muted': css(root.querySelector('.drop .muted')).color,
            '--iu-border': css(root.querySelector('[id$="-object"]')).borderTopColor,
            '--iu-accent': css(choose).backgroundColor,
            '--iu-on-accent': css(choose).color,
            '--iu-danger': css(root.querySelector('[role=status]')).color,
            '--iu-focus': css(choose).outlineColor,
            '--iu-radius': css(choose).borderTopLeftRadius,
            '--iu-drop-over': css(root.querySelector('[id$="-drop"]')).backgroundColor,
          };
        });
        const want = { ...props, '--iu-font': 'monospace 13px' };
        for (const k of Object.keys(props)) assertEqual(got[k], want[k], k);
      });
    },
  },
  {
    name: "React: the README's component, bundled with React 19, renders the element, imports a file and hands the done event to its callback",
    async fn(ctx) {
      const readme = readFileSync(join(root, 'README.md'), 'utf8');
      const jsx = readme.match(/```jsx\n([\s\S]*?)```/)?.[1];
      assert(jsx?.includes('<import-uploader'), "the README's React example");
      // The example as an app would adapt it: its own broker and ticket endpoint.
      const component = jsx.replace('https://broker.example.com/api', '/api').replace('"/upload-ticket"', '"/ticket"');
      assert(!component.includes('example.com') && component.includes('"/ticket"'), 'the example names a broker URL and a ticket endpoint');
      const dir = join(ctx.scratch, 'react-app');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'importer.jsx'), component);
      const { build } = await import('esbuild');
      const bundle = await build({
        stdin: {
          contents: "import { createRoot } from 'react-dom/client';\nimport { Importer } from './importer.jsx';\ncreateRoot(document.getElementById('root')).render(<Importer onDone={(d) => (window.__reactDone = d)} />);\n",
          loader: 'jsx',
          resolveDir: dir,
        },
        bundle: true,
        write: false,
        format: 'esm',
        jsx: 'automatic',
        // The package's module, as the page's import map gives it.
        external: ['import-uploader/element'],
        define: { 'process.env.NODE_ENV': '"production"' },
        logLevel: 'silent',
      });
      ctx.bare.serve('/react-app.js', bundle.outputFiles[0].text, 'text/javascript');
      ctx.bare.serve(
        '/react',
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>React app</title>
<script type="importmap">{"imports":{"import-uploader/element":"/pkg/element.js"}}</script></head>
<body><main id="root"></main><script type="module" src="/react-app.js"></script></body></html>`,
        'text/html; charset=utf-8',
      );
      await withPage(open(ctx, `${ctx.bare.url}/react`), async ({ page }) => {
        assertEqual(await page.$eval('import-uploader', (u) => u.parentElement.id), 'root', 'rendered by React');
        await pick(page, file('react.csv', people(7, 2)));
        await review(page);
        const { done } = await startAndFinish(page);
        await countsMatchEmulator(ctx, page, done);
        const handed = await page.evaluate(() => window.__reactDone);
        assertEqual(JSON.stringify(handed), JSON.stringify(done), "the component's onDone got the done event's detail");
        assertEqual(handed.validRows, 7, 'valid rows');
      });
    },
  },
  {
    name: 'as a framework uses it: getTicket set before the module loads, or after the tag is on the page; object-name fixed',
    async fn(ctx) {
      const context = await ctx.browser.newContext();
      const page = await context.newPage();
      try {
        const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>framework-style</title></head><body><main>
<import-uploader id="early" broker-url="/api" object-name="profiles"></import-uploader>
<import-uploader id="late" broker-url="/api" object-name="orders"></import-uploader>
<script type="module">
const ticket = async () => (await (await fetch('/ticket', { method: 'POST' })).json()).ticket;
document.getElementById('early').getTicket = ticket;
await import('/pkg/element.js');
await new Promise((r) => setTimeout(r, 300));
document.getElementById('late').getTicket = ticket;
</script></main></body></html>`;
        await page.route(`${ctx.bare.url}/framework`, (route) => route.fulfill({ body: html, contentType: 'text/html' }));
        await page.goto(`${ctx.bare.url}/framework`);
        await page.waitForFunction(() => ['early', 'late'].every((id) => document.getElementById(id).dataset.ready === 'true'), null, { timeout: 20_000 });
        const info = await page.evaluate(() =>
          ['early', 'late'].map((id) => {
            const root = document.getElementById(id).shadowRoot;
            return { info: root.querySelector('[id$="-object-info"]')?.textContent, picker: !!root.querySelector('[id$="-object"]'), message: root.querySelector('[role=status]').textContent };
          }),
        );
        assert(/key email/.test(info[0].info), `profiles' schema: ${JSON.stringify(info[0])}`);
        assert(/key order_id/.test(info[1].info), `orders' schema: ${JSON.stringify(info[1])}`);
        assert(!info[0].picker && !info[1].picker, 'no object picker with object-name');
        assertEqual(info[1].message, '', 'the late ticket cleared the missing-ticket message');
      } finally {
        await context.close();
      }
    },
  },
  {
    name: 'a folder dropped from the desktop (Chromium builds the DataTransfer from a real directory) is refused, so are a folder with a file and a folder slipped through the picker; the element stays usable',
    async fn(ctx) {
      const { context, page } = await open(ctx, `${ctx.bare.url}/`);
      const dir = join(ctx.scratch, `drop-${run()}`);
      try {
        const folder = join(dir, 'exports');
        mkdirSync(folder, { recursive: true });
        writeFileSync(join(folder, 'inside.csv'), people(2, 0));
        const single = join(dir, 'dropped.csv');
        writeFileSync(single, people(3, 1));
        const lastError = async () => (await events(page, 'error')).at(-1)?.detail;
        const message = () => page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('[role=status]').textContent);
        const errors = async (n) => page.waitForFunction((n) => window.__events.filter((e) => e.type === 'error').length >= n, n);

        await osDrop(page, [folder]);
        await errors(1);
        let err = await lastError();
        assertEqual(err.code, 'ELEMENT.FILE.DIRECTORY', 'a folder');
        // The client's own error shape.
        assert(err.isError && err.name === 'ImportError' && err.kind === 'validation' && err.retryable === false && 'status' in err && 'correlationId' in err, `ImportError shape: ${JSON.stringify(err)}`);
        assert((await message()).includes('exports') && /folder/.test(await message()), `message: ${await message()}`);
        assertEqual(await page.$eval('import-uploader', (u) => u.dataset.step), 'pick', 'still on the drop zone');
        assert(await page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('[role=status]').classList.contains('error')), 'shown as an error');
        await shot(ctx, page, '01-folder-refused');

        await osDrop(page, [folder, single]);
        await errors(2);
        err = await lastError();
        assertEqual(err.code, 'ELEMENT.FILE.SEVERAL', 'a folder and a file');
        assert(/one file/.test(await message()) && /2/.test(await message()), `message: ${await message()}`);
        assertEqual(await page.$eval('import-uploader', (u) => u.dataset.step), 'pick', 'still on the drop zone');

        // The picker takes one file and no folder; a folder handed over
        // anyway (a File the browser cannot read) is refused.
        const input = await page.$eval(el('input'), (i) => ({ multiple: i.multiple, directory: i.hasAttribute('webkitdirectory') }));
        assertEqual(JSON.stringify(input), JSON.stringify({ multiple: false, directory: false }), 'the input takes one file, no folder');
        const cdp = await context.newCDPSession(page);
        const { result: inputNode } = await cdp.send('Runtime.evaluate', { expression: "document.querySelector('import-uploader').shadowRoot.querySelector('input[type=file]')" });
        await cdp.send('DOM.setFileInputFiles', { objectId: inputNode.objectId, files: [folder] });
        await cdp.detach();
        await errors(3);
        err = await lastError();
        assertEqual(err.code, 'ELEMENT.FILE.UNREADABLE', 'a folder through the picker');
        assert((await message()).includes('exports'), `message: ${await message()}`);
        assertEqual(await page.$eval('import-uploader', (u) => u.dataset.step), 'pick', 'still on the drop zone');

        // Still usable: a real file dropped the same way imports.
        await osDrop(page, [single]);
        await review(page);
        const { done } = await startAndFinish(page);
        const status = await countsMatchEmulator(ctx, page, done);
        assertEqual(status.validRows, 3, 'the dropped file imports');
        const fileEvent = (await events(page, 'file')).at(-1).detail;
        assert(fileEvent.isFile && fileEvent.sameFile && fileEvent.name === 'dropped.csv', `file event: ${JSON.stringify(fileEvent)}`);
      } finally {
        await context.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'the job step, held in processing by the emulator: the counters shown live equal its status, focus is on the job heading, axe-core finds nothing serious',
    async fn(ctx) {
      const emu = await startHeldEmulator({ bin: ctx.devserverBin, hold: 'merge', ...ctx.held, dataDir: join(ctx.scratch, `held-${run()}`) });
      let app;
      let context;
      try {
        app = await startBareApp({ emulator: emu.url, clientId: ctx.held.client.split(':')[0], clientSecret: ctx.clientSecret });
        const opened = await open(ctx, `${app.url}/`);
        context = opened.context;
        const page = opened.page;
        await pick(page, file('held.csv', people(40, 6)));
        await review(page);
        await page.click(el('start'));
        await step(page, 'job');
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.activeElement?.id.endsWith('-job-heading'));
        const jobId = await page.waitForFunction(() => window.__events.find((e) => e.type === 'status' && e.detail.jobId)?.detail.jobId).then((h) => h.jsonValue());
        await emu.held(jobId.split('.')[0]);
        // Held: the emulator's status stands still, the element keeps polling it.
        const response = await fetch(`${emu.url}/public/v1/import-jobs/${jobId.split('.')[0]}`, { headers: { authorization: `Bearer ${ctx.workspaceToken}` } });
        const status = (await response.json()).data;
        assertEqual(status.state, 'running', 'the held job is running');
        assertEqual(status.readRows, 46, 'every row read');
        await page.waitForFunction(
          (s) => {
            const dds = [...document.querySelector('import-uploader').shadowRoot.querySelectorAll('[id$="-counts"] dd')];
            const shown = Object.fromEntries(dds.map((d) => [d.dataset.key, d.textContent]));
            return shown.stage === s.stage && shown.readRows === String(s.readRows);
          },
          status,
          { timeout: 20_000 },
        );
        const counts = await shownCounts(page);
        assertEqual(counts.state, status.state, 'state on screen');
        assertEqual(counts.stage, status.stage, 'stage on screen');
        for (const k of ['readRows', 'validRows', 'invalidRows', 'mergedInserts', 'mergedUpdates']) assertEqual(num(counts[k]), status[k], `${k} on screen vs the emulator`);
        assertEqual(status.validRows, 40, 'valid rows so far');
        const last = (await events(page, 'status')).at(-1).detail;
        // The client's JobStatus, as the API gave it; `jobId` is the broker's handle of the job.
        assertEqual(last.jobId, jobId, "the status event's jobId");
        for (const k of Object.keys(status).filter((k) => k !== 'jobId')) assertEqual(JSON.stringify(last[k]), JSON.stringify(status[k]), `status event's ${k}`);
        // Announced in the live region.
        const live = await page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('[role=status][aria-live=polite]').textContent);
        assertEqual(live, `The job is running: ${status.stage}.`, 'the stage announced');
        await axe(page, 'the job step');
        await shot(ctx, page, '05-job-running');
      } finally {
        await context?.close();
        await app?.close();
        await emu.stop();
      }
    },
  },
  {
    name: 'templates: a mapping saved as a template (and sent as saveAsTemplate with save-templates="api") is offered for the next file with the same header, and using it restores the mapping',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page, requests }) => {
        const r = run();
        const header = 'E-mail Address,First Name,Zip';
        await page.evaluate(() => document.querySelector('import-uploader').setAttribute('save-templates', 'api'));
        await pick(page, file('crm-1.csv', `${header}\na.${r}@example.com,Ada,10115\n`));
        await review(page);
        assertEqual(await page.$(el('use-template')), null, 'no template offered before one is saved');
        await page.selectOption(`${el('mapping')} select[data-column="First Name"]`, 'last_name');
        assert(await page.$eval(el('template-name'), (i) => i.disabled), 'the name is disabled until "save" is ticked');
        await page.check(el('save-template'));
        await page.fill(el('template-name'), `CRM export ${r}`);
        const { done } = await startAndFinish(page);
        await countsMatchEmulator(ctx, page, done);
        const sent = JSON.parse(requests.find((q) => q.url.endsWith('/mapping') && q.method === 'POST').body);
        assertEqual(JSON.stringify(sent.saveAsTemplate), JSON.stringify({ name: `CRM export ${r}` }), 'saveAsTemplate sent with save-templates="api"');
        // The next file with the same header.
        await page.click(el('another'));
        await pick(page, file('crm-2.csv', `${header}\nb.${r}@example.com,Bob,75001\n`));
        await review(page);
        await page.waitForSelector(el('use-template'));
        const offer = await page.$eval(`import-uploader [part~="template-offer"]`, (d) => d.textContent);
        assert(offer.includes(`CRM export ${r}`), `the offer names the template: ${offer}`);
        assertEqual(await page.$eval(`${el('mapping')} select[data-column="First Name"]`, (s) => s.value), 'first_name', 'the suggestion before the template');
        await axe(page, 'the template offer');
        await page.click(el('use-template'));
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.querySelector('select[data-column="First Name"]')?.value === 'last_name');
        const mapping = (await events(page, 'mapping')).at(-1).detail;
        assertEqual(JSON.stringify(mapping.fieldMap), JSON.stringify({ 'E-mail Address': 'email', 'First Name': 'last_name' }), 'the template mapping');
        // A file with another header is not offered it.
        await page.click(el('start'));
        await step(page, 'result', 60_000);
        await page.click(el('another'));
        await pick(page, file('other.csv', `email,first_name\nc.${r}@example.com,Cy\n`));
        await review(page);
        assertEqual(await page.$(el('use-template')), null, 'no offer for another header');
      });
    },
  },
  {
    name: 'problems beside their column; another file chosen before the upload; the dialect overridden: delimiter and header change the preview and the columns',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        const r = run();
        await pick(page, file('dupes.csv', `email,first_name,first_name\na.${r}@example.com,Ada,Ann\nb.${r}@example.com,Bob,Ben\n`));
        await review(page);
        const beside = await page.$$eval(`${el('mapping')} tbody tr`, (trs) => trs.map((tr) => [tr.dataset.column, [...tr.querySelectorAll('[part~=problem]')].map((p) => p.textContent).join(' ')]));
        assertEqual(beside[0][1], '', 'no problem beside email');
        assert(beside.slice(1).some(([c, p]) => c === 'first_name' && /both named/.test(p)), `the duplicate name beside its column: ${JSON.stringify(beside)}`);
        const general = await page.$$eval(`${el('problems')} li`, (lis) => lis.map((l) => l.textContent).join(' '));
        assert(!/both named/.test(general), `not repeated in the general list: ${general}`);
        await axe(page, 'a problem beside its column');

        // Another file, before the upload: back to the drop zone, focus on its button.
        await page.click(el('other-file'));
        await step(page, 'pick');
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.activeElement?.id.endsWith('-choose'));
        await pick(page, file('semi.csv', `email;first_name\nc.${r}@example.com;Cy\nd.${r}@example.com;Di\n`));
        await review(page);
        const head = () => page.$$eval(`${el('preview')} thead th`, (ths) => ths.map((t) => t.textContent).join('|'));
        const columns = () => page.$$eval(`${el('mapping')} select`, (ss) => ss.map((s) => s.dataset.column).join('|'));
        assertEqual(await head(), 'email|first_name', 'detected ;');
        await page.selectOption(el('delimiter'), ',');
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.querySelectorAll('[id$="-mapping"] select').length === 1);
        assertEqual(await head(), 'email;first_name', 'the preview split on the chosen comma');
        assertEqual(await columns(), 'email;first_name', 'the columns of the chosen comma');
        await page.selectOption(el('delimiter'), ';');
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.querySelectorAll('[id$="-mapping"] select').length === 2);
        await page.uncheck(el('header'));
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.querySelector('[id$="-preview"] thead th')?.textContent === '#1');
        const rows = await page.$$eval(`${el('preview')} tbody tr`, (trs) => trs.map((tr) => tr.cells[0].textContent));
        assertEqual(rows[0], 'email', 'without a header, the first line is a row');
        assertEqual(rows.length, 3, 'three rows');
      });
    },
  },
  {
    name: 'every label comes from strings (no English left at any step), every ::part() and custom property is the documented one, import-mode sets the mode with the spec\'s description',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        // The tag as markup, with import-mode.
        await page.evaluate(() => (document.querySelector('main').innerHTML = '<import-uploader broker-url="/api" ticket-url="/ticket" import-mode="strict"></import-uploader>'));
        await page.waitForFunction(() => document.querySelector('import-uploader')?.dataset.ready === 'true', null, { timeout: 20_000 });
        await tune(page, { partSize: 256 * 1024, concurrency: 1 });
        const STRINGS = await page.evaluate(async () => (await import('/pkg/element.js')).STRINGS);
        // import-mode: the select and the spec's description.
        assertEqual(await page.$eval(el('mode'), (s) => s.value), 'strict', 'import-mode="strict"');
        for (const m of ['strict', 'balanced', 'landing_friendly']) {
          await page.selectOption(el('mode'), m);
          assertEqual(await page.$eval(el('mode-desc'), (p) => p.textContent), STRINGS[`mode.${m}`], `${m}'s description`);
        }
        await page.selectOption(el('mode'), 'strict');
        // Every label replaced by a marked one that keeps its placeholders.
        const marked = Object.fromEntries(Object.entries(STRINGS).map(([k, v]) => [k, `⟦${k}⟧${(v.match(/\{\w+\}/g) ?? []).join(' ')}`]));
        await page.evaluate((s) => (document.querySelector('import-uploader').strings = s), marked);
        // The English that must not show: the words of each label, between its placeholders.
        const english = [...new Set(Object.values(STRINGS).flatMap((v) => v.split(/\{\w+\}/)).map((f) => f.trim().replace(/^[\s,.:;()–—-]+|[\s,.:;()–—-]+$/g, '')).filter((f) => /[a-z]{3}/i.test(f)))];
        const parts = new Set();
        const seen = async (where) => {
          const found = await page.evaluate(() => {
            const root = document.querySelector('import-uploader').shadowRoot;
            const texts = [];
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.parentElement?.tagName !== 'STYLE') texts.push(n.textContent);
            for (const e of root.querySelectorAll('*')) for (const a of ['aria-label', 'placeholder', 'title', 'alt']) if (e.hasAttribute(a)) texts.push(e.getAttribute(a));
            // Data, not labels: the preview's and the tables' cells, file name, samples.
            const data = [...root.querySelectorAll('td, [id$="-preview"] th, [id$="-file-name"], [id$="-predicted-errors"] *, [id$="-rejected"] *')].map((e) => e.textContent);
            return { texts, data, parts: [...root.querySelectorAll('[part]')].flatMap((e) => e.getAttribute('part').split(/\s+/)) };
          });
          for (const p of found.parts) parts.add(p);
          const labels = found.texts.filter((t) => !found.data.includes(t)).map((t) => t.replace(/⟦[\w.]+⟧/g, ' '));
          const left = english.filter((f) => labels.some((t) => t.includes(f)));
          assertEqual(left.join(' | '), '', `English labels at ${where}`);
        };
        await seen('the drop zone');
        // Three parts, and a few rejected rows.
        await pick(page, file('strings.csv', `${bigPeople(6_000)}${people(0, 4).split('\n').slice(1).join('\n')}`));
        await review(page);
        await seen('the review');
        await page.click(el('check'));
        await page.waitForSelector(`${el('prediction')}[data-full="true"]`, { timeout: 30_000 });
        await seen('the check');
        // Upload, slowed, paused: the upload controls.
        await slowStorage(page, 150);
        await page.click(el('start'));
        await step(page, 'upload');
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.activeElement?.id.endsWith('-upload-heading'));
        await waitLoaded(page, 1);
        await page.click(el('pause'));
        await page.waitForSelector(`${el('resume')}:not([hidden])`);
        await seen('the paused upload');
        await page.click(el('resume'));
        await step(page, 'result', 60_000);
        await page.waitForSelector(`${el('rejected')} tbody tr`);
        await seen('the results');
        // Parts: what the element has is what the README documents, and the source has no other.
        const readme = readFileSync(join(root, 'README.md'), 'utf8');
        const theming = readme.slice(readme.indexOf('| custom property | default |')).split('\n\n')[0].split('\n').slice(2);
        const documentedParts = new Set(theming.flatMap((l) => l.split('|')[4].match(/`[\w-]+`/g) ?? []).map((p) => p.slice(1, -1)));
        const source = readFileSync(join(root, 'js', 'element.js'), 'utf8');
        const literals = [
          ...[...source.matchAll(/\bpart: '([\w -]+)'/g)].map((m) => m[1]),
          ...[...source.matchAll(/setAttribute\('part', ([^)]*)\)/g)].flatMap((m) => [...m[1].matchAll(/'([\w -]+)'/g)].map((q) => q[1])),
        ];
        const inSource = new Set(literals.flatMap((l) => l.split(' ')));
        assertEqual([...inSource].sort().join(), [...documentedParts].sort().join(), 'parts in the source vs the README');
        for (const p of parts) assert(documentedParts.has(p), `part ${p} is documented`);
        // Custom properties: the README's names and defaults are the style's.
        const documentedProps = Object.fromEntries(theming.map((l) => l.split('|')).filter((c) => /`--iu-/.test(c[1])).map((c) => [c[1].trim().slice(1, -1), c[2].trim().slice(1, -1)]));
        const css = await page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('style').textContent);
        const used = Object.fromEntries([...css.matchAll(/var\((--iu-[\w-]+),\s*([^;]+?)\)(?=[;\s}])/g)].map((m) => [m[1], m[2].trim()]));
        assertEqual(JSON.stringify(Object.keys(used).sort()), JSON.stringify(Object.keys(documentedProps).sort()), 'custom properties in the style vs the README');
        for (const [k, v] of Object.entries(used)) assertEqual(documentedProps[k], v, `${k}'s default`);
        const done = (await events(page, 'done')).at(-1).detail;
        assertEqual(done.state, 'completed', 'completed');
      });
    },
  },
  {
    name: 'keyboard only, start to finish: choose, map, start, results, another; focus moves to each step',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        await page.focus('body');
        await tabTo(page, 'choose');
        // Listening first, and a round trip to the page, so that the
        // file chooser is intercepted before Enter opens it.
        const choosing = page.waitForEvent('filechooser', { timeout: 30_000 });
        await page.evaluate(() => 0);
        await page.keyboard.press('Enter');
        const chooser = await choosing;
        const f = file('keys.csv', `E-mail Address,First Name\nk.${run()}@example.com,Kay\n`);
        await chooser.setFiles({ name: f.name, mimeType: f.type, buffer: Buffer.from(f.bytes) });
        await review(page);
        assert((await focused(page)).endsWith('-review-heading'), `focus moves to the preview: ${await focused(page)}`);
        await tabTo(page, 'field-1');
        await page.keyboard.press('ArrowDown');
        const changed = (await events(page, 'mapping')).at(-1).detail.fieldMap['First Name'];
        assert(changed && changed !== 'first_name', `the arrow key changed the field: ${changed}`);
        await page.keyboard.press('ArrowUp');
        await tabTo(page, 'start');
        await page.keyboard.press('Enter');
        await step(page, 'result', 60_000);
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.activeElement?.id.endsWith('-result-heading'));
        const done = (await events(page, 'done')).at(-1).detail;
        await countsMatchEmulator(ctx, page, done);
        await tabTo(page, 'another');
        await page.keyboard.press('Enter');
        await step(page, 'pick');
        await page.waitForFunction(() => document.querySelector('import-uploader').shadowRoot.activeElement?.id.endsWith('-choose'));
      });
    },
  },
  {
    name: 'readable at 360 px wide and at 200 % zoom: no horizontal scrolling of the page',
    async fn(ctx) {
      for (const [label, options] of [
        ['360px', { viewport: { width: 360, height: 800 }, deviceScaleFactor: 1 }],
        ['zoom-200', { viewport: { width: 640, height: 450 }, deviceScaleFactor: 2 }],
      ]) {
        await withPage(open(ctx, `${ctx.demo.url}/`, options), async ({ page }) => {
          await pick(page, file('narrow.csv', `E-mail Address,First Name,Zip,Loyalty Points,Signed Up\nn.${run()}@example.com,Nia,10115,12,2026-01-02T03:04:05Z\n`));
          await review(page);
          const over = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert(over <= 0, `${label}: the page scrolls sideways by ${over} px at the review step`);
          await shot(ctx, page, `07-${label}-review`);
          await startAndFinish(page);
          const after = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert(after <= 0, `${label}: the page scrolls sideways by ${after} px at the results`);
          await shot(ctx, page, `07-${label}-result`);
        });
      }
    },
  },
  {
    name: 'a folder dropped in a browser without webkitGetAsEntry() is refused by the read of one byte, as through the picker; the element stays usable',
    async fn(ctx) {
      const { context, page } = await open(ctx, `${ctx.bare.url}/`);
      const dir = join(ctx.scratch, `noentries-${run()}`);
      try {
        const folder = join(dir, 'exports');
        mkdirSync(folder, { recursive: true });
        writeFileSync(join(folder, 'inside.csv'), people(2, 0));
        const single = join(dir, 'dropped.csv');
        writeFileSync(single, people(2, 1));
        // A browser without entries: the drop hands over only the File.
        const entries = await page.evaluate(() => {
          delete DataTransferItem.prototype.webkitGetAsEntry;
          return typeof DataTransferItem.prototype.webkitGetAsEntry;
        });
        assertEqual(entries, 'undefined', 'webkitGetAsEntry removed');
        await osDrop(page, [folder]);
        const err = await errorEvent(page, 'ELEMENT.FILE.UNREADABLE');
        assertEqual(err?.code, 'ELEMENT.FILE.UNREADABLE', 'a dropped folder, no entries');
        assert(err.isError && err.name === 'ImportError' && err.kind === 'validation', `ImportError shape: ${JSON.stringify(err)}`);
        const message = await page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('[role=status]').textContent);
        assert(message.includes('exports') && /cannot be read/.test(message), `message: ${message}`);
        assertEqual(await page.$eval('import-uploader', (u) => u.dataset.step), 'pick', 'still on the drop zone');
        assertEqual((await events(page, 'file')).length, 0, 'no file event for the folder');
        // A real file dropped the same way imports.
        await osDrop(page, [single]);
        await review(page);
        const { done } = await startAndFinish(page);
        const status = await countsMatchEmulator(ctx, page, done);
        assertEqual(status.validRows, 2, 'the dropped file imports');
      } finally {
        await context.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "the full check's Stop button: the check stops at once, its Worker ends, the user can go on or check again",
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        const workers = [];
        page.on('worker', (w) => {
          const entry = { url: w.url(), closed: false };
          workers.push(entry);
          w.on('close', () => {
            entry.closed = true;
          });
        });
        // About 60 MB (15 parts of the check), made in the page.
        const rows = 600_000;
        const r = run();
        await page.evaluate(
          ({ rows, r }) => {
            const pad = 'z'.repeat(60);
            const lines = ['email,first_name'];
            for (let i = 0; i < rows; i++) lines.push(`s${i}.${r}@example.com,${pad}`);
            window.__big = new File([`${lines.join('\n')}\n`], 'stop.csv', { type: 'text/csv' });
          },
          { rows, r },
        );
        const dt = await page.evaluateHandle(() => {
          const dt = new DataTransfer();
          dt.items.add(window.__big);
          return dt;
        });
        await page.dispatchEvent(el('drop'), 'drop', { dataTransfer: dt });
        await review(page);
        await page.click(el('check'));
        // Stopped once the bar has moved, well before its end.
        await page.waitForFunction(
          () => {
            const bar = document.querySelector('import-uploader').shadowRoot.querySelector('[id$="-check-progress"]');
            return bar && bar.value > 0 && bar.value < bar.max;
          },
          null,
          { polling: 'raf', timeout: 30_000 },
        );
        const stoppedAt = await page.$eval(el('check-progress'), (b) => ({ value: b.value, max: b.max }));
        const liveBefore = workers.filter((w) => !w.closed).length;
        assert(liveBefore >= 1, `a Worker runs the check (${JSON.stringify(workers)})`);
        const t = Date.now();
        await page.click(el('cancel-check'));
        await page.waitForFunction(() => !document.querySelector('import-uploader').shadowRoot.querySelector('[id$="-check-progress"]'), null, { timeout: 5_000 });
        const message = await page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('[role=status]').textContent);
        assertEqual(message, 'Check stopped.', 'the live region');
        assert(!(await page.$eval('import-uploader', (u) => u.shadowRoot.querySelector('[role=status]').classList.contains('error'))), 'a stop is not an error');
        assertEqual((await events(page, 'error')).length, 0, 'no error event');
        // The Worker's work ends: the Worker that ran the check is gone.
        const deadline = Date.now() + 5_000;
        while (workers.some((w) => !w.closed) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
        assertEqual(workers.filter((w) => !w.closed).length, 0, `no Worker left running ${Date.now() - t} ms after Stop (${JSON.stringify(workers)})`);
        assertEqual(await page.$eval('import-uploader', (u) => u.dataset.step), 'review', 'back on the review step');
        assertEqual(await page.$eval(el('prediction'), (p) => p.dataset.full), 'false', 'the prediction shown is still the sample one');
        // Go on: the start button is enabled; or check again, to the end.
        assert(!(await page.$eval(el('start'), (b) => b.disabled)), 'the start button is enabled after Stop');
        assert(!(await page.$eval(el('check'), (b) => b.disabled)), 'the check button is enabled after Stop');
        await page.click(el('check'));
        await page.waitForSelector(`${el('prediction')}[data-full="true"]`, { timeout: 60_000 });
        const predicted = await page.$eval(el('prediction'), (p) => p.textContent);
        assert(predicted.includes(`${rows.toLocaleString('en')} of ${rows.toLocaleString('en')}`), `the second check reads every row: "${predicted}" (stopped at ${JSON.stringify(stoppedAt)})`);
      });
    },
  },
  {
    name: 'the encoding override: another encoding re-renders the preview and the mapping with the file decoded that way, and the upload is normalised with it',
    async fn(ctx) {
      await withPage(open(ctx, `${ctx.bare.url}/`), async ({ page }) => {
        // Windows-1250 bytes (Czech): the same bytes read as windows-1252
        // give other letters (0xC8 Č/È, 0xE6 ć/æ, 0xF8 ř/ø, 0xE8 č/è).
        const r = run();
        const latin = (text) => [...text].map((c) => c.charCodeAt(0));
        const bytes = [
          ...latin('email;first_name;p'), 0xf8, 0xed, ...latin('jmen'), 0xed, 0x0d, 0x0a,
          ...latin(`k.${r}@example.com;Karel;`), 0xc8, ...latin('apek'), 0x0d, 0x0a,
          ...latin(`j.${r}@example.com;Jan;Jovanovi`), 0xe6, 0x0d, 0x0a,
          ...latin(`m.${r}@example.com;Marie;Ku`), 0xe8, ...latin('erov'), 0xe1, 0x0d, 0x0a,
        ];
        await drop(page, file('czech.csv', bytes));
        await review(page);
        const detected = await page.$eval(el('encoding'), (s) => s.value);
        assert(['windows-1250', 'windows-1252', 'iso-8859-1'].includes(detected), `detected a single-byte encoding: ${detected}`);
        const chosen = detected === 'windows-1250' ? 'windows-1252' : 'windows-1250';
        const decoded = new TextDecoder(chosen).decode(Uint8Array.from(bytes));
        const lines = decoded.split('\r\n').filter(Boolean).map((l) => l.split(';'));
        const mappingBefore = (await events(page, 'mapping')).length;
        await page.selectOption(el('encoding'), chosen);
        // The preview and the mapping editor, decoded the new way.
        await page.waitForFunction(
          (name) => !!document.querySelector('import-uploader').shadowRoot.querySelector(`[id$="-mapping"] tbody tr[data-column="${name}"]`),
          lines[0][2],
          { timeout: 20_000 },
        );
        await page.waitForFunction((n) => window.__events.filter((e) => e.type === 'mapping').length > n, mappingBefore, { timeout: 20_000 });
        assertEqual(await page.$eval(el('encoding'), (s) => s.value), chosen, 'the encoding shown');
        const head = await page.$$eval(`${el('preview')} thead th`, (ths) => ths.map((t) => t.textContent));
        assertEqual(JSON.stringify(head), JSON.stringify(lines[0]), 'the preview header, decoded as chosen');
        const cells = await page.$$eval(`${el('preview')} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
        assertEqual(JSON.stringify(cells), JSON.stringify(lines.slice(1)), 'the preview rows, decoded as chosen');
        const columns = await page.$$eval(`${el('mapping')} tbody tr`, (trs) => trs.map((tr) => tr.dataset.column));
        assertEqual(JSON.stringify(columns), JSON.stringify(lines[0]), 'the mapping editor lists the columns decoded as chosen');
        const mapping = (await events(page, 'mapping')).at(-1).detail;
        assert(lines[0][2] in mapping.sourceFields, `the mapping's sourceFields name the column as decoded: ${JSON.stringify(mapping.sourceFields)}`);
        // The upload: normalised to UTF-8 with commas, decoded as chosen.
        const { done } = await startAndFinish(page);
        const status = await countsMatchEmulator(ctx, page, done);
        assertEqual(status.validRows, 3, 'the three rows import');
        const jobId = done.jobId.split('.')[0];
        const back = await fetch(`${ctx.emulator}/public/v1/import-jobs/${jobId}/upload`, { headers: { authorization: `Bearer ${ctx.workspaceToken}` } });
        const uploaded = await back.text();
        assertEqual(back.status, 200, `reading the upload back: ${uploaded.slice(0, 200)}`);
        assertEqual(uploaded, `${lines.map((l) => l.join(',')).join('\n')}\n`, 'the upload is the file decoded as chosen, as UTF-8 with commas');
      });
    },
  },
];
