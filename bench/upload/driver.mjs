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
// Memory (see ../browser.mjs) is sampled from just before the upload to
// its end.
// The committed length (and SHA-256) is checked after the sampling ends.

import { launchChromium, memorySampler } from '../browser.mjs';

const opts = JSON.parse(process.argv[2] ?? '{}');

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  const memory = await memorySampler(browser, page);
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

  // Idle: after the file is built, before the upload.
  const { result, memory: sampled } = await memory.measure(() => page.evaluate((o) => window.bench.run(o), opts));
  // Verification reads the upload back: after sampling, so its buffers do
  // not count as the upload's memory.
  Object.assign(result, await page.evaluate(([id, sha]) => window.bench.verify(id, sha), [result.jobId, !!opts.verifySha]));
  console.log(`RESULT ${JSON.stringify({ ...result, ...sampled })}`);
} finally {
  await browser.close();
}
