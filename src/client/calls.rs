//! The API calls themselves: [`Inner`], the client's configuration, sends
//! one call with the retry, token-refresh and idempotency rules of the
//! facade's documentation, unwraps the envelope and checks the answer
//! against its wire shape; the endpoints as Rust calls them
//! (`create_job`, `set_mapping`, `start`, `status`, `errors`).

use std::cell::RefCell;

use import_core::retry::{
    classify_network_error, classify_status, RetryDecision, RetryPolicy, Target,
};
use import_core::rules;
use import_core::wire::CreateJobRequest;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::options::{CallOptions, ClientSettings};
use super::requests::{check_mapping, path_segment, MappingInput, Parsed, StartBody};
use crate::error::ClientError;
use crate::fetch::{ApiRequest, Fetcher, HttpResponse};
use crate::js::describe;
use crate::runtime;
use crate::shape::{self, Shape};

/// The client's configuration, shared with its in-flight calls.
pub(crate) struct Inner {
    /// Base URL without a trailing slash (includes `/public/v1`).
    pub(super) base_url: String,
    /// The bearer token in use: the `token` option, or the last one
    /// `getToken()` gave.
    token: RefCell<Option<String>>,
    /// `getToken()`, when given.
    get_token: Option<Function>,
    pub(crate) fetcher: Fetcher,
    /// Extra headers sent with every API request.
    headers: Vec<(String, String)>,
    /// Retry policy of API calls.
    pub(crate) retry: RetryPolicy,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token, nor header values (they may carry credentials).
        f.debug_struct("Inner")
            .field("base_url", &self.base_url)
            .field("fetcher", &self.fetcher)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// The client of `new ImportClient(options)`.
    pub(crate) fn from_options(options: &JsValue) -> Result<Inner, ClientError> {
        let s = ClientSettings::from_js(options)?;
        Ok(Inner {
            base_url: s.base_url,
            token: RefCell::new(s.token),
            get_token: s.get_token,
            fetcher: s.fetcher,
            headers: s.headers,
            retry: s.retry,
        })
    }

    /// `POST /import-jobs`, checked with the create rules first. Resolves
    /// with the `CreateJobResponse`.
    pub(crate) async fn create_job(
        &self,
        request: &Parsed<CreateJobRequest>,
        opts: &CallOptions,
    ) -> Result<JsValue, ClientError> {
        rules::check_create(&request.request)?;
        let body = Some(request.json.clone());
        self.call(
            "POST",
            "/import-jobs",
            body,
            &shape::CREATE_JOB_RESPONSE,
            opts,
        )
        .await
    }

    /// `POST /import-jobs/{id}/mapping`, checked with the mapping rules
    /// first. Resolves with the `MappingResponse`.
    pub(crate) async fn set_mapping(
        &self,
        job_id: &str,
        mapping: &Parsed<MappingInput>,
        opts: &CallOptions,
    ) -> Result<JsValue, ClientError> {
        check_mapping(&mapping.request)?;
        let path = format!("/import-jobs/{}/mapping", path_segment(job_id, "jobId")?);
        let body = Some(mapping.json.clone());
        self.call("POST", &path, body, &shape::MAPPING_RESPONSE, opts)
            .await
    }

    /// `POST /import-jobs/{id}/start`. Resolves with the `StartResponse`.
    pub(crate) async fn start(
        &self,
        job_id: &str,
        body: &StartBody,
        opts: &CallOptions,
    ) -> Result<JsValue, ClientError> {
        let path = format!("/import-jobs/{}/start", path_segment(job_id, "jobId")?);
        let body = Some(body.0.clone());
        self.call("POST", &path, body, &shape::START_RESPONSE, opts)
            .await
    }

    /// `GET /import-jobs/{id}`: the `JobStatus`.
    pub(crate) async fn status(
        &self,
        job_id: &str,
        opts: &CallOptions,
    ) -> Result<JsValue, ClientError> {
        let path = format!("/import-jobs/{}", path_segment(job_id, "jobId")?);
        self.call("GET", &path, None, &shape::JOB_STATUS, opts)
            .await
    }

    /// `GET /import-jobs/{id}/errors`: the `ErrorsResponse`.
    pub(crate) async fn errors(
        &self,
        job_id: &str,
        opts: &CallOptions,
    ) -> Result<JsValue, ClientError> {
        let path = format!("/import-jobs/{}/errors", path_segment(job_id, "jobId")?);
        self.call("GET", &path, None, &shape::ERRORS_RESPONSE, opts)
            .await
    }

    /// The token to send: the current one, or `getToken()`'s first answer.
    async fn current_token(&self) -> Result<String, ClientError> {
        if let Some(t) = self.token.borrow().clone() {
            return Ok(t);
        }
        self.fresh_token().await
    }

