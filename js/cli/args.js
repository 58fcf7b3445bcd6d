// Command-line parsing for `import-uploader`: flags, sizes, and the usage
// text. Nothing here touches the network or the disk.

/** Exit codes (README "Backfills from disk"); stable, scripts branch on them. */
export const EXIT = {
  OK: 0,
  REJECTS: 1,
  USAGE: 2,
  FILE: 3,
  AUTH: 4,
  RETRY_EXHAUSTED: 5,
  JOB_FAILED: 6,
  INTERRUPTED: 7,
};

/** A mistake in how the command was called: exit 2 with this message. */
export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `import-uploader: backfills through the Import Jobs API

  import-uploader import <file|glob>… --object NAME
                  [--mapping mapping.json | --template ID | --auto]
                  [--mode strict|balanced|landing_friendly]
                  [--create-list NAME | --target-list ID]
                  [--concurrency N] [--files N] [--part-size SIZE]
                  [--journal DIR] [--dry-run] [--json] [--yes] [--fail-on-rejects]
  import-uploader resume [<journal>] [--json] [--fail-on-rejects]
  import-uploader status <jobId>… [--json]
  import-uploader errors <jobId> [--format csv|jsonl] [-o FILE]
  import-uploader objects [<name>] [--json]

Every command also takes --api URL (default: $IMPORT_API_URL, the API's base
URL with /public/v1, or a broker's URL).

Credentials come from the environment only, never from flags:
  IMPORT_TOKEN                                    a bearer token
  IMPORT_CLIENT_ID, IMPORT_CLIENT_SECRET, IMPORT_TOKEN_URL
                                                  OAuth client credentials
  IMPORT_TICKET                                   an upload ticket (with a broker's URL)

Exit codes: 0 all imported; 1 rows rejected (with --fail-on-rejects);
2 usage; 3 file not found or unreadable; 4 authentication; 5 retryable
failures exhausted; 6 a job failed; 7 interrupted (run \`resume\`).`;

/** Flags that take a value, per command (`-o` is `--output`). */
const VALUE_FLAGS = new Set([
  'api',
  'object',
  'mapping',
  'template',
  'mode',
  'create-list',
  'target-list',
  'concurrency',
  'files',
  'part-size',
  'journal',
  'format',
  'output',
  'poll-ms',
]);
const BOOLEAN_FLAGS = new Set(['auto', 'dry-run', 'json', 'yes', 'fail-on-rejects', 'help']);

const COMMAND_FLAGS = {
  import: ['api', 'object', 'mapping', 'template', 'auto', 'mode', 'create-list', 'target-list', 'concurrency', 'files', 'part-size', 'journal', 'dry-run', 'json', 'yes', 'fail-on-rejects', 'poll-ms'],
  resume: ['api', 'json', 'fail-on-rejects', 'concurrency', 'files', 'yes', 'poll-ms'],
  status: ['api', 'json'],
  errors: ['api', 'format', 'output'],
  objects: ['api', 'json'],
};

/** `argv` (without node and the script) → { command, positional, flags }. */
export function parseArgs(argv) {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    return { command: 'help', positional: [], flags: {} };
  }
  const [command, ...rest] = argv;
  const allowed = COMMAND_FLAGS[command];
  if (!allowed) throw new UsageError(`unknown command \`${command}\`: use import, resume, status, errors or objects`);
  const flags = {};
  const positional = [];
  for (let i = 0; i < rest.length; i++) {
    let arg = rest[i];
    if (arg === '--') {
      positional.push(...rest.slice(i + 1));
      break;
    }
    if (arg === '-o') arg = '--output';
    if (!arg.startsWith('--') || arg === '-') {
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option \`${arg}\``);
      positional.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name === 'help') {
      flags.help = true;
      continue;
    }
    if (/^(token|api-token|secret|client-secret|password)$/.test(name)) {
      throw new UsageError(
        `--${name} is not accepted: a secret on the command line shows in \`ps\` and shell history; set IMPORT_TOKEN (or IMPORT_CLIENT_ID, IMPORT_CLIENT_SECRET and IMPORT_TOKEN_URL) in the environment`,
      );
    }
    if (!allowed.includes(name)) throw new UsageError(`\`${command}\` does not take --${name}`);
    if (VALUE_FLAGS.has(name)) {
      if (value === undefined) {
        value = rest[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
      }
      flags[name] = value;
    } else if (BOOLEAN_FLAGS.has(name)) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
    }
  }
  return { command, positional, flags };
}

/** `--part-size` values: bytes, or with KiB/MiB/GiB (KB/MB/GB are decimal). */
export function parseSize(text, name) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`--${name} \`${text}\` is not a size: give bytes, or e.g. 8MiB, 16MB, 1GiB`);
  const unit = (m[2] || 'b').toLowerCase();
  const factors = { b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1e6, mib: 1024 ** 2, g: 1024 ** 3, gb: 1e9, gib: 1024 ** 3 };
  const f = factors[unit];
  if (f === undefined) throw new UsageError(`--${name} \`${text}\`: unknown unit \`${m[2]}\` (use KiB, MiB, GiB, KB, MB or GB)`);
  const n = Math.round(Number(m[1]) * f);
  if (!(n >= 1)) throw new UsageError(`--${name} must be at least 1 byte`);
  return n;
}

/** A whole number ≥ 1 for `--name`. */
export function parseCount(text, name, max = 64) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max}, got \`${text}\``);
  return n;
}
