//! `client.errorRows(jobId, { signal? })`: the rejected rows of a job, one
//! `ErrorRow` at a time, as a JavaScript async iterable:
//!
//! ```js
//! for await (const row of client.errorRows(jobId)) console.log(row.rowNumber, row.error);
//! ```
//!
//! The JSONL error file is streamed through `response.body.getReader()` by
//! `js/host.js`: only the current chunk and the current line are
//! held, never the whole file. Lines are split on the newline *byte* before
//! being decoded, so a UTF-8 character cut by a chunk boundary is decoded
//! whole.
//!
//! The file's URL is pre-signed and expires. The first URL comes from
//! `errors()`; when it has expired (past its `expiresAt`, or refused with
//! 403, or 401/404/410 after `expiresAt`), `errors()` is called again for a
//! fresh one. A download that breaks off, or a URL that must be replaced,
//! restarts from the beginning of the file and skips the rows already
//! delivered, so every row is yielded exactly once, in order. No bearer token
//! is sent to the error file's host.
//!
//! Choices where the documentation is silent:
//! * a fresh URL refused again is reported with kind `expired` (code
//!   `ERROR_FILE_URL_EXPIRED`) rather than fetched forever;
//! * storage failures (no response, 408, 429, 5xx) are retried with the
//!   client's retry policy, counted per row: progress resets the count;
//! * blank lines are skipped; a leading UTF-8 byte-order mark is ignored;
//! * `next()` calls made while one is pending are answered in order.

use std::cell::RefCell;
use std::rc::Rc;

use import_core::retry::{classify_status, RetryDecision, Target};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, ReadableStream};

use super::calls::Inner;
use super::options::CallOptions;
use super::ImportClient;
use crate::error::{ClientError, ERROR_FILE_URL_EXPIRED_CODE};
use crate::fetch::{redact, Failure};
use crate::js::describe;
use crate::options::Checked;
use crate::promise::promise;
use crate::runtime;
use crate::shape;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// The lines of a download (`js/host.js`).
    type LineReader;
    #[wasm_bindgen(constructor)]
    fn new(body: &ReadableStream) -> LineReader;
    /// The next line that is not blank: its text, null when it is not
    /// UTF-8, undefined after the last one. Rejects with a [`Failure`]:
    /// `noResponse` when the download breaks off, `notBytes` for a chunk
    /// that is not bytes.
    #[wasm_bindgen(method)]
    fn next(this: &LineReader) -> Promise;
    #[wasm_bindgen(method)]
    fn cancel(this: &LineReader) -> Promise;

    /// `errorRows`' options, checked by `rowsOptions`.
    #[wasm_bindgen(extends = Checked)]
    type RowsOptions;
    #[wasm_bindgen(js_name = rowsOptions)]
    fn rows_options(options: &JsValue) -> RowsOptions;
    #[wasm_bindgen(method, getter)]
    fn signal(this: &RowsOptions) -> Option<AbortSignal>;
}

/// One line of the error file (its text; None: not UTF-8) as an `ErrorRow`
/// (checked).
fn parse_row(line: Option<String>) -> Result<JsValue, String> {
    let text = line.ok_or_else(|| "it is not UTF-8".to_string())?;
    let value = shape::parse_json(&text).ok_or_else(|| "it is not JSON".to_string())?;
    shape::check(&value, &shape::ERROR_ROW)
}

#[wasm_bindgen]
impl ImportClient {
    /// The rejected rows of `jobId`, streamed from the error file: an async
    /// iterable of `ErrorRow` (`for await … of`). Nothing is requested until
    /// the first `next()`. `options.signal` cancels the download.
    #[wasm_bindgen(js_name = errorRows, unchecked_return_type = "ErrorRows")]
    pub fn error_rows(
        &self,
        #[wasm_bindgen(js_name = jobId)] job_id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "ErrorRowsOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let c = rows_options(&options);
        c.ok()?;
        let signal = c.signal();
        if job_id.trim().is_empty() {
            return Err(ClientError::invalid(Some("jobId"), "`jobId` is required.").into());
        }
        let rows = ErrorRows {
            state: Rc::new(RefCell::new(Some(RowStream::new(
                self.inner.clone(),
                job_id,
                signal,
            )))),
            tail: RefCell::new(None),
        };
        let value = JsValue::from(rows);
        // `obj[Symbol.asyncIterator]()` must return the iterator itself:
        // `Object.prototype.valueOf` returns its `this`, without eval.
        let value_of = Reflect::get(&Object::new(), &JsValue::from_str("valueOf"))?;
        Reflect::set(&value, &js_sys::Symbol::async_iterator(), &value_of)?;
        Ok(value)
    }
}

/// The async iterator `errorRows` returns.
#[wasm_bindgen]
pub struct ErrorRows {
    /// The stream; `None` while a `next()` is using it.
    state: Rc<RefCell<Option<RowStream>>>,
    /// The last `next()`/`return()` promise: the following one waits for it.
    tail: RefCell<Option<Promise>>,
}

