// The broker suite with the broker served by Deno (`deno` from the
// workspace's npm dependencies): a scratch project with the built package in
// its `node_modules`, and a main module that imports the package by name
// (Deno's resolver must pick the `deno` condition, `entry-deno.js`) and
// serves `app.mjs` with `Deno.serve`. Settings and secrets are environment
// variables, readable only by name:
//
//   deno run --no-config --node-modules-dir=manual --no-remote --no-lock
//            --allow-net=127.0.0.1 --allow-env=BROKER_API_URL,… main.mjs
//
// See `runner.mjs` and `tests/runtimes/deno.mjs`.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { denoBinary, denoEnv, denoRunArgs } from '../runtimes/deno.mjs';
import { ENV } from './app.mjs';
import { brokerDir, listeningUrl, runBrokerSuite, scratchProject, stopChild } from './runner.mjs';

const RUNNER = 'run-deno';
const deno = denoBinary(RUNNER);

await runBrokerSuite({
  runner: RUNNER,
  runtime: 'deno',
  expectedEntry: 'entry-deno.js',
  async start(env, s) {
    const dir = join(s.scratch, 'deno');
    const main = scratchProject(
      dir,
      'main.mjs',
      "// Serves the broker test app in Deno; imports the package by name.\n" +
        "import * as pkg from 'import-uploader';\n" +
        `import { createApp, readSettings } from ${JSON.stringify(pathToFileURL(join(brokerDir, 'app.mjs')).href)};\n\n` +
        "console.log(`# deno ${Deno.version.deno}: import-uploader resolved to ${import.meta.resolve('import-uploader')}`);\n" +
        'const app = createApp(pkg, readSettings((name) => Deno.env.get(name)));\n' +
        "Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`) }, app);\n",
    );
    const child = spawn(deno, denoRunArgs(main, { allowEnv: Object.values(ENV) }), {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: denoEnv(dir, env),
    });
    const { url, entry } = await listeningUrl(child, 'the Deno broker server');
    return { url, entry: entry ?? '?', stop: () => stopChild(child) };
  },
});
