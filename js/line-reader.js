// The lines of the JSONL error file as `client.errorRows` reads them
// (src/error_rows.rs). In JavaScript because it is nothing but stream reads
// and byte scans: compiled from Rust, the chunk and line buffers and their
// promise plumbing took several times the bytes.
//
// Only the current chunk and the current line are held, never the whole
// file. Lines are split on the newline *byte* before being decoded, so a
// UTF-8 character cut by a chunk boundary is decoded whole; a leading UTF-8
// byte-order mark is dropped, a trailing "\r" too, and blank lines (ASCII
// whitespace only) are skipped.

const BOM = [0xef, 0xbb, 0xbf];
// ASCII whitespace: space, \t, \n, \f, \r.
const blank = (b) => b === 32 || b === 9 || b === 10 || b === 12 || b === 13;
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function join(pieces) {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class LineReader {
  // Reads `body`, a ReadableStream of bytes.
  constructor(body) {
    this.reader = body.getReader();
    // The current, incomplete line, in pieces.
    this.pieces = [];
    // Complete lines not yet handed out, and the next one's index.
    this.lines = [];
    this.at = 0;
    // Still before the first line (byte-order mark)?
    this.start = true;
    this.done = false;
  }

  // Cancels the download.
  cancel() {
    return this.reader.cancel();
  }

  // The next line that is not blank: its text, null when it is not UTF-8,
  // undefined after the last one. Rejects with [0, error] when the
  // download breaks off, [1, chunk] for a chunk that is not bytes.
  async next() {
    for (;;) {
      while (this.at < this.lines.length) {
        let line = this.lines[this.at];
        this.lines[this.at++] = undefined;
        if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
        if (line.every(blank)) continue;
        try {
          return decoder.decode(line);
        } catch {
          return null;
        }
      }
      this.lines = [];
      this.at = 0;
      if (this.done) return undefined;
      let result;
      try {
        result = await this.reader.read();
      } catch (e) {
        throw [0, e];
      }
      if (result === null || typeof result !== "object" || result.done) {
        this.done = true;
        if (this.pieces.length > 0) this.lines.push(join(this.pieces));
        this.pieces = [];
        continue;
      }
      if (!(result.value instanceof Uint8Array)) throw [1, result.value];
      this.take(result.value);
    }
  }

  // Splits `bytes` into lines on "\n".
  take(bytes) {
    if (this.start) {
      this.pieces.push(bytes);
      const head = join(this.pieces);
      this.pieces = [];
      if (head.length < 3 && head.every((b, i) => b === BOM[i])) {
        if (head.length > 0) this.pieces.push(head);
        return;
      }
      this.start = false;
      bytes = head[0] === BOM[0] && head[1] === BOM[1] && head[2] === BOM[2] ? head.subarray(3) : head;
    }
    let from = 0;
    for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, from)) {
      this.pieces.push(bytes.subarray(from, i));
      this.lines.push(join(this.pieces));
      this.pieces = [];
      from = i + 1;
    }
    if (from < bytes.length) this.pieces.push(bytes.subarray(from));
  }
}
