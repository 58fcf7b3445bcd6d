//! [`ImportClient`]: the Import Jobs API client as JavaScript sees it.
//!
//! Every method returns a `Promise` and rejects with an `ImportError` (see
//! [`crate::error`]). Requests are checked with `import-core`'s rules before
//! anything is sent, so a request the API would refuse for a broken rule
//! never leaves the client. Responses are unwrapped from the documented
//! envelope: a method resolves with the envelope's `data`.

use std::rc::Rc;

use import_core::rules;
use import_core::wire::{CreateJobRequest, CreateJobResponse, ErrorEnvelope, SuccessEnvelope};
use js_sys::{Function, Promise, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::ClientError;
use crate::fetch::{redact, ApiRequest, Fetcher, HttpResponse};
use crate::js::{from_js_json, to_js};

/// Client of the Import Jobs API.
///
/// ```js
/// const client = new ImportClient({ baseUrl: "https://api.experiture.ai/public/v1", token });
/// const job = await client.createJob({ objectName: "profiles", fileName: "spring-2026.csv", fileSize: file.size });
/// ```
#[wasm_bindgen]
pub struct ImportClient {
    inner: Rc<Inner>,
}

/// The client's configuration, shared with its in-flight calls.
struct Inner {
    /// Base URL without a trailing slash (includes `/public/v1`).
    base_url: String,
    /// Bearer token.
    token: String,
    fetcher: Fetcher,
}

#[wasm_bindgen]
impl ImportClient {
    /// `new ImportClient({ baseUrl, token, fetch? })`. Throws an
    /// `ImportError` of kind `validation` for missing or malformed options.
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
    /// `landingPath`, `method`, `headers`, `requestedBy`).
    #[wasm_bindgen(js_name = createJob, unchecked_return_type = "Promise<CreateJobResponse>")]
    pub fn create_job(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateJobRequest")] request: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move { Ok(inner.create_job(request).await?) })
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Inner")
            .field("base_url", &self.base_url)
            .field("fetcher", &self.fetcher)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn from_options(options: &JsValue) -> Result<Inner, ClientError> {
        if !options.is_object() {
            return Err(ClientError::invalid(
                None,
                "ImportClient needs an options object: new ImportClient({ baseUrl, token }).",
            ));
        }
        let base_url = string_option(options, "baseUrl")?.ok_or_else(|| {
            ClientError::invalid(
                Some("baseUrl"),
                "`baseUrl` is required: the API's base URL, e.g. https://api.experiture.ai/public/v1.",
            )
        })?;
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(ClientError::invalid(
                Some("baseUrl"),
                format!(
                    "`baseUrl` must be an absolute http(s) URL, got `{}`.",
                    redact(&base_url)
                ),
            ));
        }
        let token = string_option(options, "token")?
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                ClientError::invalid(
                    Some("token"),
                    "`token` is required: the bearer token sent as `Authorization: Bearer …`.",
                )
            })?;
        let fetch = Reflect::get(options, &JsValue::from_str("fetch")).unwrap_or_default();
        let fetcher = if fetch.is_undefined() || fetch.is_null() {
            Fetcher::Global
        } else {
            Fetcher::Custom(fetch.dyn_into::<Function>().map_err(|_| {
                ClientError::invalid(
                    Some("fetch"),
                    "`fetch` must be a function (request) => Promise<Response>.",
                )
            })?)
        };
        Ok(Inner {
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
            fetcher,
        })
    }

    async fn create_job(&self, request: JsValue) -> Result<JsValue, ClientError> {
        let request: CreateJobRequest = parse_request(&request, "createJob")?;
        rules::check_create(&request)?;
        self.call::<_, CreateJobResponse>("POST", "/import-jobs", Some(&request))
            .await
    }

    /// Sends one API call, unwraps the envelope, checks `data` against its
    /// type `T` and hands it to JS as plain objects.
    async fn call<B: Serialize, T: DeserializeOwned + Serialize>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<JsValue, ClientError> {
        let json_body = body
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ClientError::invalid(None, format!("Cannot encode the request: {e}")))?;
        let response = self
            .fetcher
            .send(ApiRequest {
                method,
                url: format!("{}{}", self.base_url, path),
                token: &self.token,
                json_body,
            })
            .await?;
        let (status, correlation_id) = (response.status, response.correlation_id.clone());
        let data: T = unwrap_envelope(response)?;
        to_js(&data).map_err(|e| ClientError::Protocol {
            status,
            message: format!("The response cannot be handed to JavaScript: {e}."),
            correlation_id,
        })
    }
}

/// Reads an optional string option; present but not a string is an error.
fn string_option(options: &JsValue, key: &str) -> Result<Option<String>, ClientError> {
    let v = Reflect::get(options, &JsValue::from_str(key)).unwrap_or_default();
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| ClientError::invalid(Some(key), format!("`{key}` must be a string.")))
}

/// Converts a JS request object, reporting shape errors (unknown fields,
/// wrong types) as `validation` errors.
fn parse_request<T: DeserializeOwned>(request: &JsValue, method: &str) -> Result<T, ClientError> {
    if !request.is_object() {
        return Err(ClientError::invalid(
            None,
            format!("{method} needs a request object."),
        ));
    }
    from_js_json(request)
        .map_err(|e| ClientError::invalid(None, format!("Invalid {method} request: {e}.")))
}

/// Success statuses yield the envelope's `data`; others the envelope's error.
fn unwrap_envelope<T: DeserializeOwned>(response: HttpResponse) -> Result<T, ClientError> {
    let HttpResponse {
        status,
        status_text,
        correlation_id,
        body,
    } = response;
    if (200..300).contains(&status) {
        return serde_json::from_str::<SuccessEnvelope<T>>(&body)
            .map(|env| env.data)
            .map_err(|e| ClientError::Protocol {
                status,
                message: format!(
                    "The API answered {status} with a body that is not the documented success envelope: {e}."
                ),
                correlation_id,
            });
    }
    match serde_json::from_str::<ErrorEnvelope>(&body) {
        Ok(env) => Err(ClientError::Api {
            status,
            code: env.error.code,
            message: env.error.message,
            correlation_id: env.correlation_id.or(correlation_id),
            details: env.error.details,
        }),
        Err(_) => Err(ClientError::Api {
            status,
            code: format!("HTTP_{status}"),
            message: format!(
                "The API answered {status}{}{} without the documented error envelope.",
                if status_text.is_empty() { "" } else { " " },
                status_text
            ),
            correlation_id,
            details: None,
        }),
    }
}
