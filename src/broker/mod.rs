//! The edge broker: `createBroker(options)` and `mintUploadTicket(secret,
//! claims)`. Compiled only with the `broker` feature (on by default; the
//! package's browser build leaves it out).
//!
//! The broker runs where secrets may live (a Cloudflare Worker, Deno, the
//! app's Node backend). It holds the workspace token (static, or obtained by
//! OAuth 2.0 client credentials), checks the browser's upload ticket and the
//! policy, and forwards the Import Jobs and Metadata API calls on the same
//! paths; file bytes go from the browser straight to storage and never pass
//! through it. The rules (tickets, job handles, policy, routes, rate limit)
//! are `import_core::broker`; this module is the I/O around them:
//!
//! * [`options`]: reading and checking `createBroker`'s options;
//! * [`upstream`]: the workspace token (cache, single-flight refresh) and the
//!   calls to the API;
//! * [`handler`]: one `Request` in, one `Response` out (CORS, routes,
//!   authentication, rate limit, policy, job handles).

use std::rc::Rc;

use import_core::broker::{self as rules, DEFAULT_TICKET_TTL};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

mod handler;
mod options;
mod upstream;

/// `createBroker(options)`: a `fetch`-style handler `(Request) =>
/// Promise<Response>` for a Workers module (`export default { fetch }`),
/// `Deno.serve`, or Node through a small adapter.
///
/// Options (see the README's Broker section): `apiBaseUrl`, `token` and/or
/// `oauth: { tokenUrl, clientId, clientSecret, scope? }`, `ticketSecret`,
/// `authorize?`, `policy?`, `allowedOrigins?`, `basePath?`, `fetch?`,
/// `ticketAudience?`, `rateLimiter?`. Throws a `TypeError` naming the
/// option, with `code` `BROKER.CONFIG.INVALID`, when one is missing or
/// wrong.
#[wasm_bindgen(js_name = createBroker, skip_typescript)]
pub fn create_broker(options: JsValue) -> Result<Function, JsValue> {
    let broker = Rc::new(options::parse(&options).map_err(config_error)?);
    let closure = Closure::<dyn Fn(JsValue) -> Promise>::new(move |request: JsValue| {
        let broker = broker.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            Ok(handler::handle(&broker, request).await.into())
        })
    });
    Ok(closure.into_js_value().unchecked_into())
}

/// `mintUploadTicket(secret, { subject, objects?, maxFileSize?, ttlSeconds?, audience? })`:
/// an upload ticket (a compact HS256 JWT) for the broker whose `ticketSecret`
/// is `secret`. For the app's backend: it decides who the subject is and
/// hands the ticket to its page. Throws a `TypeError` on bad input.
#[wasm_bindgen(js_name = mintUploadTicket, skip_typescript)]
pub fn mint_upload_ticket(secret: JsValue, claims: JsValue) -> Result<String, JsValue> {
    let secret = secret
        .as_string()
        .ok_or_else(|| type_error("mintUploadTicket: secret must be a string".into()))?;
    if !claims.is_object() {
        return Err(type_error(
            "mintUploadTicket: claims must be an object { subject, objects?, maxFileSize?, ttlSeconds? }".into(),
        ));
    }
    let grant =
        options::grant_of(&claims).map_err(|e| type_error(format!("mintUploadTicket: {e}")))?;
    let ttl = match options::number(&claims, "ttlSeconds")
        .map_err(|e| type_error(format!("mintUploadTicket: {e}")))?
    {
        None => DEFAULT_TICKET_TTL,
        Some(t) if t.fract() == 0.0 && t >= 0.0 => t as u64,
        Some(t) => {
            return Err(type_error(format!(
                "mintUploadTicket: ttlSeconds must be a whole number of seconds (got {t})"
            )))
        }
    };
    let audience = options::string(&claims, "audience")
        .map_err(|e| type_error(format!("mintUploadTicket: {e}")))?
        .unwrap_or_else(|| rules::TICKET_AUDIENCE.to_string());
    let now = (crate::runtime::now_ms() / 1000.0).floor() as u64;
    rules::mint_ticket_for(&secret, &audience, &grant, ttl, now)
        .map_err(|e| type_error(format!("mintUploadTicket: {e}")))
}

#[wasm_bindgen(typescript_custom_section)]
const TS: &'static str = r#"
/** What one browser request may do (from a ticket, or from `authorize`). */
export interface BrokerGrant {
  /** The app's user or session, 1–256 characters. */
  subject: string;
  /** Objects this request may import into (narrows `policy.objects`). */
  objects?: string[];
  /** Largest `fileSize` in bytes (narrows `policy.maxFileSize`). */
  maxFileSize?: number;
}

