// What the benchmarks' Node drivers (`upload/driver.mjs`,
// `preflight/driver.mjs`) share: Debian's Chromium launched headless
// through playwright-core with the binary and flags of the repository's
// webdriver.json, and the memory sampler.
//
// Memory, sampled every 100 ms while a measured call runs: the page's
// main-thread JS heap (CDP `Performance.getMetrics` → JSHeapUsedSize) and
// the resident memory of the renderer process, Workers included (`VmRSS`
// in /proc of the renderer pid that CDP `SystemInfo.getProcessInfo` names;
// the largest when there are several). `idle*` are the same just before
// the call, after 300 ms of quiet.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Chromium, headless, as webdriver.json configures it. */
export async function launchChromium() {
  const webdriver = JSON.parse(readFileSync(join(root, 'webdriver.json'), 'utf8'))['goog:chromeOptions'];
  return chromium.launch({
    executablePath: webdriver.binary ?? '/usr/bin/chromium',
    args: webdriver.args.filter((a) => a !== '--headless'),
    headless: true,
  });
}

function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * The memory sampler of `page` (made before the page navigates):
 * `measure(run)` takes the idle sample, then samples while `run()` runs;
 * it answers `{ result, memory: { idleHeap, idleRss, peakHeap, peakRss } }`
 * (bytes).
 */
export async function memorySampler(browser, page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const browserCdp = await browser.newBrowserCDPSession();

  async function sample() {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const heap = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
    const { processInfo } = await browserCdp.send('SystemInfo.getProcessInfo');
    const renderers = processInfo.filter((p) => p.type === 'renderer');
    const rss = Math.max(0, ...renderers.map((p) => rssKiB(p.id)));
    return { heap, rss: rss * 1024 };
  }

  async function measure(run) {
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
      result = await run();
    } finally {
      sampling = false;
      await sampler;
    }
    return { result, memory: { idleHeap: idle.heap, idleRss: idle.rss, peakHeap: peak.heap, peakRss: peak.rss } };
  }

  return { measure };
}
