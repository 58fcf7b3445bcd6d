// One measurement of `cargo xtask bench upload`: launches Debian's
// Chromium headless through playwright-core (the binary and flags of the
// repository's webdriver.json), opens the benchmark page the emulator
// serves, puts the generated file in the page's file input (or, with no
// `file`, builds one in memory in the page), samples memory while one upload
// runs, and prints one line `RESULT {json}`.
//
//   node bench/upload/driver.mjs '{"url": "http://127.0.0.1:PORT/", "method": "engine",
//     "size": 67108864, "partSize": 8388608, "concurrency": 4, "verifySha": true,
//     "file": "/path/to/bench-67108864.bin"}'
//
// Memory, sampled every 100 ms from just before the upload to its end:
// the page's JS heap (CDP `Performance.getMetrics` → JSHeapUsedSize) and
// the resident memory of the renderer process (`VmRSS` in /proc of the
// renderer pid that CDP `SystemInfo.getProcessInfo` names; the largest when
// there are several). `idle*` are the same just before the upload starts.
// The committed length (and SHA-256) is checked after the sampling ends.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const opts = JSON.parse(process.argv[2] ?? '{}');
const webdriver = JSON.parse(readFileSync(join(root, 'webdriver.json'), 'utf8'))['goog:chromeOptions'];

function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const browser = await chromium.launch({
  executablePath: webdriver.binary ?? '/usr/bin/chromium',
  args: webdriver.args.filter((a) => a !== '--headless'),
  headless: true,
});
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const browserCdp = await browser.newBrowserCDPSession();
  await page.goto(opts.url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.bench, null, { timeout: 30_000 });
  if (opts.file) {
    // A file on disk, through the file input (Chromium reads it from disk).
    await page.setInputFiles('#file', opts.file);
    const { size } = await page.evaluate(() => window.bench.useFile());
    if (size !== opts.size) throw new Error(`the page sees ${size} bytes, not ${opts.size}`);
  } else {
    await page.evaluate((size) => window.bench.makeBlob(size), opts.size);
  }

  async function sample() {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const heap = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
    const { processInfo } = await browserCdp.send('SystemInfo.getProcessInfo');
    const renderers = processInfo.filter((p) => p.type === 'renderer');
    const rss = Math.max(0, ...renderers.map((p) => rssKiB(p.id)));
    return { heap, rss: rss * 1024 };
  }

  // Idle: after the file is built, before the upload.
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
  const idle = await sample();
  const peak = { ...idle };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        const s = await sample();
        peak.heap = Math.max(peak.heap, s.heap);
        peak.rss = Math.max(peak.rss, s.rss);
      } catch {
        // The page is busy or closing; the next sample counts.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  let result;
  try {
    result = await page.evaluate((o) => window.bench.run(o), opts);
  } finally {
    sampling = false;
    await sampler;
  }
  // Verification reads the upload back: after sampling, so its buffers do
  // not count as the upload's memory.
  Object.assign(result, await page.evaluate(([id, sha]) => window.bench.verify(id, sha), [result.jobId, !!opts.verifySha]));
  console.log(
    `RESULT ${JSON.stringify({
      ...result,
      idleHeap: idle.heap,
      idleRss: idle.rss,
      peakHeap: peak.heap,
      peakRss: peak.rss,
    })}`,
  );
} finally {
  await browser.close();
}