#[wasm_bindgen]
impl ErrorRows {
    /// The next row: `{ value: ErrorRow, done: false }`, or `{ value:
    /// undefined, done: true }` after the last one.
    #[wasm_bindgen(unchecked_return_type = "Promise<IteratorResult<ErrorRow, undefined>>")]
    pub fn next(&self) -> Promise {
        self.chain(false)
    }

    /// Stops early (what `break` in `for await` calls): cancels the
    /// download and resolves `{ value: undefined, done: true }`.
    #[wasm_bindgen(
        js_name = "return",
        unchecked_return_type = "Promise<IteratorResult<ErrorRow, undefined>>"
    )]
    pub fn return_(&self) -> Promise {
        self.chain(true)
    }
}

impl ErrorRows {
    /// Runs a `next()` (or `return()`) after the previous one settled.
    fn chain(&self, stop: bool) -> Promise {
        let prev = self.tail.borrow_mut().take();
        let state = self.state.clone();
        let p = promise(async move {
            if let Some(prev) = prev {
                // Its outcome went to its own caller.
                let _ = JsFuture::from(prev).await;
            }
            let Some(mut stream) = state.borrow_mut().take() else {
                return iterator_result(None);
            };
            let result = if stop {
                stream.stop();
                Ok(None)
            } else {
                stream.next_row().await
            };
            if result.is_err() {
                stream.stop();
            }
            *state.borrow_mut() = Some(stream);
            iterator_result(result?.as_ref())
        });
        *self.tail.borrow_mut() = Some(p.clone());
        p
    }
}

/// `{ value, done }`.
fn iterator_result(row: Option<&JsValue>) -> Result<JsValue, ClientError> {
    let obj = Object::new();
    let value = row.cloned().unwrap_or(JsValue::UNDEFINED);
    let _ = Reflect::set(&obj, &JsValue::from_str("value"), &value);
    let _ = Reflect::set(
        &obj,
        &JsValue::from_str("done"),
        &JsValue::from_bool(row.is_none()),
    );
    Ok(obj.into())
}

/// The state of one iteration.
struct RowStream {
    inner: Rc<Inner>,
    job_id: String,
    signal: Option<AbortSignal>,
    /// The error file's URL and its expiry (ms since the epoch).
    url: Option<(String, Option<f64>)>,
    reader: Option<LineReader>,
    /// Rows yielded so far.
    delivered: u64,
    /// Rows to skip after a restart.
    skip: u64,
    /// Storage failures since the last delivered row.
    failures: u32,
    finished: bool,
}

impl RowStream {
    fn new(inner: Rc<Inner>, job_id: String, signal: Option<AbortSignal>) -> Self {
        RowStream {
            inner,
            job_id,
            signal,
            url: None,
            reader: None,
            delivered: 0,
            skip: 0,
            failures: 0,
            finished: false,
        }
    }

