//! `createBroker`'s options, read once and checked: a wrong option is a
//! `TypeError` at start-up naming it, never a surprise on the first request.
//! Also the grants of upload tickets and of the `authorize` hook (data the
//! broker reads on each request, not options).

use std::cell::RefCell;

use import_core::broker::{
    check_audience, check_secret, Grant, Policy, RateLimiter, API_MAX_FILE_SIZE, TICKET_AUDIENCE,
};
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;

use super::upstream::{OAuth, Upstream};
use crate::options::Checked;

/// The per-subject rate limit: this instance's own buckets, or the
/// `rateLimiter` option (shared between instances, e.g. a Durable Object).
pub(crate) enum Limiter {
    Memory(RefCell<RateLimiter>),
    Custom(Object),
}

/// A configured broker.
pub(crate) struct Broker {
    /// The API's base URL, without a trailing `/`.
    pub api_base: String,
    /// The path prefix served, `""` or `/prefix` (no trailing `/`).
    pub base_path: String,
    /// Key of tickets, job handles and idempotency keys.
    pub secret: String,
    /// The app's own authentication.
    pub authorize: Option<Function>,
    /// What browsers may do.
    pub policy: Policy,
    /// Per-subject rate limit.
    pub limiter: Limiter,
    /// The `aud` of the tickets this broker accepts.
    pub audience: String,
    /// Exact origins allowed for CORS.
    pub origins: Vec<String>,
    /// The workspace token and the calls to the API.
    pub upstream: Upstream,
}

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// `createBroker`'s options, checked by `brokerOptions`.
    #[wasm_bindgen(extends = Checked)]
    type BrokerOptions;
    #[wasm_bindgen(js_name = brokerOptions)]
    fn broker_options(options: &JsValue) -> BrokerOptions;
    #[wasm_bindgen(method, getter, js_name = apiBaseUrl)]
    fn api_base_url(this: &BrokerOptions) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = ticketSecret)]
    fn ticket_secret(this: &BrokerOptions) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn token(this: &BrokerOptions) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn oauth(this: &BrokerOptions) -> Option<OAuthOptions>;
    #[wasm_bindgen(method, getter)]
    fn authorize(this: &BrokerOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    fn fetch(this: &BrokerOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    fn policy(this: &BrokerOptions) -> Option<PolicyOptions>;
    #[wasm_bindgen(method, getter)]
    fn origins(this: &BrokerOptions) -> Array;
    #[wasm_bindgen(method, getter, js_name = basePath)]
    fn base_path(this: &BrokerOptions) -> Option<String>;

    /// `oauth: { tokenUrl, clientId, clientSecret, scope? }`, checked.
    type OAuthOptions;
    #[wasm_bindgen(method, getter, js_name = tokenUrl)]
    fn token_url(this: &OAuthOptions) -> String;
    #[wasm_bindgen(method, getter, js_name = clientId)]
    fn client_id(this: &OAuthOptions) -> String;
    #[wasm_bindgen(method, getter, js_name = clientSecret)]
    fn client_secret(this: &OAuthOptions) -> String;
    #[wasm_bindgen(method, getter)]
    fn scope(this: &OAuthOptions) -> Option<String>;

    /// `policy`, checked (but for `maxFileSize` being whole).
    type PolicyOptions;
    #[wasm_bindgen(method, getter)]
    fn objects(this: &PolicyOptions) -> Option<Array>;
    #[wasm_bindgen(method, getter, js_name = maxFileSize)]
    fn max_file_size(this: &PolicyOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = importModes)]
    fn import_modes(this: &PolicyOptions) -> Option<Array>;
    #[wasm_bindgen(method, getter, js_name = allowCreateList)]
    fn allow_create_list(this: &PolicyOptions) -> bool;
    #[wasm_bindgen(method, getter, js_name = allowCreateAudience)]
    fn allow_create_audience(this: &PolicyOptions) -> bool;
    #[wasm_bindgen(method, getter, js_name = allowAutoProfile)]
    fn allow_auto_profile(this: &PolicyOptions) -> bool;
    #[wasm_bindgen(method, getter, js_name = allowTemplates)]
    fn allow_templates(this: &PolicyOptions) -> bool;
    #[wasm_bindgen(method, getter, js_name = rateRequests)]
    fn rate_requests(this: &PolicyOptions) -> Option<u32>;
    #[wasm_bindgen(method, getter, js_name = ratePerSeconds)]
    fn rate_per_seconds(this: &PolicyOptions) -> Option<u32>;
}

