// Deno for the runners of the JS suite (`tests/js/run-deno.mjs`) and of the
// broker suite (`tests/broker/run-deno.mjs`): the `deno` binary from the
// workspace's npm dependencies, run on a main module of a scratch project
// (`scratchProject` in `tests/js/support.mjs`) as
//
//   deno run --no-config --node-modules-dir=manual --no-remote --no-lock
//            --allow-net=127.0.0.1 [--allow-env=NAME,…] main.mjs [ARG…]
//
// so Deno's own resolver picks the package's `deno` condition. Nothing is
// fetched from a registry: `--node-modules-dir=manual` only reads the
// existing folder; the only permissions are the network to 127.0.0.1 (the
// emulators) and, when named, reading those environment variables. Module
// loading needs no read permission. DENO_DIR is kept in the scratch project.

import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { bail, root } from '../js/support.mjs';

/** The `deno` binary; when it is missing, bails as a failed run of `runner`. */
export function denoBinary(runner) {
  const deno = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'deno.cmd' : 'deno');
  if (!existsSync(deno)) bail(runner, "node_modules/.bin/deno is missing: install the workspace's npm packages (`npm ci`, or any `cargo xtask` command)");
  return deno;
}

/** The arguments of `deno run` for `main`: `allowEnv` names the readable variables, `args` follow the module. */
export function denoRunArgs(main, { allowEnv = [], args = [] } = {}) {
  return [
    'run',
    '--no-config',
    '--node-modules-dir=manual',
    '--no-remote',
    '--no-lock',
    '--allow-net=127.0.0.1',
    ...(allowEnv.length > 0 ? [`--allow-env=${allowEnv.join(',')}`] : []),
    main,
    ...args,
  ];
}

/** The environment of a Deno run in the scratch project `dir`, with `env` added. */
export function denoEnv(dir, env = {}) {
  return { ...process.env, ...env, DENO_DIR: join(dir, '.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
}
