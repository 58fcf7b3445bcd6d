// The element in Vue 3 and Svelte 5 (run by `run.mjs` after `cases.mjs`):
// the README's example for each framework, as written there, built by
// Vite with the framework's own plugin into a small app on the bare
// page's origin (the package's module given by an import map), then a
// whole import through it in Chromium: a refusal and a finished job,
// each reaching the component's own handlers with the client's types, and
// the `getTicket` and `strings` properties bound by the framework reaching
// the element.

import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';

import { assert, assertEqual } from '../js/harness.mjs';
import { CONTENT_TYPES, root } from '../js/support.mjs';
import { countsMatchEmulator, drop, errorEvent, file, open, people, pick, review, shot, startAndFinish } from './cases.mjs';

/** The README's fenced block of `lang` whose first line is `first`. */
function readmeBlock(lang, first) {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
  const block = blocks.find((b) => b.startsWith(first));
  assert(block, `the README has a \`\`\`${lang} block starting with ${first}`);
  return block;
}

/** The example as an app adapts it: the bare page's broker and ticket endpoint. */
function adapt(example) {
  const out = example.replace('https://broker.example.com/api', '/api').replace('"/upload-ticket"', '"/ticket"');
  assert(!out.includes('example.com') && out.includes('"/ticket"'), 'the example names a broker URL and a ticket endpoint');
  return out;
}

/**
 * Writes `files` ({ path: text }) into a fresh app directory, builds it with
 * Vite (its `vite.config.js` when there is one, else `plugins`) under
 * `/<name>/`, and serves the result from the bare page's origin.
 * `warnings` holds what a plugin reported on its own (the build fails on
 * any). Answers the page's URL.
 */
