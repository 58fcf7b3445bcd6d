// What `import-uploader` prints: progress (redrawn lines on a terminal,
// plain lines otherwise, NDJSON events with --json), one-line errors with
// the API's code, correlation id and what to do next, the exit code an
// error maps to, and the summary table.

import { EXIT } from './args.js';

const KIB = 1024;

export function bytes(n) {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= KIB && i < units.length - 1) {
    n /= KIB;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (v) => String(v).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

const count = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '-');

/** The exit code an error means (see EXIT). */
export function exitCodeOf(e) {
  if (!e || typeof e !== 'object') return EXIT.JOB_FAILED;
  if (e.exitCode) return e.exitCode;
  if (e.kind === 'aborted') return EXIT.INTERRUPTED;
  if (e.kind === 'validation' && /^FILE_/.test(e.rule ?? '')) return EXIT.FILE;
  if (e.code === 'TOKEN_PROVIDER_FAILED') return EXIT.AUTH;
  if (e.status === 401 || e.status === 403 || /\.AUTH\.|^BROKER\.TICKET\./.test(e.code ?? '')) return EXIT.AUTH;
  if (e.kind === 'expired' || e.retryable || e.kind === 'network') return EXIT.RETRY_EXHAUSTED;
  if (e.kind === 'storage' && (e.status === null || e.status >= 500 || e.status === 429 || e.status === 408)) {
    return EXIT.RETRY_EXHAUSTED;
  }
  if (e.kind === 'validation') return EXIT.USAGE;
  return EXIT.JOB_FAILED;
}

/** What to do next about `e` (one sentence). */
export function hintOf(e, code = exitCodeOf(e)) {
  switch (code) {
    case EXIT.FILE:
      return 'check the path and permissions';
    case EXIT.AUTH:
      return e.status === 403
        ? 'the credentials lack a scope this needs (cdp:imports:write, cdp:imports:read, cdp:metadata:read)'
        : 'check IMPORT_TOKEN, or IMPORT_CLIENT_ID / IMPORT_CLIENT_SECRET / IMPORT_TOKEN_URL, and --api';
    case EXIT.RETRY_EXHAUSTED:
      return e.kind === 'expired'
        ? 'run `import-uploader resume`: it starts a new job for this file'
        : 'the service or the network kept failing; run `import-uploader resume` to continue from the parts already stored';
    case EXIT.INTERRUPTED:
      return 'run `import-uploader resume` to continue';
    case EXIT.USAGE:
      return 'fix the command or the mapping and run it again';
    default:
      return e.jobId ? `see \`import-uploader status ${e.jobId}\` and \`import-uploader errors ${e.jobId}\`` : 'see the message';
  }
}

/** The one-line message of an error: code, message, correlation id, hint. */
export function errorLine(file, e) {
  const code = exitCodeOf(e);
  const parts = [];
  if (file) parts.push(`${file}:`);
  parts.push(`error${e.code ? ` ${e.code}` : ''}${e.status ? ` (HTTP ${e.status})` : ''}:`);
  parts.push(String(e.message ?? e).replace(/\s+/g, ' ').trim());
  if (e.correlationId) parts.push(`[correlation id ${e.correlationId}]`);
  if (e.jobId) parts.push(`[job ${e.jobId}]`);
  parts.push(`— ${hintOf(e, code)}.`);
  return parts.join(' ');
}

/** The `error` event of --json. */
export function errorEvent(file, e) {
  const code = exitCodeOf(e);
  return {
    event: 'error',
    file: file ?? null,
    jobId: e.jobId ?? null,
    kind: e.kind ?? null,
    code: e.code ?? null,
    status: e.status ?? null,
    correlationId: e.correlationId ?? null,
    message: String(e.message ?? e),
    hint: hintOf(e, code),
    exitCode: code,
  };
}

/**
 * Progress for several files at once. `mode` is `tty` (one line per file,
 * redrawn), `plain` (a line per change worth telling: job, every 10 %,
 * stage changes, the end) or `json` (NDJSON events on stdout).
 */
export class Reporter {
  constructor(mode, { out = process.stdout, err = process.stderr } = {}) {
    this.mode = mode;
    this.out = out;
    this.err = err;
    this.rows = new Map();
    this.drawn = 0;
    this.timer = undefined;
  }

  emit(event) {
    this.out.write(JSON.stringify(event) + '\n');
  }

  /** A plain line (text modes; on a TTY above the progress lines). */
  say(line, stream = this.err) {
    if (this.mode === 'json') return;
    if (this.mode === 'tty') this.clear();
    stream.write(line + '\n');
    if (this.mode === 'tty') this.draw();
  }

  row(file) {
    let r = this.rows.get(file);
    if (!r) {
      r = { file, text: `${file}  waiting`, decile: -1, stage: undefined };
      this.rows.set(file, r);
    }
    return r;
  }

