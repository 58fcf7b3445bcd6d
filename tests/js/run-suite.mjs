// Runs the suite in the current runtime and prints it: a `#` line saying
// which file the package name resolved to, one `ok - …` / `not ok - …` line
// per case, and the closing `N passed, M failed`. Shared by the Node runner
// (in process) and the Deno runner (inside Deno); the workerd runner prints
// the results its worker returns with the same `resultLine`/`summaryLine`.

import { resultLine, runTests, summaryLine } from './harness.mjs';
import { suiteContext, tests } from './suite.mjs';

/**
 * `pkg`: the package's exports as imported by name; `resolved`: the URL the
 * name resolved to; `preflight`, `preflightResolved`: the same of
 * `import-uploader/preflight`; `expectedEntry`: the entry file this runtime must get
 * from the package's `exports` conditions; `emulators`: emulator base URLs
 * by storage mode (see `EMULATORS` in `suite.mjs`). Resolves to `true` when
 * every case passed.
 */
export async function runSuite({
  pkg,
  preflight,
  resolved,
  preflightResolved,
  expectedEntry,
  runtime,
  runtimeVersion,
  emulators,
  packageVersion,
  only,
  print = console.log,
}) {
  print(`# ${runtime} ${runtimeVersion}: import-uploader resolved to ${resolved}`);
  if (!resolved.endsWith(`/${expectedEntry}`)) {
    print(`not ok - the package's exports give ${runtime} its entry: expected ${expectedEntry}, got ${resolved}`);
    print('0 passed, 1 failed');
    return false;
  }
  // `import-uploader/preflight` gets this runtime's entry of its own.
  const expectedPreflight = expectedEntry.replace(/^entry-/, 'preflight-');
  print(`# ${runtime}: import-uploader/preflight resolved to ${preflightResolved}`);
  if (!String(preflightResolved).endsWith(`/${expectedPreflight}`)) {
    print(`not ok - the package's exports give ${runtime} its preflight entry: expected ${expectedPreflight}, got ${preflightResolved}`);
    print('0 passed, 1 failed');
    return false;
  }
  const ctx = suiteContext({ pkg, preflight, runtime, emulators, packageVersion });
  const results = await runTests(tests, ctx, {
    only: only || undefined,
    onResult: (r) => print(resultLine(r)),
  });
  print(summaryLine(results));
  return results.length > 0 && results.every((r) => r.ok);
}
