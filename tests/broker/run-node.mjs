// The broker suite with the broker served by Node: a scratch project whose
// `node_modules/import-uploader` links to the built package, and a main
// module there that imports the package by name (the `node` condition must
// give `entry-node.js`) and serves `app.mjs` through the package's Node adapter (`import-uploader/node`).
// Settings and secrets reach it as environment variables. Also runs the
// Node adapter's own cases and the demo page's smoke test. See `runner.mjs`.
//
//   IMPORT_EMULATOR_URL=… IMPORT_EMULATOR_URL_EXPIRING=… IMPORT_BROKER_CLIENT=ID:SECRET \
//   IMPORT_BROKER_TOKEN=… node tests/broker/run-node.mjs

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { adapterCases } from './adapter-cases.mjs';
import { demoCases } from './demo-cases.mjs';
import { serverCases } from './server-cases.mjs';
import { brokerDir, listeningUrl, runBrokerSuite, scratchProject, stopChild } from './runner.mjs';

const url = (f) => JSON.stringify(pathToFileURL(join(brokerDir, f)).href);

await runBrokerSuite({
  runner: 'run-node',
  runtime: 'node',
  expectedEntry: 'entry-node.js',
  extraCases: [...serverCases, ...adapterCases, ...demoCases],
  async start(env, s) {
    const main = scratchProject(
      join(s.scratch, 'node'),
      'main.mjs',
      "// Serves the broker test app in Node; imports the package by name.\n" +
        "import { createServer } from 'node:http';\n" +
        "import * as pkg from 'import-uploader';\n" +
        `import { createApp, readSettings } from ${url('app.mjs')};\n` +
        "import { toNodeListener } from 'import-uploader/node';\n\n" +
        "console.log(`# node ${process.versions.node}: import-uploader resolved to ${import.meta.resolve('import-uploader')}`);\n" +
        'const app = createApp(pkg, readSettings((name) => process.env[name]));\n' +
        'const server = createServer(toNodeListener(app, { onError: (e) => console.error(e) }));\n' +
        "server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));\n",
    );
    const child = spawn(process.execPath, [main], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    const { url: brokerUrl, entry } = await listeningUrl(child, 'the Node broker server');
    return { url: brokerUrl, entry: entry ?? '?', stop: () => stopChild(child) };
  },
});
