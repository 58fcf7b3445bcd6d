// `<import-uploader>`: the whole import flow as one framework-free custom
// element (the package's `import-uploader/element` export).
//
//   drop or pick a file → preview (dialect shown, overridable) → mapping
//   editor → optional full check → upload (pause, resume, cancel, resume
//   after a reload) → the job, live → results and the rejected rows as CSV
//
// It talks to a broker only (`broker-url`), with upload tickets from the
// app's backend (`ticket-url`, or the `getTicket` property): it never holds
// a workspace token. Dialect, column types, mapping suggestions, problems
// and the prediction all come from the preflight (`import-uploader/
// preflight`), loaded with a dynamic import once a file is chosen; the
// preview's rows are split here for display only, with the dialect the
// preflight found (or the one the user chose).
//
// Every file name and cell is rendered as text (`textContent`), never as
// markup.

import { ImportClient } from './entry-browser.js';

/** The preflight module, loaded on first need (its own wasm, in a Worker). */
const PREFLIGHT_MODULE = './preflight-browser.js';

const PREFIX = 'import-uploader';
/** Rows of the preview. */
const PREVIEW_ROWS = 100;
/** Bytes read for the preview first (a partial last line is dropped):
 * 100 rows of most files. */
const PREVIEW_BYTES = 64 * 1024;
/** Bytes read for the preview when 100 rows do not fit in the first read. */
const PREVIEW_MAX_BYTES = 1024 * 1024;
/** Rejected rows shown in the results table. */
const SHOWN_REJECTED = 10;
/** Rejected rows per chunk of the CSV download. */
const DOWNLOAD_CHUNK_ROWS = 1000;
const TEMPLATES_KEY = `${PREFIX}:templates`;
const JOB_KEY = `${PREFIX}:job:`;

/** The labels, in English. `strings` (property) overrides any of them. */
export const STRINGS = {
  title: 'Import a CSV file',
  object: 'Import into',
  objectsLoading: 'Loading objects…',
  objectInfo: '{fields} fields; key {keys}',
  mode: 'Import mode',
  'mode.balanced': 'Default. Rejects rows with type errors; tolerates missing non-key fields.',
  'mode.strict': 'Rejects any row that doesn’t fully satisfy the schema — missing optional fields, type coercions, and extra columns all cause rejection.',
  'mode.landing_friendly': 'Accepts nearly everything — coerces types where possible, fills missing fields with nulls.',
  drop: 'Drop a CSV file here',
  or: 'or',
  choose: 'Choose a file',
  fileLabel: 'CSV file',
  reading: 'Reading {name}…',
  notOneFile: 'Drop one file at a time: {count} were dropped.',
  directory: '{name} is a folder: drop a CSV file instead.',
  emptyFile: '{name} is empty.',
  unreadable: '{name} cannot be read: choose a CSV file (not a folder) that is still on the disk.',
  resumeOffer: 'The upload of {name} was interrupted. Resume it where it stopped?',
  resume: 'Resume upload',
  startOver: 'Start over',
  preview: 'Preview',
  previewNote: 'First {rows} rows of {name} ({size}).',
  encoding: 'Encoding',
  delimiter: 'Delimiter',
  'delimiter.comma': 'comma (,)',
  'delimiter.semicolon': 'semicolon (;)',
  'delimiter.tab': 'tab',
  'delimiter.pipe': 'pipe (|)',
  hasHeader: 'First row is a header',
  detected: 'Detected: {encoding} ({confidence}), {delimiter}, {lineEnding}{bom}.',
  bom: ', BOM',
  mapping: 'Mapping',
  column: 'Column',
  type: 'Type',
  samples: 'Samples',
  field: 'Destination field',
  suggestion: 'Suggestion',
  fieldFor: 'Destination field for column {name}',
  ignore: '— ignore this column —',
  fieldOption: '{name} ({type})',
  keyFieldOption: '{name} ({type}, key)',
  misfits: '{count} not of this type, e.g. {examples}',
  confidence: '{score} % ({reason})',
  keyUnmapped: 'Map a column to the key field {key} to continue.',
  twoSources: 'Two columns map to {field}.',
  noneMapped: 'Map at least one column to continue.',
  templateOffer: 'The saved template “{name}” matches these columns.',
  applyTemplate: 'Use template',
  saveTemplate: 'Save this mapping as a template',
  templateName: 'Template name',
  check: 'Check the whole file',
  checkHeading: 'Check',
  checking: 'Checking {name}: {done} of {total}…',
  cancelCheck: 'Stop the check',
  checkStopped: 'Check stopped.',
  predicted: 'Predicted: {valid} of {read} rows imported, {invalid} rejected.',
  sampleNote: 'From the first {size} of the file; check the whole file for exact numbers.',
  firstProblems: 'First problem rows',
  row: 'Row',
  error: 'Error',
  start: 'Start the import',
  upload: 'Upload',
  uploading: 'Uploading {name}: {loaded} of {total}{rate}{eta}',
  rate: ', {rate}/s',
  eta: ', about {eta} left',
  committing: 'Committing the upload…',
  preparing: 'Reading the file to send it as UTF-8 with commas: {loaded} of {total}…',
  uploaded: 'Uploaded {size}.',
  uploadedPart: '{percent} % of {name} uploaded.',
  pause: 'Pause',
  resumeUpload: 'Resume',
  paused: 'Paused at {loaded} of {total}.',
  cancel: 'Cancel',
  cancelled: 'Upload cancelled.',
  job: 'Job',
  state: 'State',
  stage: 'Stage',
  readRows: 'Rows read',
  validRows: 'Valid',
  invalidRows: 'Rejected',
  mergedInserts: 'Inserted',
  mergedUpdates: 'Updated',
  jobStage: 'The job is {state}: {stage}.',
  result: 'Result',
  done: 'Done: {valid} of {read} rows imported ({rate} %).',
  failed: 'The job failed: {message}',
  errorSummary: 'Rejections by reason',
  rejectedRows: 'First rejected rows',
  download: 'Download all rejected rows (CSV)',
  downloading: 'Writing the rejected rows… {rows}',
  downloaded: '{rows} rejected rows saved.',
  another: 'Import another file',
  otherFile: 'Choose another file',
  problem: 'Problem',
  loadFailed: 'Cannot load the preflight module: {message}',
  noBroker: 'Set the broker-url attribute (the broker’s base URL).',
  noTicket: 'Set the ticket-url attribute or the getTicket property.',
  ticketFailed: 'The ticket endpoint answered {status}.',
};

const MODES = ['balanced', 'strict', 'landing_friendly'];
const ENCODINGS = ['utf-8', 'windows-1252', 'iso-8859-1', 'utf-16le', 'utf-16be', 'windows-1250', 'shift_jis'];
const DELIMITERS = [
  [',', 'comma'],
  [';', 'semicolon'],
  ['\t', 'tab'],
  ['|', 'pipe'],
];

