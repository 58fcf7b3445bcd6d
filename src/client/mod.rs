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
//!
//! The facade is this file; each concern has its own: [`options`] (the
//! constructor's and every call's options), `requests` (request bodies
//! checked against their shapes and rules), `calls` (sending a call:
//! retries, tokens, envelopes), `import_file`, `poll`
//! (`waitForCompletion`), `error_rows`, `upload` (the engine's entry points
//! on the client) and `types` (the TypeScript). Dependencies point one way:
//! this facade uses the upload engine (`crate::upload`), which uses the host
//! (`crate::fetch`, `crate::runtime`, `js/host.js`), never the reverse.

mod calls;
pub(crate) mod error_rows;
mod import_file;
pub(crate) mod options;
mod poll;
mod requests;
mod types;
mod upload;

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::promise::promise;
use crate::shape;
use calls::Inner;
use options::CallOptions;
use requests::{parse_create, parse_mapping, parse_start, path_segment, StartBody};

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
