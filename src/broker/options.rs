//! `createBroker`'s options, read once and checked: a wrong option is a
//! `TypeError` at start-up naming it, never a surprise on the first request.

use std::cell::RefCell;

use import_core::broker::{check_secret, Grant, Policy, RateLimiter, API_MAX_FILE_SIZE};
use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::upstream::{OAuth, Upstream};

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
    pub limiter: RefCell<RateLimiter>,
    /// Exact origins allowed for CORS.
    pub origins: Vec<String>,
    /// The workspace token and the calls to the API.
    pub upstream: Upstream,
}

/// Reads `createBroker`'s options.
pub(crate) fn parse(options: &JsValue) -> Result<Broker, String> {
    if !options.is_object() {
        return Err(
            "createBroker: options must be an object (see the README's Broker section)".into(),
        );
    }
    let api_base = string(options, "apiBaseUrl")?
        .ok_or("createBroker: apiBaseUrl is required (the API's base URL, e.g. https://api.example.com/public/v1)")?;
    check_http_url(&api_base, "apiBaseUrl")?;
    let api_base = api_base.trim_end_matches('/').to_string();

    let secret = string(options, "ticketSecret")?
        .ok_or("createBroker: ticketSecret is required (the key shared with the app's backend that mints upload tickets)")?;
    check_secret(&secret).map_err(|e| format!("createBroker: {e}"))?;

    let token = string(options, "token")?;
    if token.as_deref() == Some("") {
        return Err("createBroker: token must not be empty".into());
    }
    let oauth = match get(options, "oauth") {
        None => None,
        Some(o) if o.is_object() => {
            let req = |k: &str| -> Result<String, String> {
                string(&o, k)?
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| format!("createBroker: oauth.{k} is required"))
            };
            let token_url = req("tokenUrl")?;
            check_http_url(&token_url, "oauth.tokenUrl")?;
            Some(OAuth {
                token_url,
                client_id: req("clientId")?,
                client_secret: req("clientSecret")?,
                scope: string(&o, "scope")?.filter(|s| !s.trim().is_empty()),
            })
        }
        Some(_) => return Err(
            "createBroker: oauth must be an object { tokenUrl, clientId, clientSecret, scope? }"
                .into(),
        ),
    };
    if token.is_none() && oauth.is_none() {
        return Err("createBroker: give the workspace token (`token`) or OAuth client credentials (`oauth`)".into());
    }

    let authorize = function(options, "authorize")?;
    let fetch = function(options, "fetch")?;
    let policy = match get(options, "policy") {
        None => Policy::default(),
        Some(p) if p.is_object() => policy(&p)?,
        Some(_) => return Err("createBroker: policy must be an object".into()),
    };
    let origins = match get(options, "allowedOrigins") {
        None => Vec::new(),
        Some(v) => strings(&v, "allowedOrigins")?,
    };
    for o in &origins {
        if o == "*" || o.contains('*') {
            return Err(
                "createBroker: allowedOrigins must list exact origins; wildcards are not allowed"
                    .into(),
            );
        }
        check_http_url(o, "allowedOrigins")?;
        if o.ends_with('/') || o.splitn(4, '/').nth(3).is_some() {
            return Err(format!(
                "createBroker: allowedOrigins entry `{o}` is not an origin (scheme://host[:port], no path or trailing slash)"
            ));
        }
    }
    let base_path = match string(options, "basePath")? {
        None => String::new(),
        Some(p) => {
            let p = p.trim_end_matches('/').to_string();
            if !p.is_empty() && !p.starts_with('/') {
                return Err(format!(
                    "createBroker: basePath must start with `/` (got `{p}`)"
                ));
            }
            p
        }
    };
    let limiter = RefCell::new(RateLimiter::new(
        policy.rate_requests,
        policy.rate_per_seconds,
    ));
    Ok(Broker {
        api_base,
        base_path,
        secret,
        authorize,
        policy,
        limiter,
        origins,
        upstream: Upstream::new(token, oauth, fetch),
    })
}

fn policy(p: &JsValue) -> Result<Policy, String> {
    let mut policy = Policy::default();
    if let Some(v) = get(p, "objects") {
        policy.objects = Some(strings(&v, "policy.objects")?);
    }
    if let Some(n) = number(p, "maxFileSize").map_err(|e| format!("createBroker: policy.{e}"))? {
        if !(n >= 1.0 && n.fract() == 0.0) {
            return Err(format!(
                "createBroker: policy.maxFileSize must be a whole number of bytes ≥ 1 (got {n})"
            ));
        }
        policy.max_file_size = (n as u64).min(API_MAX_FILE_SIZE);
    }
    if let Some(v) = get(p, "importModes") {
        policy.import_modes = strings(&v, "policy.importModes")?;
    }
    policy.allow_create_list = flag(p, "allowCreateList")?;
    policy.allow_create_audience = flag(p, "allowCreateAudience")?;
    policy.allow_auto_profile = flag(p, "allowAutoProfile")?;
    policy.allow_templates = flag(p, "allowTemplates")?;
    if let Some(r) = get(p, "rateLimit") {
        let whole = |k: &str, min: f64| -> Result<u32, String> {
            match number(&r, k).map_err(|e| format!("createBroker: policy.rateLimit.{e}"))? {
                Some(n) if n >= min && n.fract() == 0.0 && n <= u32::MAX as f64 => Ok(n as u32),
                _ => Err(format!(
                    "createBroker: policy.rateLimit.{k} must be a whole number ≥ {min}"
                )),
            }
        };
        policy.rate_requests = whole("requests", 0.0)?;
        policy.rate_per_seconds = whole("perSeconds", 1.0)?;
    }
    Ok(policy)
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

fn check_http_url(url: &str, name: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("createBroker: {name} must be an http(s) URL (got `{url}`)"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("createBroker: {name} has no host (got `{url}`)"));
    }
    Ok(())
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

fn flag(v: &JsValue, key: &str) -> Result<bool, String> {
    match get(v, key) {
        None => Ok(false),
        Some(b) => b
            .as_bool()
            .ok_or_else(|| format!("createBroker: policy.{key} must be true or false")),
    }
}

fn function(v: &JsValue, key: &str) -> Result<Option<Function>, String> {
    match get(v, key) {
        None => Ok(None),
        Some(f) => f
            .dyn_into::<Function>()
            .map(Some)
            .map_err(|_| format!("createBroker: {key} must be a function")),
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
