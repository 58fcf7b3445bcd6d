// The browser apps' code (copied into each app as its entry module): what
// a user writes, `import { ImportClient } from "import-uploader"` and
// `import { preflight } from "import-uploader/preflight"`, then the checks
// of `checks.js` and `preflight-checks.js`, whose results the suite's driver reads from
// the page. The emulator's API URL and the package version come in the
// page's query string (`?api=…&version=…`).

import { ErrorRows, ImportClient, Upload, ready, upload, version } from 'import-uploader';
import * as preflight from 'import-uploader/preflight';

import { atImport, check } from './checks.js';
import { checkPreflight } from './preflight-checks.js';

// Counts the Workers the page starts (the preflight must run in one).
let workers = 0;
globalThis.Worker = class extends globalThis.Worker {
  constructor(...args) {
    super(...args);
    workers += 1;
  }
};

const pkg = { ErrorRows, ImportClient, Upload, ready, upload, version };
const params = new URL(location.href).searchParams;
const api = params.get('api');
const early = atImport(pkg, api);

const done = (results) => {
  globalThis.bundlerResults = results;
  document.body.dataset.done = 'true';
};
check(pkg, early, { api, version: params.get('version'), loadedAtImport: false })
  .then(async (results) => [...results, ...(await checkPreflight(pkg, preflight, { api, workers: () => workers }))])
  .then(done, (e) =>
  done([{ name: 'the checks ran', ok: false, error: String(e) }]),
);
