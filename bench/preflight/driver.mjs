// One measurement of `cargo xtask bench preflight`: launches Debian's
// Chromium headless through playwright-core (the binary and flags of the
// repository's webdriver.json), opens the benchmark page the emulator
// serves, puts the generated CSV in the page's file input, samples memory
// while one method runs, and prints one line `RESULT {json}`.
//
//   node bench/preflight/driver.mjs '{"url": "http://127.0.0.1:PORT/",
//     "method": "preflight", "file": "/path/to/preflight-104857600.csv", "size": 104857600}'
//
// Memory, sampled every 100 ms while the method runs: the resident memory
// of the renderer process, Workers included (`VmRSS` in /proc of the
// renderer pid that CDP `SystemInfo.getProcessInfo` names; the largest when
// there are several), and the page's main-thread JS heap (CDP
// `Performance.getMetrics` → JSHeapUsedSize). `idle*` are the same just
// before the run.

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
  await page.setInputFiles('#file', opts.file);
  const { size } = await page.evaluate(() => window.bench.useFile());
  if (size !== opts.size) throw new Error(`the page sees ${size} bytes, not ${opts.size}`);

  async function sample() {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const heap = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
    const { processInfo } = await browserCdp.send('SystemInfo.getProcessInfo');
    const renderers = processInfo.filter((p) => p.type === 'renderer');
    const rss = Math.max(0, ...renderers.map((p) => rssKiB(p.id)));
    return { heap, rss: rss * 1024 };
  }

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
    result = await page.evaluate((o) => window.bench.run(o), { method: opts.method });
  } finally {
    sampling = false;
    await sampler;
  }
  console.log(`RESULT ${JSON.stringify({ ...result, idleHeap: idle.heap, idleRss: idle.rss, peakHeap: peak.heap, peakRss: peak.rss })}`);
} finally {
  await browser.close();
}
