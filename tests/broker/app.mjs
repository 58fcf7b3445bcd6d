// The server every broker runner starts, the same in Node, Deno and
// workerd: a fetch-style handler built from the package's `createBroker`
// and `mintUploadTicket` (passed in as `pkg`, imported by name by each
// runtime's entry) and the settings in `env` (see `ENV`). It uses only
// web-standard APIs.
//
// Routes (each broker under its own `basePath`):
//
// | path           | what |
// |----------------|------|
// | `/api/…`       | broker: OAuth client credentials against the main emulator; policy objects `profiles`, `orders`, max 1 MB; CORS for the test page's origin |
// | `/static/…`    | broker: a static workspace token; same policy, and `fields` (the people mapping's destinations only) |
// | `/limited/…`   | broker: a static workspace token; rate limit 3 requests per 60 s per subject |
// | `/expiring/…`  | broker: an already expired `token` plus OAuth against the emulator whose tokens live 2 s |
// | `/session/…`   | broker: an `authorize` hook (the app's own sessions: `Authorization: Bearer session:<subject>` grants `profiles` only), tickets otherwise |
// | `/badcreds/…`  | broker: OAuth with a wrong client secret (the API refuses the broker) |
// | `/down/…`      | broker: an API base URL where nothing listens |
// | `/redirected/…` | broker: a static token and an API base URL that answers 302 to another host |
// | `/redirectedauth/…` | broker: OAuth whose token URL answers 307 to another host |
// | `/staging/…`   | broker: `ticketAudience: "staging"`; tickets of the default audience are refused |
// | `/app/ticket`  | the app's backend: `GET ?subject=&objects=a,b&maxFileSize=&ttlSeconds=&audience=` mints a ticket (CORS for the page) |
// | `/test/upstream` | what the brokers sent upstream (token requests, Authorization values), for the runner only |
//
// Every broker gets a recording `fetch` (the contract's `fetch` option), so
// the runner can count token requests and learn which workspace tokens were
// used, and then assert the page saw none of them.

/** Settings read from `env` (names of environment variables or bindings). */
export const ENV = {
  /** Main emulator's API base (`…/public/v1`). */
  apiUrl: 'BROKER_API_URL',
  /** Main emulator's `POST /oauth/token`. */
  tokenUrl: 'BROKER_TOKEN_URL',
  /** Emulator with 2 s tokens: API base and token URL. */
  expiringApiUrl: 'BROKER_EXPIRING_API_URL',
  expiringTokenUrl: 'BROKER_EXPIRING_TOKEN_URL',
  /** OAuth client id (both emulators know it). */
  clientId: 'BROKER_CLIENT_ID',
  /** The test page's origin (the only allowed CORS origin). */
  pageOrigin: 'BROKER_PAGE_ORIGIN',
  /** Secrets: */
  clientSecret: 'BROKER_CLIENT_SECRET',
  workspaceToken: 'BROKER_WORKSPACE_TOKEN',
  expiredToken: 'BROKER_EXPIRED_TOKEN',
  ticketSecret: 'BROKER_TICKET_SECRET',
  /** A server that answers every request with a redirect to another host (the runner's). */
  redirectUrl: 'BROKER_REDIRECT_URL',
};

/** The names of `ENV` that hold secrets (workerd: environment bindings). */
export const SECRET_KEYS = ['clientSecret', 'workspaceToken', 'expiredToken', 'ticketSecret'];

/** Reads every `ENV` setting with `get(name)`; fails naming a missing one. */
export function readSettings(get) {
  const out = {};
  for (const [key, name] of Object.entries(ENV)) {
    const value = get(name);
    if (!value) throw new Error(`${name} is not set`);
    out[key] = value;
  }
  return out;
}

/** Policy shared by the brokers that run imports. */
const POLICY = { objects: ['profiles', 'orders'], maxFileSize: 1_000_000 };
/** The destination fields of the people mapping (`../js/people.mjs`). */
export const PEOPLE_FIELDS = ['email', 'first_name'];

/** A `fetch` that records token requests and the Authorization it sends. */
function recordingFetch(log) {
  return async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).pathname.endsWith('/oauth/token')) log.tokenRequests += 1;
    else {
      log.apiRequests += 1;
      const auth = request.headers.get('authorization');
      if (auth && !log.authorizations.includes(auth)) log.authorizations.push(auth);
    }
    return fetch(request);
  };
}

function newLog() {
  return { tokenRequests: 0, apiRequests: 0, authorizations: [] };
}

