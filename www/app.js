// The demo page: pick an object, drop a CSV, watch it upload and import.
//
// Everything goes through the broker at /api with an upload ticket from
// the demo's backend (`POST /app/ticket`); the page never holds the
// workspace token. The file's bytes go straight from the browser to the
// pre-signed storage URL the job hands out.

import { ImportClient, version } from 'import-uploader';

const $ = (id) => document.getElementById(id);
/** Rejected rows shown at most. */
const SHOWN_REJECTED = 10;

/** Asks the app's backend for a ticket; ImportClient calls it when it needs one. */
async function getToken() {
  const response = await fetch('/app/ticket', { method: 'POST' });
  if (!response.ok) throw new Error(`the ticket endpoint answered ${response.status}`);
  return (await response.json()).ticket;
}

const client = new ImportClient({ baseUrl: new URL('/api', location.href).href, getToken });
const schemas = new Map();
let busy = false;

function say(text, isError = false) {
  $('message').textContent = text;
  $('message').className = isError ? 'error' : '';
}

function describe(e) {
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? e);
}

async function loadObjects() {
  const { items } = await client.listObjects();
  const select = $('objects');
  select.replaceChildren(
    ...items.map((o) => {
      const opt = document.createElement('option');
      opt.value = o.objectName;
      opt.textContent = `${o.displayName} (${o.objectName})`;
      return opt;
    }),
  );
  select.disabled = false;
  select.addEventListener('change', () => showObject(select.value));
  await showObject(select.value);
}

async function schemaOf(name) {
  if (!schemas.has(name)) schemas.set(name, await client.objectSchema(name));
  return schemas.get(name);
}

async function showObject(name) {
  try {
    const s = await schemaOf(name);
    $('object-info').textContent = `${s.fields.length} fields; key ${s.identityKeys.join(', ') || '–'}`;
  } catch (e) {
    $('object-info').textContent = describe(e);
  }
}

/** The CSV's header row (the first line of the first 64 KiB). */
async function headerOf(file) {
  const text = (await file.slice(0, 65536).text()).replace(/^\uFEFF/, '');
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  const cells = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') cell += c, i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') cells.push(cell.trim()), (cell = '');
    else cell += c;
  }
  cells.push(cell.trim());
  return cells.filter((c) => c !== '');
}

const norm = (s) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * A mapping by name: a column maps to the field of the same name (case,
 * spaces and punctuation ignored), else to the longest field name it starts
 * or ends with (`email_address` → `email`).
 */
function suggestMapping(columns, schema) {
  const sourceFields = {};
  const fieldMap = {};
  const used = new Set();
  for (const col of columns) {
    const c = norm(col);
    const free = schema.fields.filter((f) => !used.has(f.name));
    const field =
      free.find((f) => norm(f.name) === c) ??
      free
        .filter((f) => norm(f.name).length >= 3 && (c.startsWith(norm(f.name)) || c.endsWith(norm(f.name))))
        .sort((a, b) => b.name.length - a.name.length)[0];
    sourceFields[col] = field ? field.type : 'string';
    if (field) {
      fieldMap[col] = field.name;
      used.add(field.name);
    }
  }
  return { sourceFields, fieldMap };
}

function showMapping(columns, mapping) {
  $('mapping').replaceChildren(
    ...columns.map((col) => {
      const tr = document.createElement('tr');
      tr.append(cellOf(col), cellOf(mapping.fieldMap[col] ?? '(ignored)'));
      return tr;
    }),
  );
  $('mapping-section').hidden = false;
}

function cellOf(text) {
  const td = document.createElement('td');
  td.textContent = String(text);
  return td;
}

const fmt = new Intl.NumberFormat();
function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function showProgress(p) {
  $('upload-progress').max = p.total || 1;
  $('upload-progress').value = p.loaded;
  const rate = p.bytesPerSecond > 0 ? `, ${bytes(p.bytesPerSecond)}/s` : '';
  const eta = p.etaSeconds != null && p.phase === 'upload' ? `, about ${Math.ceil(p.etaSeconds)} s left` : '';
  const phase = { upload: 'uploading', commit: 'committing', complete: 'uploaded' }[p.phase] ?? p.phase;
  $('upload-text').textContent = `${phase}: ${bytes(p.loaded)} of ${bytes(p.total)} (part ${p.partsDone} of ${p.partsTotal})${rate}${eta}`;
}

function showStatus(s) {
  $('state').textContent = s.state;
  $('state').dataset.state = s.state;
  $('stage').textContent = s.stage ? `(${s.stage})` : '';
  $('read-rows').textContent = fmt.format(s.readRows);
  $('valid-rows').textContent = fmt.format(s.validRows);
  $('invalid-rows').textContent = fmt.format(s.invalidRows);
  $('merged-inserts').textContent = fmt.format(s.mergedInserts);
  $('merged-updates').textContent = fmt.format(s.mergedUpdates);
}

async function showRejected(jobId) {
  const rows = [];
  for await (const row of client.errorRows(jobId)) {
    rows.push(row);
    if (rows.length >= SHOWN_REJECTED) break;
  }
  $('rejected').replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.append(cellOf(r.rowNumber), cellOf(r.column ?? ''), cellOf(`${r.error} (${r.code})`));
      return tr;
    }),
  );
  $('rejected-section').hidden = rows.length === 0;
}

async function importFile(file) {
  if (busy) return;
  busy = true;
  $('drop').classList.remove('over');
  $('rejected-section').hidden = true;
  $('progress-section').hidden = true;
  $('state').dataset.state = '';
  try {
    const objectName = $('objects').value;
    say(`Reading ${file.name}…`);
    const [columns, schema] = await Promise.all([headerOf(file), schemaOf(objectName)]);
    if (columns.length === 0) throw new Error(`${file.name} has no header row`);
    const mapping = suggestMapping(columns, schema);
    showMapping(columns, mapping);
    if (Object.keys(mapping.fieldMap).length === 0) {
      throw new Error(`no column of ${file.name} matches a field of ${objectName}: name the columns after its fields`);
    }
    $('progress-section').hidden = false;
    $('state').textContent = 'creating the job';
    say(`Importing ${file.name} (${bytes(file.size)}) into ${objectName}…`);
    const events = new EventTarget();
    let jobId = null;
    events.addEventListener('job', (e) => {
      jobId = e.detail.jobId;
    });
    const final = await client.importFile(file, {
      objectName,
      mapping,
      events,
      onProgress: showProgress,
      onStatus: showStatus,
      poll: { pollStartMs: 500, pollCapMs: 3000 },
    });
    showStatus(final);
    if (final.state === 'completed') {
      say(`Done: ${fmt.format(final.validRows)} of ${fmt.format(final.readRows)} rows imported.`);
    } else {
      say(`The job ${final.state}: ${final.errorMessage ?? 'no message'}`, true);
    }
    if (final.invalidRows > 0 && jobId) await showRejected(jobId);
  } catch (e) {
    say(describe(e), true);
    console.error(e);
  } finally {
    busy = false;
    $('file').value = '';
  }
}

const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  const file = e.dataTransfer?.files?.[0];
  if (file) importFile(file);
});
$('file').addEventListener('change', () => {
  const file = $('file').files?.[0];
  if (file) importFile(file);
});

$('version').textContent = `v${version()}`;
try {
  await loadObjects();
  document.body.dataset.ready = 'true';
} catch (e) {
  say(`Cannot list the objects through the broker: ${describe(e)}`, true);
}
