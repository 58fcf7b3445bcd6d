// The front worker of the shared rate limit case (`shared-limit.mjs`):
// `/a/…` to one broker worker, `/b/…` to the other (service bindings).

export default {
  fetch(request, env) {
    const first = new URL(request.url).pathname.split('/')[1];
    if (first === 'a') return env.A.fetch(request);
    if (first === 'b') return env.B.fetch(request);
    return new Response('not found\n', { status: 404 });
  },
};