const CSS = `
:host { display: block; container-type: inline-size; font: var(--iu-font, 1rem/1.5 system-ui, sans-serif); color: var(--iu-fg, #1d232a);
  --_accent: var(--iu-accent, #0b57d0); --_border: var(--iu-border, #c4ccd4); --_muted: var(--iu-muted, #4d5761);
  --_bg: var(--iu-bg, #fff); --_danger: var(--iu-danger, #b3261e); --_radius: var(--iu-radius, 6px); background: var(--_bg);
  max-width: 100%; box-sizing: border-box; }
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
h2, h3 { font-size: 1.15em; margin: 1rem 0 .5rem; }
h3 { font-size: 1em; }
h2:focus, h3:focus { outline: none; }
p { margin: .4rem 0; }
.muted { color: var(--_muted); font-size: .92em; }
.row { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: .5rem 0; }
label { font-weight: 600; }
select, input[type=text], button { font: inherit; max-width: 100%; }
select, input[type=text] { padding: .25rem; border: 1px solid var(--_border); border-radius: var(--_radius); background: var(--_bg); color: inherit; }
button { padding: .4rem .9rem; border-radius: var(--_radius); border: 1px solid var(--_accent); background: var(--_bg); color: var(--_accent); cursor: pointer; }
button.primary { background: var(--_accent); color: var(--iu-on-accent, #fff); }
button:disabled { opacity: .55; cursor: not-allowed; }
:focus-visible { outline: 3px solid var(--iu-focus, #f0a202); outline-offset: 2px; }
.drop { display: block; padding: 2rem 1rem; border: 2px dashed var(--_border); border-radius: var(--_radius); text-align: center; }
.drop.over { border-color: var(--_accent); background: var(--iu-drop-over, #e8f0fe); }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.scroll { overflow: auto; max-width: 100%; max-height: 24rem; border: 1px solid var(--_border); border-radius: var(--_radius); }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--_border); vertical-align: top; overflow-wrap: anywhere; }
thead th { position: sticky; top: 0; background: var(--_bg); }
progress { width: 100%; height: 1rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .1rem 1rem; margin: .5rem 0; }
dt { color: var(--_muted); } dd { margin: 0; font-variant-numeric: tabular-nums; }
.error, .problem { color: var(--_danger); }
.bars { display: grid; grid-template-columns: fit-content(18rem) minmax(2rem, 1fr) max-content; gap: .3rem .5rem; align-items: center; margin: .3rem 0; }
.bar { display: contents; }
thead th { overflow-wrap: normal; }
.bar span { overflow-wrap: anywhere; }
.bar i { display: block; height: .8rem; background: var(--_danger); border-radius: 2px; min-width: 2px; }
.preview th, .preview td { white-space: nowrap; max-width: 18rem; overflow: hidden; text-overflow: ellipsis; overflow-wrap: normal; }
@container (max-width: 40rem) {
  .mapping thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  .mapping tr { display: block; border-bottom: 1px solid var(--_border); padding: .4rem 0; }
  .mapping th, .mapping td { display: block; border: 0; padding: .1rem .5rem; }
  .mapping td[data-label]::before { content: attr(data-label) ": "; color: var(--_muted); }
  .scroll.mapping-box { max-height: none; }
}
.banner { padding: .6rem .8rem; border: 1px solid var(--_accent); border-radius: var(--_radius); margin: .5rem 0; }
`;

// ---- small helpers -------------------------------------------------------------------------

/** An element: `props` set as properties (`class`, `part`, `aria-*`, `data-*` as attributes). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  // Children first: a select's `value` names one of its options.
  append(el, children);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class' || k === 'part' || k === 'for' || k === 'style' || k.startsWith('aria-') || k.startsWith('data-') || k === 'role' || k === 'scope') el.setAttribute(k, v === true ? '' : String(v));
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el[k] = v;
  }
  return el;
}

/** Appends children; strings become text nodes (never markup). */
function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** `{name}` placeholders of `template` filled from `values`. */
function fill(template, values = {}) {
  return String(template).replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}

