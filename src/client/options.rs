//! The client's own options: the constructor's (`baseUrl`, `token`,
//! `getToken`, `fetch`, `headers`, `retry`) and every call's (`signal`,
//! `idempotencyKey`), read as [`crate::options`] describes.

use import_core::retry::RetryPolicy;
use js_sys::{Array, Function};
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use crate::error::ClientError;
use crate::fetch::Fetcher;
use crate::options::{pairs, retry_policy, Checked};
use crate::shape;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// `new ImportClient(options)`, checked by `clientOptions`.
    #[wasm_bindgen(extends = Checked)]
    type ClientOptions;
    #[wasm_bindgen(js_name = clientOptions)]
    fn client_options(options: &JsValue) -> ClientOptions;
    #[wasm_bindgen(method, getter, js_name = baseUrl)]
    fn base_url(this: &ClientOptions) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn token(this: &ClientOptions) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = getToken)]
    fn get_token(this: &ClientOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    fn fetch(this: &ClientOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &ClientOptions) -> Array;
    #[wasm_bindgen(method, getter)]
    fn retry(this: &ClientOptions) -> JsValue;

    /// A call's options, checked by `callOptions`.
    #[wasm_bindgen(extends = Checked)]
    type CallOptionsJs;
    #[wasm_bindgen(js_name = callOptions)]
    fn call_options(options: &JsValue) -> CallOptionsJs;
    #[wasm_bindgen(method, getter)]
    fn signal(this: &CallOptionsJs) -> Option<AbortSignal>;
    #[wasm_bindgen(method, getter, js_name = idempotencyKey)]
    fn idempotency_key(this: &CallOptionsJs) -> Option<String>;
}

/// Per-call options: `{ signal?, idempotencyKey? }` (the key is sent with
/// POSTs only).
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    /// Cancels the call.
    pub signal: Option<AbortSignal>,
    /// `Idempotency-Key` of a POST (default: a fresh UUID v4 per call).
    pub idempotency_key: Option<String>,
}

impl CallOptions {
    /// Reads `{ signal?, idempotencyKey? }` (undefined/null: no options).
    pub(crate) fn from_js(opts: &JsValue) -> Result<CallOptions, ClientError> {
        let c = call_options(opts);
        c.ok()?;
        Ok(CallOptions {
            signal: c.signal(),
            idempotency_key: c.idempotency_key(),
        })
    }
}

/// The constructor's options, read and checked.
pub(super) struct ClientSettings {
    /// Base URL without a trailing slash (includes `/public/v1`).
    pub base_url: String,
    /// The `token` option.
    pub token: Option<String>,
    /// `getToken()`, when given.
    pub get_token: Option<Function>,
    /// The `fetch` to call.
    pub fetcher: Fetcher,
    /// Extra headers sent with every API request, sorted by name.
    pub headers: Vec<(String, String)>,
    /// Retry policy of API calls.
    pub retry: RetryPolicy,
}

impl ClientSettings {
    /// Reads the constructor's options; the retry policy (a wire shape) is
    /// checked here, after all of JavaScript's checks.
    pub(super) fn from_js(options: &JsValue) -> Result<ClientSettings, ClientError> {
        let c = client_options(options);
        c.complaint_before(10)?;
        let retry = retry_option(&c.retry())?.unwrap_or_default();
        // Sorted by name (the order headers are sent in); inserted in
        // order (names are unique), so no sort routine is linked.
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs(&c.headers()) {
            let at = headers.partition_point(|(n, _)| *n < name);
            headers.insert(at, (name, value));
        }
        Ok(ClientSettings {
            base_url: c.base_url().unwrap_or_default(),
            token: c.token(),
            get_token: c.get_token(),
            fetcher: c.fetch().map_or(Fetcher::Global, Fetcher::Custom),
            headers,
            retry,
        })
    }
}

/// `retry`: `{ maxAttempts?, baseDelayMs?, maxDelayMs? }`.
fn retry_option(v: &JsValue) -> Result<Option<RetryPolicy>, ClientError> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let policy = retry_policy(v, &shape::RETRY_OPTIONS).map_err(|e| {
        ClientError::invalid(
            Some("retry"),
            format!("`retry` must be {{ maxAttempts?, baseDelayMs?, maxDelayMs? }} of non-negative integers: {e}."),
        )
    })?;
    if policy.max_attempts == 0 {
        return Err(ClientError::invalid(
            Some("retry.maxAttempts"),
            "`retry.maxAttempts` counts the first attempt: it must be at least 1.",
        ));
    }
    Ok(Some(policy))
}
