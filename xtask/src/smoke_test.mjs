// `cargo xtask build`'s smoke test of pkg/ in Node (see build.rs): the
// server build through its entry, and the browser entry before and after
// its module is instantiated (Node cannot fetch it from a file: URL, so
// `ready` fails here, and the test instantiates it with `initSync`).
//
//   SMOKE_PKG=pkg SMOKE_VERSION=x.y.z SMOKE_BROWSER_WASM=import-uploader/… node smoke_test.mjs

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = resolve(process.env.SMOKE_PKG);
const version = process.env.SMOKE_VERSION;
const fail = (why) => {
  console.error(why);
  process.exit(1);
};
const url = (file) => pathToFileURL(join(pkg, file)).href;
/** Public members of a class's prototype (what wasm-bindgen generates). */
const members = (proto) =>
  Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor' && !n.startsWith('__'));
/** Fails unless `obj`'s own prototype defines every public member of `glueClass`. */
function covers(what, obj, glueClass) {
  const own = Object.getOwnPropertyNames(Object.getPrototypeOf(obj));
  const missing = members(glueClass.prototype).filter((n) => !own.includes(n));
  if (missing.length) fail(`the browser entry's ${what} lacks ${missing.join(', ')}: add them to js/entry-browser.js`);
}

const server = await import(url('entry-node.js'));
if (server.version() !== version) fail(`version() is ${server.version()}`);
if (typeof server.ImportClient !== 'function') fail('no ImportClient');
if (!(server.ready instanceof Promise)) fail('the node entry has no `ready`');

const glue = await import(url('import_uploader.js'));
const entry = await import(url('entry-browser.js'));
// Before the module is there.
if (entry.version() !== version) fail(`the browser entry's version() is ${entry.version()} before ready`);
const client = new entry.ImportClient({ baseUrl: 'http://127.0.0.1:9/public/v1/', token: 't' });
if (!(client instanceof entry.ImportClient)) fail('new ImportClient() is no ImportClient');
if (client.baseUrl !== 'http://127.0.0.1:9/public/v1') fail(`baseUrl before ready: ${client.baseUrl}`);
covers('ImportClient', client, glue.ImportClient);
const pending = entry.upload(new Blob(['a']), { url: 'http://127.0.0.1:9/x' });
if (!(pending instanceof entry.Upload)) fail('upload() before ready is no Upload');
if (!(pending.events instanceof EventTarget)) fail('upload().events before ready is no EventTarget');
covers('pending Upload', pending, glue.Upload);
const rows = client.errorRows('imp_x');
if (!(rows instanceof entry.ErrorRows)) fail('errorRows() before ready is no ErrorRows');
if (rows[Symbol.asyncIterator]() !== rows) fail('errorRows() before ready is not its own iterator');
covers('pending ErrorRows', rows, glue.ErrorRows);
const early = await entry.ready.then(
  () => null,
  (e) => e,
);
if (early) {
  // What a page that cannot fetch the module sees.
  if (early.name !== 'ImportError' || early.code !== 'WASM_LOAD_FAILED' || early.kind !== 'network') {
    fail(`ready rejected with ${early.name} ${early.kind} ${early.code}: ${early.message}`);
  }
  const failed = await pending.done.then(
    () => null,
    (e) => e,
  );
  if (failed?.code !== 'WASM_LOAD_FAILED') fail(`a pending upload's done: ${failed}`);
}
// Once it is.
entry.initSync({ module: readFileSync(join(pkg, process.env.SMOKE_BROWSER_WASM)) });
if (entry.version() !== version) fail('the browser build does not load');
let threw = null;
try {
  new entry.ImportClient({ token: 't' });
} catch (e) {
  threw = e;
}
if (threw?.name !== 'ImportError' || threw.kind !== 'validation') fail(`bad options after ready: ${threw}`);
console.log(`build: both builds load in Node, version() = ${version}`);

// The preflight (`import-uploader/preflight`) in-process, as Node loads it.
const pre = await import(url('preflight-node.js'));
if (typeof pre.preflight !== 'function') fail('the preflight entry has no preflight()');
const report = await pre.preflight(new Blob(['email,first_name\na@example.com,Ann\n']), {});
if (typeof report?.dialect?.delimiter !== 'string' || typeof report?.prediction?.readRows !== 'number') {
  fail(`preflight() answered ${JSON.stringify(report)}`);
}
let refused = null;
try {
  await pre.preflight(new Blob(['a']), { sampleBytes: 'x' });
} catch (e) {
  refused = e;
}
if (refused?.name !== 'ImportError' || refused.code !== 'PREFLIGHT_OPTIONS_INVALID') fail(`bad preflight options: ${refused}`);
console.log('build: the preflight loads in Node');
