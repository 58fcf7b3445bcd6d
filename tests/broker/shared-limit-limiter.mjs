// The worker that hosts the package's rate limiter Durable Object for the
// shared rate limit case (`shared-limit.mjs`).

export { RateLimiterObject } from 'import-uploader/cloudflare';

export default {
  fetch() {
    return new Response('rate limiter objects only\n', { status: 404 });
  },
};
