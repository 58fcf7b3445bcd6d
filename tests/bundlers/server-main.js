// The Node and Deno apps' main module (copied into each app as main.js):
// imports the installed package by its name, runs the checks of
// `checks.js` and prints `RESULTS <json>` for the suite's driver.
//
//   node main.js API_URL VERSION        deno run … main.js API_URL VERSION

import { ErrorRows, ImportClient, Upload, ready, upload, version } from 'import-uploader';

import * as preflight from 'import-uploader/preflight';

import { atImport, check } from './checks.js';
import { checkPreflight } from './preflight-checks.js';

const pkg = { ErrorRows, ImportClient, Upload, ready, upload, version };
const [api, expected] = globalThis.Deno ? Deno.args : process.argv.slice(2);
const early = atImport(pkg, api);
const results = [
  ...(await check(pkg, early, { api, version: expected, loadedAtImport: true })),
  ...(await checkPreflight(pkg, preflight, { api })),
];
console.log(
  `RESULTS ${JSON.stringify({
    resolved: import.meta.resolve('import-uploader'),
    preflightResolved: import.meta.resolve('import-uploader/preflight'),
    results,
  })}`,
);
