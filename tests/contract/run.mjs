// The wire contract, checked from outside: the emulator's `/openapi.json`
// is a valid OpenAPI 3.1 document (validated by @readme/openapi-parser
// against the specification's JSON Schema), and the package's generated
// `.d.ts` carries every field of every schema of that document and
// compiles under `tsc --strict` in an app that uses the wire types; and
// `import-uploader/preflight`'s `preflight.d.ts` declares every field its
// reports carry and compiles in an app that uses it.
//
//   IMPORT_EMULATOR_URL=http://127.0.0.1:PORT node tests/contract/run.mjs
//
// Prints one line per case and the closing `N passed, M failed`.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { validate } from '@readme/openapi-parser';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const emulator = process.env.IMPORT_EMULATOR_URL;
if (!emulator) {
  console.error('IMPORT_EMULATOR_URL is not set: run this with `cargo xtask test`');
  process.exit(2);
}
const scratch = join(process.env.IMPORT_JS_SCRATCH ?? join(root, 'target', 'xtask', 'js'), 'contract');

const cases = [];
const test = (name, fn) => cases.push({ name, fn });
const assert = (cond, message) => {
  if (!cond) throw new Error(message);
};

let doc;

/** `tsc --strict` in `app`: `app.ts` must compile, and `bad.ts` must be
 * refused with an error matching `wrong` (else `why`). */
function typecheck(app, wrong, why) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom'];
  try {
    execFileSync(process.execPath, [tsc, ...flags, 'app.ts'], { cwd: app, encoding: 'utf8' });
  } catch (e) {
    throw new Error(`tsc: ${e.stdout}${e.stderr}`);
  }
  let refused = false;
  try {
    execFileSync(process.execPath, [tsc, ...flags, 'bad.ts'], { cwd: app, encoding: 'utf8' });
  } catch (e) {
    refused = wrong.test(e.stdout);
  }
  assert(refused, why);
}

test('/openapi.json is served as JSON', async () => {
  const r = await fetch(`${emulator}/openapi.json`);
  assert(r.status === 200, `status ${r.status}`);
  assert((r.headers.get('content-type') ?? '').startsWith('application/json'), 'content type');
  doc = await r.json();
  assert(doc.openapi === '3.1.0', `openapi ${doc.openapi}`);
  assert(doc.servers[0].url === `${emulator}/public/v1`, `server ${doc.servers[0].url}`);
});

test('it is a valid OpenAPI 3.1 document', async () => {
  const result = await validate(structuredClone(doc));
  assert(result.valid, `invalid: ${JSON.stringify(result.errors ?? result, null, 1).slice(0, 2000)}`);
  assert(result.specification === 'OpenAPI' || result.specification === undefined, 'specification');
});

test('the validator refuses a broken copy (it really validates)', async () => {
  const broken = structuredClone(doc);
  broken.paths['/import-jobs'].post.responses = 'none';
  const result = await validate(broken);
  assert(!result.valid, 'a document with string responses passed');
});

test('it documents the five Import Jobs operations and marks extensions', async () => {
  for (const [path, method] of [
    ['/import-jobs', 'post'],
    ['/import-jobs/{jobId}/mapping', 'post'],
    ['/import-jobs/{jobId}/start', 'post'],
    ['/import-jobs/{jobId}', 'get'],
    ['/import-jobs/{jobId}/errors', 'get'],
  ]) {
    const op = doc.paths[path]?.[method];
    assert(op, `${method} ${path} missing`);
    assert(!op['x-emulator-extension'], `${method} ${path} marked as an extension`);
  }
  assert(doc.paths['/import-jobs/{jobId}/upload'].get['x-emulator-extension'] === true, 'readback');
  const status = doc.components.schemas.JobStatus.properties;
  assert(status.profileUnification['x-emulator-extension'] === true, 'profileUnification');
  assert(!status.readRows['x-emulator-extension'], 'readRows');
});