/// Reads `createBroker`'s options, as [`crate::options`] describes: the
/// checks are `js/host.js`'s (`brokerOptions`) but for the secret's length
/// and the policy's `maxFileSize` being whole, made here in their place.
/// The options only servers use (`ticketAudience`, `rateLimiter`,
/// `policy.fields`) and the refusal of URLs with credentials are read and
/// checked here, so that `js/host.js`, which the browser build ships whole,
/// does not grow for them.
pub(crate) fn parse(options: &JsValue) -> Result<Broker, String> {
    // Before any message that repeats a URL: none may show credentials.
    no_credentials(options, "apiBaseUrl", "apiBaseUrl")?;
    if let Some(oauth) = get(options, "oauth") {
        no_credentials(&oauth, "tokenUrl", "oauth.tokenUrl")?;
    }
    let c = broker_options(options);
    c.message_before(5)?;
    let secret = c.ticket_secret().unwrap_or_default();
    check_secret(&secret).map_err(|e| format!("createBroker: {e}"))?;
    c.message_before(9)?;
    let policy = match c.policy() {
        None => Policy::default(),
        Some(p) => policy(&p)?,
    };
    c.message_before(u32::MAX)?;
    let oauth = c.oauth().map(|o| OAuth {
        token_url: o.token_url(),
        client_id: o.client_id(),
        client_secret: o.client_secret(),
        scope: o.scope(),
    });
    let mut policy = policy;
    if let Some(fields) = get(options, "policy").and_then(|p| get(&p, "fields")) {
        policy.fields =
            Some(strings(&fields, "policy.fields").map_err(|e| format!("createBroker: {e}"))?);
    }
    let audience = string(options, "ticketAudience")
        .map_err(|e| format!("createBroker: {e}"))?
        .unwrap_or_else(|| TICKET_AUDIENCE.to_string());
    check_audience(&audience).map_err(|e| format!("createBroker: {e}"))?;
    let limiter = match get(options, "rateLimiter") {
        Some(l) if Reflect::get(&l, &JsValue::from_str("limit")).is_ok_and(|f| f.is_function()) => {
            Limiter::Custom(l.unchecked_into())
        }
        Some(_) => return Err("createBroker: rateLimiter must be an object with an async limit(subject) method answering { ok, retryAfter }".into()),
        None => Limiter::Memory(RefCell::new(RateLimiter::new(
            policy.rate_requests,
            policy.rate_per_seconds,
        ))),
    };
    Ok(Broker {
        api_base: c.api_base_url().unwrap_or_default(),
        base_path: c.base_path().unwrap_or_default(),
        secret,
        authorize: c.authorize(),
        policy,
        limiter,
        audience,
        origins: text_list(&c.origins()),
        upstream: Upstream::new(c.token(), oauth, c.fetch()),
    })
}

/// The policy as the checker left it; `maxFileSize` must be whole.
fn policy(p: &PolicyOptions) -> Result<Policy, String> {
    let mut policy = Policy {
        objects: p.objects().map(|a| text_list(&a)),
        ..Policy::default()
    };
    if let Some(n) = p.max_file_size() {
        if !(n >= 1.0 && n.fract() == 0.0) {
            return Err(format!(
                "createBroker: policy.maxFileSize must be a whole number of bytes ≥ 1 (got {n})"
            ));
        }
        policy.max_file_size = (n as u64).min(API_MAX_FILE_SIZE);
    }
    if let Some(modes) = p.import_modes() {
        policy.import_modes = text_list(&modes);
    }
    policy.allow_create_list = p.allow_create_list();
    policy.allow_create_audience = p.allow_create_audience();
    policy.allow_auto_profile = p.allow_auto_profile();
    policy.allow_templates = p.allow_templates();
    if let (Some(requests), Some(per_seconds)) = (p.rate_requests(), p.rate_per_seconds()) {
        policy.rate_requests = requests;
        policy.rate_per_seconds = per_seconds;
    }
    Ok(policy)
}

/// Refuses `v[key]` when it is a URL with credentials (`user:pass@`),
/// without repeating them.
fn no_credentials(v: &JsValue, key: &str, name: &str) -> Result<(), String> {
    let Some(url) = get(v, key).and_then(|u| u.as_string()) else {
        return Ok(());
    };
    let Some(after) = url.find("://").map(|i| i + 3) else {
        return Ok(());
    };
    let authority = url[after..].split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "createBroker: {name} must not carry credentials (`user:pass@`): give the token or the OAuth client credentials in their own options"
        ));
    }
    Ok(())
}

/// A checked array of strings.
fn text_list(a: &Array) -> Vec<String> {
    a.iter()
        .map(|s| s.as_string().unwrap_or_default())
        .collect()
}

/// A grant from `{ subject, objects?, maxFileSize? }` (ticket claims, or
/// what `authorize` returned).
pub(crate) fn grant_of(v: &JsValue) -> Result<Grant, String> {
    let subject = string(v, "subject")?
        .ok_or("subject is required (a string naming the app's user or session)")?;
    let objects = match get(v, "objects") {
        None => None,
        Some(o) => Some(strings(&o, "objects")?),
    };
    let max_file_size = match number(v, "maxFileSize")? {
        None => None,
        Some(n) if n >= 0.0 && n.fract() == 0.0 => Some(n as u64),
        Some(n) => {
            return Err(format!(
                "maxFileSize must be a whole number of bytes (got {n})"
            ))
        }
    };
    let grant = Grant {
        subject,
        objects,
        max_file_size,
    };
    grant.check()?;
    Ok(grant)
}

/// `v[key]` as a string, if present.
pub(crate) fn string(v: &JsValue, key: &str) -> Result<Option<String>, String> {
    match get(v, key) {
        None => Ok(None),
        Some(s) => s
            .as_string()
            .map(Some)
            .ok_or_else(|| format!("{key} must be a string")),
    }
}

/// `v[key]` as a finite number, if present.
pub(crate) fn number(v: &JsValue, key: &str) -> Result<Option<f64>, String> {
    match get(v, key) {
        None => Ok(None),
        Some(n) => match n.as_f64() {
            Some(n) if n.is_finite() => Ok(Some(n)),
            _ => Err(format!("{key} must be a finite number")),
        },
    }
}

fn strings(v: &JsValue, name: &str) -> Result<Vec<String>, String> {
    if !Array::is_array(v) {
        return Err(format!("{name} must be an array of strings"));
    }
    Array::from(v)
        .iter()
        .map(|s| {
            s.as_string()
                .ok_or_else(|| format!("{name} must be an array of strings"))
        })
        .collect()
}

/// `value[key]` if it is neither `undefined` nor `null`.
fn get(value: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(value, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}
