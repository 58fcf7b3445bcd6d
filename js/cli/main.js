#!/usr/bin/env node
// `import-uploader`: backfills from disk through the Import Jobs API, with
// the package's own ImportClient. See the README's "Backfills from disk"
// for the commands, the journal, the --json events and the exit codes.

import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { createInterface } from 'node:readline/promises';

import { ImportClient } from '../entry-node.js';
import { FileSource } from '../node-files.js';
import { EXIT, USAGE, UsageError, parseArgs, parseCount, parseSize } from './args.js';
import { expand } from './files.js';
import { Journal, defaultJournal, partStore, storedParts, JOURNAL_DIR } from './journal.js';
import { Reporter, errorEvent, errorLine, exitCodeOf, summaryTable } from './output.js';

/** On resume, an upload URL this close to its expiry counts as expired. */
const EXPIRY_MARGIN_MS = 30_000;
/** Most severe first: the exit code of a run with several outcomes. */
const SEVERITY = [EXIT.INTERRUPTED, EXIT.AUTH, EXIT.FILE, EXIT.RETRY_EXHAUSTED, EXIT.JOB_FAILED, EXIT.REJECTS, EXIT.OK];

const worst = (codes) => SEVERITY.find((c) => codes.includes(c)) ?? EXIT.OK;

function fail(code, message) {
  return Object.assign(new Error(message), { exitCode: code });
}

// ---- credentials ----------------------------------------------------------

/** `ImportClient` options from --api / IMPORT_API_URL and the environment. */
function clientOptions(flags, env = process.env) {
  const baseUrl = flags.api ?? env.IMPORT_API_URL;
  if (!baseUrl) throw new UsageError('give the API URL with --api URL or IMPORT_API_URL (e.g. https://api.example.com/public/v1)');
  if (!/^https?:\/\/[^/]/.test(baseUrl)) throw new UsageError(`--api must be an http(s) URL, got \`${baseUrl}\``);
  if (/^https?:\/\/[^/]*@/.test(baseUrl)) throw new UsageError('--api must not carry credentials (user:password@): use the environment variables');
  if (env.IMPORT_TOKEN) return { baseUrl, token: env.IMPORT_TOKEN };
  const { IMPORT_CLIENT_ID: id, IMPORT_CLIENT_SECRET: secret, IMPORT_TOKEN_URL: tokenUrl } = env;
  if (id || secret || tokenUrl) {
    const missing = [['IMPORT_CLIENT_ID', id], ['IMPORT_CLIENT_SECRET', secret], ['IMPORT_TOKEN_URL', tokenUrl]]
      .filter(([, v]) => !v)
      .map(([k]) => k);
    if (missing.length) throw fail(EXIT.AUTH, `OAuth client credentials need ${missing.join(' and ')} too`);
    return { baseUrl, getToken: () => exchange(tokenUrl, id, secret) };
  }
  if (env.IMPORT_TICKET) return { baseUrl, token: env.IMPORT_TICKET };
  throw fail(
    EXIT.AUTH,
    'no credentials: set IMPORT_TOKEN, or IMPORT_CLIENT_ID, IMPORT_CLIENT_SECRET and IMPORT_TOKEN_URL (OAuth client credentials), or IMPORT_TICKET with a broker URL',
  );
}

/** OAuth 2.0 client credentials (RFC 6749 §4.4): a fresh access token. */
async function exchange(tokenUrl, id, secret) {
  const basic = Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
  const resp = await fetch(tokenUrl, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'grant_type=client_credentials',
    redirect: 'error',
  });
  const text = await resp.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = {};
  }
  if (!resp.ok || typeof body.access_token !== 'string') {
    throw new Error(
      `the token endpoint answered ${resp.status}${body.error ? ` ${body.error}` : ''}${body.error_description ? `: ${body.error_description}` : ''}`,
    );
  }
  return body.access_token;
}

// ---- interruption ---------------------------------------------------------

/** Ctrl-C / SIGTERM abort the uploads (the journal keeps what is stored); a second one exits at once. */
function interruption(reporter) {
  const controller = new AbortController();
  let count = 0;
  const on = (sig) => () => {
    count += 1;
    if (count > 1) process.exit(EXIT.INTERRUPTED);
    reporter.say(`${sig}: stopping; run \`import-uploader resume\` to continue (again to quit at once)`);
    controller.abort(Object.assign(new Error(`interrupted by ${sig}`), { exitCode: EXIT.INTERRUPTED }));
  };
  const int = on('SIGINT');
  const term = on('SIGTERM');
  process.on('SIGINT', int);
  process.on('SIGTERM', term);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
    },
  };
}

