//! [`ImportClient`]: the Import Jobs API client as JavaScript sees it.
//!
//! Every method returns a `Promise` and rejects with an `ImportError` (see
//! [`crate::error`]). Requests are checked with `import-core`'s rules before
//! anything is sent, so a request the API would refuse for a broken rule
//! never leaves the client. Responses are unwrapped from the documented
//! envelope: a method resolves with the envelope's `data`.
//!
//! Every call follows the API's error-handling guide (decisions in
//! `import_core::retry`):
//! * no response, 408, 429 and 5xx are retried with full-jitter backoff, never
//!   sooner than the response's `Retry-After` (6 attempts by default, the
//!   `retry` option);
//! * every POST (`createJob`, `setMapping`, `start`) sends an
//!   `Idempotency-Key` (a fresh UUID v4, or the caller's `idempotencyKey`),
//!   the same on every retry, so a retry after a lost answer gets the first
//!   answer replayed instead of a second job (create) or a 409 (mapping,
//!   start);
//! * 401 `CDP_ETL.AUTH.TOKEN_EXPIRED` (or the broker's `BROKER.TICKET.EXPIRED`) calls `getToken()` again, once per
//!   call, and retries with the new token;
//! * 409 (a state conflict) and every other 4xx are reported at once;
//! * the call's `signal` cancels the request in flight and any backoff
//!   sleep, rejecting with kind `aborted`.

use std::cell::RefCell;
use std::rc::Rc;

use import_core::retry::{
    classify_network_error, classify_status, RetryDecision, RetryPolicy, Target,
};
use import_core::rules;
use import_core::wire::CreateJobRequest;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::error::ClientError;
use crate::fetch::{ApiRequest, Fetcher, HttpResponse};
use crate::js::{describe, Checked};
use crate::runtime;
use crate::shape::{self, Shape};

/// Client of the Import Jobs API.
///
/// ```js
/// const client = new ImportClient({ baseUrl: "https://api.experiture.ai/public/v1", token });
/// const job = await client.createJob({ objectName: "profiles", fileName: "spring-2026.csv", fileSize: file.size });
/// ```
#[wasm_bindgen]
pub struct ImportClient {
    pub(crate) inner: Rc<Inner>,
}

/// The client's configuration, shared with its in-flight calls.
pub(crate) struct Inner {
    /// Base URL without a trailing slash (includes `/public/v1`).
    base_url: String,
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
    /// Reads `{ signal?, idempotencyKey? }` (undefined/null: no options),
    /// checked by `js/host.js` (`callOptions`).
    pub(crate) fn from_js(opts: &JsValue) -> Result<CallOptions, ClientError> {
        let c = Checked::new(call_options(opts));
        c.complaint_before(u32::MAX)?;
        Ok(CallOptions {
            signal: c.object(0),
            idempotency_key: c.string(1),
        })
    }
}

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = callOptions)]
    fn call_options(options: &JsValue) -> js_sys::Array;
    #[wasm_bindgen(js_name = clientOptions)]
    fn client_options(options: &JsValue) -> js_sys::Array;
}

