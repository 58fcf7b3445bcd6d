// The `cli` suite: the `import-uploader` command line as a user installs
// it (the built package packed with `npm pack` and installed from the
// tarball into a scratch app), run against emulators; and the package's
// file sources on large sparse files, through its `upload`.
//
//   node tests/cli/run.mjs     (`cargo xtask test --suites=cli` starts the emulators)
//
// Environment: IMPORT_EMULATOR_URL (default storage), IMPORT_EMULATOR_URL_SLOW
// and IMPORT_EMULATOR_LOG_SLOW (storage delayed; its log is where storage
// requests are counted), IMPORT_EMULATOR_URL_EXPIRY (upload URLs valid 8 s),
// IMPORT_EMULATOR_URL_AZURITE (storage in Azurite), IMPORT_CLI_TOKEN (a
// token those emulators know), IMPORT_CLI_SCRATCH (default
// target/xtask/cli), IMPORT_CLI_ONLY (run only the cases whose name
// contains this text). Prints `ok - …` / `not ok - …` per case and closes
// with `N passed, M failed`; exits 1 when anything failed.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { europeanExport } from '../js/preflight-cases.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const env = process.env;

function bail(message) {
  console.error(`cli: ${message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const need = (name) => env[name] || bail(`${name} is not set: run \`cargo xtask test --suites=cli\``);
const MAIN = need('IMPORT_EMULATOR_URL').replace(/\/+$/, '');
const SLOW = need('IMPORT_EMULATOR_URL_SLOW').replace(/\/+$/, '');
const SLOW_LOG = need('IMPORT_EMULATOR_LOG_SLOW');
const EXPIRY = need('IMPORT_EMULATOR_URL_EXPIRY').replace(/\/+$/, '');
const AZURITE = need('IMPORT_EMULATOR_URL_AZURITE').replace(/\/+$/, '');
const TOKEN = need('IMPORT_CLI_TOKEN');
const api = (base) => `${base}/public/v1`;
const scratch = resolve(env.IMPORT_CLI_SCRATCH ?? join(root, 'target', 'xtask', 'cli'));
const only = env.IMPORT_CLI_ONLY ?? '';

// ---- the package, installed as an app installs it ----------------------------

function step(cwd, cmd, args) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
const app = join(scratch, 'app');
mkdirSync(app, { recursive: true });
let bin;
let pkg;
try {
  const packed = JSON.parse(step(join(root, 'pkg'), 'npm', ['pack', '--json', '--pack-destination', scratch]));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'cli-app', private: true, type: 'module' }));
  step(app, 'npm', ['install', '--no-save', '--offline', '--no-audit', '--no-fund', '--no-package-lock', join(scratch, packed[0].filename)]);
  bin = join(app, 'node_modules', '.bin', 'import-uploader');
  if (!existsSync(bin)) throw new Error(`npm installed no ${bin}: the package's \`bin\` is missing`);
  writeFileSync(join(app, 'probe.mjs'), "export * from 'import-uploader';\n");
  pkg = await import(pathToFileURL(join(app, 'probe.mjs')).href);
} catch (e) {
  bail(`cannot install the packed package: ${e.message}`);
}

// ---- helpers -----------------------------------------------------------------

let passed = 0;
let failed = 0;
async function test(name, fn) {
  if (only && !name.includes(only)) return;
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed += 1;
    console.log(`not ok - ${name}: ${String(e?.stack ?? e).replace(/\s+/g, ' ').slice(0, 3000)}`);
  }
}

