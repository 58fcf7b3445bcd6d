//! `client.importFile(file, options)`: the whole import in one call,
//! `createJob` → upload (the upload engine) → `setMapping` → `start` →
//! `waitForCompletion`.

use std::cell::RefCell;
use std::rc::Rc;

use import_core::rules;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, EventTarget};

use super::calls::Inner;
use super::options::CallOptions;
use super::poll::WaitOptions;
use super::requests::{check_mapping, parse_create, parse_mapping, parse_start, StartBody};
use super::ImportClient;
use crate::error::ClientError;
use crate::options::Checked;
use crate::promise::js_promise;
use crate::upload::{
    job_resume_key, target_from_job, upload_to_target, Source, UploadControl, UploadOptions,
};
use crate::{events, shape};

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// `importFile`'s options, checked by `importFileOptions`.
    #[wasm_bindgen(extends = Checked)]
    type ImportFileOptions;
    #[wasm_bindgen(js_name = importFileOptions)]
    fn import_file_options(options: &JsValue, file: &JsValue) -> ImportFileOptions;
    /// The create request: `createOptions`, `objectName`, `fileName`,
    /// `fileSize`.
    #[wasm_bindgen(method, getter)]
    fn create(this: &ImportFileOptions) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn mapping(this: &ImportFileOptions) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn start(this: &ImportFileOptions) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn signal(this: &ImportFileOptions) -> Option<AbortSignal>;
    #[wasm_bindgen(method, getter)]
    fn events(this: &ImportFileOptions) -> Option<EventTarget>;
    #[wasm_bindgen(method, getter, js_name = onProgress)]
    fn on_progress(this: &ImportFileOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    fn upload(this: &ImportFileOptions) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn poll(this: &ImportFileOptions) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = onStatus)]
    fn on_status(this: &ImportFileOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter, js_name = idempotencyKey)]
    fn idempotency_key(this: &ImportFileOptions) -> Option<String>;
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
        #[wasm_bindgen(unchecked_param_type = "UploadSource")] file: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ImportFileOptions")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        let job_id: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
        let id = job_id.clone();
        js_promise(Box::pin(async move {
            match import_file(&inner, &file, &options, &id).await {
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

/// `importFile`: records the job id in `job_id` once created. Everything
/// is checked before the first request.
async fn import_file(
    client: &Inner,
    file: &JsValue,
    options: &JsValue,
    job_id: &RefCell<Option<String>>,
) -> Result<JsValue, ClientError> {
    let source = Source::from_js(file.clone())?;
    let c = import_file_options(options, file);
    c.complaint_before(6)?;
    let create = parse_create(&c.create(), "importFile")?;
    rules::check_create(&create.request)?;
    c.complaint_before(8)?;
    let mapping = parse_mapping(&c.mapping(), "importFile mapping")?;
    check_mapping(&mapping.request)?;
    let start = match c.start() {
        b if b.is_undefined() => StartBody::default(),
        b => parse_start(&b, "importFile start")?,
    };
    c.complaint_before(12)?;
    let signal = c.signal();
    let events = c.events();
    let mut upload_opts = UploadOptions::from_js(&c.upload())?;
    if upload_opts.signal.is_none() {
        upload_opts.signal = signal.clone();
    }
    if upload_opts.on_progress.is_none() {
        upload_opts.on_progress = c.on_progress();
    }
    if upload_opts.events.is_none() {
        upload_opts.events = events.clone();
    }
    let mut wait = WaitOptions::from_js(&c.poll())?;
    if wait.signal.is_none() {
        wait.signal = signal.clone();
    }
    c.ok()?;
    wait.on_status = c.on_status();
    if wait.events.is_none() {
        wait.events = events.clone();
    }
    let call = CallOptions {
        signal,
        idempotency_key: c.idempotency_key(),
    };

    let job_js = client.create_job(&create, &call).await?;
    *job_id.borrow_mut() = shape::get_str(&job_js, "jobId");
    if let Some(target) = &events {
        events::dispatch(target, "job", &job_js);
    }
    let (id, target) = target_from_job(&job_js)?;
    if upload_opts.resume_key.is_none() {
        upload_opts.resume_key = Some(job_resume_key(&id, &source));
    }
    upload_to_target(&source, &target, &upload_opts, &UploadControl::new()).await?;
    let call = CallOptions {
        signal: call.signal,
        idempotency_key: None,
    };
    client.set_mapping(&id, &mapping, &call).await?;
    client.start(&id, &start, &call).await?;
    client.wait_for_completion(&id, &wait).await
}
