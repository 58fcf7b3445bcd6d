// One upload of `cargo xtask chaos`, run by the built package as an
// application runs it: `ImportClient.importFile` on a file from disk, with
// a retry budget that rides through an emulator restart. The xtask starts
// it once per upload, reads the events it prints (one JSON object a line)
// to choose the moment it kills a server, and reads its last line, the
// outcome.
//
//   node tests/chaos/upload.mjs '<JSON settings>'
//
// Settings: baseUrl (the API, /public/v1 included), token, file, objectName,
// mapping, partSize (optional), maxImports (jobs to try: a job failed by a
// restart is imported again on a new job, as its message says),
// retryMessages (the `errorMessage`s that ask for a new job), and, for
// uploads to Azurite, azurite ({url, container, key}) to delete the blob
// afterwards.
//
// Events: {"e":"job","jobId":…,"attempt":n}, {"e":"progress","loaded":…,
// "total":…,"phase":…}, {"e":"part","index":…,"attempts":…},
// {"e":"status","jobId":…,"state":…,"stage":…}. Last line:
// {"e":"done","jobs":[{jobId, state, status, errorMessage}], "sha256":
// <hex of the bytes read back from the last job's upload>, "readBackBytes",
// "partRetries", "error"}.

import { createHash } from 'node:crypto';
import { openAsBlob, statSync } from 'node:fs';

const settings = JSON.parse(process.argv[2]);
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const { ImportClient } = await import('import-uploader');

// Fifteen attempts, waits from 500 ms doubling to at most 10 s (full
// jitter): about 50 s in all on average, at least 20 s but once in ten
// thousand, which outlasts a restart of the emulator (well under a second)
// or of Azurite (a few seconds; 20 s seen on a busy machine). The default
// budget (6 attempts) is for a storage that does not go away.
const retry = { maxAttempts: 15, baseDelayMs: 500, maxDelayMs: 10000 };
const client = new ImportClient({ baseUrl: settings.baseUrl, token: settings.token, retry });

const size = statSync(settings.file).size;
const blob = await openAsBlob(settings.file);
if (blob.size !== size) throw new Error(`openAsBlob reports ${blob.size} bytes of ${size}`);

const outcome = { e: 'done', jobs: [], sha256: null, readBackBytes: 0, partRetries: 0, error: null };

/** GET with retries on no answer and 5xx (the read-back route is an API
 * route, so API faults and restarts meet it too). */
async function fetchRetrying(url, init, what) {
  let last;
  for (let attempt = 1; attempt <= 20; attempt++) {
    try {
      const res = await fetch(url, init);
      if (res.status < 500 && res.status !== 429) return res;
      last = new Error(`${what}: HTTP ${res.status}`);
      await res.arrayBuffer().catch(() => {});
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, Math.min(200 * attempt, 2000)));
  }
  throw last;
}

/** SHA-256 of what storage committed for `jobId`, streamed. */
async function readBack(jobId) {
  for (let attempt = 1; ; attempt++) {
    const res = await fetchRetrying(
      `${settings.baseUrl}/import-jobs/${jobId}/upload`,
      { headers: { authorization: `Bearer ${settings.token}` } },
      'read-back',
    );
    if (res.status !== 200) {
      throw new Error(`read-back of ${jobId}: HTTP ${res.status} ${await res.text()}`);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of res.body) {
        hash.update(chunk);
        bytes += chunk.length;
      }
    } catch (err) {
      // The stream broke (a restart, a reset): read it again.
      if (attempt >= 10) throw err;
      continue;
    }
    return { sha256: hash.digest('hex'), bytes };
  }
}

async function deleteAzuriteBlob(jobId) {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const { url, container, key } = settings.azurite;
  const account = new URL(url).pathname.split('/').filter(Boolean).pop();
  const service = new BlobServiceClient(url, new StorageSharedKeyCredential(account, key));
  await service.getContainerClient(container).getBlobClient(`jobs/${jobId}/file`).deleteIfExists();
}

try {
  for (let attempt = 1; attempt <= settings.maxImports; attempt++) {
    const events = new EventTarget();
    let jobId = null;
    events.addEventListener('job', (e) => {
      jobId = e.detail.jobId;
      emit({ e: 'job', jobId, attempt });
    });
    events.addEventListener('part', (e) => {
      const { index, attempts } = e.detail;
      outcome.partRetries += attempts - 1;
      emit({ e: 'part', index, attempts });
    });
    const status = await client.importFile(blob, {
      objectName: settings.objectName,
      fileName: `chaos-${size}.csv`,
      mapping: settings.mapping,
      events,
      upload: { retry, ...(settings.partSize ? { partSize: settings.partSize } : {}) },
      poll: { pollStartMs: 100, pollCapMs: 400 },
      onProgress: (p) => emit({ e: 'progress', loaded: p.loaded, total: p.total, phase: p.phase }),
      onStatus: (s) => emit({ e: 'status', jobId, state: s.state, stage: s.stage }),
    });
    outcome.jobs.push({ jobId, state: status.state, status, errorMessage: status.errorMessage ?? null });
    const again =
      status.state === 'failed' &&
      settings.retryMessages.includes(status.errorMessage) &&
      attempt < settings.maxImports;
    if (!again) break;
  }
  const last = outcome.jobs[outcome.jobs.length - 1];
  const back = await readBack(last.jobId);
  outcome.sha256 = back.sha256;
  outcome.readBackBytes = back.bytes;
  if (settings.azurite) {
    for (const job of outcome.jobs) await deleteAzuriteBlob(job.jobId);
  }
} catch (err) {
  outcome.error = `${err?.name ?? 'Error'}: ${err?.message ?? err}${err?.code ? ` (${err.code})` : ''}`;
}
emit(outcome);