function bytes(n) {
  if (!(n >= 0)) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function duration(s) {
  s = Math.ceil(s);
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

/**
 * Splits the preview's text into at most `max` rows with the given
 * delimiter and quote (display only: the dialect comes from the preflight).
 * A last line cut by the end of the sample is dropped when `partial`.
 */
export function splitRows(text, delimiter, quote, max, partial) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  let rowStart = 0;
  const n = text.length;
  while (i < n && rows.length < max) {
    const c = text[i];
    if (quoted) {
      if (c === quote && text[i + 1] === quote) (cell += c), (i += 2);
      else if (c === quote) (quoted = false), i++;
      else (cell += c), i++;
      continue;
    }
    if (c === quote && quote && cell === '') (quoted = true), i++;
    else if (c === delimiter) row.push(cell), (cell = ''), i++;
    else if (c === '\r' || c === '\n') {
      row.push(cell);
      rows.push(row);
      (row = []), (cell = '');
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      rowStart = i;
    } else (cell += c), i++;
  }
  if (rows.length < max && (cell !== '' || row.length > 0)) {
    if (!partial) row.push(cell), rows.push(row);
    else if (rowStart === 0 && rows.length === 0) row.push(cell), rows.push(row);
  }
  return rows;
}

const storage = {
  get(key) {
    try {
      const v = localStorage.getItem(key);
      return v ? JSON.parse(v) : null;
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // private mode or full: the feature quietly does without
    }
  },
  remove(key) {
    try {
      localStorage.removeItem(key);
    } catch {
      // as above
    }
  },
};

/** An error for people and programs: `code` to branch on, `message` to act on. */
function elementError(code, message, cause) {
  const e = new Error(message, cause ? { cause } : undefined);
  e.name = 'ImportError';
  Object.assign(e, { kind: 'validation', code, status: null, correlationId: null, retryable: false });
  return e;
}

function describe(e) {
  if (!e) return '';
  const msg = e.message ?? String(e);
  return e.code ? `${msg} (${e.code})` : msg;
}

let seq = 0;
/** The element's settable properties. */
const PROPERTIES = ['getTicket', 'strings', 'uploadOptions', 'pollOptions', 'loadPreflight'];

// ---- the element ---------------------------------------------------------------------------

export class ImportUploaderElement extends HTMLElement {
  static get observedAttributes() {
    return ['broker-url', 'ticket-url', 'object-name', 'import-mode', 'lang'];
  }

  constructor() {
    super();
    // Properties a page set before this module defined the element (a
    // framework rendering the tag first) are kept.
    const preset = {};
    for (const k of PROPERTIES) {
      if (Object.prototype.hasOwnProperty.call(this, k)) {
        preset[k] = this[k];
        delete this[k];
      }
    }
    this._id = `iu${++seq}`;
    this._strings = {};
    this._getTicket = undefined;
    /** Extra options of the upload engine (`partSize`, `concurrency`, …). */
    this.uploadOptions = {};
    /** Status polling (`pollStartMs`, `pollCapMs`). */
    this.pollOptions = { pollStartMs: 1000, pollCapMs: 5000 };
    /** Loads the preflight module (default: the package's own). */
    this.loadPreflight = () => import(PREFLIGHT_MODULE);
    this._reset();
    this._root = this.attachShadow({ mode: 'open', delegatesFocus: false });
    Object.assign(this, preset);
  }

  /** Returns an upload ticket (any async function); used instead of `ticket-url`. */
  get getTicket() {
    return this._getTicket;
  }
  set getTicket(fn) {
    this._getTicket = typeof fn === 'function' ? fn : undefined;
    this._client = null;
    if (this._built && this.isConnected) this._loadObjects();
  }

  /** Labels overriding the English ones (see `STRINGS`). */
  get strings() {
    return { ...STRINGS, ...this._strings };
  }
  set strings(v) {
    this._strings = v && typeof v === 'object' ? { ...v } : {};
    if (this.isConnected) this._render();
  }

  get brokerUrl() {
    return this.getAttribute('broker-url');
  }
  get ticketUrl() {
    return this.getAttribute('ticket-url');
  }
  get objectName() {
    return this.getAttribute('object-name') || this._object || '';
  }
  get importMode() {
    return this._mode || this.getAttribute('import-mode') || 'balanced';
  }

  connectedCallback() {
    if (!this._built) this._build();
    this._client = null;
    this._loadObjects();
  }

  disconnectedCallback() {
    this._abort?.abort();
  }

  attributeChangedCallback(name, old, value) {
    if (!this._built || old === value) return;
    if (name === 'broker-url' || name === 'ticket-url') {
      this._client = null;
      this._loadObjects();
    } else if (name === 'object-name') {
      this._loadObjects();
    } else this._render();
  }

  // ---- state -------------------------------------------------------------------------------

  _reset() {
    this._abort?.abort();
    this._abort = new AbortController();
    Object.assign(this, {
      _step: 'pick',
      _file: null,
      _pf: null, // the sample preflight
      _firstDialect: null, // the dialect of the preview's first answer, before the sample's
      _full: null, // the full check's preflight
      _checking: null,
      _dialect: null, // what the preview and the upload use
      _overridden: false,
      _edited: false, // the user changed the mapping (else the preflight's suggestions apply)
      _fieldMap: {},
      _sourceFields: {},
      _progress: null,
      _quarter: 0,
      _upload: null,
      _status: null,
      _jobId: null,
      _rejected: [],
      _message: '',
      _error: false,
      _resumable: null,
      _previewRows: [],
      _downloaded: null,
      _saveTemplate: false,
      _templateName: '',
    });
  }

  _t(key, values) {
    return fill(this.strings[key] ?? key, values);
  }

  _fmt(n) {
    try {
      return new Intl.NumberFormat(this.getAttribute('lang') || undefined).format(n);
    } catch {
      return String(n);
    }
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(`${PREFIX}:${name}`, { detail, bubbles: true, composed: true }));
  }

  _say(text, error = false) {
    this._message = text;
    this._error = error;
    this._renderMessage();
  }

  _fail(e) {
    if (e?.kind === 'aborted' || e?.name === 'AbortError') return;
    this._say(describe(e), true);
    this._emit('error', e);
  }

  /** The client, over the broker, with tickets. */
  _clientOrThrow() {
    if (this._client) return this._client;
    const base = this.brokerUrl;
    if (!base) throw elementError('ELEMENT.CONFIG.BROKER_URL_MISSING', this._t('noBroker'));
    if (!this.getTicket && !this.ticketUrl) throw elementError('ELEMENT.CONFIG.TICKET_MISSING', this._t('noTicket'));
    const getToken = async () => {
      if (typeof this.getTicket === 'function') return this.getTicket();
      const response = await fetch(new URL(this.ticketUrl, document.baseURI), { method: 'POST', credentials: 'same-origin' });
      if (!response.ok) throw elementError('ELEMENT.TICKET.FAILED', this._t('ticketFailed', { status: response.status }));
      const type = response.headers.get('content-type') || '';
      return type.includes('json') ? (await response.json()).ticket : (await response.text()).trim();
    };
    this._client = new ImportClient({ baseUrl: new URL(base, document.baseURI).href, getToken });
    return this._client;
  }

  async _loadObjects() {
    this._schema = null;
    try {
      const client = this._clientOrThrow();
      const fixed = this.getAttribute('object-name');
      if (fixed) {
        this._objects = null;
        this._schema = await client.objectSchema(fixed);
      } else {
        const { items } = await client.listObjects();
        this._objects = items.filter((o) => o.ingestion?.fileImport !== false);
        if (!this._objects.some((o) => o.objectName === this._object)) this._object = this._objects[0]?.objectName;
        if (this._object) this._schema = await client.objectSchema(this._object);
      }
      if (this._error) this._say('');
      this._render();
      this.dataset.ready = 'true';
    } catch (e) {
      this._render();
      this._fail(e);
    }
  }

  async _chooseObject(name) {
    this._object = name;
    this._schema = null;
    this._render();
    try {
      this._schema = await this._clientOrThrow().objectSchema(name);
      if (this._file) await this._runPreflight();
      this._render();
    } catch (e) {
      this._fail(e);
    }
  }

  // ---- step 1: the file --------------------------------------------------------------------

  _onDrop(e) {
    e.preventDefault();
    this._drop?.classList.remove('over');
    const dt = e.dataTransfer;
    const files = [...(dt?.files ?? [])];
    const items = [...(dt?.items ?? [])].filter((i) => i.kind === 'file');
    const count = Math.max(files.length, items.length);
    if (count !== 1) {
      if (count > 1) this._refuse('ELEMENT.FILE.SEVERAL', this._t('notOneFile', { count }));
      return;
    }
    const entry = items[0]?.webkitGetAsEntry?.();
    if (entry?.isDirectory) {
      this._refuse('ELEMENT.FILE.DIRECTORY', this._t('directory', { name: entry.name }));
      return;
    }
    this._takeFile(files[0]);
  }

  /** Opens the file picker. */
  _choose(input) {
    this._preloadPreflight();
    input.click();
  }

  _refuse(code, message) {
    const e = elementError(code, message);
    this._say(message, true);
    this._emit('error', e);
  }

  /** Takes a file, dropped or picked: both paths come here. */
  async _takeFile(file) {
    if (!file) return;
    if (file.size === 0) {
      this._refuse('ELEMENT.FILE.EMPTY', this._t('emptyFile', { name: file.name }));
      return;
    }
    // The preflight's script loads while the file is checked.
    this._loadPreflight().catch(() => {});
    // A folder can arrive as a File that cannot be read: through a picker
    // (the input takes no folders, yet some hand one over), or dropped in
    // a browser without `webkitGetAsEntry()`; so can a file deleted since.
    // One byte tells. (The live region says so meanwhile: it shows no
    // earlier refusal while this file is read.)
    this._say(this._t('reading', { name: file.name }));
    try {
      await file.slice(0, 1).arrayBuffer();
    } catch {
      this._refuse('ELEMENT.FILE.UNREADABLE', this._t('unreadable', { name: file.name }));
      return;
    }
    const keepObject = this._object;
    this._reset();
    this._object = keepObject;
    this._file = file;
    this._step = 'review';
    this._say(this._t('reading', { name: file.name }));
    const record = storage.get(this._jobKey(file));
    if (record && Date.parse(record.job?.expiresAt) > Date.now() + 60_000) this._resumable = record;
    else if (record) storage.remove(this._jobKey(file));
    this._render();
    this._emit('file', { file, name: file.name, size: file.size, type: file.type });
    try {
      // Both read on the page; the module loads with the first.
      await this._runPreview();
      await this._runPreflight();
      // The full check's Worker (if no drag or picker started it).
      this._preloadPreflight();
      this._say('');
      this._render();
      this._focusStep();
    } catch (e) {
      this._render();
      this._fail(e);
    }
  }

  _jobKey(file) {
    return `${JOB_KEY}${file.name}:${file.size}:${file.lastModified}`;
  }

  // ---- step 2 and 3: preview and mapping -----------------------------------------------------

  /**
   * `loadPreflight()`, called once (an app's loader may not cache its
   * module as `import()` does); after a failure the next call tries again.
   */
  _loadPreflight() {
    this._loadingPreflight ??= Promise.resolve()
      .then(() => this.loadPreflight())
      .catch((e) => {
        this._loadingPreflight = null;
        throw e;
      });
    return this._loadingPreflight;
  }

  async _preflightModule() {
    try {
      return await this._loadPreflight();
    } catch (e) {
      throw elementError('ELEMENT.PREFLIGHT.LOAD_FAILED', this._t('loadFailed', { message: e.message ?? e }), e);
    }
  }

  /**
   * A file is about to be chosen (a drag entered the drop zone, the picker
   * opened): the preflight's module loads on the page and runs once (with
   * the object's schema, when known), and its Worker starts, so that the
   * preview follows the drop at once. Once per element; a failure here is
   * left for the load that needs the module to report.
   */
  _preloadPreflight() {
    if (this._preloading) return;
    this._preloading = Promise.resolve()
      .then(() => this._loadPreflight())
      .then((m) => m.preload?.(this._schema ? { schema: this._schema, importMode: this.importMode } : undefined))
      .catch(() => {
        this._preloading = null;
      });
  }

  _preflightOptions(extra = {}) {
    const o = { importMode: this.importMode, signal: this._abort.signal, ...extra };
    if (this._schema) o.schema = this._schema;
    const templates = this._templates().map(({ name, sourceFields, fieldMap }) => ({ name, sourceFields, fieldMap }));
    if (templates.length) o.templates = templates;
    if (this._overridden && this._dialect) {
      const { encoding, delimiter, hasHeader } = this._dialect;
      o.dialect = { encoding, delimiter, hasHeader };
    }
    // Predict with the user's mapping once they have changed it.
    if (this._edited) {
      const { sourceFields, fieldMap } = this._mapping();
      o.mapping = { sourceFields, fieldMap };
    }
    return o;
  }

  /**
   * The preview first: a preflight of the file's first PREVIEW_BYTES only
   * (its dialect; a sample this small is read on the page, from the module
   * compiled there, so it waits for no Worker), then the preview's rows,
   * shown at once, alone (the mapping editor waits for the sample's
   * answer). A file that small gets its sample's answer straight away
   * instead.
   */
  async _runPreview() {
    const file = this._file;
    if (file.size <= PREVIEW_BYTES) return;
    const { preflight } = await this._preflightModule();
    const first = await preflight(file, { ...this._preflightOptions(), sampleBytes: PREVIEW_BYTES });
    if (file !== this._file || this._pf) return;
    this._firstDialect = first.dialect;
    if (!this._overridden) this._dialect = { ...first.dialect };
    await this._readPreview();
    if (file !== this._file || this._pf) return;
    this._renderPreview();
  }

  /** Shows the preview alone, in place of the review step's body. */
  _renderPreview() {
    const section = this._main?.querySelector('section[part~=review]');
    if (!section) {
      this._render();
      return;
    }
    const id = (s) => `${this._id}-${s}`;
    section.replaceWith(this._reviewView(id, (k, v) => this._t(k, v)));
  }

  async _runPreflight() {
    const file = this._file;
    const { preflight } = await this._preflightModule();
    // A file within the preview's read is answered whole on the page (the
    // preflight reads samples that small there), with no Worker to wait for.
    const pf = await preflight(file, this._preflightOptions(file.size <= PREVIEW_BYTES ? { sampleBytes: PREVIEW_BYTES } : {}));
    if (file !== this._file) return;
    this._pf = pf;
    this._full = null;
    if (!this._overridden) this._dialect = { ...pf.dialect };
    const columns = new Set(pf.columns.map((c) => c.name));
    if (!this._edited || [...Object.keys(this._fieldMap)].some((c) => !columns.has(c))) {
      this._edited = false;
      this._fieldMap = { ...(pf.mapping?.fieldMap ?? {}) };
      this._sourceFields = { ...(pf.mapping?.sourceFields ?? {}) };
    }
    await this._readPreview();
    this._emitMapping();
  }

  async _readPreview() {
    const file = this._file;
    const d = this._dialect;
    // The first read holds 100 rows of most files; a larger one follows
    // when it does not.
    for (let length = PREVIEW_BYTES; ; length *= 4) {
      const buffer = await file.slice(0, length).arrayBuffer();
      let text;
      try {
        text = new TextDecoder(d.encoding || 'utf-8').decode(buffer);
      } catch {
        text = new TextDecoder('utf-8').decode(buffer);
      }
      this._previewRows = splitRows(text, d.delimiter || ',', d.quote ?? '"', PREVIEW_ROWS + 1, file.size > length);
      if (this._previewRows.length > PREVIEW_ROWS || file.size <= length || length >= PREVIEW_MAX_BYTES) return;
    }
  }

  async _override(key, value) {
    this._dialect = { ...this._dialect, [key]: value };
    this._overridden = true;
    try {
      await this._readPreview();
      this._render();
      await this._runPreflight();
      this._render();
    } catch (e) {
      this._render();
      this._fail(e);
    }
  }

  /** The columns the mapping editor lists: the preflight's. */
  _columns() {
    return this._pf?.columns ?? [];
  }

  _mapping() {
    const mapping = { sourceFields: {}, fieldMap: {}, importMode: this.importMode };
    for (const c of this._columns()) {
      mapping.sourceFields[c.name] = this._sourceFields[c.name] ?? c.inferredType ?? 'string';
      const f = this._fieldMap[c.name];
      if (f) mapping.fieldMap[c.name] = f;
    }
    if (this._saveTemplate && this._templateName.trim()) mapping.saveAsTemplate = { name: this._templateName.trim() };
    return mapping;
  }

  _emitMapping() {
    const m = this._mapping();
    delete m.saveAsTemplate;
    this._emit('mapping', m);
  }

  /** What keeps the import from starting (messages), from the schema and the current mapping. */
  _blockers() {
    const out = [];
    const mapped = Object.values(this._fieldMap).filter(Boolean);
    if (mapped.length === 0) out.push(this._t('noneMapped'));
    for (const key of this._schema?.identityKeys ?? []) {
      if (!mapped.includes(key)) out.push(this._t('keyUnmapped', { key }));
    }
    const seen = new Set();
    for (const f of mapped) {
      if (seen.has(f)) out.push(this._t('twoSources', { field: f }));
      seen.add(f);
    }
    return [...new Set(out)];
  }

  _setField(column, field) {
    if (field) this._fieldMap[column] = field;
    else delete this._fieldMap[column];
    const type = this._schema?.fields?.find((f) => f.name === field)?.type;
    const col = this._columns().find((c) => c.name === column);
    this._sourceFields[column] = col?.inferredType ?? type ?? 'string';
    this._full = null;
    this._edited = true;
    this._emitMapping();
    this._renderReviewState();
    // The sample's prediction and problems, again with this mapping.
    clearTimeout(this._rerun);
    this._rerun = setTimeout(() => {
      if (this._step === 'review' && this._file) this._runPreflight().then(() => this._render(), (e) => this._fail(e));
    }, 150);
  }

  _setMode(mode) {
    this._mode = mode;
    this._full = null;
    this._render();
    if (this._file && this._pf) this._runPreflight().then(() => this._render(), (e) => this._fail(e));
  }

  /** The saved templates of this object (kept in localStorage). */
  _templates() {
    const list = storage.get(TEMPLATES_KEY);
    return (Array.isArray(list) ? list : []).filter((t) => t && t.objectName === this.objectName && t.fieldMap && t.sourceFields);
  }

  /** A saved template whose columns are exactly the file's. */
  _matchingTemplate() {
    const names = this._columns().map((c) => c.name).join('\u0000');
    return this._templates().find((t) => t.columns?.join('\u0000') === names) ?? null;
  }

  _applyTemplate(t) {
    this._fieldMap = { ...t.fieldMap };
    this._sourceFields = { ...this._sourceFields, ...t.sourceFields };
    this._edited = true;
    this._emitMapping();
    this._runPreflight().then(() => this._render(), (e) => this._fail(e));
  }

  _rememberTemplate(mapping) {
    if (!mapping.saveAsTemplate) return;
    const list = (storage.get(TEMPLATES_KEY) ?? []).filter((t) => t.name !== mapping.saveAsTemplate.name);
    list.push({
      name: mapping.saveAsTemplate.name,
      objectName: this.objectName,
      columns: this._columns().map((c) => c.name),
      fieldMap: mapping.fieldMap,
      sourceFields: mapping.sourceFields,
    });
    storage.set(TEMPLATES_KEY, list.slice(-50));
  }

  // ---- step 4: the full check ----------------------------------------------------------------

  async _check() {
    const file = this._file;
    const stop = new AbortController();
    const both = AbortSignal.any ? AbortSignal.any([stop.signal, this._abort.signal]) : stop.signal;
    this._checking = { stop, done: 0, total: file.size };
    this._render();
    this._focus('check-heading');
    try {
      const { preflight } = await this._preflightModule();
      const pf = await preflight(
        file,
        this._preflightOptions({
          full: true,
          signal: both,
          onProgress: (p) => {
            if (!this._checking) return;
            this._checking.done = p.bytesRead ?? p.loaded ?? p.done ?? 0;
            this._checking.total = p.totalBytes ?? p.total ?? file.size;
            this._renderCheckProgress();
          },
        }),
      );
      if (file !== this._file) return;
      this._full = pf;
      this._checking = null;
      this._render();
      const p = pf.prediction;
      this._say(this._t('predicted', { valid: this._fmt(p.validRows), read: this._fmt(p.readRows), invalid: this._fmt(p.invalidRows) }));
      this._focus('check-heading');
    } catch (e) {
      this._checking = null;
      this._render();
      if (e?.kind === 'aborted' || e?.name === 'AbortError' || e?.code === 'ABORTED') this._say(this._t('checkStopped'));
      else this._fail(e);
    }
  }

  // ---- steps 5 to 7: upload, job, result -------------------------------------------------------

  async _startImport(resumeRecord) {
    const file = this._file;
    const client = this._clientOrThrow();
    const record = resumeRecord ?? null;
    const mapping = record ? record.mapping : this._mapping();
    if (record) {
      this._object = record.objectName;
      this._mode = mapping.importMode;
      if (record.dialect) {
        this._dialect = { ...this._dialect, ...record.dialect };
        this._overridden = true;
      }
    }
    this._rememberTemplate(mapping);
    this._step = 'upload';
    this._progress = { phase: 'upload', loaded: 0, total: file.size, bytesPerSecond: 0, etaSeconds: null };
    this._render();
    this._focus('upload-heading');
    const signal = this._abort.signal;
    try {
      // The API reads UTF-8 with commas: any other file is re-written on
      // the way up, part by part, from a full preflight that also gives
      // the re-written size.
      let source = file;
      const needsNormalising = record ? !!record.normalised : !!(this._full ?? this._pf)?.needsNormalising;
      if (needsNormalising) {
        const full = this._full ?? (await this._fullForUpload(file, signal));
        const { normalised } = await this._preflightModule();
        source = normalised(file, full);
      }
      let job = record?.job;
      if (!job) {
        job = await client.createJob({ objectName: this.objectName, fileName: file.name, fileSize: source.size }, { signal });
        const { encoding, delimiter, hasHeader } = this._dialect ?? {};
        storage.set(this._jobKey(file), {
          job,
          objectName: this.objectName,
          mapping,
          normalised: needsNormalising,
          dialect: this._overridden ? { encoding, delimiter, hasHeader } : null,
          savedAt: Date.now(),
        });
      }
      this._jobId = job.jobId;
      this._emit('status', { jobId: job.jobId, stage: 'upload', state: 'pending' });
      const options = {
        resumeKey: `${job.jobId}:${file.name}:${file.size}:${file.lastModified}`,
        ...this.uploadOptions,
        signal,
        onProgress: (p) => {
          this._progress = p;
          this._renderProgress();
          // Announced at each quarter, not at every part.
          const quarter = p.total > 0 && p.phase === 'upload' ? Math.floor((4 * p.loaded) / p.total) : 0;
          if (quarter > (this._quarter ?? 0) && quarter < 4) this._say(this._t('uploadedPart', { percent: quarter * 25, name: file.name }));
          this._quarter = quarter;
          this._emit('progress', p);
        },
      };
      const upload = record ? client.resumeUpload(job, source, options) : client.upload(job, source, options);
      this._upload = upload;
      this._renderUploadControls();
      await upload.done;
      this._upload = null;
      storage.remove(this._jobKey(file));
      this._say(this._t('uploaded', { size: bytes(file.size) }));
      const sent = { ...mapping };
      if (sent.saveAsTemplate && this.getAttribute('save-templates') !== 'api') delete sent.saveAsTemplate;
      await client.setMapping(job.jobId, sent, { signal });
      await client.start(job.jobId, {}, { signal });
      this._step = 'job';
      this._render();
      this._focus('job-heading');
      const final = await client.waitForCompletion(job.jobId, {
        ...this.pollOptions,
        signal,
        onStatus: (s) => {
          if (s.stage !== this._status?.stage || s.state !== this._status?.state) this._say(this._t('jobStage', { state: s.state, stage: s.stage }));
          this._status = s;
          this._renderStatus();
          this._emit('status', { ...s, jobId: job.jobId });
        },
      });
      this._status = final;
      await this._finish(job.jobId, final);
    } catch (e) {
      this._upload = null;
      if (this._cancelled) {
        this._cancelled = false;
        return;
      }
      this._fail(e);
      this._renderUploadControls();
    }
  }

  /** The full preflight a normalised upload needs, its progress shown as the upload's first phase. */
  async _fullForUpload(file, signal) {
    const { preflight } = await this._preflightModule();
    const full = await preflight(
      file,
      this._preflightOptions({
        full: true,
        signal,
        mapping: null,
        onProgress: (p) => {
          this._progress = { phase: 'prepare', loaded: p.loaded, total: p.total };
          this._renderProgress();
        },
      }),
    );
    this._full = full;
    return full;
  }

  async _finish(jobId, final) {
    this._step = 'result';
    this._rejected = [];
    this._render();
    if (final.state === 'completed') {
      this._say(this._t('done', { valid: this._fmt(final.validRows), read: this._fmt(final.readRows), rate: this._fmt(Math.round(final.successRate * 1000) / 10) }));
    } else this._say(this._t('failed', { message: final.errorMessage ?? final.state }), true);
    this._focus('result-heading');
    this._emit('done', { ...final, jobId });
    if (final.invalidRows > 0) {
      try {
        const rows = this._clientOrThrow().errorRows(jobId, { signal: this._abort.signal });
        for await (const row of rows) {
          this._rejected.push(row);
          if (this._rejected.length >= SHOWN_REJECTED) break;
        }
        this._renderResult();
      } catch (e) {
        this._fail(e);
      }
    }
  }

  _pause() {
    this._upload?.pause();
    this._renderUploadControls();
    const p = this._progress ?? {};
    this._say(this._t('paused', { loaded: bytes(p.loaded), total: bytes(p.total) }));
    this._focus('resume');
  }

  _resumeUpload() {
    this._upload?.resume();
    this._renderUploadControls();
    this._say('');
    this._focus('pause');
  }

  _cancel() {
    const file = this._file;
    this._cancelled = true;
    this._upload?.abort();
    this._upload = null;
    storage.remove(this._jobKey(file));
    this._abort.abort();
    this._abort = new AbortController();
    this._step = 'review';
    this._progress = null;
    this._render();
    this._say(this._t('cancelled'));
    this._focus('review-heading');
  }

  /**
   * Writes every rejected row as CSV: straight into a file the user picks
   * where the File System Access API exists, else into a Blob made of
   * chunks (held by the browser's blob store, not the page's heap) that is
   * then downloaded. Rows are streamed from `errorRows` either way.
   */
  async _download() {
    const jobId = this._jobId;
    const name = `${(this._file?.name ?? 'import').replace(/\.[^.]*$/, '')}-rejected.csv`;
    let sink;
    if (typeof globalThis.showSaveFilePicker === 'function') {
      try {
        const handle = await globalThis.showSaveFilePicker({ suggestedName: name, types: [{ description: 'CSV', accept: { 'text/csv': ['.csv'] } }] });
        const writable = await handle.createWritable();
        sink = { write: (text) => writable.write(text), close: () => writable.close(), abort: () => writable.abort() };
      } catch (e) {
        if (e?.name === 'AbortError') return;
        sink = null;
      }
    }
    const parts = [];
    sink ??= {
      write: (text) => parts.push(new Blob([text], { type: 'text/csv' })),
      close: () => {
        const url = URL.createObjectURL(new Blob(parts, { type: 'text/csv' }));
        const a = h('a', { href: url, download: name, hidden: true });
        this._root.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      },
      abort: () => {},
    };
    let count = 0;
    let header = null;
    let chunk = '';
    try {
      for await (const row of this._clientOrThrow().errorRows(jobId, { signal: this._abort.signal })) {
        if (!header) {
          header = Object.keys(row.sourceRow ?? {});
          chunk += csvLine(['rowNumber', 'code', 'column', 'error', ...header]);
        }
        chunk += csvLine([row.rowNumber, row.code ?? '', row.column ?? '', row.error ?? '', ...header.map((k) => row.sourceRow?.[k] ?? '')]);
        count++;
        if (count % DOWNLOAD_CHUNK_ROWS === 0) {
          await sink.write(chunk);
          chunk = '';
          this._say(this._t('downloading', { rows: this._fmt(count) }));
        }
      }
      if (chunk) await sink.write(chunk);
      await sink.close();
      this._downloaded = count;
      this._say(this._t('downloaded', { rows: this._fmt(count) }));
      this._emit('download', { rows: count, fileName: name });
    } catch (e) {
      await sink.abort?.();
      this._fail(e);
    }
  }

  _another() {
    const keepObject = this._object;
    this._reset();
    this._object = keepObject;
    this._say('');
    this._render();
    this._focus('choose');
  }

  // ---- rendering ---------------------------------------------------------------------------

  _build() {
    this._built = true;
    const style = h('style', {}, CSS);
    this._main = h('div', { part: 'container' });
    this._live = h('p', { part: 'message', role: 'status', 'aria-live': 'polite', class: 'message' });
    this._root.append(style, this._main, this._live);
    this._render();
  }

  _byId(id) {
    return this._root.getElementById(`${this._id}-${id}`);
  }

  _focus(id) {
    queueMicrotask(() => this._byId(id)?.focus());
  }

  _focusStep() {
    this._focus(`${this._step}-heading`);
  }

  _renderMessage() {
    if (!this._live) return;
    this._live.textContent = this._message;
    // The results say it on screen already: announced, not shown twice.
    this._live.className = this._error ? 'message error' : this._step === 'result' ? 'message sr' : 'message';
    this._live.setAttribute('part', this._error ? 'message error' : 'message');
  }

  _render() {
    if (!this._built) return;
    const id = (s) => `${this._id}-${s}`;
    const t = (k, v) => this._t(k, v);
    const busy = this._step === 'upload' || this._step === 'job';
    const parts = [];

    // The object and the mode.
    const settings = h('div', { class: 'row', part: 'settings' });
    if (!this.getAttribute('object-name')) {
      const select = h(
        'select',
        { id: id('object'), disabled: busy || !this._objects, onchange: (e) => this._chooseObject(e.target.value) },
        this._objects ? this._objects.map((o) => h('option', { value: o.objectName, selected: o.objectName === this._object }, `${o.displayName} (${o.objectName})`)) : h('option', {}, t('objectsLoading')),
      );
      settings.append(h('span', {}, h('label', { for: id('object') }, t('object')), ' ', select));
    }
    const mode = h(
      'select',
      { id: id('mode'), disabled: busy, 'aria-describedby': id('mode-desc'), onchange: (e) => this._setMode(e.target.value) },
      MODES.map((m) => h('option', { value: m, selected: m === this.importMode }, m)),
    );
    settings.append(h('span', {}, h('label', { for: id('mode') }, t('mode')), ' ', mode));
    parts.push(settings, h('p', { id: id('mode-desc'), class: 'muted' }, t(`mode.${this.importMode}`)));
    if (this._schema) {
      parts.push(h('p', { class: 'muted', id: id('object-info') }, t('objectInfo', { fields: this._schema.fields.length, keys: this._schema.identityKeys.join(', ') || '–' })));
    }

    if (this._step === 'pick') parts.push(this._pickView(id, t));
    else {
      parts.push(h('p', { class: 'muted', part: 'file' }, h('strong', { id: id('file-name') }, this._file.name), ` — ${bytes(this._file.size)} `,
        // Before the upload, the file can still be changed.
        this._step === 'review' ? h('button', { type: 'button', part: 'button', id: id('other-file'), onclick: () => this._another() }, t('otherFile')) : null));
    }
    if (this._step === 'review') parts.push(this._reviewView(id, t));
    if (this._step === 'upload' || this._step === 'job') parts.push(this._uploadView(id, t));
    if (this._step === 'job') parts.push(this._jobView(id, t));
    if (this._step === 'result') parts.push(this._jobView(id, t), this._resultView(id, t));

    // Keep the focus on the control that had it (by id) across the re-render.
    const focused = this._root.activeElement?.id;
    this._main.replaceChildren(h('h2', { id: id('title') }, t('title')), ...parts);
    if (focused) this._root.getElementById(focused)?.focus();
    this._main.dataset.step = this._step;
    this.dataset.step = this._step;
    this._renderMessage();
  }

  _pickView(id, t) {
    const input = h('input', {
      type: 'file',
      id: id('input'),
      class: 'sr',
      accept: '.csv,.tsv,.txt,text/csv',
      tabIndex: -1,
      'aria-hidden': 'true',
      onchange: () => {
        const files = input.files;
        const file = files?.[0];
        if (files?.length > 1) this._refuse('ELEMENT.FILE.SEVERAL', this._t('notOneFile', { count: files.length }));
        else if (file) this._takeFile(file);
        input.value = '';
      },
    });
    const drop = h(
      'div',
      {
        class: 'drop',
        part: 'dropzone',
        id: id('drop'),
        ondragenter: () => this._preloadPreflight(),
        ondragover: (e) => {
          e.preventDefault();
          drop.classList.add('over');
        },
        ondragleave: () => drop.classList.remove('over'),
        ondrop: (e) => this._onDrop(e),
      },
      h('p', {}, t('drop')),
      h('p', { class: 'muted' }, t('or')),
      h('button', { type: 'button', part: 'button primary-button', class: 'primary', id: id('choose'), disabled: !this._schema, onclick: () => this._choose(input) }, t('choose')),
      input,
    );
    this._drop = drop;
    return drop;
  }

  _reviewView(id, t) {
    const section = h('section', { part: 'review', 'aria-labelledby': id('review-heading') });
    if (this._resumable) {
      section.append(
        h(
          'div',
          { class: 'banner', part: 'resume-offer', role: 'group', 'aria-labelledby': id('resume-text') },
          h('p', { id: id('resume-text') }, t('resumeOffer', { name: this._file.name })),
          h('div', { class: 'row' },
            h('button', { type: 'button', class: 'primary', part: 'button primary-button', id: id('resume-offer'), onclick: () => this._startImport(this._resumable) }, t('resume')),
            h('button', { type: 'button', part: 'button', id: id('start-over'), onclick: () => {
              storage.remove(this._jobKey(this._file));
              this._resumable = null;
              this._render();
              this._focus('review-heading');
            } }, t('startOver')),
          ),
        ),
      );
    }
    section.append(h('h3', { id: id('review-heading'), tabIndex: -1 }, t('preview')));
    // The preview comes first, from the first answer (`_runPreview`); the
    // mapping editor and the rest, from the sample's.
    const det = this._pf?.dialect ?? this._firstDialect;
    if (!det) return section;

    // Dialect: shown, and overridable.
    const d = this._dialect;
    const delimName = (c) => t(`delimiter.${(DELIMITERS.find(([x]) => x === c) ?? [, 'comma'])[1]}`);
    section.append(
      h('p', { class: 'muted', id: id('detected') }, t('detected', {
        encoding: det.encoding,
        confidence: `${Math.round((det.confidence ?? 1) * 100)} %`,
        delimiter: delimName(det.delimiter),
        lineEnding: det.lineEnding ?? '',
        bom: det.bom ? t('bom') : '',
      })),
    );
    const encodings = ENCODINGS.includes(d.encoding) ? ENCODINGS : [d.encoding, ...ENCODINGS];
    section.append(
      h('div', { class: 'row', part: 'dialect' },
        h('span', {}, h('label', { for: id('encoding') }, t('encoding')), ' ',
          h('select', { id: id('encoding'), onchange: (e) => this._override('encoding', e.target.value) }, encodings.map((e) => h('option', { value: e, selected: e === d.encoding }, e)))),
        h('span', {}, h('label', { for: id('delimiter') }, t('delimiter')), ' ',
          h('select', { id: id('delimiter'), onchange: (e) => this._override('delimiter', e.target.value) }, DELIMITERS.map(([c]) => h('option', { value: c, selected: c === d.delimiter }, delimName(c))))),
        h('span', {}, h('input', { type: 'checkbox', id: id('header'), checked: d.hasHeader !== false, onchange: (e) => this._override('hasHeader', e.target.checked) }), ' ',
          h('label', { for: id('header') }, t('hasHeader'))),
      ),
    );

    // The preview table.
    const rows = this._previewRows;
    const head = d.hasHeader !== false ? rows[0] ?? [] : (rows[0] ?? []).map((_, i) => `#${i + 1}`);
    const body = (d.hasHeader !== false ? rows.slice(1) : rows).slice(0, PREVIEW_ROWS);
    section.append(
      h('p', { class: 'muted' }, t('previewNote', { rows: body.length, name: this._file.name, size: bytes(this._file.size) })),
      h('div', { class: 'scroll', part: 'preview', tabIndex: 0, role: 'region', 'aria-label': t('preview') },
        h('table', { id: id('preview'), class: 'preview' },
          h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, body.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))),
        ),
      ),
    );

    if (!this._pf) return section;

    // The mapping editor.
    section.append(h('h3', { id: id('mapping-heading') }, t('mapping')));
    const template = this._matchingTemplate();
    if (template) {
      section.append(h('div', { class: 'banner', part: 'template-offer' }, h('p', {}, t('templateOffer', { name: template.name })),
        h('button', { type: 'button', part: 'button', id: id('use-template'), onclick: () => this._applyTemplate(template) }, t('applyTemplate'))));
    }
    // The key and two-sources rules are shown from the mapping as it
    // stands (`_blockers`), without waiting for the preflight.
    const shown = (this._pf.problems ?? []).filter((p) => p.code !== 'KEY_NOT_MAPPED' && p.code !== 'FIELD_MAPPED_TWICE');
    const general = shown.filter((p) => p.column == null);
    if (general.length) section.append(h('ul', { class: 'problem', part: 'problems', id: id('problems') }, general.map((p) => h('li', {}, p.message ?? p.code))));
    const fields = this._schema?.fields ?? [];
    const suggestions = new Map((this._pf.suggestions ?? []).map((s) => [s.column, s]));
    section.append(
      h('div', { class: 'scroll mapping-box', part: 'mapping', tabIndex: 0, role: 'region', 'aria-labelledby': id('mapping-heading') },
        // Explicit roles: narrow layouts show the rows as blocks.
        h('table', { id: id('mapping'), class: 'mapping', role: 'table', 'aria-labelledby': id('mapping-heading') },
          h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, [t('column'), t('type'), t('samples'), t('field'), t('suggestion')].map((x) => h('th', { scope: 'col', role: 'columnheader' }, x)))),
          h('tbody', { role: 'rowgroup' }, this._columns().map((c, i) => {
            const s = suggestions.get(c.name);
            const problems = shown.filter((p) => p.column === c.name);
            const select = h(
              'select',
              { id: id(`field-${i}`), 'aria-label': t('fieldFor', { name: c.name }), 'data-column': c.name, onchange: (e) => this._setField(c.name, e.target.value) },
              h('option', { value: '' }, t('ignore')),
              fields.map((f) => h('option', { value: f.name, selected: this._fieldMap[c.name] === f.name }, t(f.identityKey ? 'keyFieldOption' : 'fieldOption', { name: f.name, type: f.type }))),
            );
            return h('tr', { 'data-column': c.name, role: 'row' },
              h('th', { scope: 'row', role: 'rowheader' }, c.name, problems.map((p) => h('div', { class: 'problem', part: 'problem' }, p.message ?? p.code))),
              h('td', { role: 'cell', 'data-label': t('type') }, c.inferredType ?? '', c.misfitCount ? h('div', { class: 'muted' }, t('misfits', { count: this._fmt(c.misfitCount), examples: (c.misfits ?? []).slice(0, 2).join(', ') })) : null),
              h('td', { role: 'cell', class: 'muted', 'data-label': t('samples') }, (c.examples ?? []).slice(0, 3).join(', ')),
              h('td', { role: 'cell' }, select),
              h('td', { role: 'cell', class: 'muted', 'data-label': t('suggestion') }, s?.field ? `${s.field}: ${t('confidence', { score: Math.round((s.score ?? 0) * 100), reason: s.reason ?? '' })}` : '–'),
            );
          })),
        ),
      ),
    );
    section.append(h('ul', { class: 'problem', part: 'blockers', id: id('blockers'), 'aria-live': 'polite' }));
    section.append(
      h('div', { class: 'row' },
        h('span', {}, h('input', { type: 'checkbox', id: id('save-template'), checked: this._saveTemplate, onchange: (e) => {
          this._saveTemplate = e.target.checked;
          this._byId('template-name').disabled = !e.target.checked;
        } }), ' ', h('label', { for: id('save-template') }, t('saveTemplate'))),
        h('span', {}, h('label', { for: id('template-name'), class: 'sr' }, t('templateName')),
          h('input', { type: 'text', id: id('template-name'), value: this._templateName, disabled: !this._saveTemplate, placeholder: t('templateName'), oninput: (e) => (this._templateName = e.target.value) })),
      ),
    );

    // Prediction (sample, or the full check), and the buttons.
    section.append(this._checkView(id, t));
    section.append(
      h('div', { class: 'row', part: 'actions' },
        h('button', { type: 'button', part: 'button', id: id('check'), disabled: !!this._checking, onclick: () => this._check() }, t('check')),
        h('button', { type: 'button', part: 'button primary-button', class: 'primary', id: id('start'), onclick: () => this._startImport() }, t('start')),
      ),
    );
    queueMicrotask(() => this._renderReviewState());
    return section;
  }

  /** The blockers list and the buttons' state, after a mapping change. */
  _renderReviewState() {
    const list = this._byId('blockers');
    if (!list) return;
    const blockers = this._blockers();
    list.replaceChildren(...blockers.map((b) => h('li', {}, b)));
    const start = this._byId('start');
    const check = this._byId('check');
    if (start) start.disabled = blockers.length > 0;
    if (check) check.disabled = blockers.length > 0 || !!this._checking;
  }

  _checkView(id, t) {
    const box = h('div', { part: 'check', id: id('check-box') }, h('h3', { id: id('check-heading'), tabIndex: -1 }, t('checkHeading')));
    if (this._checking) {
      const c = this._checking;
      box.append(
        h('progress', { id: id('check-progress'), max: c.total || 1, value: c.done, 'aria-label': t('checkHeading'), part: 'progress' }),
        h('p', { id: id('check-text'), class: 'muted' }, t('checking', { name: this._file.name, done: bytes(c.done), total: bytes(c.total) })),
        h('button', { type: 'button', part: 'button', id: id('cancel-check'), onclick: () => c.stop.abort() }, t('cancelCheck')),
      );
      return box;
    }
    const pf = this._full ?? this._pf;
    const p = pf?.prediction;
    if (!p) return box;
    box.append(
      h('p', { id: id('prediction'), 'data-full': this._full ? 'true' : 'false' }, t('predicted', { valid: this._fmt(p.validRows), read: this._fmt(p.readRows), invalid: this._fmt(p.invalidRows) })),
    );
    if (!this._full && pf.sampled) box.append(h('p', { class: 'muted' }, t('sampleNote', { size: bytes(pf.bytesExamined ?? 1 << 20) })));
    box.append(this._bars(p.errorSummary, p.invalidRows, 'predicted-summary'));
    if (p.firstErrors?.length) {
      box.append(h('h3', {}, t('firstProblems')), this._errorTable(p.firstErrors, 'predicted-errors'));
    }
    return box;
  }

  _bars(summary, total, key) {
    const entries = Object.entries(summary ?? {}).sort((a, b) => b[1] - a[1]);
    if (!entries.length) return h('div', { id: `${this._id}-${key}` });
    const max = Math.max(...entries.map(([, n]) => n));
    return h('div', { id: `${this._id}-${key}`, class: 'bars', part: 'error-summary' },
      entries.map(([code, n]) => h('div', { class: 'bar', 'data-code': code },
        h('span', {}, code),
        h('i', { style: `width:${Math.max(1, Math.round((n / max) * 100))}%`, 'aria-hidden': 'true' }),
        h('span', {}, `${this._fmt(n)}${total ? ` (${Math.round((n / total) * 100)} %)` : ''}`),
      )),
    );
  }

  _errorTable(rows, key) {
    const t = (k) => this._t(k);
    return h('div', { class: 'scroll', part: 'table', tabIndex: 0, role: 'region', 'aria-label': t('rejectedRows') },
      h('table', { id: `${this._id}-${key}` },
        h('thead', {}, h('tr', {}, [t('row'), t('column'), t('error')].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, rows.map((r) => h('tr', {}, h('td', {}, r.rowNumber), h('td', {}, r.column ?? ''), h('td', {}, `${r.error ?? ''}${r.code ? ` (${r.code})` : ''}`)))),
      ),
    );
  }

  _uploadView(id, t) {
    const box = h('section', { part: 'upload', 'aria-labelledby': id('upload-heading') },
      h('h3', { id: id('upload-heading'), tabIndex: -1 }, t('upload')),
      h('progress', { id: id('progress'), part: 'progress', max: 1, value: 0, 'aria-label': t('upload') }),
      h('p', { id: id('progress-text'), class: 'muted' }),
      h('div', { class: 'row', part: 'upload-controls' },
        h('button', { type: 'button', part: 'button', id: id('pause'), onclick: () => this._pause() }, t('pause')),
        h('button', { type: 'button', part: 'button', id: id('resume'), onclick: () => this._resumeUpload() }, t('resumeUpload')),
        h('button', { type: 'button', part: 'button', id: id('cancel'), onclick: () => this._cancel() }, t('cancel')),
      ),
    );
    queueMicrotask(() => {
      this._renderProgress();
      this._renderUploadControls();
    });
    return box;
  }

  _renderProgress() {
    const bar = this._byId('progress');
    const text = this._byId('progress-text');
    const p = this._progress;
    if (!bar || !text || !p) return;
    bar.max = p.total || 1;
    bar.value = p.loaded;
    const name = this._file?.name ?? '';
    if (p.phase === 'prepare') text.textContent = this._t('preparing', { loaded: bytes(p.loaded), total: bytes(p.total) });
    else if (p.phase === 'commit') text.textContent = this._t('committing');
    else if (p.phase === 'complete') text.textContent = this._t('uploaded', { size: bytes(p.total) });
    else {
      text.textContent = this._t('uploading', {
        name,
        loaded: bytes(p.loaded),
        total: bytes(p.total),
        rate: p.bytesPerSecond > 0 ? this._t('rate', { rate: bytes(Math.round(p.bytesPerSecond)) }) : '',
        eta: p.etaSeconds != null ? this._t('eta', { eta: duration(p.etaSeconds) }) : '',
      });
    }
    text.dataset.loaded = String(p.loaded);
    text.dataset.phase = p.phase;
  }

  _renderUploadControls() {
    const pause = this._byId('pause');
    const resume = this._byId('resume');
    const cancel = this._byId('cancel');
    if (!pause) return;
    const active = !!this._upload && this._step === 'upload';
    const paused = !!this._upload?.paused;
    pause.hidden = paused;
    resume.hidden = !paused;
    pause.disabled = !active;
    resume.disabled = !active;
    cancel.disabled = this._step !== 'upload';
  }

  _jobView(id, t) {
    const box = h('section', { part: 'status', 'aria-labelledby': id('job-heading') },
      h('h3', { id: id('job-heading'), tabIndex: -1 }, t('job')),
      h('dl', { id: id('counts') }),
    );
    queueMicrotask(() => this._renderStatus());
    return box;
  }

  _renderStatus() {
    const dl = this._byId('counts');
    if (!dl) return;
    const s = this._status ?? { state: 'ready', stage: 'queued' };
    const rows = [
      ['state', s.state],
      ['stage', s.stage],
      ['readRows', this._fmt(s.readRows ?? 0)],
      ['validRows', this._fmt(s.validRows ?? 0)],
      ['invalidRows', this._fmt(s.invalidRows ?? 0)],
      ['mergedInserts', this._fmt(s.mergedInserts ?? 0)],
      ['mergedUpdates', this._fmt(s.mergedUpdates ?? 0)],
    ];
    dl.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, this._t(k)), h('dd', { 'data-key': k }, v ?? '')]));
    dl.dataset.state = s.state;
  }

  _resultView(id, t) {
    const box = h('section', { part: 'results', 'aria-labelledby': id('result-heading'), id: id('results') });
    this._resultBox = box;
    queueMicrotask(() => this._renderResult());
    return box;
  }

  _renderResult() {
    const box = this._byId('results');
    if (!box) return;
    const id = (s) => `${this._id}-${s}`;
    const t = (k, v) => this._t(k, v);
    const s = this._status;
    box.replaceChildren(h('h3', { id: id('result-heading'), tabIndex: -1 }, t('result')));
    if (s) {
      box.append(h('p', { id: id('success-rate'), 'data-rate': String(s.successRate) }, t('done', { valid: this._fmt(s.validRows), read: this._fmt(s.readRows), rate: this._fmt(Math.round(s.successRate * 1000) / 10) })));
      if (s.errorSummary) box.append(h('h3', {}, t('errorSummary')), this._bars(s.errorSummary, s.invalidRows, 'summary'));
    }
    if (this._rejected.length) box.append(h('h3', {}, t('rejectedRows')), this._errorTable(this._rejected, 'rejected'));
    const row = h('div', { class: 'row', part: 'actions' });
    if (s?.invalidRows > 0) row.append(h('button', { type: 'button', part: 'button', id: id('download'), onclick: () => this._download() }, t('download')));
    row.append(h('button', { type: 'button', part: 'button primary-button', class: 'primary', id: id('another'), onclick: () => this._another() }, t('another')));
    box.append(row);
  }

  _renderCheckProgress() {
    const c = this._checking;
    const bar = this._byId('check-progress');
    const text = this._byId('check-text');
    if (!c || !bar) return;
    bar.max = c.total || 1;
    bar.value = c.done;
    text.textContent = this._t('checking', { name: this._file.name, done: bytes(c.done), total: bytes(c.total) });
  }
}

/** One CSV line (RFC 4180 quoting), CRLF-terminated. */
function csvLine(values) {
  return `${values
    .map((v) => {
      const s = String(v ?? '');
      return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    })
    .join(',')}\r\n`;
}

if (typeof customElements !== 'undefined' && !customElements.get('import-uploader')) {
  customElements.define('import-uploader', ImportUploaderElement);
}