/** Claims of `mintUploadTicket`. */
export interface UploadTicketClaims extends BrokerGrant {
  /** Lifetime in seconds, 1 to 86400 (default 600). */
  ttlSeconds?: number;
  /** The `aud` claim: the `ticketAudience` of the broker that will accept it (default `import-uploader-broker`). */
  audience?: string;
}

/** What a `rateLimiter` answers for one request. */
export interface RateLimitDecision {
  /** `true`: let the request through; `false`: answer 429. */
  ok: boolean;
  /** Seconds to wait when refused (`Retry-After`, at least 1). */
  retryAfter?: number;
}

/**
 * A rate limiter shared by broker instances (the default counts per
 * instance, which at the edge is no limit). `limit(subject)` takes one
 * request of `subject`; when it throws, the broker answers 503
 * `BROKER.RATE.UNAVAILABLE`. See `import-uploader/cloudflare` for one backed
 * by a Durable Object.
 */
export interface BrokerRateLimiter {
  limit(subject: string): RateLimitDecision | Promise<RateLimitDecision>;
}

/** The broker's policy; every option narrows what browsers may do. */
export interface BrokerPolicy {
  /** Allowed `objectName` values (default: any). */
  objects?: string[];
  /** Largest `fileSize` in bytes (default: the API's 50 GB). */
  maxFileSize?: number;
  /** Allowed `importMode` values (default: strict, balanced, landing_friendly; `custom` is refused). */
  importModes?: string[];
  /** Allow `createList` / `targetListId` (default false). */
  allowCreateList?: boolean;
  /** Allow `createAudience` (default false). */
  allowCreateAudience?: boolean;
  /** Allow `autoProfileAfterImport` (default false). */
  allowAutoProfile?: boolean;
  /** Allow `saveAsTemplate` / `templateId` in mappings (default false). */
  allowTemplates?: boolean;
  /** Requests per subject (default 120 per 60 s; `requests: 0` turns it off). In-memory, per broker instance; see `rateLimiter`. */
  rateLimit?: { requests: number; perSeconds: number };
  /** Destination fields a mapping's `fieldMap` may write (default: any); a `templateId` is refused when set. */
  fields?: string[];
}

/** Options of `createBroker`. */
export interface BrokerOptions {
  /** The API's base URL, e.g. `https://api.example.com/public/v1`. */
  apiBaseUrl: string;
  /** A static workspace token (and/or `oauth`). */
  token?: string;
  /** OAuth 2.0 client credentials the broker exchanges for workspace tokens. */
  oauth?: { tokenUrl: string; clientId: string; clientSecret: string; scope?: string };
  /** HMAC-SHA256 key of upload tickets and job handles, at least 32 characters. */
  ticketSecret: string;
  /**
   * The app's own authentication: a grant, or null to fall back to the
   * ticket. It gets a copy of the request with its method, URL and headers
   * but no body (the body is read once, by the broker, within its limit).
   */
  authorize?: (request: Request) => BrokerGrant | null | undefined | Promise<BrokerGrant | null | undefined>;
  /** What browsers may do. */
  policy?: BrokerPolicy;
  /** Exact origins allowed to call the broker from a browser (no wildcard). */
  allowedOrigins?: string[];
  /** Path prefix the broker serves under, e.g. `/api` (default: none). */
  basePath?: string;
  /** The `aud` of the tickets this broker accepts (default `import-uploader-broker`); give each environment sharing a `ticketSecret` its own. */
  ticketAudience?: string;
  /** A rate limiter shared between instances, replacing `policy.rateLimit`'s in-memory one. */
  rateLimiter?: BrokerRateLimiter;
  /** The `fetch` used to reach the API and the token endpoint (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
}

/** A `fetch`-style handler: a Workers module's `fetch`, `Deno.serve`'s handler. */
export type BrokerHandler = (request: Request) => Promise<Response>;

/** The token-holding proxy browsers talk to (see the README's Broker section). */
export function createBroker(options: BrokerOptions): BrokerHandler;

/** An upload ticket for the broker whose `ticketSecret` is `secret`. */
export function mintUploadTicket(secret: string, claims: UploadTicketClaims): string;
"#;

fn type_error(message: String) -> JsValue {
    js_sys::TypeError::new(&message).into()
}

/// `createBroker`'s refusal of its options: a `TypeError` whose `code` is
/// `BROKER.CONFIG.INVALID`.
fn config_error(message: String) -> JsValue {
    let e = type_error(message);
    let _ = js_sys::Reflect::set(
        &e,
        &JsValue::from_str("code"),
        &JsValue::from_str(import_core::codes::broker::MISCONFIGURED),
    );
    e
}
