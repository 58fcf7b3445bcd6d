// Node-side helpers of the runners (`run-node.mjs`, `run-deno.mjs`,
// `run-workerd.mjs`, here and in `tests/broker`): where the built package
// and the scratch directory are, the runners' environment, the built
// package's manifest and the files its `exports` map names, a scratch
// project whose `node_modules/import-uploader` is a link to the built
// package (so each runtime imports the package by its name through its
// `exports` map, as an application would), and stopping a child process.
//
// Environment read here:
//   IMPORT_EMULATOR_URL  the emulator's base URL (required), e.g. http://127.0.0.1:PORT
//   IMPORT_EMULATOR_URL_S3, IMPORT_EMULATOR_URL_GCS, IMPORT_EMULATOR_URL_FAULTS,
//   IMPORT_EMULATOR_URL_AZURITE
//                        emulators with `--storage local-s3`, `--storage local-gcs`,
//                        storage faults and `--storage azurite=URL` (the cases
//                        using them fail without them)
//   IMPORT_JS_SCRATCH    scratch directory (default: target/xtask/js in the workspace)
//   IMPORT_JS_ONLY       run only the cases whose name contains this text

import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { EMULATORS } from './suite.mjs';

/** This directory (`tests/js`). */
export const testsDir = dirname(fileURLToPath(import.meta.url));
/** The workspace root. */
export const root = resolve(testsDir, '..', '..');
/** The built npm package. */
export const pkgDir = join(root, 'pkg');

/** Prints why the runner cannot run, as a failed run, and exits 1. */
export function bail(runner, message) {
  console.error(`${runner}: ${message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

/** The built package's `package.json`; bails when it cannot be read. */
export function packageManifest(runner) {
  try {
    return JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  } catch (e) {
    bail(runner, `cannot read the built package's package.json (${e.message}): build it with \`cargo xtask build\``);
  }
}

/** The file `exports[subpath]` gives for `conditions` (first key in map order), without `./`. */
export function exportFor(manifest, conditions, subpath = '.') {
  let target = subpath === '.' ? (manifest.exports?.['.'] ?? manifest.exports) : manifest.exports?.[subpath];
  while (target && typeof target === 'object') {
    const key = Object.keys(target).find((k) => conditions.includes(k));
    if (!key) return null;
    target = target[key];
  }
  return typeof target === 'string' ? target.replace(/^\.\//, '') : null;
}

/** Every file an exports map (or a part of one) names. */
export function exportTargets(target, out = new Set()) {
  if (typeof target === 'string') out.add(target.replace(/^\.\//, ''));
  else if (target && typeof target === 'object') Object.values(target).forEach((t) => exportTargets(t, out));
  return out;
}

/** What every runner needs from its environment. */
export function settings(runner) {
  const emulatorUrl = process.env.IMPORT_EMULATOR_URL;
  if (!emulatorUrl) {
    bail(runner, 'IMPORT_EMULATOR_URL is not set: start the emulator (or run `cargo xtask test`) and pass its URL');
  }
  const manifest = packageManifest(runner);
  const scratch = resolve(process.env.IMPORT_JS_SCRATCH ?? join(root, 'target', 'xtask', 'js'));
  const emulators = Object.fromEntries(
    Object.entries(EMULATORS).map(([mode, variable]) => [mode, process.env[variable] || null]),
  );
  return { emulators, manifest, scratch, only: process.env.IMPORT_JS_ONLY ?? '' };
}

/**
 * Makes `dir` a project with the built package installed (as a link) and
 * writes `dir/<name>` with `text`. Returns that file's path.
 */
export function scratchProject(dir, name, text) {
  const link = join(dir, 'node_modules', 'import-uploader');
  rmSync(link, { recursive: true, force: true });
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(pkgDir, link, process.platform === 'win32' ? 'junction' : 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Stops a child process we started (SIGTERM, then waits for it). */
// Content types of the files the test servers hand to a browser.
export const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

export function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', done);
    child.kill('SIGTERM');
  });
}
