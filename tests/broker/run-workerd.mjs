// The broker suite with the broker served by Cloudflare's workerd (the
// `workerd` binary from the workspace's npm dependencies). The scratch
// directory gets a config embedding `worker.mjs`, `app.mjs` and the
// package's module files, the bare name `import-uploader` mapped to the file
// the package's `exports` map gives a Workers bundler, which must be
// `entry-workerd.js` (see `tests/runtimes/workerd.mjs`). Settings are text
// bindings; the secrets (ticket secret, OAuth client secret, workspace
// tokens) are `fromEnvironment` bindings, so they are never written to disk.
// The worker may reach loopback addresses only (the emulators). See
// `runner.mjs`.

import { join } from 'node:path';

import { checkWorkerd, layOutWorker, PACKAGE_DIR, startWorkerd } from '../runtimes/workerd.mjs';
import { ENV, SECRET_KEYS } from './app.mjs';
import { brokerDir, runBrokerSuite } from './runner.mjs';
import { sharedLimitCases } from './shared-limit.mjs';

const RUNNER = 'run-workerd';
const MODULES = ['worker.mjs', 'app.mjs'];

checkWorkerd(RUNNER);

await runBrokerSuite({
  runner: RUNNER,
  runtime: 'workerd',
  expectedEntry: 'entry-workerd.js',
  extraCases: sharedLimitCases,
  async start(env, s) {
    const dir = join(s.scratch, 'workerd');
    const secretNames = new Set(SECRET_KEYS.map((k) => ENV[k]));
    const { path, entry } = layOutWorker({
      dir,
      sourceDir: brokerDir,
      modules: MODULES,
      manifest: s.manifest,
      bindings: Object.values(ENV).map((name) => (secretNames.has(name) ? { name, fromEnvironment: name } : { name, text: env[name] })),
      title: 'tests/broker/run-workerd.mjs: the broker test app in workerd',
    });
    const { port, stop } = await startWorkerd(path, { dir, env });
    return { url: `http://127.0.0.1:${port}`, entry: `${PACKAGE_DIR}/${entry}`, stop };
  },
});