  job(file, job, resumed) {
    const r = this.row(file);
    r.jobId = job.jobId;
    if (this.mode === 'json') {
      this.emit({ event: 'job', file, jobId: job.jobId, expiresAt: job.expiresAt ?? null, resumed: Boolean(resumed) });
    } else if (this.mode === 'plain') {
      this.say(`${file}: job ${job.jobId}${resumed ? ' (resumed)' : ''}, upload URL valid until ${job.expiresAt ?? '?'}`);
    }
    r.text = `${file}  ${job.jobId}  uploading`;
    this.schedule();
  }

  progress(file, p) {
    const r = this.row(file);
    const pct = p.total > 0 ? Math.floor((p.loaded / p.total) * 100) : 100;
    if (this.mode === 'json') {
      const now = Date.now();
      if (p.phase === 'upload' && r.lastEmit && now - r.lastEmit < 1000 && p.loaded < p.total) return;
      r.lastEmit = now;
      this.emit({
        event: 'progress',
        file,
        jobId: r.jobId ?? null,
        phase: p.phase,
        loaded: p.loaded,
        total: p.total,
        partsDone: p.partsDone,
        partsTotal: p.partsTotal,
        bytesPerSecond: Math.round(p.bytesPerSecond),
        etaSeconds: p.etaSeconds === null ? null : Math.round(p.etaSeconds),
      });
      return;
    }
    const line = `${file}  ${String(pct).padStart(3)}%  ${bytes(p.loaded)} / ${bytes(p.total)}  ${bytes(p.bytesPerSecond)}/s  ETA ${duration(p.etaSeconds)}  ${p.phase === 'upload' ? 'uploading' : p.phase}`;
    r.text = line;
    if (this.mode === 'plain') {
      const decile = Math.floor(pct / 10);
      if (decile !== r.decile) {
        r.decile = decile;
        this.say(line);
      }
      return;
    }
    this.schedule();
  }

  status(file, s) {
    const r = this.row(file);
    if (this.mode === 'json') {
      this.emit({
        event: 'status',
        file,
        jobId: r.jobId ?? null,
        state: s.state,
        stage: s.stage,
        readRows: s.readRows,
        validRows: s.validRows,
        invalidRows: s.invalidRows,
      });
      return;
    }
    const line = `${file}  ${r.jobId ?? ''}  ${s.state}/${s.stage}  read ${count(s.readRows)}  valid ${count(s.validRows)}  invalid ${count(s.invalidRows)}`;
    r.text = line;
    if (this.mode === 'plain') {
      const key = `${s.state}/${s.stage}`;
      if (key !== r.stage) {
        r.stage = key;
        this.say(line);
      }
      return;
    }
    this.schedule();
  }

  done(file, result) {
    const r = this.row(file);
    if (this.mode === 'json') {
      this.emit({ event: 'done', ...result });
    } else {
      r.text = `${file}  ${result.jobId}  ${result.state}  read ${count(result.readRows)}  imported ${count(result.importedRows)}  rejected ${count(result.rejectedRows)}`;
      if (this.mode === 'plain') this.say(r.text);
      else this.schedule();
    }
  }

  error(file, e) {
    if (this.mode === 'json') this.emit(errorEvent(file, e));
    else this.say(errorLine(file, e));
    const r = this.rows.get(file);
    if (r) {
      r.text = `${file}  failed (${e.code ?? e.kind ?? 'error'})`;
      this.schedule();
    }
  }

  // ---- terminal redraw ----

  schedule() {
    if (this.mode !== 'tty' || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  }

  clear() {
    if (this.drawn > 0) this.err.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  draw() {
    if (this.mode !== 'tty') return;
    this.clear();
    const width = this.err.columns || 120;
    const lines = [...this.rows.values()].map((r) => r.text.slice(0, width - 1));
    if (lines.length) this.err.write(lines.join('\n') + '\n');
    this.drawn = lines.length;
  }

  /** Stops redrawing (leaves the last lines on screen). */
  close() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.mode === 'tty') this.draw();
    this.drawn = 0;
  }
}

/** The summary table (file, job, rows read, imported, rejected, success rate, time). */
export function summaryTable(results) {
  const head = ['file', 'job', 'rows read', 'imported', 'rejected', 'success', 'time', 'result'];
  const rows = results.map((r) => [
    r.file,
    r.jobId ?? '-',
    count(r.readRows),
    count(r.importedRows),
    count(r.rejectedRows),
    typeof r.successRate === 'number' ? `${(r.successRate * 100).toFixed(1)} %` : '-',
    duration(r.seconds),
    r.result,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const right = new Set([2, 3, 4, 5, 6]);
  const fmt = (cells) =>
    cells.map((c, i) => (right.has(i) ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}