function assert(ok, message) {
  if (!ok) throw new Error(message);
}
function assertEqual(got, want, what) {
  if (got !== want) throw new Error(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

/** Runs the installed `import-uploader` with `args`; resolves with { code, stdout, stderr }. */
function cli(args, { cwd = work, vars = { IMPORT_TOKEN: TOKEN, IMPORT_API_URL: api(MAIN) }, timeoutMs = 120_000, onSpawn } = {}) {
  return new Promise((resolvePromise, reject) => {
    const childEnv = { PATH: env.PATH, HOME: env.HOME ?? scratch, ...vars };
    const child = spawn(bin, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    onSpawn?.(child);
  });
}

const show = (r) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}; stdout: ${r.stdout.slice(-1500)}; stderr: ${r.stderr.slice(-1500)}`;
function expectExit(r, code) {
  if (r.code !== code) throw new Error(`expected exit ${code}; ${show(r)}`);
}

const work = join(scratch, 'work');
mkdirSync(work, { recursive: true });

/** A CSV of `valid` good rows and `invalid` rows with a bad email. */
function peopleCsv(valid, invalid = 0, tag = 'p') {
  const lines = ['email,first_name'];
  for (let i = 0; i < valid; i++) lines.push(`${tag}${i}@example.com,Name${i}`);
  for (let i = 0; i < invalid; i++) lines.push(`not-an-email-${i},Bad${i}`);
  return lines.join('\n') + '\n';
}
const MAPPING = { sourceFields: { email: 'string', first_name: 'string' }, fieldMap: { email: 'email', first_name: 'first_name' } };
const mappingFile = join(work, 'mapping.json');
writeFileSync(mappingFile, JSON.stringify(MAPPING));

/** NDJSON lines of stdout, each parsed (a line that is not JSON fails). */
function events(stdout) {
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`--json printed a line that is not JSON: ${l.slice(0, 300)}`);
      }
    });
}

async function sha256File(path) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk);
  return h.digest('hex');
}

/** Reads back what the emulator at `base` holds for `jobId`: { size, sha256 }. */
async function readBack(base, jobId) {
  const resp = await fetch(`${api(base)}/import-jobs/${jobId}/upload`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assertEqual(resp.status, 200, `read-back status of ${jobId}`);
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of resp.body) {
    h.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: h.digest('hex') };
}

async function assertStored(base, jobId, path) {
  const got = await readBack(base, jobId);
  assertEqual(got.size, statSync(path).size, `bytes stored for ${jobId}`);
  assertEqual(got.sha256, await sha256File(path), `SHA-256 of what ${jobId} stored`);
}

async function jobStatus(base, jobId) {
  const resp = await fetch(`${api(base)}/import-jobs/${jobId}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = await resp.json();
  assertEqual(resp.status, 200, `status of ${jobId}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.data;
}

/** The journal entries in `dir`. */
function journalEntries(dir) {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')));
}

/** Every file under `dir`, read: the token must be in none. */
function assertTokenNowhere(dir, also = '') {
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (statSync(p).size < 50_000_000) assert(!readFileSync(p, 'utf8').includes(TOKEN), `the API token is written in ${p}`);
    }
  };
  walk(dir);
  assert(!also.includes(TOKEN), 'the API token is in the output');
}

function dir(name) {
  const d = join(work, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- cases: usage, credentials, files ---------------------------------------------

console.log(`# import-uploader ${pkg.version?.() ?? ''} from ${bin}`);

await test('help: usage on stdout, exit 0', async () => {
  const r = await cli(['--help']);
  expectExit(r, 0);
  assert(r.stdout.includes('import-uploader import <file|glob>') && r.stdout.includes('Exit codes'), `usage text: ${r.stdout.slice(0, 300)}`);
});

await test('exit 2: unknown command, unknown option, missing --object, a token flag', async () => {
  for (const args of [['frobnicate'], ['import', 'x.csv', '--objekt', 'profiles'], ['import', mappingFile, '--mapping', mappingFile], ['import', 'x.csv', '--token', 'abc', '--object', 'profiles']]) {
    const r = await cli(args);
    expectExit(r, 2);
    assert(/import-uploader: .+\(see --help\)/.test(r.stderr), `a one-line usage error: ${r.stderr}`);
    assert(!r.stderr.includes('abc') || !args.includes('--token') || r.stderr.includes('IMPORT_TOKEN'), 'the token flag is refused with the variable to use');
  }
});

await test('--dry-run: a good file predicted (exit 0), a bad one says why (exit 6); no job, no journal', async () => {
  const d = dir('dryrun');
  writeFileSync(join(d, 'good.csv'), peopleCsv(20, 3, 'dr'));
  writeFileSync(join(d, 'bad.csv'), 'mail,first_name\na@example.com,Ann\n');
  let r = await cli(['import', join(d, 'good.csv'), '--object', 'profiles', '--mapping', mappingFile, '--dry-run', '--json']);
  expectExit(r, 0);
  const [ev] = events(r.stdout);
  assertEqual(ev.event, 'preflight', 'event');
  assertEqual(`${ev.prediction.readRows} ${ev.prediction.validRows} ${ev.prediction.invalidRows}`, '23 20 3', 'predicted rows');
  assertEqual(ev.dialect.delimiter, ',', 'delimiter');
  r = await cli(['import', join(d, 'bad.csv'), '--object', 'profiles', '--mapping', mappingFile, '--dry-run']);
  expectExit(r, 6);
  assert(/would fail: \S+: .*email/i.test(r.stdout), `says why: ${r.stdout}`);
  r = await cli(['import', join(d, 'good.csv'), '--object', 'profiles', '--auto', '--dry-run']);
  expectExit(r, 0);
  assert(r.stdout.includes('(suggested)') && r.stdout.includes('"email":"email"'), `the suggested mapping: ${r.stdout}`);
  assert(!existsSync(join(d, '.import-uploader')), 'no journal was written');
});

await test('--auto: the suggested mapping imports the file', async () => {
  const d = dir('auto');
  const file = join(d, 'people.csv');
  writeFileSync(file, peopleCsv(12, 1, 'au'));
  const r = await cli(['import', file, '--object', 'profiles', '--auto', '--json', '--poll-ms', '100'], { cwd: d });
  expectExit(r, 0);
  const done = events(r.stdout).find((e) => e.event === 'done');
  assertEqual(`${done.importedRows} ${done.rejectedRows}`, '12 1', 'imported and rejected rows');
  const [entry] = journalEntries(join(d, '.import-uploader'));
  assertEqual(entry.mapping.fieldMap.email, 'email', 'the journal keeps the mapping used');
});

await test('--auto: a windows-1252 export with `;` and CRLF goes up as UTF-8 with commas, in parts, byte for byte the hand-converted file', async () => {
  const d = dir('auto-1252');
  const file = join(d, 'export.csv');
  const { original, converted, rows } = europeanExport(10_000, 'cli');
  writeFileSync(file, original);
  assert(converted.length > 3 * (128 << 10), 'the converted file is more than three 128 KiB parts');
  let r = await cli(['import', file, '--object', 'profiles', '--auto', '--dry-run'], { cwd: d });
  expectExit(r, 0);
  assert(r.stdout.includes(`normalised on upload: windows-1252, \`;\``) && r.stdout.includes(`(${converted.length.toLocaleString('en-US')} bytes)`), `the dry run says it normalises: ${r.stdout}`);
  r = await cli(['import', file, '--object', 'profiles', '--auto', '--json', '--part-size', '128KiB', '--poll-ms', '100'], { cwd: d });
  expectExit(r, 0);
  const done = events(r.stdout).find((e) => e.event === 'done');
  assertEqual(done.readRows, rows, 'rows read');
  assertEqual(done.importedRows + done.rejectedRows, rows, 'every row imported or rejected');
  const got = await readBack(MAIN, done.jobId);
  assertEqual(got.size, converted.length, 'the declared and stored size is the normalised one');
  assertEqual(got.sha256, createHash('sha256').update(converted).digest('hex'), 'the stored bytes are the hand-converted file');
  const [entry] = journalEntries(join(d, '.import-uploader'));
  assertEqual(entry.normalise?.size, converted.length, 'the journal records the normalised size (for resume)');
});

await test('exit 4: no credentials, a wrong token, a wrong OAuth secret', async () => {
  const d = dir('auth');
  const file = join(d, 'a.csv');
  writeFileSync(file, peopleCsv(2));
  const args = ['import', file, '--object', 'profiles', '--mapping', mappingFile, '--yes'];
  let r = await cli(args, { vars: { IMPORT_API_URL: api(MAIN) } });
  expectExit(r, 4);
  assert(r.stderr.includes('IMPORT_TOKEN'), `names the variables: ${r.stderr}`);
  r = await cli(args, { vars: { IMPORT_API_URL: api(MAIN), IMPORT_TOKEN: 'not-a-token' } });
  expectExit(r, 4);
  assert(/CDP_ETL\.AUTH\.\S+/.test(r.stderr) && /correlation id [0-9a-f-]{36}/.test(r.stderr), `API code and correlation id: ${r.stderr}`);
  r = await cli(args, {
    vars: { IMPORT_API_URL: api(MAIN), IMPORT_CLIENT_ID: 'dev-client', IMPORT_CLIENT_SECRET: 'wrong', IMPORT_TOKEN_URL: `${MAIN}/oauth/token` },
  });
  expectExit(r, 4);
  assert(r.stderr.includes('invalid_client'), `the token endpoint's answer: ${r.stderr}`);
});

await test('exit 3: a missing file, a glob that matches nothing; no job is created', async () => {
  const d = dir('missing');
  let r = await cli(['import', join(d, 'nope.csv'), '--object', 'profiles', '--mapping', mappingFile]);
  expectExit(r, 3);
  assert(r.stderr.includes('no such file'), r.stderr);
  r = await cli(['import', `${d}/*.csv`, '--object', 'profiles', '--mapping', mappingFile, '--json']);
  expectExit(r, 3);
  const ev = events(r.stdout);
  assert(ev.length === 1 && ev[0].event === 'error' && ev[0].exitCode === 3, `one error event: ${r.stdout}`);
  assert(!existsSync(join(d, '.import-uploader')), 'no journal was written');
});

// ---- cases: imports -----------------------------------------------------------

await test('one file: imported, summary table, bytes stored right, journal done, token nowhere', async () => {
  const d = dir('one');
  const file = join(d, 'people.csv');
  writeFileSync(file, peopleCsv(40, 3, 'one'));
  const r = await cli(['import', file, '--object', 'profiles', '--mapping', mappingFile, '--poll-ms', '100'], { cwd: d });
  expectExit(r, 0);
  const row = r.stdout.split('\n').find((l) => l.startsWith('people.csv'));
  assert(row, `a summary row: ${r.stdout}`);
  const cells = row.split(/\s{2,}/);
  const jobId = cells[1];
  assert(/^imp_/.test(jobId), `job id in the table: ${row}`);
  assertEqual(cells.slice(2, 5).join(' '), '43 40 3', 'rows read, imported, rejected');
  await assertStored(MAIN, jobId, file);
  const [entry] = journalEntries(join(d, '.import-uploader'));
  assertEqual(entry.step, 'done', 'journal step');
  assertEqual(entry.job.jobId, jobId, 'journal job');
  assertTokenNowhere(d, r.stdout + r.stderr);
});

await test('a glob of files: one job each, --json events parsed (job, progress, status, done)', async () => {
  const d = dir('glob');
  mkdirSync(join(d, 'data'));
  for (let i = 0; i < 3; i++) writeFileSync(join(d, 'data', `part-${i}.csv`), peopleCsv(10 + i, 0, `g${i}-`));
  writeFileSync(join(d, 'data', 'notes.txt'), 'not matched');
  const r = await cli(['import', 'data/*.csv', '--object', 'profiles', '--mapping', mappingFile, '--json', '--files', '2', '--poll-ms', '100'], { cwd: d });
  expectExit(r, 0);
  const ev = events(r.stdout);
  const files = ['data/part-0.csv', 'data/part-1.csv', 'data/part-2.csv'];
  const jobs = new Set();
  for (const [i, f] of files.entries()) {
    const mine = ev.filter((e) => e.file === f);
    for (const kind of ['job', 'progress', 'status', 'done']) assert(mine.some((e) => e.event === kind), `${f}: no ${kind} event in ${JSON.stringify(mine).slice(0, 500)}`);
    const done = mine.find((e) => e.event === 'done');
    assertEqual(done.state, 'completed', `${f} state`);
    assertEqual(done.importedRows, 10 + i, `${f} imported rows`);
    assert(typeof done.seconds === 'number' && /^imp_/.test(done.jobId), `done event fields: ${JSON.stringify(done)}`);
    const p = mine.filter((e) => e.event === 'progress').pop();
    assertEqual(p.loaded, p.total, `${f} last progress`);
    jobs.add(done.jobId);
    await assertStored(MAIN, done.jobId, join(d, f));
  }
  assertEqual(jobs.size, 3, 'distinct jobs');
  assert(!ev.some((e) => e.file === 'data/notes.txt'), 'notes.txt is not matched');
});

await test('never twice: importing a done file again creates no job; an unfinished one says resume (exit 2)', async () => {
  const d = dir('twice');
  const file = join(d, 'a.csv');
  writeFileSync(file, peopleCsv(5, 0, 'tw'));
  let r = await cli(['import', file, '--object', 'profiles', '--mapping', mappingFile, '--json', '--poll-ms', '100'], { cwd: d });
  expectExit(r, 0);
  const first = events(r.stdout).find((e) => e.event === 'done').jobId;
  r = await cli(['import', file, '--object', 'profiles', '--mapping', mappingFile, '--poll-ms', '100'], { cwd: d });
  expectExit(r, 0);
  assert(r.stderr.includes(`already imported as job ${first}`), r.stderr);
  assert(!r.stdout.split('\n').some((l) => /imp_/.test(l) && !l.includes(first)), `no other job: ${r.stdout}`);
  const journalDir = join(d, '.import-uploader');
  const [entry] = journalEntries(journalDir);
  entry.step = 'started';
  writeFileSync(join(journalDir, readdirSync(journalDir).find((n) => n.endsWith('.json'))), JSON.stringify(entry));
  r = await cli(['import', file, '--object', 'profiles', '--mapping', mappingFile], { cwd: d });
  expectExit(r, 2);
  assert(r.stderr.includes('import-uploader resume'), r.stderr);
  // `resume` follows the started job: no new job, no second start.
  r = await cli(['resume', journalDir, '--json', '--poll-ms', '100'], { cwd: d });
  expectExit(r, 0);
  const done = events(r.stdout).filter((e) => e.event === 'done');
  assertEqual(done.length, 1, 'one done event');
  assertEqual(done[0].jobId, first, 'the same job');
});

await test('exit 1 with --fail-on-rejects when rows are rejected (0 without)', async () => {
  const d = dir('rejects');
  const file = join(d, 'r.csv');
  writeFileSync(file, peopleCsv(5, 2, 'rj'));
  const r = await cli(['import', file, '--object', 'profiles', '--mapping', mappingFile, '--fail-on-rejects', '--json', '--poll-ms', '100'], { cwd: d });
  expectExit(r, 1);
  const done = events(r.stdout).find((e) => e.event === 'done');
  assertEqual(done.rejectedRows, 2, 'rejected rows');
  // errors: the rejected rows as CSV and JSON lines.
  const out = join(d, 'rejected.csv');
  let e = await cli(['errors', done.jobId, '--format', 'csv', '-o', out], { cwd: d });
  expectExit(e, 0);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assertEqual(lines.length, 3, `header and 2 rows in ${lines.join(' | ')}`);
  assert(lines[0].startsWith('rowNumber,code,column,error,email,first_name'), `CSV header: ${lines[0]}`);
  e = await cli(['errors', done.jobId]);
  expectExit(e, 0);
  const rows = events(e.stdout);
  assertEqual(rows.length, 2, 'JSON lines');
  assert(rows.every((row) => row.sourceRow.email.startsWith('not-an-email')), JSON.stringify(rows));
  // status of the job, as JSON.
  const s = await cli(['status', done.jobId, '--json']);
  expectExit(s, 0);
  const [st] = events(s.stdout);
  assertEqual(st.state, 'completed', 'status state');
  assertEqual(st.invalidRows, 2, 'status invalid rows');
});

await test('exit 6: a job that fails (the header lacks a mapped column)', async () => {
  const d = dir('failed');
  const file = join(d, 'f.csv');
  writeFileSync(file, 'mail,first_name\na@example.com,Ann\n');
  const r = await cli(['import', file, '--object', 'profiles', '--mapping', mappingFile, '--poll-ms', '100'], { cwd: d });
  expectExit(r, 6);
  assert(/JOB_FAILED.*job imp_\w+ failed/.test(r.stderr), `says which job failed and why: ${r.stderr}`);
  assert(r.stdout.includes('job failed'), r.stdout);
});

await test('exit 5: the API unreachable, retries exhausted', async () => {
  const d = dir('unreachable');
  const file = join(d, 'u.csv');
  writeFileSync(file, peopleCsv(2));
  const r = await cli(['import', file, '--object', 'profiles', '--mapping', mappingFile, '--api', 'http://127.0.0.1:9/public/v1'], { cwd: d });
  expectExit(r, 5);
  assert(r.stderr.includes('NETWORK_ERROR') && r.stderr.includes('resume'), r.stderr);
});

await test('OAuth client credentials from the environment; objects and a schema', async () => {
  const d = dir('oauth');
  const file = join(d, 'o.csv');
  writeFileSync(file, peopleCsv(3, 0, 'oa'));
  const vars = { IMPORT_API_URL: api(MAIN), IMPORT_CLIENT_ID: 'dev-client', IMPORT_CLIENT_SECRET: 'dev-secret', IMPORT_TOKEN_URL: `${MAIN}/oauth/token` };
  let r = await cli(['import', file, '--object', 'profiles', '--mapping', mappingFile, '--json', '--poll-ms', '100'], { cwd: d, vars });
  expectExit(r, 0);
  assertEqual(events(r.stdout).find((e) => e.event === 'done').importedRows, 3, 'imported rows');
  r = await cli(['objects'], { vars });
  expectExit(r, 0);
  assert(/^profiles\s/m.test(r.stdout), r.stdout);
  r = await cli(['objects', 'profiles', '--json'], { vars });
  expectExit(r, 0);
  const schema = JSON.parse(r.stdout);
  assert(schema.fields.some((f) => f.name === 'email'), 'the schema lists email');
  assertTokenNowhere(d, r.stdout + r.stderr);
});

await test('Azurite: an import whose upload goes to Azurite', async () => {
  const d = dir('azurite');
  const file = join(d, 'az.csv');
  writeFileSync(file, peopleCsv(3000, 1, 'az'));
  const r = await cli(['import', file, '--object', 'profiles', '--mapping', mappingFile, '--part-size', '64KiB', '--json', '--poll-ms', '100'], {
    cwd: d,
    vars: { IMPORT_TOKEN: TOKEN, IMPORT_API_URL: api(AZURITE) },
  });
  expectExit(r, 0);
  const done = events(r.stdout).find((e) => e.event === 'done');
  assertEqual(done.importedRows, 3000, 'imported rows');
  await assertStored(AZURITE, done.jobId, file);
});

// ---- cases: interruption and resume ------------------------------------------------

/** Random bytes shaped as CSV rows (so the job can process them). */
function bigCsv(path, bytes, tag) {
  const lines = ['email,first_name'];
  let size = lines[0].length + 1;
  for (let i = 0; size < bytes; i++) {
    const l = `${tag}${i}@example.com,${createHash('md5').update(String(i)).digest('hex')}`;
    lines.push(l);
    size += l.length + 1;
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

/** Starts `import` and SIGKILLs it once the journal records at least `parts` stored parts. */
async function killAfterParts(args, cwd, journalDir, parts, signal = 'SIGKILL') {
  let child;
  const running = cli(args, { cwd, vars: args.vars, onSpawn: (c) => (child = c) });
  const deadline = Date.now() + 60_000;
  let entry;
  for (;;) {
    await sleep(20);
    try {
      [entry] = existsSync(journalDir) ? journalEntries(journalDir) : [];
    } catch {
      entry = undefined; // a rename in progress elsewhere: read again
    }
    const value = entry?.parts?.value;
    const m = typeof value === 'string' ? /:r:(.*)$/.exec(value) : null;
    const n = m ? m[1].split(',').reduce((a, r) => a + (r.includes('-') ? Number(r.split('-')[1]) - Number(r.split('-')[0]) + 1 : 1), 0) : 0;
    if (n >= parts) break;
    if (Date.now() > deadline) throw new Error(`the journal never recorded ${parts} parts: ${JSON.stringify(entry)?.slice(0, 500)}`);
  }
  child.kill(signal);
  const r = await running;
  return { r, entry };
}

await test('kill -9 in the middle of a many-part upload, then resume: same job, stored parts not sent again, bytes right', async () => {
  const d = dir('kill');
  const file = join(d, 'big.csv');
  bigCsv(file, 6 * 1024 * 1024, 'k');
  const journalDir = join(d, '.import-uploader');
  const vars = { IMPORT_TOKEN: TOKEN, IMPORT_API_URL: api(SLOW) };
  const args = ['import', file, '--object', 'profiles', '--mapping', mappingFile, '--part-size', '64KiB', '--concurrency', '2', '--json', '--poll-ms', '100'];
  const { r } = await killAfterParts(Object.assign(args, { vars }), d, journalDir, 20);
  assertEqual(r.signal, 'SIGKILL', `killed (${show(r)})`);
  // The journal as the kill left it: readable, mid-upload.
  const [entry] = journalEntries(journalDir);
  assertEqual(entry.step, 'uploading', 'journal step after the kill');
  const jobId = entry.job.jobId;
  const value = entry.parts.value;
  const ranges = /:r:(.*)$/.exec(value)[1];
  const stored = ranges.split(',').reduce((a, x) => a + (x.includes('-') ? Number(x.split('-')[1]) - Number(x.split('-')[0]) + 1 : 1), 0);
  const parts = Math.ceil(statSync(file).size / 65536);
  assert(stored >= 20 && stored < parts, `parts recorded ${stored} of ${parts}`);
  const logBefore = statSync(SLOW_LOG).size;
  const res = await cli(['resume', journalDir, '--json', '--poll-ms', '100'], { cwd: d, vars });
  expectExit(res, 0);
  const ev = events(res.stdout);
  const job = ev.find((e) => e.event === 'job');
  assertEqual(job.jobId, jobId, 'resume continues the same job');
  assertEqual(job.resumed, true, 'job event says resumed');
  const done = ev.find((e) => e.event === 'done');
  assertEqual(done.state, 'completed', 'final state');
  await assertStored(SLOW, jobId, file);
  // Storage requests of this job after the resume started, from the
  // emulator's log: the parts not recorded, and the block list.
  const log = readFileSync(SLOW_LOG).subarray(logBefore).toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
  const puts = log.split('\n').filter((l) => l.includes('method=PUT') && l.includes(`/storage/`) && l.includes(jobId)).length;
  assertEqual(puts, parts - stored + 1, `storage PUTs on resume (${parts} parts, ${stored} recorded)`);
  const [after] = journalEntries(journalDir);
  assertEqual(after.upload.partsSkipped, stored, 'parts skipped');
  assertEqual(after.step, 'done', 'journal step');
});

await test('Ctrl-C (SIGINT): exit 7, then resume finishes the same job', async () => {
  const d = dir('sigint');
  const file = join(d, 'int.csv');
  bigCsv(file, 2 * 1024 * 1024, 'i');
  const journalDir = join(d, '.import-uploader');
  const vars = { IMPORT_TOKEN: TOKEN, IMPORT_API_URL: api(SLOW) };
  const args = ['import', file, '--object', 'profiles', '--mapping', mappingFile, '--part-size', '64KiB', '--concurrency', '1', '--poll-ms', '100'];
  const { r } = await killAfterParts(Object.assign(args, { vars }), d, journalDir, 3, 'SIGINT');
  expectExit(r, 7);
  assert(r.stderr.includes('resume'), r.stderr);
  const [entry] = journalEntries(journalDir);
  const res = await cli(['resume', journalDir, '--json', '--poll-ms', '100'], { cwd: d, vars });
  expectExit(res, 0);
  assertEqual(events(res.stdout).find((e) => e.event === 'done').jobId, entry.job.jobId, 'the same job');
  await assertStored(SLOW, entry.job.jobId, file);
});

await test('an upload URL expired on resume: a new job, the old one never started', async () => {
  const d = dir('expiry');
  const file = join(d, 'exp.csv');
  bigCsv(file, 1024 * 1024, 'e');
  const journalDir = join(d, '.import-uploader');
  const vars = { IMPORT_TOKEN: TOKEN, IMPORT_API_URL: api(EXPIRY) };
  const args = ['import', file, '--object', 'profiles', '--mapping', mappingFile, '--part-size', '64KiB', '--concurrency', '1', '--poll-ms', '100'];
  const { r } = await killAfterParts(Object.assign(args, { vars }), d, journalDir, 2);
  assertEqual(r.signal, 'SIGKILL', show(r));
  const [entry] = journalEntries(journalDir);
  const old = entry.job.jobId;
  const wait = Date.parse(entry.job.expiresAt) - Date.now() + 1000;
  if (wait > 0) await sleep(wait);
  const res = await cli(['resume', journalDir, '--json', '--poll-ms', '100', '--concurrency', '4'], { cwd: d, vars });
  expectExit(res, 0);
  const done = events(res.stdout).find((e) => e.event === 'done');
  assert(done.jobId !== old, 'a new job');
  assertEqual(done.state, 'completed', 'new job state');
  await assertStored(EXPIRY, done.jobId, file);
  const oldStatus = await jobStatus(EXPIRY, old);
  assertEqual(oldStatus.state, 'pending', 'the expired job was never started');
  const [after] = journalEntries(journalDir);
  assert(after.abandonedJobs.includes(old), 'the journal names the abandoned job');
});

// ---- the package's file sources: large sparse files ------------------------------

/** A sparse file of `size` bytes, with marks written around 2 GiB and 4 GiB and at both ends. */
async function sparseFile(path, size) {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    const mark = Buffer.from('MARK-1234567890');
    for (const at of [0, 2 ** 31 - 7, 2 ** 32 - 7, size - mark.length]) {
      if (at >= 0 && at + mark.length <= size) await fh.write(mark, 0, mark.length, at);
    }
  } finally {
    await fh.close();
  }
}

for (const [name, size, how] of [
  ['5 GiB', 5 * 2 ** 30, 'createJob, then client.upload(job, path) without checksums'],
  ['2 GiB + 1 byte', 2 ** 31 + 1, 'standalone upload(path, { url }) with Content-MD5'],
]) {
  await test(`file source: a sparse ${name} file uploaded by path (${how}), read back by length and SHA-256`, async () => {
    const d = dir(`sparse-${size}`);
    const path = join(d, 'sparse.bin');
    await sparseFile(path, size);
    try {
      const want = await sha256File(path);
      const client = new pkg.ImportClient({ baseUrl: api(MAIN), token: TOKEN });
      const job = await client.createJob({ objectName: 'profiles', fileName: 'sparse.csv', fileSize: size });
      let peak = 0;
      const probe = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 250);
      let result;
      try {
        if (size > 2 ** 32) {
          result = await client.upload(job, path, { checksum: false }).done;
        } else {
          result = await pkg.upload(pathToFileURL(path), { url: job.uploadUrl, headers: job.headers, expiresAt: job.expiresAt }).done;
        }
      } finally {
        clearInterval(probe);
      }
      assertEqual(result.size, size, 'size uploaded');
      const got = await readBack(MAIN, job.jobId);
      assertEqual(got.size, size, 'size read back');
      assertEqual(got.sha256, want, 'SHA-256 read back');
      console.log(`# ${name}: ${result.parts} parts of ${result.partSize} bytes in ${(result.durationMs / 1000).toFixed(1)} s, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
}

await test('file source: a path that does not exist is an ImportError (validation, FILE_NOT_FOUND), thrown at once', async () => {
  let err;
  try {
    pkg.upload(join(work, 'no-such-file.bin'), { url: `${MAIN}/storage/x` });
  } catch (e) {
    err = e;
  }
  assert(err, 'upload threw');
  assertEqual(err.name, 'ImportError', 'name');
  assertEqual(err.kind, 'validation', 'kind');
  assertEqual(err.rule, 'FILE_NOT_FOUND', 'rule');
  const client = new pkg.ImportClient({ baseUrl: api(MAIN), token: TOKEN });
  const rejected = await client.importFile(join(work, 'no-such-file.bin'), { objectName: 'profiles', mapping: MAPPING }).then(
    () => undefined,
    (e) => e,
  );
  assertEqual(rejected?.rule, 'FILE_NOT_FOUND', 'importFile rejects likewise');
});

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