// ---- one file -------------------------------------------------------------

function expired(job) {
  const at = Date.parse(job?.expiresAt ?? '');
  return Number.isFinite(at) && at - EXPIRY_MARGIN_MS <= Date.now();
}

/**
 * Carries the journal `entry` of one file to its end: create the job,
 * upload (resuming from the parts the journal records, on the same job
 * while its URL is valid, else on a new one), mapping, start, follow. A job
 * already started is followed, never started again.
 */
async function runEntry(ctx, entry) {
  const { client, journal, reporter, signal } = ctx;
  const label = entry.label;
  const began = Date.now();
  let resumed = entry.step !== 'creating' || Boolean(entry.parts);
  let source;
  let upload;
  const open = async () => {
    source ??= await FileSource.open(entry.path);
    if (source.size !== entry.size || source.lastModified !== entry.mtimeMs) {
      throw fail(
        EXIT.FILE,
        `${entry.path} changed since its import began (${entry.size} bytes then, ${source.size} now): delete ${entry.journalFile} to import it as a new file`,
      );
    }
    if (!entry.normalise) return source;
    // A file in another encoding or with another delimiter goes up as the
    // UTF-8 comma CSV the API reads, re-written part by part.
    if (!upload) {
      const { normalised } = await import('../preflight-node.js');
      upload = normalised(source, { dialect: entry.normalise.dialect, normalisedSize: entry.normalise.size, sampled: false, needsNormalising: true });
    }
    return upload;
  };
  try {
    for (;;) {
      if (entry.step === 'creating') {
        const request = { ...entry.create, fileName: entry.fileName, fileSize: entry.normalise?.size ?? entry.size };
        await open();
        const job = await client.createJob(request, { idempotencyKey: entry.idempotencyKey, signal });
        entry.job = job;
        entry.parts = null;
        entry.step = 'uploading';
        await journal.put(entry);
      }
      if (entry.step === 'uploading') {
        // Only a job read back from the journal can have expired: a job
        // created just now is uploaded at once (the engine fails with kind
        // `expired` should its URL expire on the way).
        if (resumed && expired(entry.job)) {
          reporter.say(`${label}: the upload URL of job ${entry.job.jobId} expired at ${entry.job.expiresAt}; starting a new job (the old one was never started)`);
          entry.abandonedJobs = [...(entry.abandonedJobs ?? []), entry.job.jobId];
          entry.idempotencyKey = randomUUID();
          entry.step = 'creating';
          entry.parts = null;
          resumed = false;
          await journal.put(entry);
          continue;
        }
        reporter.job(label, entry.job, resumed);
        const stored = storedParts(entry);
        if (resumed && stored > 0) reporter.say(`${label}: resuming job ${entry.job.jobId}, ${stored} part(s) already stored`);
        const upload = client.resumeUpload(entry.job, await open(), {
          concurrency: entry.concurrency,
          partSize: entry.partSize,
          resumeStore: partStore(journal, entry),
          signal,
          onProgress: (p) => reporter.progress(label, p),
        });
        const result = await upload.done;
        entry.upload = { parts: result.parts, partsSkipped: result.partsSkipped, requests: result.requests, retries: result.retries };
        entry.step = 'uploaded';
        await journal.put(entry);
      }
      if (entry.step === 'uploaded') {
        if (!reporter.rows.get(label)?.jobId) reporter.job(label, entry.job, true);
        const status = await client.status(entry.job.jobId, { signal });
        if (status.state === 'pending') await client.setMapping(entry.job.jobId, entry.mapping, { signal });
        if (status.state === 'pending' || status.state === 'ready') await client.start(entry.job.jobId, undefined, { signal });
        entry.step = 'started';
        await journal.put(entry);
      }
      if (entry.step === 'started') {
        if (!reporter.rows.get(label)?.jobId) reporter.job(label, entry.job, true);
        const final = await client.waitForCompletion(entry.job.jobId, {
          signal,
          pollStartMs: ctx.pollMs,
          pollCapMs: Math.max(ctx.pollMs, 60_000),
          onStatus: (s) => reporter.status(label, s),
        });
        entry.final = final;
        entry.step = final.state === 'completed' ? 'done' : 'failed';
        await journal.put(entry);
      }
      break;
    }
  } catch (e) {
    if (signal.aborted && signal.reason?.exitCode) e.exitCode = EXIT.INTERRUPTED;
    if (entry.job?.jobId && !e.jobId) e.jobId = entry.job.jobId;
    throw e;
  } finally {
    await source?.close();
  }
  return outcome(ctx, entry, (Date.now() - began) / 1000);
}

