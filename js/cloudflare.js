// A rate limit shared by every instance of a broker on Cloudflare Workers.
//
// A Worker runs as many isolates, in many places, each with its own memory,
// so the broker's default limiter (token buckets in memory) limits each
// isolate, not the subject. A Durable Object is one instance worldwide per
// id: with one object per subject (`idFromName(subject)`), every broker
// instance asks the same bucket.
//
//   // worker.js
//   import { createBroker } from 'import-uploader';
//   import { durableObjectRateLimiter } from 'import-uploader/cloudflare';
//   export { RateLimiterObject } from 'import-uploader/cloudflare';
//
//   let handle;
//   export default {
//     fetch(request, env) {
//       handle ??= createBroker({
//         apiBaseUrl, oauth, ticketSecret: env.UPLOAD_TICKET_SECRET,
//         rateLimiter: durableObjectRateLimiter(env.RATE_LIMITER, { requests: 120, perSeconds: 60 }),
//       });
//       return handle(request);
//     },
//   };
//
//   # wrangler.toml
//   [[durable_objects.bindings]]
//   name = "RATE_LIMITER"
//   class_name = "RateLimiterObject"
//   [[migrations]]
//   tag = "v1"
//   new_classes = ["RateLimiterObject"]
//
// Each call costs one Durable Object request. Plain JavaScript with no
// imports: it runs wherever Durable Objects do (Cloudflare, workerd).

/** The limit asked of the object: `{ requests, perSeconds }`, checked. */
function checkedLimit({ requests = 120, perSeconds = 60 } = {}) {
  if (!(Number.isInteger(requests) && requests >= 1)) {
    throw new TypeError(`durableObjectRateLimiter: requests must be a whole number ≥ 1 (got ${requests})`);
  }
  if (!(Number.isInteger(perSeconds) && perSeconds >= 1)) {
    throw new TypeError(`durableObjectRateLimiter: perSeconds must be a whole number of seconds ≥ 1 (got ${perSeconds})`);
  }
  return { requests, perSeconds };
}

/**
 * A `rateLimiter` for `createBroker`: `requests` per `perSeconds` per
 * subject (default 120 per 60 s), counted by the `RateLimiterObject`
 * Durable Object of `namespace` named after the subject (`prefix` first,
 * to keep several brokers' counts apart in one namespace).
 */
export function durableObjectRateLimiter(namespace, { requests, perSeconds, prefix = '' } = {}) {
  if (!namespace || typeof namespace.idFromName !== 'function' || typeof namespace.get !== 'function') {
    throw new TypeError('durableObjectRateLimiter: namespace must be a Durable Object namespace binding (env.RATE_LIMITER)');
  }
  const body = JSON.stringify(checkedLimit({ requests, perSeconds }));
  return {
    async limit(subject) {
      const stub = namespace.get(namespace.idFromName(`${prefix}${subject}`));
      const response = await stub.fetch('https://rate-limiter.invalid/limit', { method: 'POST', body });
      if (!response.ok) throw new Error(`the rate limiter object answered HTTP ${response.status}`);
      return response.json();
    },
  };
}

/**
 * The Durable Object: one token bucket (burst `requests`, refilled at
 * `requests` per `perSeconds`), kept in the object's storage so that it
 * survives the object being unloaded. A Durable Object handles one event
 * at a time around storage calls, so the count is exact.
 */
export class RateLimiterObject {
  constructor(state) {
    this.storage = state.storage;
    this.bucket = undefined;
  }

  async fetch(request) {
    let limit;
    try {
      limit = checkedLimit(await request.json());
    } catch (e) {
      return Response.json({ error: String(e.message ?? e) }, { status: 400 });
    }
    const { requests, perSeconds } = limit;
    const now = Date.now();
    this.bucket ??= (await this.storage.get('bucket')) ?? { tokens: requests, at: now };
    const perMs = requests / (perSeconds * 1000);
    let tokens = Math.min(requests, this.bucket.tokens + Math.max(0, now - this.bucket.at) * perMs);
    let answer;
    if (tokens >= 1) {
      tokens -= 1;
      answer = { ok: true, retryAfter: 0 };
    } else {
      answer = { ok: false, retryAfter: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
    }
    this.bucket = { tokens, at: now };
    await this.storage.put('bucket', this.bucket);
    return Response.json(answer);
  }
}
