// The cases of `import-uploader/preflight`, part of the package's JS suite
// (`suite.mjs`) in Node, Deno and workerd, where it runs in-process: the
// runners import it by name, as an application does, and pass its exports
// as `ctx.preflight`. Web-standard APIs only.
//
// Files are made here, byte for byte: Excel's European CSV (semicolons, a
// byte order mark, CRLF), a windows-1252 export, files with bad rows that
// the emulator then imports, and bad input (empty, header only, binary,
// invalid UTF-8 in the middle of a part). The prediction is checked
// against the emulator's own verdict on the same file.

import { assert, assertEqual, rejection, thrown as thrownBy } from './harness.mjs';

/** `text` as windows-1252 bytes (Latin-1 range, plus the euro sign). */
export function windows1252(text) {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20ac) bytes[i] = 0x80;
    else if (c < 0x100 && (c < 0x80 || c >= 0xa0)) bytes[i] = c;
    else throw new Error(`${text[i]} is not in this windows-1252 table`);
  }
  return bytes;
}

const utf8 = (text) => new TextEncoder().encode(text);
const BOM = [0xef, 0xbb, 0xbf];

/** Concatenates byte arrays (and arrays of numbers). */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A file source that records every read (offset, length). */
function recordingSource(bytes) {
  const reads = [];
  return {
    reads,
    source: {
      size: bytes.length,
      name: 'recorded.csv',
      read(offset, length) {
        reads.push([offset, length]);
        return bytes.slice(offset, offset + length);
      },
    },
  };
}

function assertPreflightError(err, kind, code) {
  assert(err instanceof Error, `an Error, got ${String(err)}`);
  assertEqual(err.name, 'ImportError', 'name');
  assertEqual(err.kind, kind, `kind (message: ${err.message})`);
  assertEqual(err.code, code, `code (message: ${err.message})`);
  assert(typeof err.message === 'string' && err.message.length > 0, 'a message');
  assertEqual(typeof err.retryable, 'boolean', 'typeof retryable');
  return err;
}

/** JSON with sorted keys, to compare values whatever their keys' order. */
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}

const codes = (report) => report.problems.map((p) => p.code);

/** `n` people as CSV lines with `;`, a decimal comma in a quoted-free number column. */
function europeanRows(n, run) {
  const lines = [];
  for (let i = 0; i < n; i++) lines.push(`p${i}.${run}@example.com;Person ${i};${i},5`);
  return lines;
}

/**
 * A windows-1252 export with `;` and CRLF of `n` people, and the same file
 * converted by hand as the API reads it (UTF-8, `,`, quotes where a value
 * holds a comma, `\n` line ends, no BOM).
 */
