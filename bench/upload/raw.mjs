// The hand-written baseline of `cargo xtask bench upload`: Azure Put Block
// of `Blob.slice()` parts with plain `fetch`, `concurrency` in flight, then
// one Put Block List. No checksums, no retries, no progress: the least code
// that uploads a large file to a SAS URL, so the fastest it can go. Its
// gzip size is reported as this approach's code size.

/** Uploads `blob` to the blob SAS `url`; `headers` go on every Put Block. */
export async function rawBlockUpload(blob, url, { partSize, concurrency, headers = {}, readParts = false }) {
  const count = Math.max(1, Math.ceil(blob.size / partSize));
  const ids = Array.from({ length: count }, (_, i) => btoa(String(i).padStart(6, '0')));
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const slice = blob.slice(i * partSize, Math.min(blob.size, (i + 1) * partSize));
      // `readParts`: send the part's bytes, read into memory first (as code
      // that checksums a part must), instead of the Blob slice.
      const body = readParts ? await slice.arrayBuffer() : slice;
      const r = await fetch(`${url}&comp=block&blockid=${encodeURIComponent(ids[i])}`, { method: 'PUT', headers, body });
      if (!r.ok) throw new Error(`Put Block ${i}: HTTP ${r.status}`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`;
  const r = await fetch(`${url}&comp=blocklist`, { method: 'PUT', body: xml });
  if (!r.ok) throw new Error(`Put Block List: HTTP ${r.status}`);
}

/** One `PUT` of the whole file (Azure Put Blob): no parts at all. */
export async function rawSinglePut(blob, url, headers = {}) {
  const r = await fetch(url, { method: 'PUT', headers, body: blob });
  if (!r.ok) throw new Error(`Put Blob: HTTP ${r.status}`);
}

/** `rawBlockUpload` with XMLHttpRequest instead of `fetch`. */
export async function rawBlockUploadXhr(blob, url, { partSize, concurrency, headers = {} }) {
  const count = Math.max(1, Math.ceil(blob.size / partSize));
  const ids = Array.from({ length: count }, (_, i) => btoa(String(i).padStart(6, '0')));
  const put = (target, body, hdrs) =>
    new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open('PUT', target);
      for (const [k, v] of Object.entries(hdrs)) x.setRequestHeader(k, v);
      x.onload = () => (x.status < 300 ? resolve() : reject(new Error(`HTTP ${x.status}`)));
      x.onerror = () => reject(new Error('network error'));
      x.send(body);
    });
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const slice = blob.slice(i * partSize, Math.min(blob.size, (i + 1) * partSize));
      await put(`${url}&comp=block&blockid=${encodeURIComponent(ids[i])}`, slice, headers);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const xml = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`;
  await put(`${url}&comp=blocklist`, xml, {});
}