function outcome(ctx, entry, seconds) {
  const f = entry.final ?? {};
  const result = {
    file: entry.label,
    jobId: entry.job?.jobId ?? null,
    state: f.state ?? entry.step,
    readRows: f.readRows ?? null,
    importedRows: f.rowsImported ?? f.validRows ?? null,
    rejectedRows: f.rowsRejected ?? f.invalidRows ?? null,
    successRate: typeof f.successRate === 'number' ? f.successRate : null,
    seconds,
  };
  if (entry.step === 'failed') {
    result.exitCode = EXIT.JOB_FAILED;
    result.result = 'job failed';
    result.message = f.errorMessage ?? null;
  } else if ((result.rejectedRows ?? 0) > 0 && ctx.failOnRejects) {
    result.exitCode = EXIT.REJECTS;
    result.result = 'rows rejected';
  } else {
    result.exitCode = EXIT.OK;
    result.result = (result.rejectedRows ?? 0) > 0 ? 'imported, rows rejected' : 'imported';
  }
  return result;
}

/** Runs `entries` `parallel` at a time; one outcome per entry. */
async function runAll(ctx, entries, parallel) {
  const results = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const i = next++;
      const entry = entries[i];
      if (ctx.signal.aborted) {
        results[i] = { file: entry.label, jobId: entry.job?.jobId ?? null, result: 'not started', exitCode: EXIT.INTERRUPTED };
        continue;
      }
      try {
        const r = await runEntry(ctx, entry);
        ctx.reporter.done(entry.label, r);
        results[i] = r;
        if (r.exitCode === EXIT.JOB_FAILED) {
          ctx.reporter.error(entry.label, { code: 'JOB_FAILED', message: `job ${r.jobId} failed${r.message ? `: ${r.message}` : ''}`, jobId: r.jobId, exitCode: EXIT.JOB_FAILED });
        }
      } catch (e) {
        const code = exitCodeOf(e);
        ctx.reporter.error(entry.label, e);
        results[i] = { file: entry.label, jobId: entry.job?.jobId ?? e.jobId ?? null, result: resultWord(code), exitCode: code };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, entries.length) }, worker));
  return results;
}

function resultWord(code) {
  return (
    {
      [EXIT.INTERRUPTED]: 'interrupted',
      [EXIT.AUTH]: 'auth failed',
      [EXIT.FILE]: 'unreadable',
      [EXIT.RETRY_EXHAUSTED]: 'gave up, resumable',
      [EXIT.USAGE]: 'refused',
    }[code] ?? 'failed'
  );
}

function finish(ctx, results) {
  ctx.reporter.close();
  if (ctx.reporter.mode !== 'json' && results.length > 0) process.stdout.write(summaryTable(results) + '\n');
  return worst(results.map((r) => r.exitCode));
}

