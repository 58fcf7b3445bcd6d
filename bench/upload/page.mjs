// The page `cargo xtask bench upload` drives in headless Chromium (through
// `driver.mjs`). Served by the emulator (`--www`, with the package at
// `/pkg/`), so the API is same-origin; uploads go to the job's upload URL:
// Azurite (link `local`), the WAN proxy in front of it (`wan`) or the
// discard sink (`sink`), whose CORS rules the emulator sets at start.
// `methods` below has one entry per method row of the benchmark.
//
// The file is either a real file on disk, chosen through the page's file
// input as a user would (`window.bench.useFile()` after the driver sets the
// input; what a File from disk costs to slice and send is what users get),
// or `window.bench.makeBlob(size)` builds one in memory: a Blob of `size` bytes made
// of references to ONE random chunk of 1 MiB + 7 B (the odd length makes
// every part's bytes differ), so the page holds about 1 MiB of distinct data
// whatever the size — a 4 GiB file costs no 4 GiB of memory.
// `window.bench.run({ method, partSize, concurrency })` creates a job (its
// upload URL is a real Azurite SAS URL, permission `cw`, signed by the
// emulator as Azure documents), uploads the Blob with one of the methods
// below and times it; `window.bench.verify(jobId, sha)` then checks what
// Azurite committed through the emulator's read-back extension (length
// always; SHA-256 when asked), outside the timed and sampled upload.

import * as pkg from '/pkg/entry-browser.js';
import { rawBlockUpload, rawBlockUploadXhr, rawSinglePut } from './raw.mjs';
import { BlockBlobClient } from './sdk.js';

const API = `${location.origin}/public/v1`;
const TOKEN = 'dev-write';
const CHUNK = 1024 * 1024 + 7;

let blob = null;
const client = new pkg.ImportClient({ baseUrl: API, token: TOKEN });

async function sha256Hex(data) {
  const digest = await crypto.subtle.digest('SHA-256', data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function makeBlob(size) {
  const chunk = new Uint8Array(CHUNK);
  for (let off = 0; off < CHUNK; off += 65536) {
    crypto.getRandomValues(chunk.subarray(off, Math.min(CHUNK, off + 65536)));
  }
  const one = new Blob([chunk]);
  const parts = new Array(Math.floor(size / CHUNK)).fill(one);
  const rest = size % CHUNK;
  if (rest) parts.push(one.slice(0, rest));
  blob = new Blob(parts, { type: 'application/octet-stream' });
  return { size: blob.size };
}

/** The file the driver put in the page's file input. */
function useFile() {
  const f = document.getElementById('file').files[0];
  if (!f) throw new Error('no file in the file input');
  blob = f;
  return { size: blob.size };
}

const methods = {
  /** This package's engine with its defaults (an integrity check on every
   * part: x-ms-content-crc64 on Azure; XMLHttpRequest for byte-level
   * progress), part size and concurrency as asked. */
  engine: (job, o) => client.upload(job, blob, { partSize: o.partSize, concurrency: o.concurrency }).done,
  /** The same without the per-part integrity check (`checksum: false`). */
  'engine-no-checksum': (job, o) =>
    client.upload(job, blob, { partSize: o.partSize, concurrency: o.concurrency, checksum: false }).done,
  /** Hand-written Put Block + Put Block List with fetch. */
  'raw-blocks': (job, o) => rawBlockUpload(blob, job.uploadUrl, { partSize: o.partSize, concurrency: o.concurrency, headers: job.headers }),
  /** The same with XMLHttpRequest instead of fetch. */
  'raw-blocks-xhr': (job, o) => rawBlockUploadXhr(blob, job.uploadUrl, { partSize: o.partSize, concurrency: o.concurrency, headers: job.headers }),
  /** The same, each part read into an ArrayBuffer and sent as bytes. */
  'raw-blocks-read': (job, o) =>
    rawBlockUpload(blob, job.uploadUrl, { partSize: o.partSize, concurrency: o.concurrency, headers: job.headers, readParts: true }),
  /** One fetch PUT of the whole file (Put Blob). */
  'raw-put': (job) => rawSinglePut(blob, job.uploadUrl, job.headers),
  /** @azure/storage-blob's uploadData with its defaults. */
  sdk: (job) => new BlockBlobClient(job.uploadUrl).uploadData(blob),
  /** @azure/storage-blob's uploadData with our part size and concurrency. */
  'sdk-tuned': (job, o) =>
    new BlockBlobClient(job.uploadUrl).uploadData(blob, { blockSize: o.partSize, concurrency: o.concurrency, maxSingleShotSize: o.partSize }),
};

async function run(o) {
  if (!blob) throw new Error('makeBlob(size) first');
  const upload = methods[o.method];
  if (!upload) throw new Error(`unknown method ${o.method}`);
  const job = await client.createJob({ objectName: 'profiles', fileName: 'bench.bin', fileSize: blob.size });
  const t0 = performance.now();
  await upload(job, o);
  return { jobId: job.jobId, seconds: (performance.now() - t0) / 1000 };
}

/** What Azurite committed for `jobId`, read through the emulator: its
 * length, and with `sha` whether its SHA-256 is the Blob's. */
async function verify(jobId, sha) {
  const readBack = `${API}/import-jobs/${jobId}/upload`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const head = await fetch(readBack, { method: 'HEAD', headers: auth });
  const committed = head.ok ? Number(head.headers.get('content-length')) : null;
  let shaOk = null;
  if (sha) {
    const got = await (await fetch(readBack, { headers: auth })).arrayBuffer();
    shaOk = got.byteLength === blob.size && (await sha256Hex(got)) === (await sha256Hex(await blob.arrayBuffer()));
  }
  return { committed, shaOk };
}

window.bench = { makeBlob, useFile, run, verify };
document.getElementById('state').textContent = 'ready';
