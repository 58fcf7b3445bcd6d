// One measurement of `cargo xtask bench preflight`: launches Debian's
// Chromium headless through playwright-core (the binary and flags of the
// repository's webdriver.json), opens the benchmark page the emulator
// serves, puts the generated CSV in the page's file input, samples memory
// while one method runs, and prints one line `RESULT {json}`.
//
//   node bench/preflight/driver.mjs '{"url": "http://127.0.0.1:PORT/",
//     "method": "preflight", "file": "/path/to/preflight-104857600.csv", "size": 104857600}'
//
// Memory (see ../browser.mjs) is sampled while the method runs.

import { launchChromium, memorySampler } from '../browser.mjs';

const opts = JSON.parse(process.argv[2] ?? '{}');

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  const memory = await memorySampler(browser, page);
  await page.goto(opts.url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.bench, null, { timeout: 30_000 });
  await page.setInputFiles('#file', opts.file);
  const { size } = await page.evaluate(() => window.bench.useFile());
  if (size !== opts.size) throw new Error(`the page sees ${size} bytes, not ${opts.size}`);

  const { result, memory: sampled } = await memory.measure(() => page.evaluate((o) => window.bench.run(o), { method: opts.method }));
  console.log(`RESULT ${JSON.stringify({ ...result, ...sampled })}`);
} finally {
  await browser.close();
}