function reporterFor(flags) {
  return new Reporter(flags.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain');
}

// ---- commands -------------------------------------------------------------

async function readMapping(flags) {
  const given = ['mapping', 'template', 'auto'].filter((k) => flags[k] !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --mapping FILE, --template ID or --auto');
  let mapping;
  if (flags.auto) mapping = undefined;
  else if (flags.template !== undefined) mapping = { templateId: flags.template };
  else {
    let text;
    try {
      text = await readFile(flags.mapping, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the mapping ${flags.mapping}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    }
    try {
      mapping = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`the mapping ${flags.mapping} is not JSON: ${e.message}`);
    }
    if (mapping === null || typeof mapping !== 'object' || Array.isArray(mapping) || (!mapping.templateId && !(mapping.sourceFields && mapping.fieldMap))) {
      throw new UsageError(`the mapping ${flags.mapping} must be { "sourceFields": {…}, "fieldMap": {…} } or { "templateId": "…" }`);
    }
  }
  if (flags.mode !== undefined) {
    if (!['strict', 'balanced', 'landing_friendly', 'custom'].includes(flags.mode)) {
      throw new UsageError(`--mode must be strict, balanced, landing_friendly or custom, got \`${flags.mode}\``);
    }
    mapping = { ...mapping, importMode: flags.mode };
  }
  return mapping;
}

// ---- preflight (--auto, --dry-run) ----------------------------------------------

/**
 * The preflight of one file (`import-uploader/preflight`): its dialect,
 * columns, the suggested mapping (or `mapping`'s prediction) and the
 * predicted verdict. `full` reads the whole file (exact counters).
 */
async function preflightFile(ctx, path, mapping, full) {
  const { preflight } = await import('../preflight-node.js');
  ctx.schema ??= await ctx.client.objectSchema(ctx.object);
  const source = await FileSource.open(path);
  try {
    const mode = ctx.importMode && ctx.importMode !== 'custom' ? ctx.importMode : undefined;
    return await preflight(source, {
      schema: ctx.schema,
      importMode: mode,
      full,
      mapping: mapping?.sourceFields && mapping?.fieldMap ? { sourceFields: mapping.sourceFields, fieldMap: mapping.fieldMap } : undefined,
    });
  } finally {
    await source.close();
  }
}

/** Why a preflight says the import cannot go as asked, or undefined.
 * With `normalising`, a file the command re-writes as UTF-8 commas on the
 * way up is not refused for its encoding or delimiter. */
function blocker(report, normalising = false) {
  if (report.prediction.failure) return `${report.prediction.failure.code}: ${report.prediction.failure.message}`;
  if (report.needsNormalising && !normalising) {
    return `the file is ${report.dialect.encoding} with \`${report.dialect.delimiter}\` delimiters; the API reads UTF-8 with commas: convert it first`;
  }
  return undefined;
}

/** `--dry-run`: the preflight of every file, no job; the exit code of what the imports would do. */
async function dryRun(ctx, files, mapping, reporter) {
  const codes = [];
  for (const path of files) {
    const label = relative(process.cwd(), path) || path;
    try {
      const report = await preflightFile(ctx, path, mapping, true);
      const why = blocker(report, ctx.auto);
      const p = report.prediction;
      const code = why ? EXIT.JOB_FAILED : p.invalidRows > 0 && ctx.failOnRejects ? EXIT.REJECTS : EXIT.OK;
      codes.push(code);
      if (reporter.mode === 'json') {
        reporter.emit({
          event: 'preflight',
          file: label,
          dialect: report.dialect,
          mapping: mapping?.templateId ? mapping : report.mapping,
          problems: report.problems,
          prediction: p,
          wouldFail: why ?? null,
          exitCode: code,
        });
        continue;
      }
      const d = report.dialect;
      const lines = [
        `${label}: ${d.encoding}, delimiter ${JSON.stringify(d.delimiter)}, ${d.hasHeader ? 'header' : 'no header'}, ${report.columns.length} column(s)`,
        `  mapping${mapping ? ' (given)' : ' (suggested)'}: ${JSON.stringify(mapping?.templateId ? mapping : report.mapping)}`,
        ...report.problems.map((pr) => `  problem ${pr.code}: ${pr.message}`),
        `  predicted: read ${p.readRows}, valid ${p.validRows}, invalid ${p.invalidRows}${p.errorSummary ? ` ${JSON.stringify(p.errorSummary)}` : ''}`,
        ...p.firstErrors.slice(0, 5).map((e) => `  row ${e.rowNumber}: ${e.code ?? ''} ${e.error}`),
        ...(report.needsNormalising && ctx.auto && !why
          ? [`  normalised on upload: ${d.encoding}, \`${d.delimiter}\` → UTF-8, \`,\` (${report.normalisedSize.toLocaleString('en-US')} bytes)`]
          : []),
        why ? `  would fail: ${why}` : '  would import (no job was created)',
      ];
      process.stdout.write(lines.join('\n') + '\n');
    } catch (e) {
      reporter.error(label, e);
      codes.push(exitCodeOf(e));
    }
  }
  reporter.close();
  return worst(codes);
}

async function confirm(question) {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function commandImport(positional, flags) {
  if (positional.length === 0) throw new UsageError('name at least one file or glob to import');
  if (!flags.object) throw new UsageError('--object NAME is required (e.g. --object profiles; `import-uploader objects` lists them)');
  if (flags['create-list'] !== undefined && flags['target-list'] !== undefined) {
    throw new UsageError('give --create-list NAME or --target-list ID, not both');
  }
  const mapping = await readMapping(flags);
  const partSize = flags['part-size'] !== undefined ? parseSize(flags['part-size'], 'part-size') : undefined;
  const concurrency = flags.concurrency !== undefined ? parseCount(flags.concurrency, 'concurrency') : undefined;
  const parallel = flags.files !== undefined ? parseCount(flags.files, 'files', 16) : 2;
  const pollMs = flags['poll-ms'] !== undefined ? parseCount(flags['poll-ms'], 'poll-ms', 600_000) : 5000;
  const options = clientOptions(flags);
  const reporter = reporterFor(flags);

  const { files, unmatched } = await expand(positional);
  const problems = unmatched.map((p) => ({ path: p, error: `the pattern \`${p}\` matches no file` }));
  const stats = new Map();
  for (const path of files) {
    try {
      const s = await stat(path);
      if (!s.isFile()) problems.push({ path, error: `${path} is not a regular file` });
      else stats.set(path, s);
    } catch (e) {
      problems.push({ path, error: e.code === 'ENOENT' ? `${path}: no such file` : `${path} cannot be read: ${e.message}` });
    }
  }
  if (problems.length > 0) {
    for (const p of problems) {
      const e = { kind: 'validation', rule: 'FILE_NOT_FOUND', message: p.error, exitCode: EXIT.FILE };
      reporter.error(p.path, e);
    }
    reporter.close();
    return EXIT.FILE;
  }

  const client = new ImportClient(options);
  const pre = { client, object: flags.object, importMode: flags.mode, auto: Boolean(flags.auto), failOnRejects: Boolean(flags['fail-on-rejects']) };
  if (flags['dry-run']) return dryRun(pre, files, mapping, reporter);

  const journal = new Journal(flags.journal ?? defaultJournal(files));
  const create = { objectName: flags.object };
  if (flags['create-list'] !== undefined) Object.assign(create, { createList: true, listName: flags['create-list'] });
  if (flags['target-list'] !== undefined) create.targetListId = flags['target-list'];
  const entries = [];
  const skipped = [];
  for (const path of files) {
    const s = stats.get(path);
    const label = relative(process.cwd(), path) || path;
    let fileMapping = mapping;
    let normalise;
    if (flags.auto) {
      let report = await preflightFile(pre, path, undefined, false);
      // A file the API cannot read as it is (another encoding or
      // delimiter) is re-written on the way up: the whole-file pass gives
      // the exact size to declare, and the verdict on what will be sent.
      if (report.needsNormalising) report = await preflightFile(pre, path, undefined, true);
      const why = blocker(report, true);
      if (why) throw fail(EXIT.JOB_FAILED, `${label}: --auto cannot import it: ${why}`);
      if (report.needsNormalising) {
        normalise = { dialect: report.dialect, size: report.normalisedSize };
        const d = report.dialect;
        reporter.say(`${label}: ${d.encoding} with \`${d.delimiter}\` delimiters, normalised on upload to UTF-8 with commas (${report.normalisedSize.toLocaleString('en-US')} bytes)`);
      }
      fileMapping = flags.mode ? { ...report.mapping, importMode: flags.mode } : report.mapping;
      reporter.say(`${label}: --auto mapping ${JSON.stringify(report.mapping.fieldMap)}`);
    }
    const old = await journal.get(path);
    if (old && old.step === 'creating') {
      // No job was confirmed: go on with the same idempotency key (should
      // the API have created the job, creating it again answers that one).
      const same = old.size === s.size && old.mtimeMs === Math.trunc(s.mtimeMs) && JSON.stringify(old.create) === JSON.stringify(create);
      entries.push({
        ...old,
        label,
        size: s.size,
        mtimeMs: Math.trunc(s.mtimeMs),
        create,
        mapping: fileMapping,
        normalise,
        partSize,
        concurrency,
        idempotencyKey: same ? old.idempotencyKey : randomUUID(),
      });
      continue;
    }
    if (old && old.size === s.size && old.mtimeMs === Math.trunc(s.mtimeMs)) {
      if (old.step === 'done' || old.step === 'failed') {
        reporter.say(`${label}: already imported as job ${old.job?.jobId} (${old.step}); delete ${old.journalFile} to import it again`);
        const result = outcome({ failOnRejects: flags['fail-on-rejects'] }, { ...old, label }, 0);
        if (reporter.mode === 'json') reporter.done(label, { ...result, skipped: true });
        skipped.push(result);
        continue;
      }
      throw new UsageError(
        `${label} has an unfinished import (job ${old.job?.jobId ?? 'being created'}) in ${journal.dir}: run \`import-uploader resume ${journal.dir}\`, or delete ${old.journalFile} to start over`,
      );
    }
    entries.push({
      version: 1,
      path,
      label,
      fileName: path.split(/[\\/]/).pop(),
      size: s.size,
      mtimeMs: Math.trunc(s.mtimeMs),
      create,
      mapping: fileMapping,
      normalise,
      partSize,
      concurrency,
      step: 'creating',
      idempotencyKey: randomUUID(),
      parts: null,
      createdAt: new Date().toISOString(),
    });
  }

  if (entries.length > 0 && !flags.yes && process.stdin.isTTY && process.stderr.isTTY && !flags.json) {
    const total = entries.reduce((n, e) => n + e.size, 0);
    const ok = await confirm(
      `Import ${entries.length} file(s), ${total.toLocaleString('en-US')} bytes, into \`${flags.object}\` at ${options.baseUrl}? [y/N] `,
    );
    if (!ok) throw new UsageError('not confirmed (pass --yes to skip the question)');
  }
  for (const e of entries) await journal.put(e);
  return runUntilInterrupted({ client, journal, reporter, pollMs, failOnRejects: Boolean(flags['fail-on-rejects']) }, entries, parallel, skipped);
}

/**
 * Runs `entries`, `parallel` at a time, stopping cleanly on Ctrl-C or
 * SIGTERM; the summary of `earlier` outcomes (files skipped or already
 * finished) and theirs, and the exit code.
 */
async function runUntilInterrupted(base, entries, parallel, earlier) {
  const stop = interruption(base.reporter);
  const ctx = { ...base, signal: stop.signal };
  try {
    const results = await runAll(ctx, entries, parallel);
    return finish(ctx, [...earlier, ...results]);
  } finally {
    stop.dispose();
  }
}

async function commandResume(positional, flags) {
  if (positional.length > 1) throw new UsageError('resume takes at most one journal directory');
  const dir = positional[0] ?? JOURNAL_DIR;
  const journal = new Journal(dir);
  const all = await journal.all();
  if (all.length === 0) {
    try {
      await stat(journal.dir);
    } catch {
      throw new UsageError(`no journal at ${journal.dir}: give the directory \`import\` wrote (default ${JOURNAL_DIR}/ next to the files)`);
    }
  }
  const reporter = reporterFor(flags);
  const open = all.filter((e) => e.step !== 'done' && e.step !== 'failed');
  for (const e of all) e.label = relative(process.cwd(), e.path) || e.path;
  if (flags.concurrency !== undefined) {
    const c = parseCount(flags.concurrency, 'concurrency');
    for (const e of open) e.concurrency = c;
  }
  const parallel = flags.files !== undefined ? parseCount(flags.files, 'files', 16) : 2;
  const pollMs = flags['poll-ms'] !== undefined ? parseCount(flags['poll-ms'], 'poll-ms', 600_000) : 5000;
  const failOnRejects = Boolean(flags['fail-on-rejects']);
  const finished = all.filter((e) => !open.includes(e)).map((e) => outcome({ failOnRejects }, e, 0));
  if (open.length === 0) {
    reporter.say(`nothing to resume in ${journal.dir}: every import there has finished`);
    reporter.close();
    if (reporter.mode !== 'json' && finished.length) process.stdout.write(summaryTable(finished) + '\n');
    return worst(finished.map((r) => r.exitCode));
  }
  const client = new ImportClient(clientOptions(flags));
  return runUntilInterrupted({ client, journal, reporter, pollMs, failOnRejects }, open, parallel, finished);
}

async function commandStatus(positional, flags) {
  if (positional.length === 0) throw new UsageError('name at least one job id');
  const client = new ImportClient(clientOptions(flags));
  const codes = [];
  for (const id of positional) {
    try {
      const s = await client.status(id);
      if (flags.json) process.stdout.write(JSON.stringify({ event: 'status', jobId: id, ...s }) + '\n');
      else {
        process.stdout.write(
          `${id}  ${s.state}/${s.stage}  read ${s.readRows}  valid ${s.validRows}  invalid ${s.invalidRows}  imported ${s.rowsImported}  rejected ${s.rowsRejected}  success ${(s.successRate * 100).toFixed(1)} %\n`,
        );
      }
      codes.push(s.state === 'failed' ? EXIT.JOB_FAILED : EXIT.OK);
    } catch (e) {
      e.jobId ??= id;
      if (flags.json) process.stdout.write(JSON.stringify(errorEvent(null, e)) + '\n');
      else process.stderr.write(errorLine(id, e) + '\n');
      codes.push(exitCodeOf(e));
    }
  }
  return worst(codes);
}

const CSV_COLUMNS = ['rowNumber', 'code', 'column', 'error'];
const csvCell = (v) => {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

async function commandErrors(positional, flags) {
  if (positional.length !== 1) throw new UsageError('errors takes one job id');
  const format = flags.format ?? 'jsonl';
  if (format !== 'csv' && format !== 'jsonl') throw new UsageError(`--format must be csv or jsonl, got \`${format}\``);
  const client = new ImportClient(clientOptions(flags));
  const out = flags.output && flags.output !== '-' ? createWriteStream(flags.output, { mode: 0o600 }) : process.stdout;
  const write = (line) => (out.write(line + '\n') ? undefined : new Promise((r) => out.once('drain', r)));
  let columns;
  let rows = 0;
  try {
    for await (const row of client.errorRows(positional[0])) {
      if (format === 'jsonl') await write(JSON.stringify(row));
      else {
        if (!columns) {
          columns = [...CSV_COLUMNS, ...Object.keys(row.sourceRow ?? {})];
          await write(columns.map(csvCell).join(','));
        }
        await write(columns.map((c, i) => csvCell(i < CSV_COLUMNS.length ? row[c] : row.sourceRow?.[c])).join(','));
      }
      rows += 1;
    }
  } catch (e) {
    e.jobId ??= positional[0];
    process.stderr.write(errorLine(null, e) + '\n');
    return exitCodeOf(e);
  } finally {
    if (out !== process.stdout) await new Promise((r) => out.end(r));
  }
  if (flags.output && flags.output !== '-') process.stderr.write(`${rows} rejected row(s) written to ${flags.output}\n`);
  return EXIT.OK;
}

async function commandObjects(positional, flags) {
  if (positional.length > 1) throw new UsageError('objects takes at most one object name');
  const client = new ImportClient(clientOptions(flags));
  try {
    if (positional.length === 0) {
      const list = await client.listObjects();
      if (flags.json) process.stdout.write(JSON.stringify(list) + '\n');
      else for (const o of list.items ?? []) process.stdout.write(`${o.objectName}  ${o.displayName}  (${o.objectType})\n`);
    } else {
      const schema = await client.objectSchema(positional[0]);
      if (flags.json) process.stdout.write(JSON.stringify(schema) + '\n');
      else {
        process.stdout.write(`${schema.objectName}  ${schema.displayName}: ${schema.description}\n`);
        for (const f of schema.fields ?? []) {
          process.stdout.write(`  ${f.name}  ${f.type}${f.nullable ? '' : '  required'}${f.identityKey ? '  identity key' : ''}\n`);
        }
      }
    }
    return EXIT.OK;
  } catch (e) {
    process.stderr.write(errorLine(null, e) + '\n');
    return exitCodeOf(e);
  }
}

// ---- main -----------------------------------------------------------------

async function main(argv) {
  const { command, positional, flags } = parseArgs(argv);
  if (command === 'help' || flags.help) {
    process.stdout.write(USAGE + '\n');
    return EXIT.OK;
  }
  switch (command) {
    case 'import':
      return commandImport(positional, flags);
    case 'resume':
      return commandResume(positional, flags);
    case 'status':
      return commandStatus(positional, flags);
    case 'errors':
      return commandErrors(positional, flags);
    case 'objects':
      return commandObjects(positional, flags);
  }
  throw new UsageError(`unknown command \`${command}\``);
}

const json = process.argv.includes('--json');
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    const code = e instanceof UsageError ? EXIT.USAGE : exitCodeOf(e);
    if (json) process.stdout.write(JSON.stringify({ ...errorEvent(null, e), exitCode: code }) + '\n');
    else process.stderr.write(`import-uploader: ${e instanceof UsageError ? `${e.message} (see --help)` : errorLine(null, e)}\n`);
    process.exitCode = code;
  },
);