const dts = readFileSync(join(root, 'pkg', 'import_uploader.d.ts'), 'utf8');
const serverDts = readFileSync(join(root, 'pkg', 'import_uploader_server.d.ts'), 'utf8');

test('every schema field of the document is in both .d.ts files', async () => {
  const missing = [];
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    const own = schema.allOf ? schema.allOf[1] : schema;
    for (const text of [dts, serverDts]) {
      const start = text.indexOf(`export interface ${name} `);
      if (start < 0) {
        missing.push(`interface ${name}`);
        continue;
      }
      const block = text.slice(start, text.indexOf('\n}\n', start));
      for (const field of Object.keys(own.properties ?? {})) {
        const key = /^\w+$/.test(field) ? field : JSON.stringify(field);
        if (!block.includes(`\n  ${key}: `) && !block.includes(`\n  ${key}?: `)) {
          missing.push(`${name}.${field}`);
        }
      }
    }
  }
  assert(missing.length === 0, `missing: ${missing.join(', ')}`);
});

test('an app using the wire types compiles with tsc --strict', async () => {
  const app = join(scratch, 'ts-app');
  rmSync(app, { recursive: true, force: true });
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  symlinkSync(join(root, 'pkg'), join(app, 'node_modules', 'import-uploader'), 'dir');
  writeFileSync(
    join(app, 'app.ts'),
    [
      "import type { JobStatus, CreateJobRequest, MappingRequest, ObjectSchema, ErrorRow, ImportClient } from 'import-uploader';",
      "const create: CreateJobRequest = { objectName: 'profiles', fileName: 'a.csv', fileSize: 1 };",
      "const mapping: MappingRequest = { sourceFields: { email: 'email' }, fieldMap: { email: 'email' }, importMode: 'strict' };",
      'export function merged(s: JobStatus): number { return s.profileUnification?.profilesMerged ?? 0; }',
      'export function key(o: ObjectSchema): string { return o.identityKeys[0] ?? o.objectName; }',
      'export function row(r: ErrorRow): string { return `${r.rowNumber} ${r.code ?? ""}`; }',
      'export async function use(c: ImportClient): Promise<JobStatus> { const j = await c.createJob(create); await c.setMapping(j.jobId, mapping); return c.status(j.jobId); }',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(app, 'bad.ts'),
    "import type { JobStatus } from 'import-uploader';\nexport const s: JobStatus['state'] = 'paused';\n",
  );
  typecheck(app, /paused/, 'tsc accepted a job state that does not exist');
});

test("import-uploader/preflight's .d.ts names every field its reports carry", async () => {
  const pre = await import(pathToFileURL(join(root, 'pkg', 'preflight-node.js')).href);
  const schema = (await (await fetch(`${emulator}/public/v1/metadata/objects/profiles`, { headers: { authorization: 'Bearer dev-read' } })).json()).data;
  // An empty column name: a header problem.
  const file = new Blob(['E-mail;Vorname;Punkte;\r\nann@example.com;Ann;12;\r\nnot-an-email;Bob;x;\r\n']);
  const report = await pre.preflight(file, { schema, full: true });
  const types = readFileSync(join(root, 'pkg', 'preflight.d.ts'), 'utf8');
  /** The members of `interface name { … }` (or of an inline object type after `name:`). */
  const members = (name) => {
    const at = types.indexOf(`export interface ${name} {`);
    assert(at >= 0, `preflight.d.ts has no interface ${name}`);
    const body = types.slice(at, types.indexOf('\n}', at));
    return new Set([...body.matchAll(/^\s+(\w+)\??:/gm)].map((m) => m[1]));
  };
  const missing = [];
  const check = (name, value) => {
    if (!value || typeof value !== 'object') return;
    const declared = members(name);
    for (const k of Object.keys(value)) if (!declared.has(k)) missing.push(`${name}.${k}`);
  };
  check('Preflight', report);
  check('PreflightDialect', report.dialect);
  check('PreflightColumn', report.columns[0]);
  check('PreflightSuggestion', report.suggestions[0]);
  check('PreflightProblem', report.problems[0]);
  check('PreflightPrediction', report.prediction);
  assert(report.columns.length > 0 && report.suggestions.length > 0 && report.problems.length > 0 && report.prediction.firstErrors.length > 0, 'the report has columns, suggestions, problems and first errors to check');
  assert(missing.length === 0, `not declared: ${missing.join(', ')}`);
});

test('an app using import-uploader/preflight compiles with tsc --strict, and a wrong use does not', async () => {
  const app = join(scratch, 'ts-preflight-app');
  rmSync(app, { recursive: true, force: true });
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  symlinkSync(join(root, 'pkg'), join(app, 'node_modules', 'import-uploader'), 'dir');
  writeFileSync(
    join(app, 'app.ts'),
    [
      "import type { ImportClient } from 'import-uploader';",
      "import { preflight, normalised, type Preflight } from 'import-uploader/preflight';",
      'export async function check(client: ImportClient, file: File, signal: AbortSignal): Promise<number> {',
      "  const schema = await client.objectSchema('profiles');",
      "  const report: Preflight = await preflight(file, { schema, importMode: 'strict', full: true, signal, onProgress: (p) => console.log(p.loaded / p.total), dialect: { delimiter: ';' } });",
      "  const first = report.columns[0]?.inferredType === 'email' ? report.suggestions[0]?.reason : 'exact';",
      '  console.log(first, report.dialect.lineEnding, report.problems.map((p) => p.code), report.prediction.firstErrors[0]?.rowNumber);',
      '  const source = report.needsNormalising ? normalised(file, report) : file;',
      "  await client.importFile(source, { objectName: 'profiles', mapping: report.mapping });",
      '  return report.prediction.invalidRows + (report.prediction.errorSummary?.VALIDATION_TYPE_MISMATCH ?? 0);',
      '}',
      '',
    ].join('\n'),
  );
  writeFileSync(join(app, 'bad.ts'), "import { preflight } from 'import-uploader/preflight';\nexport const p = preflight(new Blob([]), { importMode: 'custom' });\n");
  typecheck(app, /custom/, "tsc accepted importMode 'custom'");
});

test("an app using import-uploader/element compiles with tsc --strict, its events typed", async () => {
  const app = join(scratch, 'ts-element-app');
  rmSync(app, { recursive: true, force: true });
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  symlinkSync(join(root, 'pkg'), join(app, 'node_modules', 'import-uploader'), 'dir');
  writeFileSync(
    join(app, 'app.ts'),
    [
      "import 'import-uploader/element';",
      "import type { ImportUploaderElement } from 'import-uploader/element';",
      "const el: ImportUploaderElement | null = document.querySelector('import-uploader');",
      "el?.addEventListener('import-uploader:done', (e) => { const n: number = e.detail.validRows; const id: string = e.detail.jobId; console.log(n, id); });",
      "el?.addEventListener('import-uploader:progress', (e) => console.log(e.detail.bytesPerSecond, e.detail.etaSeconds));",
      "el?.addEventListener('import-uploader:error', (e) => console.log(e.detail.code, e.detail.kind));",
      "if (el) { el.getTicket = async () => 'ticket'; el.strings = { choose: 'Datei auswählen' }; el.uploadOptions = { partSize: 8 << 20 }; }",
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(app, 'bad.ts'),
    "import 'import-uploader/element';\ndocument.querySelector('import-uploader')?.addEventListener('import-uploader:done', (e) => e.detail.rowsUploadedToMars);\n",
  );
  typecheck(app, /rowsUploadedToMars/, "tsc accepted a done event's field that does not exist");
});

let passed = 0;
let failed = 0;
for (const c of cases) {
  try {
    await c.fn();
    passed++;
    console.log(`ok   ${c.name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${c.name}: ${e.message}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
