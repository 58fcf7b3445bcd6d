// Reading a Blob's bytes into one reused buffer, for the upload engine's
// MD5 of a part (src/upload/mod.rs, `md5_of_range`). In JavaScript because
// it is nothing but stream calls: compiled from Rust, their reflection and
// promise plumbing took several times the bytes.

// A BYOB ("bring your own buffer") reader of `blob`'s bytes where the
// runtime's `Blob.stream()` is a byte stream (browsers, Deno, workerd);
// undefined elsewhere.
export function byobReader(blob) {
  try {
    return blob.stream().getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

// Reads the next bytes into `view`'s buffer (which the stream takes and
// hands back in the bytes it resolves with); undefined at the end.
export async function byobRead(reader, view) {
  const result = await reader.read(view);
  return result === null || typeof result !== "object" || result.done ? undefined : result.value;
}
