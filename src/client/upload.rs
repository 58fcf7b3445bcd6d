//! `client.upload(job, blob, options)` and `client.resumeUpload(job, blob,
//! options)`: the upload engine started on a created job's upload slot.

use wasm_bindgen::prelude::*;

use super::ImportClient;
use crate::upload::{job_resume_key, target_from_job, Source, Upload, UploadOptions};

fn client_upload(
    job: JsValue,
    file: JsValue,
    options: JsValue,
    resume: bool,
) -> Result<Upload, JsValue> {
    let source = Source::from_js(file)?;
    let mut opts = UploadOptions::from_js(&options)?;
    let (job_id, target) = target_from_job(&job)?;
    if opts.resume_key.is_none() {
        opts.resume_key = Some(job_resume_key(&job_id, &source));
    }
    opts.resume = resume;
    Ok(Upload::start(source, target, opts))
}

#[wasm_bindgen]
impl ImportClient {
    /// Uploads `file` (a Blob, a File or a file source; in Node also a
    /// path) to the job's pre-signed URL (`job` is the createJob
    /// response). The bearer token is never sent to storage.
    #[wasm_bindgen(js_name = upload)]
    pub fn upload(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateJobResponse")] job: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UploadSource")] file: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "UploadOptions")] options: Option<JsValue>,
    ) -> Result<Upload, JsValue> {
        client_upload(job, file, options.unwrap_or(JsValue::UNDEFINED), false)
    }

    /// Like `upload`, but skips the parts an earlier upload of the same job
    /// and file (name, size, lastModified) recorded as stored: after a page
    /// reload, a crash or `abort()`.
    #[wasm_bindgen(js_name = resumeUpload)]
    pub fn resume_upload(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateJobResponse")] job: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UploadSource")] file: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "UploadOptions")] options: Option<JsValue>,
    ) -> Result<Upload, JsValue> {
        client_upload(job, file, options.unwrap_or(JsValue::UNDEFINED), true)
    }
}