/** The server's handler for `pkg` (the package's exports) and `settings`. */
export function createApp(pkg, settings) {
  const s = settings;
  const logs = {
    api: newLog(),
    static: newLog(),
    limited: newLog(),
    expiring: newLog(),
    session: newLog(),
    badcreds: newLog(),
    down: newLog(),
    redirected: newLog(),
    redirectedauth: newLog(),
    staging: newLog(),
  };
  const oauth = (tokenUrl) => ({ tokenUrl, clientId: s.clientId, clientSecret: s.clientSecret });
  const common = { ticketSecret: s.ticketSecret, allowedOrigins: [s.pageOrigin] };
  const brokers = {
    api: pkg.createBroker({
      ...common,
      apiBaseUrl: s.apiUrl,
      oauth: oauth(s.tokenUrl),
      policy: POLICY,
      basePath: '/api',
      fetch: recordingFetch(logs.api),
    }),
    static: pkg.createBroker({
      ...common,
      apiBaseUrl: s.apiUrl,
      token: s.workspaceToken,
      policy: { ...POLICY, fields: PEOPLE_FIELDS },
      basePath: '/static',
      fetch: recordingFetch(logs.static),
    }),
    limited: pkg.createBroker({
      ...common,
      apiBaseUrl: s.apiUrl,
      token: s.workspaceToken,
      policy: { ...POLICY, rateLimit: { requests: 3, perSeconds: 60 } },
      basePath: '/limited',
      fetch: recordingFetch(logs.limited),
    }),
    expiring: pkg.createBroker({
      ...common,
      apiBaseUrl: s.expiringApiUrl,
      token: s.expiredToken,
      oauth: oauth(s.expiringTokenUrl),
      policy: POLICY,
      basePath: '/expiring',
      fetch: recordingFetch(logs.expiring),
    }),
    session: pkg.createBroker({
      ...common,
      apiBaseUrl: s.apiUrl,
      token: s.workspaceToken,
      policy: POLICY,
      basePath: '/session',
      fetch: recordingFetch(logs.session),
      // The app's own authentication; `null` falls back to upload tickets.
      authorize: async (request) => {
        const m = /^Bearer session:(\S+)$/.exec(request.headers.get('authorization') ?? '');
        return m ? { subject: m[1], objects: ['profiles'] } : null;
      },
    }),
    badcreds: pkg.createBroker({
      ...common,
      apiBaseUrl: s.apiUrl,
      oauth: { ...oauth(s.tokenUrl), clientSecret: `${s.clientSecret}-wrong` },
      basePath: '/badcreds',
      fetch: recordingFetch(logs.badcreds),
    }),
    down: pkg.createBroker({
      ...common,
      // Port 9 (discard): nothing listens there on a test machine.
      apiBaseUrl: 'http://127.0.0.1:9/public/v1',
      token: s.workspaceToken,
      basePath: '/down',
      fetch: recordingFetch(logs.down),
    }),
    redirected: pkg.createBroker({
      ...common,
      apiBaseUrl: `${s.redirectUrl}/public/v1`,
      token: s.workspaceToken,
      basePath: '/redirected',
      fetch: recordingFetch(logs.redirected),
    }),
    redirectedauth: pkg.createBroker({
      ...common,
      apiBaseUrl: s.apiUrl,
      oauth: oauth(`${s.redirectUrl}/oauth/token`),
      basePath: '/redirectedauth',
      fetch: recordingFetch(logs.redirectedauth),
    }),
    staging: pkg.createBroker({
      ...common,
      apiBaseUrl: s.apiUrl,
      token: s.workspaceToken,
      policy: POLICY,
      ticketAudience: 'staging',
      basePath: '/staging',
      fetch: recordingFetch(logs.staging),
    }),
  };

  const pageCors = {
    'access-control-allow-origin': s.pageOrigin,
    vary: 'Origin',
  };

  return async function handle(request) {
    const url = new URL(request.url);
    const first = url.pathname.split('/')[1];
    if (Object.hasOwn(brokers, first)) return brokers[first](request);
    if (url.pathname === '/app/ticket') {
      // Stands in for the app's backend: a real one would take the subject
      // from its own session, never from the query.
      const q = url.searchParams;
      const claims = { subject: q.get('subject') ?? '' };
      if (q.has('objects')) claims.objects = q.get('objects').split(',');
      if (q.has('maxFileSize')) claims.maxFileSize = Number(q.get('maxFileSize'));
      if (q.has('ttlSeconds')) claims.ttlSeconds = Number(q.get('ttlSeconds'));
      if (q.has('audience')) claims.audience = q.get('audience');
      try {
        const ticket = pkg.mintUploadTicket(s.ticketSecret, claims);
        return Response.json({ ticket }, { headers: pageCors });
      } catch (e) {
        return Response.json({ error: { code: e.code ?? null, message: String(e.message ?? e) } }, { status: 400, headers: pageCors });
      }
    }
    if (url.pathname === '/test/upstream') return Response.json(logs);
    if (url.pathname === '/') return new Response('broker test server\n');
    return new Response('not found\n', { status: 404 });
  };
}
