// Runs the end-to-end suite (`suite.mjs`) in Node against the built package
// in `pkg/`, imported by its name through the package's `exports` map (the
// `node` condition must give `entry-node.js`).
//
//   IMPORT_EMULATOR_URL=http://127.0.0.1:PORT node tests/js/run-node.mjs
//
// See `support.mjs` for the environment. Prints one line per case and the
// closing `N passed, M failed`; exits 1 when anything failed.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { scratchProject, settings } from './support.mjs';

const { emulators, manifest, scratch, only } = settings('run-node');

const probe = scratchProject(
  join(scratch, 'node'),
  'probe.mjs',
  "// Imports the package by name, as an application does.\n" +
    "export * as pkg from 'import-uploader';\n" +
    "export const resolved = import.meta.resolve('import-uploader');\n" +
    "export * as preflight from 'import-uploader/preflight';\n" +
    "export const preflightResolved = import.meta.resolve('import-uploader/preflight');\n",
);
const { pkg, resolved, preflight, preflightResolved } = await import(pathToFileURL(probe).href);
const { runSuite } = await import('./run-suite.mjs');
const ok = await runSuite({
  pkg,
  resolved,
  preflight,
  preflightResolved,
  expectedEntry: 'entry-node.js',
  runtime: 'node',
  runtimeVersion: process.versions.node,
  emulators,
  packageVersion: manifest.version,
  only,
});
process.exitCode = ok ? 0 : 1;