export function europeanExport(n, run) {
  const header = ['email', 'first_name', 'last_name', 'lifetime_value'];
  const names = [['Zoë', 'Müller'], ['José', 'Ñúñez'], ['Renée', 'Dupont, Jr.'], ['Øyvind', 'Sæther']];
  const rows = [header];
  for (let i = 0; i < n; i++) {
    const [first, last] = names[i % names.length];
    rows.push([`p${i}.${run}@example.com`, first, last, `${i},${i % 100} €`]);
  }
  const quoteSemicolon = (v) => (/[;"\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  const quoteComma = (v) => (/[,"\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  const original = windows1252(`${rows.map((r) => r.map(quoteSemicolon).join(';')).join('\r\n')}\r\n`);
  const converted = utf8(`${rows.map((r) => r.map(quoteComma).join(',')).join('\n')}\n`);
  return { original, converted, rows: n };
}

/** Fast polling for tests. */
const FAST_POLL = { pollStartMs: 50, pollCapMs: 250 };

export const preflightTests = [
  {
    name: 'preflight: importFile uploads the normalised windows-1252 file: read back it is the hand-converted file, and its counts are those of the hand-converted import',
    timeoutMs: 120_000,
    async fn({ pkg, preflight, apiUrl, token }) {
      const client = new pkg.ImportClient({ baseUrl: apiUrl, token });
      const schema = await client.objectSchema('profiles');
      const { original, converted } = europeanExport(25_000, crypto.randomUUID().slice(0, 8));
      const file = new File([original], 'export.csv', { type: 'text/csv' });
      const report = await preflight.preflight(file, { schema, full: true });
      assertEqual(report.needsNormalising, true, 'needsNormalising');
      const partSize = 512 * 1024;
      assert(converted.length > 2 * partSize, `more than two parts (${converted.length} bytes)`);
      const options = { objectName: 'profiles', mapping: report.mapping, upload: { partSize }, poll: FAST_POLL };
      const status = await client.importFile(preflight.normalised(file, report), options);
      assertEqual(status.state, 'completed', `state (errorMessage: ${status.errorMessage ?? '-'})`);
      const back = await fetch(`${apiUrl}/import-jobs/${status.jobId}/upload`, { headers: { authorization: `Bearer ${token}` } });
      assertEqual(back.status, 200, 'read-back status');
      const bytes = new Uint8Array(await back.arrayBuffer());
      assertEqual(bytes.length, converted.length, 'length read back (the declared fileSize)');
      assert(bytes.every((b, i) => b === converted[i]), 'the upload is the hand-converted file, byte for byte');
      // The hand-converted file on a job of its own (an upsert of the same
      // keys: updates where the first made inserts; the counts are the same).
      const byHand = await client.importFile(new File([converted], 'converted.csv'), options);
      for (const k of ['readRows', 'validRows', 'invalidRows']) assertEqual(status[k], byHand[k], k);
      assertEqual(canon(status.errorSummary), canon(byHand.errorSummary), 'errorSummary');
      assertEqual(report.prediction.readRows, status.readRows, 'readRows predicted');
    },
  },
  {
    name: 'preflight: normalised() re-writes a windows-1252 semicolon file as the hand-converted UTF-8 CSV, part by part',
    timeoutMs: 60_000,
    async fn({ preflight }) {
      const { original, converted } = europeanExport(90_000, crypto.randomUUID().slice(0, 8));
      assert(original.length > 4 << 20, `more than one part of the reader (${original.length} bytes)`);
      const report = await preflight.preflight(new Blob([original]), { full: true });
      assertEqual(report.needsNormalising, true, 'needsNormalising');
      assertEqual(report.normalisedSize, converted.length, 'normalisedSize is the hand-converted size');
      const source = preflight.normalised(new Blob([original]), report);
      assertEqual(source.size, converted.length, 'size');
      const step = 1 << 20;
      const got = new Uint8Array(source.size);
      for (let at = 0; at < source.size; at += step) got.set(await source.read(at, Math.min(step, source.size - at)), at);
      assert(got.every((b, i) => b === converted[i]), 'the bytes are the hand-converted file');
      // A part read again (a retry), and the start after the end (a fresh run).
      const again = await source.read(3 * step, step);
      assert(again.every((b, i) => b === converted[3 * step + i]), 'a part read again');
      const first = await source.read(0, 1000);
      assert(first.every((b, i) => b === converted[i]), 'the start read again after the end');
      assertPreflightError(thrownBy(() => preflight.normalised(new Blob([original]), { ...report, sampled: true })), 'validation', 'PREFLIGHT_NOT_FULL');
      assertPreflightError(await rejection(source.read(source.size - 10, 20)), 'validation', 'PREFLIGHT_READ_FAILED');
      // The file changed since its preflight: the size no longer holds.
      const changed = preflight.normalised(new Blob([original.subarray(0, original.length - 200)]), report);
      assertPreflightError(await rejection(changed.read(changed.size - 100, 100)), 'validation', 'PREFLIGHT_FILE_CHANGED');
    },
  },
  {
    name: 'preflight: the export resolves and refuses bad options with a code and the field',
    async fn({ preflight }) {
      assertEqual(typeof preflight.preflight, 'function', 'typeof preflight');
      assertEqual(preflight.DEFAULT_SAMPLE_BYTES, 1 << 20, 'DEFAULT_SAMPLE_BYTES');
      const file = new Blob(['email\na@example.com\n']);
      for (const [options, field] of [
        [{ sampleBytes: 10 }, 'sampleBytes'],
        [{ importMode: 'custom' }, 'importMode'],
        [{ full: 'yes' }, 'full'],
        [{ schema: { name: 'profiles' } }, 'schema'],
        [{ onProgress: 1 }, 'onProgress'],
        [{ signal: {} }, 'signal'],
        [{ dialect: { delimiter: ':' } }, 'dialect.delimiter'],
        [{ dialect: { encoding: 'no-such-encoding' } }, 'dialect.encoding'],
        [{ nope: true }, 'nope'],
      ]) {
        const err = assertPreflightError(await rejection(preflight.preflight(file, options), JSON.stringify(options)), 'validation', 'PREFLIGHT_OPTIONS_INVALID');
        assertEqual(err.field, field, `field of ${JSON.stringify(options)}`);
      }
      for (const bad of [null, 'a,b\n1,2\n', { size: 3 }, new Uint8Array(3)]) {
        const err = assertPreflightError(await rejection(preflight.preflight(bad), String(bad)), 'validation', 'PREFLIGHT_FILE_INVALID');
        assertEqual(err.field, 'file', 'field');
      }
    },
  },
  {
    name: "preflight: Excel's European CSV (semicolons, BOM, CRLF, decimal commas) is read as such",
    async fn({ preflight }) {
      const run = crypto.randomUUID().slice(0, 8);
      const text = `email;first_name;lifetime_value\r\n${europeanRows(300, run).join('\r\n')}\r\n`;
      const report = await preflight.preflight(new Blob([new Uint8Array(BOM), text]));
      assertEqual(report.dialect.delimiter, ';', 'delimiter');
      assertEqual(report.dialect.bom, true, 'bom');
      assertEqual(report.dialect.lineEnding, 'crlf', 'lineEnding');
      assertEqual(report.dialect.hasHeader, true, 'hasHeader');
      assertEqual(report.dialect.encoding, 'utf-8', 'encoding');
      assertEqual(report.dialect.quote, '"', 'quote');
      assertEqual(report.columns.map((c) => c.name).join('|'), 'email|first_name|lifetime_value', 'column names (no BOM in the first)');
      assertEqual(report.columns.map((c) => c.index).join(','), '0,1,2', 'indexes');
      assertEqual(report.columns[0].inferredType, 'email', 'type of email');
      assertEqual(report.needsNormalising, true, 'needsNormalising (semicolons)');
      assertEqual(report.sampled, false, 'the whole file fits in the sample');
      assertEqual(report.prediction.readRows, 300, 'readRows');
    },
  },
  {
    name: 'preflight: a windows-1252 export is decoded with TextDecoder, streaming',
    async fn({ preflight }) {
      const rows = ['Zoë;Müller;12,50 €', 'José;Ñúñez;3,00 €', 'Renée;Lodz;7,25 €'];
      const lines = ['first_name;last_name;spent'];
      // Enough rows that a `full` run reads several parts, with non-ASCII
      // characters across the part boundaries.
      for (let i = 0; lines.join('\r\n').length < 300_000; i++) lines.push(rows[i % rows.length]);
      const bytes = windows1252(`${lines.join('\r\n')}\r\n`);
      const report = await preflight.preflight(new Blob([bytes]), { sampleBytes: 64 * 1024, full: true });
      assertEqual(report.dialect.encoding, 'windows-1252', 'encoding');
      assert(report.dialect.confidence > 0 && report.dialect.confidence <= 1, `confidence in (0, 1], got ${report.dialect.confidence}`);
      assertEqual(report.dialect.delimiter, ';', 'delimiter');
      assertEqual(report.dialect.bom, false, 'bom');
      assertEqual(report.columns.map((c) => c.name).join('|'), 'first_name|last_name|spent', 'columns');
      const firstNames = report.columns[0].examples;
      assert(firstNames.includes('Zoë') && firstNames.includes('José'), `decoded examples, got ${JSON.stringify(firstNames)}`);
      assert(report.columns[2].examples.some((v) => v.endsWith('€')), `the euro sign decoded, got ${JSON.stringify(report.columns[2].examples)}`);
      assertEqual(report.prediction.readRows, lines.length - 1, 'readRows of the whole file');
      assertEqual(report.sampled, false, 'sampled');
      assertEqual(report.needsNormalising, true, 'needsNormalising');
      // The normalised file (UTF-8, commas) is longer: é is two bytes, and
      // the values with commas get quotes.
      assert(report.normalisedSize > bytes.length, `normalisedSize ${report.normalisedSize} > ${bytes.length}`);
    },
  },
  {
    name: "preflight: a mapping is suggested against the object's schema from the Metadata API",
    async fn({ pkg, preflight, apiUrl, token }) {
      const client = new pkg.ImportClient({ baseUrl: apiUrl, token });
      const schema = await client.objectSchema('profiles');
      const file = new Blob([
        'E-mail Address,First Name,Surname,Email consent,Zip\n',
        'ann@example.com,Ann,Lee,yes,75001\n',
        'bob@example.com,Bob,Ray,no,10115\n',
      ]);
      const report = await preflight.preflight(file, { schema, importMode: 'balanced' });
      const map = report.mapping.fieldMap;
      assertEqual(map['E-mail Address'], 'email', 'E-mail Address →');
      assertEqual(map['First Name'], 'first_name', 'First Name →');
      assertEqual(map.Surname, 'last_name', 'Surname →');
      assert(map['Email consent'] !== 'email', `"Email consent" must never map to email (${JSON.stringify(map)})`);
      assertEqual(Object.keys(report.mapping.sourceFields).join('|'), 'E-mail Address|First Name|Surname|Email consent|Zip', 'sourceFields: every column');
      const fields = Object.values(map);
      assertEqual(new Set(fields).size, fields.length, 'no field gets two sources');
      const s = report.suggestions.find((x) => x.column === 'E-mail Address');
      assert(s && s.field === 'email' && s.score > 0 && s.score <= 1, `a suggestion for E-mail Address, got ${JSON.stringify(report.suggestions)}`);
      assert(['exact', 'synonym', 'template', 'similar'].includes(s.reason), `reason ${s.reason}`);
      assert(!codes(report).includes('KEY_NOT_MAPPED'), `problems: ${JSON.stringify(report.problems)}`);
      // The mapping is accepted by the API as is.
      const job = await client.createJob({ objectName: 'profiles', fileName: 'mapped.csv', fileSize: file.size });
      const mapped = await client.setMapping(job.jobId, report.mapping);
      assertEqual(mapped.ok, true, 'setMapping(report.mapping).ok');
      // Without a key column, the problem is named.
      const keyless = await preflight.preflight(new Blob(['First Name,Surname\nAnn,Lee\n']), { schema });
      const problem = keyless.problems.find((p) => p.code === 'KEY_NOT_MAPPED');
      assert(problem && problem.field === 'email', `KEY_NOT_MAPPED for email, got ${JSON.stringify(keyless.problems)}`);
    },
  },
  {
    name: 'preflight: the first answer reads only the sample; full reads every part with progress',
    timeoutMs: 60_000,
    async fn({ preflight }) {
      const run = crypto.randomUUID().slice(0, 8);
      const lines = ['email,first_name'];
      for (let i = 0; lines.length < 260_000; i++) lines.push(`p${i}.${run}@example.com,Person ${i}`);
      const bytes = utf8(`${lines.join('\n')}\n`);
      assert(bytes.length > 9 << 20, `a file of more than two parts (${bytes.length} bytes)`);
      const sampled = recordingSource(bytes);
      const first = await preflight.preflight(sampled.source, { sampleBytes: 256 * 1024 });
      assertEqual(first.sampled, true, 'sampled');
      const furthest = Math.max(...sampled.reads.map(([o, l]) => o + l));
      assert(furthest <= 256 * 1024, `the first answer read up to byte ${furthest}, beyond its sample`);
      assert(first.prediction.readRows > 1000 && first.prediction.readRows < lines.length - 1, `readRows of the sample: ${first.prediction.readRows}`);
      const whole = recordingSource(bytes);
      const progress = [];
      const report = await preflight.preflight(whole.source, { full: true, onProgress: (p) => progress.push(p) });
      assertEqual(report.sampled, false, 'sampled');
      assertEqual(report.prediction.readRows, lines.length - 1, 'readRows');
      assertEqual(report.prediction.validRows, lines.length - 1, 'validRows');
      assertEqual(report.bytesExamined, bytes.length, 'bytesExamined');
      assert(progress.length >= 3, `progress after each part, got ${progress.length}`);
      assert(progress.every((p, i) => p.total === bytes.length && (i === 0 || p.loaded > progress[i - 1].loaded)), `rising progress: ${JSON.stringify(progress)}`);
      assertEqual(progress.at(-1).loaded, bytes.length, 'the last progress is the whole file');
      assert(Math.max(...whole.reads.map(([, l]) => l)) <= 4 << 20, 'read in parts of at most 4 MiB, never whole');
    },
  },
  {
    name: 'preflight: a full run is cancelled by its signal, at once and mid-file',
    timeoutMs: 60_000,
    async fn({ preflight }) {
      const bytes = utf8(`email\n${'x@example.com\n'.repeat(800_000)}`);
      const before = new AbortController();
      before.abort();
      assertPreflightError(await rejection(preflight.preflight(new Blob([bytes]), { full: true, signal: before.signal })), 'aborted', 'ABORTED');
      const controller = new AbortController();
      const seen = recordingSource(bytes);
      let events = 0;
      const started = Date.now();
      const err = await rejection(
        preflight.preflight(seen.source, {
          full: true,
          signal: controller.signal,
          onProgress: (p) => {
            events += 1;
            if (p.phase === 'full') controller.abort();
          },
        }),
      );
      assertPreflightError(err, 'aborted', 'ABORTED');
      assert(Date.now() - started < 10_000, 'cancelled promptly');
      const read = seen.reads.reduce((n, [, l]) => n + l, 0);
      assert(read < bytes.length, `reading stopped (${read} of ${bytes.length} bytes read)`);
      assertEqual(events, 2, 'no progress after the abort');
    },
  },
  {
    name: 'preflight: bad input gives a clear answer (empty, header only, binary, invalid UTF-8 mid-part)',
    timeoutMs: 60_000,
    async fn({ preflight }) {
      const empty = await preflight.preflight(new Blob([]));
      assert(codes(empty).includes('EMPTY_FILE'), `EMPTY_FILE for an empty file, got ${JSON.stringify(empty.problems)}`);
      assertEqual(empty.prediction.readRows, 0, 'readRows of an empty file');

      const headerOnly = await preflight.preflight(new Blob(['email,first_name\r\n']));
      assert(codes(headerOnly).includes('NO_DATA_ROWS'), `NO_DATA_ROWS, got ${JSON.stringify(headerOnly.problems)}`);
      assertEqual(headerOnly.columns.length, 2, 'the header still names the columns');
      assertEqual(headerOnly.prediction.readRows, 0, 'readRows');

      // A zip archive (an .xlsx workbook is one): refused as the server would.
      const zip = concat([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00], new Uint8Array(2000).map((_, i) => (i * 7) % 256));
      const binary = await preflight.preflight(new Blob([zip]));
      assert(binary.prediction.failure, `a predicted failure for a zip, got ${JSON.stringify(binary.prediction)}`);
      assert(/zip|xlsx|CSV/i.test(binary.prediction.failure.message), `a message a person can act on: ${binary.prediction.failure.message}`);
      assertEqual(binary.prediction.readRows, 0, 'readRows of a zip');

      // Valid UTF-8 for the first 300 KB, then a lone 0xFF in a row.
      const head = `email,first_name\n${'ok@example.com,Ann\n'.repeat(20_000)}`;
      const bytes = concat(utf8(head), utf8('bad@example.com,Zo'), [0xff], utf8('\nlast@example.com,Ed\n'));
      const mid = await preflight.preflight(new Blob([bytes]), { full: true, sampleBytes: 64 * 1024 });
      assertEqual(mid.dialect.encoding, 'utf-8', 'encoding (sniffed on the start)');
      assertEqual(mid.prediction.readRows > 20_000 || mid.prediction.failure !== undefined, true, `the whole file judged: ${JSON.stringify(mid.prediction).slice(0, 300)}`);
      const said = [...codes(mid), ...Object.keys(mid.prediction.errorSummary ?? {}), mid.prediction.failure?.code ?? ''].join(' ');
      assert(/UTF|ENCODING/i.test(said), `the invalid UTF-8 is named, got ${said}`);

      // A 20 MB single line, and a header of 100,000 columns: an answer,
      // not a hang or a crash.
      const line = new Uint8Array(20 << 20).fill(0x61);
      const long = await preflight.preflight(new Blob([line]), { full: true });
      assert(long.prediction.failure || long.problems.length > 0, `the single line is judged: ${JSON.stringify(long.problems).slice(0, 300)} ${JSON.stringify(long.prediction).slice(0, 300)}`);
      const wide = Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(',');
      const many = await preflight.preflight(new Blob([`${wide}\n${wide.replaceAll('c', 'v')}\n`]), { full: true });
      assert(many.columns.length === 100_000 || many.prediction.failure, `100,000 columns read or refused: ${many.columns.length} columns, ${JSON.stringify(many.prediction.failure)}`);
    },
  },
  {
    name: "preflight: the prediction equals the emulator's verdict on the same file",
    timeoutMs: 60_000,
    async fn({ pkg, preflight, apiUrl, token }) {
      const client = new pkg.ImportClient({ baseUrl: apiUrl, token });
      const schema = await client.objectSchema('profiles');
      const run = crypto.randomUUID().slice(0, 8);
      const lines = ['email,first_name,loyalty_points,signed_up_at,birth_date'];
      for (let i = 0; i < 40; i++) {
        const bad = i % 7;
        lines.push(
          [
            bad === 1 ? `not-an-email-${i}` : `p${i}.${run}@example.com`,
            `"Person, ${i}"`,
            bad === 2 ? 'lots' : String(i * 10),
            bad === 3 ? '2024-01-02 10:00' : '2024-01-02T10:00:00Z',
            bad === 4 ? '2024-02-30' : '1990-05-17',
          ].join(','),
        );
      }
      lines.push(`p0.${run}@example.com,Duplicate,1,2024-01-02T10:00:00Z,1990-05-17`);
      lines.push('');
      lines.push(`short.${run}@example.com,Short`);
      const file = new Blob([`${lines.join('\r\n')}\r\n`]);
      for (const importMode of ['strict', 'balanced', 'landing_friendly']) {
        const report = await preflight.preflight(file, { schema, importMode, full: true });
        const job = await client.createJob({ objectName: 'profiles', fileName: 'verdict.csv', fileSize: file.size });
        const { jobId } = job;
        await client.upload(job, file).done;
        await client.setMapping(jobId, { ...report.mapping, importMode });
        await client.start(jobId);
        const status = await client.waitForCompletion(jobId, FAST_POLL);
        const p = report.prediction;
        const what = `${importMode}: prediction ${JSON.stringify(p).slice(0, 400)} vs status ${JSON.stringify(status).slice(0, 400)}`;
        assertEqual(status.state, p.failure ? 'failed' : 'completed', `state, ${what}`);
        assertEqual(p.readRows, status.readRows, `readRows, ${what}`);
        assertEqual(p.validRows, status.validRows, `validRows, ${what}`);
        assertEqual(p.invalidRows, status.invalidRows, `invalidRows, ${what}`);
        assertEqual(JSON.stringify(p.errorSummary), JSON.stringify(status.errorSummary ?? null), `errorSummary, ${what}`);
        const rows = [];
        if (status.invalidRows > 0) {
          for await (const row of client.errorRows(jobId)) {
            rows.push(row);
            if (rows.length === p.firstErrors.length) break;
          }
        }
        assert(p.firstErrors.length > 0 || status.invalidRows === 0, `firstErrors predicted, ${what}`);
        assertEqual(canon(p.firstErrors), canon(rows), `firstErrors are the error file's first lines (${importMode})`);
      }
    },
  },
];
