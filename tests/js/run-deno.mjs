// Runs the end-to-end suite (`suite.mjs`) in Deno against the built package
// in `pkg/`. This Node script prepares a scratch project that has the
// package in its `node_modules` and a main module importing it by name, then
// runs that module with the `deno` binary from the workspace's npm
// dependencies (see `tests/runtimes/deno.mjs`):
//
//   deno run --no-config --node-modules-dir=manual --no-remote --no-lock
//            --allow-net=127.0.0.1 main.mjs EMULATORS_JSON VERSION [ONLY]
//
// so Deno's own resolver picks the package's `deno` condition
// (`entry-deno.js`, which must win over `node`). The only permission is the
// network to 127.0.0.1 (the emulator; settings arrive as arguments).
//
//   IMPORT_EMULATOR_URL=http://127.0.0.1:PORT node tests/js/run-deno.mjs

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { denoBinary, denoEnv, denoRunArgs } from '../runtimes/deno.mjs';
import { bail, scratchProject, settings, testsDir } from './support.mjs';

const RUNNER = 'run-deno';
const { emulators, manifest, scratch, only } = settings(RUNNER);
const deno = denoBinary(RUNNER);

const dir = join(scratch, 'deno');
const runSuiteUrl = pathToFileURL(join(testsDir, 'run-suite.mjs')).href;
const main = scratchProject(
  dir,
  'main.mjs',
  "// Imports the package by name, as an application does, and runs the suite.\n" +
    "import * as pkg from 'import-uploader';\n" +
    "import * as preflight from 'import-uploader/preflight';\n" +
    `import { runSuite } from ${JSON.stringify(runSuiteUrl)};\n\n` +
    'const [emulators, packageVersion, only] = Deno.args;\n' +
    'const ok = await runSuite({\n' +
    "  pkg, resolved: import.meta.resolve('import-uploader'), expectedEntry: 'entry-deno.js',\n" +
    "  preflight, preflightResolved: import.meta.resolve('import-uploader/preflight'),\n" +
    "  runtime: 'deno', runtimeVersion: Deno.version.deno, emulators: JSON.parse(emulators),\n" +
    '  packageVersion, only,\n' +
    '});\n' +
    'Deno.exit(ok ? 0 : 1);\n',
);

const args = denoRunArgs(main, { args: [JSON.stringify(emulators), manifest.version, only] });
const child = spawnSync(deno, args, { cwd: dir, stdio: 'inherit', env: denoEnv(dir) });
if (child.error) bail(RUNNER, `cannot run deno: ${child.error.message}`);
if (child.status !== 0 && child.status !== 1) {
  bail(RUNNER, `deno ended with ${child.signal ?? `exit code ${child.status}`} before finishing the suite`);
}
process.exitCode = child.status;