#[wasm_bindgen]
impl ImportClient {
    /// `new ImportClient({ baseUrl, token | getToken, fetch?, headers?,
    /// retry? })`. Throws an `ImportError` of kind `validation` for missing
    /// or malformed options.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ImportClientOptions")] options: JsValue,
    ) -> Result<ImportClient, JsValue> {
        Ok(ImportClient {
            inner: Rc::new(Inner::from_options(&options)?),
        })
    }

    /// The API base URL this client calls (without a trailing slash).
    #[wasm_bindgen(getter, js_name = baseUrl)]
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// `POST /import-jobs`: declares the target object and the file, and
    /// resolves with the upload slot (`jobId`, `uploadUrl`, `expiresAt`,
    /// `landingPath`, `method`, `headers`, `requestedBy`). Sends an
    /// `Idempotency-Key` (`options.idempotencyKey`, or a fresh UUID v4) that
    /// every retry reuses.
    #[wasm_bindgen(js_name = createJob, unchecked_return_type = "Promise<CreateJobResponse>")]
    pub fn create_job(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateJobRequest")] request: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CreateJobOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let opts = CallOptions::from_js(&options)?;
            let request = parse_create(&request, "createJob")?;
            inner.create_job(&request, &opts).await
        })
    }

    /// `POST /import-jobs/{jobId}/mapping`: sets the field mapping (checked
    /// with the API's mapping rules first). Resolves with `{ ok, templateId? }`.
    #[wasm_bindgen(js_name = setMapping, unchecked_return_type = "Promise<MappingResponse>")]
    pub fn set_mapping(
        &self,
        #[wasm_bindgen(js_name = jobId)] job_id: String,
        #[wasm_bindgen(unchecked_param_type = "MappingRequest")] mapping: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "WriteOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let opts = CallOptions::from_js(&options)?;
            let mapping = parse_mapping(&mapping, "setMapping")?;
            inner.set_mapping(&job_id, &mapping, &opts).await
        })
    }

    /// `POST /import-jobs/{jobId}/start` with an optional body (default
    /// `{}`). Resolves with `{ status, jobId, lane, message }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<StartResponse>")]
    pub fn start(
        &self,
        #[wasm_bindgen(js_name = jobId)] job_id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "Record<string, unknown>")] body: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "WriteOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let opts = CallOptions::from_js(&options)?;
            let body = if body.is_undefined() || body.is_null() {
                StartBody::default()
            } else {
                parse_start(&body, "start")?
            };
            inner.start(&job_id, &body, &opts).await
        })
    }

    /// `GET /import-jobs/{jobId}`: the job's stage, state and counters.
    #[wasm_bindgen(unchecked_return_type = "Promise<JobStatus>")]
    pub fn status(
        &self,
        #[wasm_bindgen(js_name = jobId)] job_id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let opts = CallOptions::from_js(&options)?;
            inner.status(&job_id, &opts).await
        })
    }

    /// `GET /import-jobs/{jobId}/errors`: `{ hasErrors, errorFileUrl?,
    /// expiresAt?, errorCount? }`. See `errorRows` to read the rows.
    #[wasm_bindgen(unchecked_return_type = "Promise<ErrorsResponse>")]
    pub fn errors(
        &self,
        #[wasm_bindgen(js_name = jobId)] job_id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let opts = CallOptions::from_js(&options)?;
            inner.errors(&job_id, &opts).await
        })
    }

    /// `GET /metadata/objects`: the workspace's objects (`{ items }`).
    #[wasm_bindgen(js_name = listObjects, unchecked_return_type = "Promise<ObjectList>")]
    pub fn list_objects(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let opts = CallOptions::from_js(&options)?;
            inner
                .call("GET", "/metadata/objects", None, &shape::OBJECT_LIST, &opts)
                .await
        })
    }

    /// `GET /metadata/objects/{objectName}`: an object's schema (fields,
    /// types, nullability, enum values, identity keys).
    #[wasm_bindgen(js_name = objectSchema, unchecked_return_type = "Promise<ObjectSchema>")]
    pub fn object_schema(
        &self,
        #[wasm_bindgen(js_name = objectName)] object_name: String,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let opts = CallOptions::from_js(&options)?;
            let path = format!(
                "/metadata/objects/{}",
                path_segment(&object_name, "objectName")?
            );
            inner
                .call("GET", &path, None, &shape::OBJECT_SCHEMA, &opts)
                .await
        })
    }
}