    /// Calls `getToken()` (sync or async) and keeps its answer.
    async fn fresh_token(&self) -> Result<String, ClientError> {
        let Some(f) = &self.get_token else {
            return Err(ClientError::TokenProvider {
                message: "No `getToken` function was given to fetch a new token.".into(),
            });
        };
        let failed = |why: String| ClientError::TokenProvider {
            message: format!("getToken() failed: {why}"),
        };
        let value = f
            .call0(&JsValue::UNDEFINED)
            .map_err(|e| failed(describe(&e)))?;
        let value = if value.has_type::<Promise>() || is_thenable(&value) {
            JsFuture::from(Promise::resolve(&value))
                .await
                .map_err(|e| failed(describe(&e)))?
        } else {
            value
        };
        let token = value
            .as_string()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| failed("it did not give a non-empty string.".into()))?;
        *self.token.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    /// Sends one API call with retries (`json_body`: the request's JSON
    /// text), unwraps the envelope and checks `data` against `shape`.
    /// Resolves with `data` as JavaScript sees it.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        json_body: Option<String>,
        shape: &'static Shape,
        opts: &CallOptions,
    ) -> Result<JsValue, ClientError> {
        let url = format!("{}{}", self.base_url, path);
        let mut headers = self.headers.clone();
        if method == "POST" {
            // One key for every attempt of this call.
            let key = opts
                .idempotency_key
                .clone()
                .unwrap_or_else(runtime::uuid_v4);
            headers.push(("Idempotency-Key".to_string(), key));
        }
        let signal = opts.signal.as_ref();
        let mut token = self.current_token().await?;
        let mut refreshed = false;
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            let result = self
                .fetcher
                .send(ApiRequest {
                    method,
                    url: url.clone(),
                    token: &token,
                    json_body: json_body.clone(),
                    headers: headers.clone(),
                    signal,
                })
                .await;
            let (err, decision, retry_after) = match result {
                Ok(response) if (200..300).contains(&response.status) => {
                    return unwrap_success(response, shape)
                }
                Ok(response) => {
                    let retry_after = response.retry_after.as_deref().and_then(|v| {
                        import_core::retry::parse_retry_after(v, runtime::now_ms() as u64)
                    });
                    let err = error_of(response);
                    let code = match &err {
                        ClientError::Api { code, .. } => Some(code.as_str()),
                        _ => None,
                    };
                    let status = err.status().unwrap_or(0);
                    let decision = classify_status(status, code, Target::Api);
                    (err, decision, retry_after)
                }
                Err(err @ ClientError::Network { .. }) => {
                    (err, classify_network_error(Target::Api), None)
                }
                Err(err) => return Err(err),
            };
            match decision {
                RetryDecision::Retry if self.retry.may_retry(attempts) => {
                    let wait = self
                        .retry
                        .delay_ms(attempts - 1, retry_after, runtime::random());
                    runtime::sleep(wait as f64, signal)
                        .await
                        .map_err(|runtime::Aborted(reason)| ClientError::aborted(&reason))?;
                }
                RetryDecision::Retry => return Err(gave_up(err, attempts)),
                RetryDecision::RefreshToken if !refreshed && self.get_token.is_some() => {
                    refreshed = true;
                    // The refresh does not use up an attempt: the request
                    // never reached the API's handler.
                    attempts -= 1;
                    let current = self.token.borrow().clone();
                    token = match current {
                        // Another call refreshed the token meanwhile.
                        Some(t) if t != token => t,
                        _ => self.fresh_token().await?,
                    };
                }
                _ => return Err(err),
            }
        }
    }
}

/// `err` after the retry budget ran out: says so in the message.
fn gave_up(err: ClientError, attempts: u32) -> ClientError {
    if attempts <= 1 {
        return err;
    }
    let note = format!(" (gave up after {attempts} attempts)");
    match err {
        ClientError::Network { message } => ClientError::Network {
            message: message + &note,
        },
        ClientError::Api {
            status,
            code,
            message,
            correlation_id,
            details,
        } => ClientError::Api {
            status,
            code,
            message: message + &note,
            correlation_id,
            details,
        },
        other => other,
    }
}

/// Whether `v` is an object with a callable `then`.
fn is_thenable(v: &JsValue) -> bool {
    v.is_object()
        && Reflect::get(v, &JsValue::from_str("then"))
            .map(|t| t.is_function())
            .unwrap_or(false)
}

/// A success response's envelope `data`, checked against `shape`.
#[inline(never)]
fn unwrap_success(response: HttpResponse, shape: &'static Shape) -> Result<JsValue, ClientError> {
    let HttpResponse {
        status,
        correlation_id,
        body,
        ..
    } = response;
    let checked = match shape::parse_json(&body) {
        None => Err("it is not JSON".to_string()),
        Some(env) if !shape::is_plain_object(&env) => Err("it is not a JSON object".to_string()),
        Some(env) => match shape::get(&env, "success") {
            s if s.as_bool().is_none() => Err("missing field `success`".to_string()),
            _ => match shape::get(&env, "data") {
                d if d.is_undefined() => Err("missing field `data`".to_string()),
                d => shape::check(&d, shape),
            },
        },
    };
    checked.map_err(|e| ClientError::Protocol {
        status,
        message: format!(
            "The API answered {status} with a body that is not the documented success envelope: {e}."
        ),
        correlation_id,
    })
}

/// The error of an error response: the envelope's, or a description of the
/// status without one.
#[inline(never)]
fn error_of(response: HttpResponse) -> ClientError {
    let HttpResponse {
        status,
        status_text,
        correlation_id,
        body,
        ..
    } = response;
    let envelope =
        shape::parse_json(&body).and_then(|v| shape::check(&v, &shape::ERROR_ENVELOPE).ok());
    match envelope {
        Some(env) => {
            let error = shape::get(&env, "error");
            let details = shape::get(&error, "details");
            ClientError::Api {
                status,
                code: shape::get_str(&error, "code").unwrap_or_default(),
                message: shape::get_str(&error, "message").unwrap_or_default(),
                correlation_id: shape::get_str(&env, "correlationId").or(correlation_id),
                details: (!details.is_undefined()).then_some(details),
            }
        }
        None => ClientError::Api {
            status,
            code: format!("HTTP_{status}"),
            message: format!(
                "The API answered {status}{}{} without the documented error envelope.",
                if status_text.is_empty() { "" } else { " " },
                status_text
            ),
            correlation_id,
            details: None,
        },
    }
}
