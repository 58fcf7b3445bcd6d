// What the client needs from its host (src/runtime.rs): a timer that an
// AbortSignal cancels, a monotonic clock, and UUIDs. Reached through the
// global scope only, so one build runs in a page, a worker, Node, Deno and
// workerd. In JavaScript because it is nothing but host calls: compiled
// from Rust, the timer's closures and promise plumbing took several times
// the bytes.

// Resolves after `ms` milliseconds (setTimeout; not finite or negative
// counts as 0), or rejects with the signal's reason when `signal` aborts
// first. The abort listener is removed when the timer fires, so repeated
// sleeps on one long-lived signal leave no listeners behind.
export function sleep(ms, signal) {
  if (signal && signal.aborted) return Promise.reject(signal.reason);
  ms = Number.isFinite(ms) ? Math.max(ms, 0) : 0;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(id);
      reject(signal.reason);
    };
    const id = setTimeout(() => {
      if (signal) signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal) signal.addEventListener("abort", onAbort, { once: true });
  });
}

// Monotonic milliseconds: performance.now() where present, else Date.now().
export function monotonicMs() {
  const perf = globalThis.performance;
  if (perf !== null && typeof perf === "object" && typeof perf.now === "function") {
    const t = perf.now();
    if (typeof t === "number") return t;
  }
  return Date.now();
}

// A random UUID v4: crypto.randomUUID() where present, else built from
// Math.random (an idempotency key, not a secret).
export function uuidV4() {
  const c = globalThis.crypto;
  if (c !== null && typeof c === "object" && typeof c.randomUUID === "function") {
    const s = c.randomUUID();
    if (typeof s === "string") return s;
  }
  const b = [];
  for (let i = 0; i < 16; i++) b.push(Math.floor(Math.random() * 256));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
