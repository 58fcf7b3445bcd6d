// The workerd side of the broker suite (`run-workerd.mjs`): a module worker
// that imports the package by name (the runner maps the name to the
// package's `workerd` export) and serves `app.mjs`. Settings are text
// bindings and the secrets are bindings read from workerd's environment
// (`fromEnvironment`: never written in the config), as a deployed Worker
// reads its secrets from `env`. The app is built on the first request,
// because `env` exists only there.

import * as pkg from 'import-uploader';

import { createApp, readSettings } from './app.mjs';

let app;

export default {
  fetch(request, env) {
    app ??= createApp(pkg, readSettings((name) => env[name]));
    return app(request);
  },
};
