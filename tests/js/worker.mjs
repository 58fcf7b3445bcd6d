// The workerd side of the workerd runner (`run-workerd.mjs`): a module
// worker that imports the package by name (the runner maps the name to the
// package's `workerd` export) and runs the suite on `GET /run`, answering
// `{ runtime, results: [{ name, ok, error?, ms }] }`. `GET /` answers 204
// once the worker is up. Settings arrive as text bindings: EMULATORS (the
// emulators' base URLs by storage mode, JSON) and PACKAGE_VERSION.

import * as pkg from 'import-uploader';
import * as preflight from 'import-uploader/preflight';

import { runTests } from './harness.mjs';
import { suiteContext, tests } from './suite.mjs';

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/') return new Response(null, { status: 204 });
    if (url.pathname !== '/run' || request.method !== 'GET') {
      return new Response('not found: GET /run runs the suite\n', { status: 404 });
    }
    const ctx = suiteContext({
      pkg,
      preflight,
      runtime: 'workerd',
      emulators: JSON.parse(env.EMULATORS),
      packageVersion: env.PACKAGE_VERSION,
    });
    const results = await runTests(tests, ctx, { only: url.searchParams.get('only') || undefined });
    return Response.json({ runtime: 'workerd', results });
  },
};
