// The files an `import` names: paths as given, and glob patterns (`*`,
// `?`, `[…]` within a name, `**` for any depth) expanded here, so a quoted
// pattern works the same in every shell. Matches are sorted; hidden files
// and directories match only a pattern segment that starts with a dot.

import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';

const MAGIC = /[*?[]/;

function segmentRegex(seg) {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = seg.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

async function isDir(p) {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function entries(dir) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

async function walk(base, segs, out) {
  if (segs.length === 0) {
    out.push(base);
    return;
  }
  const [seg, ...rest] = segs;
  if (seg === '**') {
    await walk(base, rest, out);
    for (const e of await entries(base)) {
      if (e.isDirectory() && !e.name.startsWith('.')) await walk(join(base, e.name), segs, out);
    }
    return;
  }
  if (!MAGIC.test(seg)) {
    const next = join(base, seg);
    if (rest.length === 0 || (await isDir(next))) await walk(next, rest, out);
    return;
  }
  const re = segmentRegex(seg);
  for (const e of await entries(base)) {
    if (e.name.startsWith('.') && !seg.startsWith('.')) continue;
    if (!re.test(e.name)) continue;
    if (rest.length > 0 && !e.isDirectory()) continue;
    await walk(join(base, e.name), rest, out);
  }
}

/**
 * Absolute paths of the files `args` name, in order, each once. A plain
 * path is kept even when it does not exist (the import reports it); a
 * pattern that matches nothing is listed in `unmatched`.
 */
export async function expand(args, cwd = process.cwd()) {
  const files = [];
  const unmatched = [];
  const seen = new Set();
  const add = (p) => {
    if (!seen.has(p)) {
      seen.add(p);
      files.push(p);
    }
  };
  for (const arg of args) {
    if (!MAGIC.test(arg)) {
      add(resolve(cwd, arg));
      continue;
    }
    const abs = isAbsolute(arg) ? arg : join(cwd, arg);
    const segs = abs.split(sep);
    const fixed = [];
    while (segs.length && !MAGIC.test(segs[0])) fixed.push(segs.shift());
    const out = [];
    await walk(fixed.join(sep) || sep, segs, out);
    const matches = [];
    for (const p of out) {
      try {
        if ((await stat(p)).isFile()) matches.push(p);
      } catch {
        // Vanished since listed.
      }
    }
    if (matches.length === 0) unmatched.push(arg);
    matches.sort().forEach(add);
  }
  return { files, unmatched };
}