    /// Ends the iteration, cancelling the download.
    fn stop(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.cancel();
        }
        self.finished = true;
    }

    fn check_signal(&self) -> Result<(), ClientError> {
        match self.signal.as_ref().filter(|s| s.aborted()) {
            Some(s) => Err(ClientError::aborted(&s.reason())),
            None => Ok(()),
        }
    }

    async fn next_row(&mut self) -> Result<Option<JsValue>, ClientError> {
        loop {
            self.check_signal()?;
            if self.finished {
                return Ok(None);
            }
            if self.reader.is_none() {
                if !self.open().await? {
                    self.finished = true;
                }
                continue;
            }
            match self.read_line().await {
                Ok(Some(line)) => {
                    if self.skip > 0 {
                        self.skip -= 1;
                        continue;
                    }
                    let row = parse_row(line).map_err(|e| ClientError::Protocol {
                        status: 200,
                        message: format!(
                            "Line {} of the error file of job {} is not an error row: {e}.",
                            self.delivered + 1,
                            self.job_id
                        ),
                        correlation_id: None,
                    })?;
                    self.delivered += 1;
                    self.failures = 0;
                    return Ok(Some(row));
                }
                Ok(None) => {
                    self.reader = None;
                    self.finished = true;
                }
                Err(e) if e.is_aborted() => return Err(e),
                Err(e) => {
                    // The download broke off: start again, skipping what
                    // was delivered.
                    self.reader = None;
                    self.backoff(e, None).await?;
                }
            }
        }
    }

    /// Waits before another storage attempt, or gives up with `err` when
    /// the retry budget is spent.
    async fn backoff(
        &mut self,
        err: ClientError,
        retry_after: Option<f64>,
    ) -> Result<(), ClientError> {
        self.failures += 1;
        if !self.inner.retry.may_retry(self.failures) {
            return Err(err);
        }
        let wait = self
            .inner
            .retry
            .delay_ms(self.failures - 1, retry_after, runtime::random());
        runtime::sleep(wait as f64, self.signal.as_ref())
            .await
            .map_err(|runtime::Aborted(reason)| ClientError::aborted(&reason))
    }

    /// Opens a download of the error file from its beginning. `false` when
    /// the job has no error file.
    async fn open(&mut self) -> Result<bool, ClientError> {
        // Whether the URL in hand replaced one that was refused.
        let mut replaced = false;
        loop {
            let expired = |exp: &Option<f64>| exp.is_some_and(|t| runtime::now_ms() >= t);
            if self.url.as_ref().is_none_or(|(_, exp)| expired(exp)) {
                let call = CallOptions {
                    signal: self.signal.clone(),
                    idempotency_key: None,
                };
                let answer = self.inner.errors(&self.job_id, &call).await?;
                if shape::get_bool(&answer, "hasErrors") != Some(true) {
                    return Ok(false);
                }
                let url = shape::get_str(&answer, "errorFileUrl").ok_or_else(|| {
                    ClientError::Protocol {
                        status: 200,
                        message: format!(
                            "errors() of job {} says hasErrors but gives no errorFileUrl.",
                            self.job_id
                        ),
                        correlation_id: None,
                    }
                })?;
                let expires = shape::get_str(&answer, "expiresAt")
                    .map(|s| js_sys::Date::parse(&s))
                    .filter(|t| t.is_finite());
                self.url = Some((url, expires));
            }
            let Some((url, expires)) = self.url.clone() else {
                continue;
            };
            let response = match self
                .inner
                .fetcher
                .get_stream(&url, self.signal.as_ref())
                .await
            {
                Ok(r) => r,
                Err(e @ ClientError::Storage { .. }) => {
                    self.backoff(e, None).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = response.status();
            if (200..300).contains(&status) {
                self.reader = match response.body() {
                    Some(body) => Some(LineReader::new(&body)),
                    None => {
                        // No body: an empty file.
                        self.finished = true;
                        None
                    }
                };
                self.skip = self.delivered;
                return Ok(true);
            }
            let past_expiry = expired(&expires);
            let decision = classify_status(status, None, Target::Storage { past_expiry });
            if status == 403 || decision == RetryDecision::Expired {
                if replaced {
                    return Err(ClientError::Expired {
                        code: ERROR_FILE_URL_EXPIRED_CODE.to_string(),
                        status: Some(status),
                        message: format!(
                            "The error file of job {} was refused ({status}) again with a fresh URL from errors(); check the clocks and the URL's host ({}).",
                            self.job_id,
                            redact(&url)
                        ),
                    });
                }
                // Expired: ask errors() for a fresh URL, once.
                self.url = None;
                replaced = true;
                continue;
            }
            let err = ClientError::Storage {
                status: Some(status),
                code: format!("STORAGE_{status}"),
                message: format!(
                    "Downloading the error file of job {} failed: GET {} answered {status}.",
                    self.job_id,
                    redact(&url)
                ),
                request_id: None,
            };
            if decision == RetryDecision::Retry {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .ok()
                    .flatten()
                    .and_then(|v| {
                        import_core::retry::parse_retry_after(&v, runtime::now_ms() as u64)
                    });
                self.backoff(err, retry_after).await?;
                continue;
            }
            return Err(err);
        }
    }

    /// The next line of the download that is not blank (None: not
    /// UTF-8), `None` at its end.
    async fn read_line(&mut self) -> Result<Option<Option<String>>, ClientError> {
        let Some(reader) = &self.reader else {
            return Ok(None);
        };
        let line = JsFuture::from(reader.next()).await.map_err(|e| {
            if let Some(s) = self.signal.as_ref().filter(|s| s.aborted()) {
                return ClientError::aborted(&s.reason());
            }
            let why = match Failure::of(&e) {
                (Failure::NotBytes, chunk) => {
                    format!("a chunk is not bytes ({})", describe(&chunk))
                }
                (_, detail) => describe(&detail),
            };
            ClientError::Storage {
                status: None,
                code: crate::error::STORAGE_NETWORK_CODE.to_string(),
                message: format!(
                    "The download of the error file of job {} broke off: {why}",
                    self.job_id
                ),
                request_id: None,
            }
        })?;
        if line.is_undefined() {
            return Ok(None);
        }
        Ok(Some(line.as_string()))
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR_ROWS_TYPES: &'static str = r#"
/** Options of `errorRows`. */
export interface ErrorRowsOptions {
  /** Cancels the download: the pending `next()` rejects with kind `aborted`. */
  signal?: AbortSignal;
}

/** `for await (const row of client.errorRows(jobId))`. */
export interface ErrorRows {
  [Symbol.asyncIterator](): ErrorRows;
}
"#;
