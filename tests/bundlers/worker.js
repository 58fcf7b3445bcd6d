// The workerd app's worker (copied into the app as worker.js and bundled
// with esbuild as a Workers bundler does): `GET /?api=…&version=…` runs the
// checks of `checks.js` and answers their results as JSON. The calls are
// made in the request (workerd allows no I/O at a module's top level).

import { ErrorRows, ImportClient, Upload, ready, upload, version } from 'import-uploader';

import * as preflight from 'import-uploader/preflight';

import { atImport, check } from './checks.js';
import { checkPreflight } from './preflight-checks.js';

const pkg = { ErrorRows, ImportClient, Upload, ready, upload, version };

export default {
  async fetch(request) {
    const params = new URL(request.url).searchParams;
    const api = params.get('api');
    const early = atImport(pkg, api);
    const results = await check(pkg, early, { api, version: params.get('version'), loadedAtImport: true });
    return Response.json([...results, ...(await checkPreflight(pkg, preflight, { api }))]);
  },
};
