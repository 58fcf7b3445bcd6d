// A broker worker of the shared rate limit case (`shared-limit.mjs`): the
// package's broker under `BASE_PATH`, limited by the Durable Object
// namespace `LIMITER` through `durableObjectRateLimiter`; `…/ticket?subject=`
// mints a ticket (standing in for the app's backend).

import { createBroker, mintUploadTicket } from 'import-uploader';
import { durableObjectRateLimiter } from 'import-uploader/cloudflare';

let handle;

export default {
  fetch(request, env) {
    const limit = Number(env.LIMIT);
    handle ??= createBroker({
      apiBaseUrl: env.API_URL,
      token: env.WORKSPACE_TOKEN,
      ticketSecret: env.TICKET_SECRET,
      basePath: env.BASE_PATH,
      rateLimiter: durableObjectRateLimiter(env.LIMITER, { requests: limit, perSeconds: 60 }),
    });
    const url = new URL(request.url);
    if (url.pathname === `${env.BASE_PATH}/ticket`) {
      return Response.json({ ticket: mintUploadTicket(env.TICKET_SECRET, { subject: url.searchParams.get('subject') ?? '' }) });
    }
    return handle(request);
  },
};