async function buildAndServe(ctx, name, files, plugins = [], warnings = []) {
  const dir = join(ctx.scratch, `${name}-app`);
  rmSync(dir, { recursive: true, force: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  writeFileSync(
    join(dir, 'index.html'),
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${name} app</title>
<script type="importmap">{"imports":{"import-uploader/element":"/pkg/element.js"}}</script></head>
<body><main id="root"></main><script type="module" src="/src/main.js"></script></body></html>
`,
  );
  const { build, createLogger } = await import('vite');
  const hasConfig = 'vite.config.js' in files;
  // The README's example must build without a warning: the compilers'
  // and the bundle's, as Vite reports them (it leaves out the circular
  // imports inside the frameworks' own packages).
  const logger = createLogger('warn');
  const warn = logger.warn;
  logger.warn = (msg, options) => {
    warnings.push(msg);
    warn(msg, options);
  };
  await build({
    root: dir,
    configFile: hasConfig ? join(dir, 'vite.config.js') : false,
    plugins,
    base: `/${name}/`,
    customLogger: logger,
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      minify: false,
      // The package's module, as the page's import map gives it.
      rollupOptions: { external: ['import-uploader/element'] },
    },
  });
  assert(warnings.length === 0, `the ${name} app builds without warnings: ${warnings.join('; ')}`);
  const dist = join(dir, 'dist');
  const walk = (d) => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  for (const f of walk(dist)) {
    const rel = relative(dist, f).split('\\').join('/');
    ctx.bare.serve(rel === 'index.html' ? `/${name}/` : `/${name}/${rel}`, readFileSync(f), CONTENT_TYPES[extname(f)] ?? 'application/octet-stream');
  }
  return `${ctx.bare.url}/${name}/`;
}

/**
 * Drives the app at `url`: the component's handlers record into
 * `window.__handed` ({ done: [], error: [] }). Two files dropped at once are
 * refused (the `error` handler gets the ImportError); a picked file is
 * imported (the `done` handler gets the final JobStatus).
 */
async function importThrough(ctx, name, url) {
  const { context, page, requests } = await open(ctx, url);
  try {
    assertEqual(await page.$eval('import-uploader', (u) => u.parentElement.closest('#root')?.id), 'root', `rendered by ${name}`);
    // The properties the framework bound: getTicket (no ticket-url on the tag), strings.
    const props = await page.evaluate(() => {
      const u = document.querySelector('import-uploader');
      return {
        ticketUrl: u.getAttribute('ticket-url'),
        getTicket: typeof u.getTicket,
        choose: u.shadowRoot.querySelector('[id$="-choose"]')?.textContent,
        strings: u.strings.choose,
        attributes: u.getAttributeNames().sort(),
      };
    });
    assertEqual(props.ticketUrl, null, 'no ticket-url attribute');
    assertEqual(props.getTicket, 'function', 'getTicket set as a property');
    assertEqual(props.strings, 'Choose a CSV file', 'strings set as a property');
    assertEqual(props.choose, 'Choose a CSV file', "the choose button's label, from strings");
    assert(!props.attributes.some((a) => /ticket|strings/i.test(a)), `getTicket and strings are not attributes: ${props.attributes}`);
    assert(requests.some((r) => r.method === 'POST' && new URL(r.url).pathname === '/ticket'), 'the ticket came from the component\'s getTicket (POST /ticket)');

    // A refusal: the component's error handler gets the client's ImportError.
    await drop(page, file('a.csv', people(1, 0)), file('b.csv', people(1, 0)));
    const refused = await errorEvent(page, 'ELEMENT.FILE.SEVERAL');
    assertEqual(refused?.code, 'ELEMENT.FILE.SEVERAL', 'the element refused two files');
    const handedError = await page.evaluate(() => {
      const e = window.__handed.error.at(-1);
      return e && { isError: e instanceof Error, name: e.name, code: e.code, kind: e.kind, message: e.message, count: window.__handed.error.length };
    });
    assert(handedError, `${name}'s error handler was called`);
    assertEqual(handedError.count, 1, 'error handler calls');
    assertEqual(handedError.isError, true, 'the error handler got an Error');
    assertEqual(handedError.name, 'ImportError', 'its name');
    assertEqual(handedError.code, 'ELEMENT.FILE.SEVERAL', 'its code');
    assertEqual(handedError.message, refused.message, "its message, the element's event's");

    // A whole import: the component's done handler gets the final JobStatus.
    await pick(page, file(`${name}.csv`, people(6, 3)));
    await review(page);
    const { done } = await startAndFinish(page);
    await shot(ctx, page, `${name}-result`);
    const status = await countsMatchEmulator(ctx, page, done);
    const handed = await page.evaluate(() => window.__handed.done);
    assertEqual(handed.length, 1, 'done handler calls');
    assertEqual(JSON.stringify(handed[0]), JSON.stringify(done), "the done handler got the done event's detail");
    assertEqual(handed[0].state, 'completed', 'its state');
    for (const k of ['readRows', 'validRows', 'invalidRows']) assertEqual(handed[0][k], status[k], `its ${k} vs the emulator`);
    assertEqual(handed[0].validRows, 6, 'valid rows');
    assertEqual(handed[0].jobId.split('.')[0], done.jobId.split('.')[0], 'its jobId');
  } finally {
    await context.close();
  }
}

const RECORD = "window.__handed = { done: [], error: [] };\n";

export const frameworkCases = [
  {
    name: "Vue: the README's vite.config.js and Importer.vue, built by Vite with @vitejs/plugin-vue and Vue 3, bind getTicket and strings, import a file and hand the error and done events to the component's emits",
    async fn(ctx) {
      const config = readmeBlock('js', '// vite.config.js');
      assert(config.includes('isCustomElement'), "the README's Vue config tells the compiler the tag is a custom element");
      const component = adapt(readmeBlock('vue', '<!-- Importer.vue -->'));
      const url = await buildAndServe(ctx, 'vue', {
        'vite.config.js': config,
        'src/Importer.vue': component,
        'src/main.js': `import { createApp, h } from 'vue';
import Importer from './Importer.vue';

${RECORD}createApp({
  render: () => h(Importer, { onDone: (d) => window.__handed.done.push(d), onError: (e) => window.__handed.error.push(e) }),
}).mount('#root');
`,
      });
      await importThrough(ctx, 'vue', url);
    },
  },
  {
    name: "Svelte: the README's Importer.svelte, built by Vite with @sveltejs/vite-plugin-svelte and Svelte 5, sets getTicket and strings, imports a file and hands the error and done events to the component's callbacks",
    async fn(ctx) {
      const component = adapt(readmeBlock('svelte', '<!-- Importer.svelte -->'));
      const { svelte } = await import('@sveltejs/vite-plugin-svelte');
      const warnings = [];
      const url = await buildAndServe(
        ctx,
        'svelte',
        {
          'src/Importer.svelte': component,
          'src/main.js': `import { mount } from 'svelte';
import Importer from './Importer.svelte';

${RECORD}mount(Importer, {
  target: document.getElementById('root'),
  props: { ondone: (d) => window.__handed.done.push(d), onerror: (e) => window.__handed.error.push(e) },
});
`,
        },
        [svelte({ onwarn: (w) => warnings.push(`svelte: ${w.code}: ${w.message}`) })],
        warnings,
      );
      await importThrough(ctx, 'svelte', url);
    },
  },
];