#[wasm_bindgen]
impl ImportClient {
    /// The whole import in one call: `createJob` → upload (the upload
    /// engine) → `setMapping` → `start` → `waitForCompletion`. Resolves with
    /// the final `JobStatus` (`completed` or `failed`). The mapping and the
    /// create request are checked before anything is sent. Upload progress
    /// (`onProgress`, `progress`/`part`/`warning` events), status reads
    /// (`onStatus`, `status` events) and the created job (a `job` event) are
    /// reported; an error after the job was created carries its `jobId`.
    #[wasm_bindgen(js_name = importFile, unchecked_return_type = "Promise<JobStatus>")]
    pub fn import_file(
        &self,
        file: web_sys::Blob,
        #[wasm_bindgen(unchecked_param_type = "ImportFileOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let job_id: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
        let id = job_id.clone();
        js_promise(Box::pin(async move {
            match inner.import_file(&file, &options, &id).await {
                Ok(status) => Ok(status),
                Err(e) => {
                    let err = e.to_js();
                    if let Some(id) = job_id.borrow().as_deref() {
                        let _ =
                            Reflect::set(&err, &JsValue::from_str("jobId"), &JsValue::from_str(id));
                    }
                    Err(err)
                }
            }
        }))
    }
}

impl Inner {
    /// `importFile`: records the job id in `job_id` once created.
    async fn import_file(
        &self,
        file: &web_sys::Blob,
        options: &JsValue,
        job_id: &RefCell<Option<String>>,
    ) -> Result<JsValue, ClientError> {
        if !options.is_object() {
            return Err(ClientError::invalid(
                None,
                "importFile needs options: { objectName, mapping, fileName?, … }.",
            ));
        }
        let get = |k: &str| {
            Reflect::get(options, &JsValue::from_str(k))
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_null())
        };
        // The create request: objectName, fileName (default: the File's
        // name), fileSize, and the createOptions.
        let object_name = string_option(options, "objectName")?.ok_or_else(|| {
            ClientError::invalid(
                Some("objectName"),
                "`objectName` is required, e.g. `profiles`.",
            )
        })?;
        let file_name = match string_option(options, "fileName")? {
            Some(n) => n,
            None => Reflect::get(file, &JsValue::from_str("name"))
                .ok()
                .and_then(|n| n.as_string())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    ClientError::invalid(
                        Some("fileName"),
                        "`fileName` is required when the file is a Blob without a name.",
                    )
                })?,
        };
        let create_js = js_sys::Object::new();
        if let Some(extra) = get("createOptions") {
            if !extra.is_object() {
                return Err(ClientError::invalid(
                    Some("createOptions"),
                    "`createOptions` must be an object (createList, listName, targetListId, …).",
                ));
            }
            js_sys::Object::assign(&create_js, extra.unchecked_ref());
        }
        for (k, v) in [
            ("objectName", JsValue::from_str(&object_name)),
            ("fileName", JsValue::from_str(&file_name)),
            ("fileSize", JsValue::from_f64(file.size())),
        ] {
            let _ = Reflect::set(&create_js, &JsValue::from_str(k), &v);
        }
        let create = parse_create(&create_js, "importFile")?;
        rules::check_create(&create.request)?;
        let mapping_js = get("mapping").ok_or_else(|| {
            ClientError::invalid(
                Some("mapping"),
                "`mapping` is required: { sourceFields, fieldMap } or { templateId }.",
            )
        })?;
        let mapping = parse_mapping(&mapping_js, "importFile mapping")?;
        check_mapping(&mapping.request)?;
        let start = match get("start") {
            Some(b) => parse_start(&b, "importFile start")?,
            None => StartBody::default(),
        };
        let signal = signal_option(options, "signal")?;
        let events = crate::events::event_target_option(options, "events")
            .map_err(|m| ClientError::invalid(Some("events"), m))?;
        let on_progress = function_option(options, "onProgress")?;
        let mut upload_opts =
            crate::upload::UploadOptions::from_js(&get("upload").unwrap_or(JsValue::UNDEFINED))?;
        if upload_opts.signal.is_none() {
            upload_opts.signal = signal.clone();
        }
        if upload_opts.on_progress.is_none() {
            upload_opts.on_progress = on_progress;
        }
        if upload_opts.events.is_none() {
            upload_opts.events = events.clone();
        }
        let mut wait =
            crate::poll::WaitOptions::from_js(&get("poll").unwrap_or(JsValue::UNDEFINED))?;
        if wait.signal.is_none() {
            wait.signal = signal.clone();
        }
        wait.on_status = function_option(options, "onStatus")?;
        if wait.events.is_none() {
            wait.events = events.clone();
        }
        let call = CallOptions {
            signal,
            idempotency_key: string_option(options, "idempotencyKey")?,
        };

        let job_js = self.create_job(&create, &call).await?;
        *job_id.borrow_mut() = shape::get_str(&job_js, "jobId");
        if let Some(target) = &events {
            crate::events::dispatch(target, "job", &job_js);
        }
        let (id, target) = crate::upload::target_from_job(&job_js)?;
        if upload_opts.resume_key.is_none() {
            upload_opts.resume_key = Some(format!(
                "job:{id}:{}",
                crate::upload::resume_store::fingerprint(file)
            ));
        }
        crate::upload::upload_to_target(
            file,
            &target,
            &upload_opts,
            &crate::upload::UploadControl::new(),
        )
        .await?;
        let call = CallOptions {
            signal: call.signal,
            idempotency_key: None,
        };
        self.set_mapping(&id, &mapping, &call).await?;
        self.start(&id, &start, &call).await?;
        self.wait_for_completion(&id, &wait).await
    }
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
    /// Reads the constructor's options, checked by `js/host.js`
    /// (`clientOptions`) but for the retry policy (a wire shape).
    fn from_options(options: &JsValue) -> Result<Inner, ClientError> {
        let c = Checked::new(client_options(options));
        c.complaint_before(10)?;
        let retry = retry_option(&c.get(5))?.unwrap_or_default();
        // Sorted by name (the order headers are sent in); inserted in
        // order (names are unique), so no sort routine is linked.
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in c.pairs(4) {
            let at = headers.partition_point(|(n, _)| *n < name);
            headers.insert(at, (name, value));
        }
        Ok(Inner {
            base_url: c.string(0).unwrap_or_default(),
            token: RefCell::new(c.string(1)),
            get_token: c.object(2),
            fetcher: c.object(3).map_or(Fetcher::Global, Fetcher::Custom),
            headers,
            retry,
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

/// Runs `fut` as a JS `Promise`, rejecting with the JS `ImportError`.
///
/// The future is boxed so that every method shares one instance of
/// `future_to_promise` (its task, waker and drop glue) instead of one per
/// method's future type.
pub(crate) fn promise<F>(fut: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, ClientError>> + 'static,
{
    boxed_promise(Box::pin(fut))
}

/// A boxed future as a JS `Promise` (one `future_to_promise` instance for
/// all such futures).
#[inline(never)]
fn js_promise(
    fut: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>>,
) -> Promise {
    wasm_bindgen_futures::future_to_promise(fut)
}

/// [`promise`] of a boxed future.
#[inline(never)]
fn boxed_promise(
    fut: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, ClientError>>>>,
) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move { fut.await.map_err(JsValue::from) })
}

/// Whether `v` is an object with a callable `then`.
fn is_thenable(v: &JsValue) -> bool {
    v.is_object()
        && Reflect::get(v, &JsValue::from_str("then"))
            .map(|t| t.is_function())
            .unwrap_or(false)
}

/// A path segment (job id, object name): non-empty, percent-encoded.
fn path_segment(value: &str, field: &str) -> Result<String, ClientError> {
    if value.trim().is_empty() {
        return Err(ClientError::invalid(
            Some(field),
            format!("`{field}` is required."),
        ));
    }
    Ok(String::from(js_sys::encode_uri_component(value)))
}

/// Reads an optional string option; present but not a string is an error.
pub(crate) fn string_option(options: &JsValue, key: &str) -> Result<Option<String>, ClientError> {
    let v = Reflect::get(options, &JsValue::from_str(key)).unwrap_or_default();
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| ClientError::invalid(Some(key), format!("`{key}` must be a string.")))
}

/// Reads an optional function option.
pub(crate) fn function_option(
    options: &JsValue,
    key: &str,
) -> Result<Option<Function>, ClientError> {
    let v = Reflect::get(options, &JsValue::from_str(key)).unwrap_or_default();
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into::<Function>()
        .map(Some)
        .map_err(|_| ClientError::invalid(Some(key), format!("`{key}` must be a function.")))
}

/// Reads an optional `AbortSignal` option.
pub(crate) fn signal_option(
    options: &JsValue,
    key: &str,
) -> Result<Option<AbortSignal>, ClientError> {
    if !options.is_object() {
        return Ok(None);
    }
    let v = Reflect::get(options, &JsValue::from_str(key)).unwrap_or_default();
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into::<AbortSignal>()
        .map(Some)
        .map_err(|_| ClientError::invalid(Some(key), format!("`{key}` must be an AbortSignal.")))
}

/// `retry`: `{ maxAttempts?, baseDelayMs?, maxDelayMs? }`.
pub(crate) fn retry_option(v: &JsValue) -> Result<Option<RetryPolicy>, ClientError> {
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

/// A [`RetryPolicy`] from a JS object of `shape` (`RETRY_OPTIONS` or
/// `RETRY_POLICY`); missing fields take the defaults.
pub(crate) fn retry_policy(value: &JsValue, shape: &'static Shape) -> Result<RetryPolicy, String> {
    let v = shape::check(&shape::json_copy(value)?, shape)?;
    let d = RetryPolicy::default();
    Ok(RetryPolicy {
        max_attempts: shape::get_f64(&v, "maxAttempts").map_or(d.max_attempts, |n| n as u32),
        base_delay_ms: shape::get_f64(&v, "baseDelayMs").map_or(d.base_delay_ms, |n| n as u64),
        max_delay_ms: shape::get_f64(&v, "maxDelayMs").map_or(d.max_delay_ms, |n| n as u64),
    })
}

/// A request checked against its shape: the typed request (for the rules)
/// and the JSON text to send.
#[derive(Debug, Clone)]
pub(crate) struct Parsed<T> {
    pub request: T,
    pub json: String,
}

/// A start body: any JSON object (`{}` by default).
#[derive(Debug, Clone)]
pub(crate) struct StartBody(String);

impl Default for StartBody {
    fn default() -> Self {
        StartBody("{}".into())
    }
}

/// Checks a JS request object against `shape` as the API would (through
/// its JSON form: unknown fields and wrong types refused), reporting shape
/// errors as `validation` errors. Returns the normalised copy.
#[inline(never)]
fn parse_request(
    request: &JsValue,
    method: &str,
    shape: &'static Shape,
) -> Result<(JsValue, String), ClientError> {
    if !request.is_object() {
        return Err(ClientError::invalid(
            None,
            format!("{method} needs a request object."),
        ));
    }
    let invalid = |e: String| ClientError::invalid(None, format!("Invalid {method} request: {e}."));
    let value =
        shape::check(&shape::json_copy(request).map_err(invalid)?, shape).map_err(invalid)?;
    let json = shape::stringify(&value).unwrap_or_else(|| "{}".into());
    Ok((value, json))
}

/// A string map member as its entries in order.
fn string_map(value: &JsValue, key: &str) -> Option<Vec<(String, String)>> {
    let v = shape::get(value, key);
    if v.is_undefined() {
        return None;
    }
    Some(
        shape::entries(&v)
            .into_iter()
            .map(|(k, v)| (k, v.as_string().unwrap_or_default()))
            .collect(),
    )
}

/// A `createJob` request.
pub(crate) fn parse_create(
    request: &JsValue,
    method: &str,
) -> Result<Parsed<CreateJobRequest>, ClientError> {
    let (v, json) = parse_request(request, method, &shape::CREATE_JOB_REQUEST)?;
    let s = |k: &str| shape::get_str(&v, k);
    let b = |k: &str| shape::get_bool(&v, k);
    Ok(Parsed {
        request: CreateJobRequest {
            object_name: s("objectName"),
            file_name: s("fileName"),
            file_size: shape::get_f64(&v, "fileSize").map(|n| n as u64),
            create_list: b("createList"),
            list_name: s("listName"),
            target_list_id: s("targetListId"),
            auto_profile_after_import: b("autoProfileAfterImport"),
            create_audience: b("createAudience"),
            audience_name: s("audienceName"),
        },
        json,
    })
}

/// A `setMapping` request (`MappingRequest`) as the mapping rules read it:
/// its maps as entries in order, not the wire type's hash maps.
#[derive(Debug, Clone, Default)]
pub(crate) struct MappingInput {
    source_fields: Option<Vec<(String, String)>>,
    field_map: Option<Vec<(String, String)>>,
    import_mode: Option<String>,
    template_id: Option<String>,
    /// `saveAsTemplate`, when given, with its `name`.
    save_as_template: Option<Option<String>>,
}

impl MappingInput {
    fn view(&self) -> rules::MappingView<'_> {
        fn entries(m: &[(String, String)]) -> Vec<(&str, &str)> {
            m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
        }
        rules::MappingView {
            source_fields: self.source_fields.as_deref().map(entries),
            field_map: self.field_map.as_deref().map(entries),
            import_mode: self.import_mode.as_deref(),
            template_id: self.template_id.as_deref(),
            save_as_template: self.save_as_template.as_ref().map(Option::as_deref),
        }
    }
}

/// A `setMapping` request.
pub(crate) fn parse_mapping(
    request: &JsValue,
    method: &str,
) -> Result<Parsed<MappingInput>, ClientError> {
    let (v, json) = parse_request(request, method, &shape::MAPPING_REQUEST)?;
    let save = shape::get(&v, "saveAsTemplate");
    Ok(Parsed {
        request: MappingInput {
            source_fields: string_map(&v, "sourceFields"),
            field_map: string_map(&v, "fieldMap"),
            import_mode: shape::get_str(&v, "importMode"),
            template_id: shape::get_str(&v, "templateId"),
            save_as_template: (!save.is_undefined()).then(|| shape::get_str(&save, "name")),
        },
        json,
    })
}

/// A `start` body: any JSON object.
fn parse_start(body: &JsValue, method: &str) -> Result<StartBody, ClientError> {
    let invalid = |e: String| ClientError::invalid(None, format!("Invalid {method} request: {e}."));
    if !body.is_object() {
        return Err(ClientError::invalid(
            None,
            format!("{method} needs a request object."),
        ));
    }
    let v = shape::json_copy(body).map_err(invalid)?;
    if !shape::is_plain_object(&v) {
        return Err(invalid("invalid type: sequence, expected a map".into()));
    }
    Ok(StartBody(
        shape::stringify(&v).unwrap_or_else(|| "{}".into()),
    ))
}

/// The mapping rules, with hints lower-cased by the runtime
/// (`String.prototype.toLowerCase`) rather than Rust's case tables.
fn check_mapping(request: &MappingInput) -> Result<(), import_core::rules::RuleViolation> {
    rules::check_mapping_with(&request.view(), &|s| {
        String::from(js_sys::JsString::from(s).to_lower_case())
    })
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

#[wasm_bindgen(typescript_custom_section)]
const TS_CLIENT_TYPES: &'static str = r#"
/** Options of `new ImportClient(options)`. Give `token`, `getToken`, or both. */
export interface ImportClientOptions {
  /**
   * The API's base URL, including `/public/v1`, e.g.
   * `https://api.experiture.ai/public/v1`, or a broker's URL in a browser.
   */
  baseUrl: string;
  /**
   * Bearer token sent as `Authorization: Bearer <token>`. In a browser this
   * must be a short-lived upload ticket issued by a broker, never a
   * workspace token (the API's documentation forbids tokens in client-side
   * code); server-side code (Node scripts, edge workers) uses the workspace
   * token.
   */
  token?: string;
  /**
   * Returns a bearer token (or a promise of one). Called at the first
   * request when `token` is absent, and again, once per call, when the API
   * answers 401 `CDP_ETL.AUTH.TOKEN_EXPIRED`.
   */
  getToken?: () => string | Promise<string>;
  /** A `fetch` to use instead of the global one (e.g. an instrumented one). */
  fetch?: (request: Request) => Promise<Response>;
  /** Extra headers sent with every API request (never to storage hosts). */
  headers?: Record<string, string>;
  /** Retries of failed API calls (no response, 408, 429, 5xx). */
  retry?: RetryOptions;
}

/**
 * Exponential backoff with full jitter; a `Retry-After` answer is waited for
 * at least.
 */
export interface RetryOptions {
  /** Attempts in all, the first included (default 6; 1 = never retry). */
  maxAttempts?: number;
  /** Backoff ceiling before the first retry, doubling after (default 500). */
  baseDelayMs?: number;
  /** Largest backoff ceiling (default 30000). */
  maxDelayMs?: number;
}

/** Options every call takes. */
export interface CallOptions {
  /** Cancels the call (request in flight and retry waits): kind `aborted`. */
  signal?: AbortSignal;
}

/** Options of the POST calls (`createJob`, `setMapping`, `start`). */
export interface WriteOptions extends CallOptions {
  /**
   * `Idempotency-Key` of the request (1–255 printable ASCII characters; a
   * fresh UUID v4 by default). Retries reuse it, so the API answers a
   * retried request with its first answer (the job it already created, the
   * start it already made). Reusing a key with another body is refused
   * (409 `CDP_ETL.IDEMPOTENCY.KEY_REUSED`).
   */
  idempotencyKey?: string;
}

/** Options of `createJob`. */
export type CreateJobOptions = WriteOptions;

/** Body of `POST /import-jobs`. */
export interface CreateJobRequest {
  /** Target object, e.g. `profiles` or `orders`. */
  objectName: string;
  /** Original file name, with extension, e.g. `spring-2026.csv`. */
  fileName: string;
  /** File size in bytes: 1 byte to 50 GB. */
  fileSize: number;
  /** Create a static list from the imported records (needs `listName`). */
  createList?: boolean;
  listName?: string;
  /** Add the imported records to this existing list. */
  targetListId?: string;
  /** Run profile unification after the job completes. */
  autoProfileAfterImport?: boolean;
  /** Create a dynamic audience from the imported records (needs `audienceName`). */
  createAudience?: boolean;
  audienceName?: string;
}

/** `data` of the `POST /import-jobs` response. */
export interface CreateJobResponse {
  /** `imp_` followed by a ULID. */
  jobId: string;
  /** Pre-signed URL the file is uploaded to. */
  uploadUrl: string;
  /** When `uploadUrl` stops working (RFC 3339). */
  expiresAt: string;
  landingPath: string;
  /** HTTP method of the upload, `PUT`. */
  method: string;
  /** Headers every upload request must carry. */
  headers: Record<string, string>;
  requestedBy: string;
}

/** Data type of a source column. */
export type DataType =
  | "string" | "integer" | "number" | "boolean" | "date" | "datetime"
  | "email" | "phone" | "url";

/** Body of `POST /import-jobs/{jobId}/mapping`. */
export interface MappingRequest {
  /** Source columns in file order: `{ columnName: dataType }`. */
  sourceFields?: Record<string, DataType>;
  /** Source column → destination field; unlisted columns are ignored. */
  fieldMap?: Record<string, string>;
  /** Default `balanced`; `custom` is reserved. */
  importMode?: "balanced" | "strict" | "landing_friendly" | "custom";
  /** Reuse a saved mapping template instead of `sourceFields`/`fieldMap`. */
  templateId?: string;
  /** Save this mapping as a template. */
  saveAsTemplate?: { name: string };
}

/** `data` of the mapping response. */
export interface MappingResponse {
  ok: boolean;
  /** Id of the template `saveAsTemplate` saved (emulator extension). */
  templateId?: string;
}

/** `data` of `POST /import-jobs/{jobId}/start`. */
export interface StartResponse {
  /** `started`. */
  status: string;
  jobId: string;
  /** Processing lane, e.g. `standard`. */
  lane: string;
  message: string;
}

/** Options of `importFile(file, options)`. */
export interface ImportFileOptions {
  /** Target object, e.g. `profiles`. */
  objectName: string;
  /** The field mapping, checked before anything is sent. */
  mapping: MappingRequest;
  /** File name sent to the API (default: the File's `name`). */
  fileName?: string;
  /** The rest of the create request. */
  createOptions?: Omit<CreateJobRequest, "objectName" | "fileName" | "fileSize">;
  /** `Idempotency-Key` of the create (default: a fresh UUID v4). */
  idempotencyKey?: string;
  /** Body of the start request (default `{}`). */
  start?: Record<string, unknown>;
  /** Cancels whatever step is running: rejects with kind `aborted`. */
  signal?: AbortSignal;
  /** Upload progress. */
  onProgress?: (progress: UploadProgress) => void;
  /** Every status read while waiting. */
  onStatus?: (status: JobStatus) => void;
  /**
   * Receives every event: `job` (detail: CreateJobResponse, once created),
   * the upload's `progress`, `part` and `warning`, then `status`.
   */
  events?: EventTarget;
  /** Upload engine options (`signal`, `onProgress`, `events` default to the ones above). */
  upload?: UploadOptions;
  /** Polling of the job's status (default 5 s doubling to 60 s). */
  poll?: { pollStartMs?: number; pollCapMs?: number };
}

/** A job's state. `completed` and `failed` are terminal. */
export type JobState = "pending" | "ready" | "running" | "completed" | "failed";

/** `data` of `GET /import-jobs/{jobId}`. */
export interface JobStatus {
  /** Processing stage, e.g. `upload`, `queued`, `parse`, `validate`, `merge`. */
  stage: string;
  state: JobState;
  readRows: number;
  validRows: number;
  invalidRows: number;
  mergedInserts: number;
  mergedUpdates: number;
  /** RFC 3339, `null` before start. */
  startedAt: string | null;
  updatedAt: string;
  rowsTotal: number;
  rowsImported: number;
  rowsRejected: number;
  /** `validRows / readRows`. */
  successRate: number;
  /** `{ errorCode: count }`, `null` when nothing was rejected. */
  errorSummary: Record<string, number> | null;
  /** Why a `failed` job failed. */
  errorMessage?: string;
  jobId?: string;
  objectName?: string;
}

/** `data` of `GET /import-jobs/{jobId}/errors`. */
export interface ErrorsResponse {
  hasErrors: boolean;
  /** Pre-signed URL of the JSONL error file (expires: see `errorRows`). */
  errorFileUrl?: string;
  /** When `errorFileUrl` stops working (RFC 3339). */
  expiresAt?: string;
  /** Rejected rows (lines of the file). */
  errorCount?: number;
}

/** One rejected row (one line of the error file). */
export interface ErrorRow {
  /** 1-based data row number (the header is row 0). */
  rowNumber: number;
  /** The row's source columns, by header name. */
  sourceRow: Record<string, string>;
  /** Why the row was rejected, for people. */
  error: string;
  /** Row error code, e.g. `VALIDATION_TYPE_MISMATCH`. */
  code?: string;
  /** The offending column, when there is one. */
  column?: string;
}

/** Which ingestion paths an object supports. */
export interface ObjectIngestion {
  single: boolean;
  jsonBatch: boolean;
  /** Import jobs: offer only objects where this is true. */
  fileImport: boolean;
  defaultWriteMode: "upsert" | "append";
}

/** One item of `GET /metadata/objects`. */
export interface ObjectSummary {
  objectName: string;
  displayName: string;
  pluralDisplayName: string;
  objectType: "profile" | "event";
  activeVersion: number;
  primaryProfileRoot: boolean;
  ingestion: ObjectIngestion;
}

/** `data` of `GET /metadata/objects`. */
export interface ObjectList {
  items: ObjectSummary[];
  page?: number;
  pageSize?: number;
  totalItems?: number;
  totalPages?: number;
}

/** A field of an object schema. */
export interface FieldDescriptor {
  name: string;
  type: DataType;
  nullable: boolean;
  enumValues: string[] | null;
  identityKey: boolean;
  description?: string;
}

/** `data` of `GET /metadata/objects/{objectName}`. */
export interface ObjectSchema extends ObjectSummary {
  description: string;
  /** Identity-key fields; the first is the merge key of `upsert` objects. */
  identityKeys: string[];
  fields: FieldDescriptor[];
}
"#;
