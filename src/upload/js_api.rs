//! The JavaScript face of the engine: the `Upload` handle (`done`,
//! `pause()`, `resume()`, `abort()`, `paused`, `events`), the standalone
//! `upload(blob, options)` function, and the TypeScript types of uploads
//! (the client's `upload` and `resumeUpload` are in `crate::client`).

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use web_sys::EventTarget;

use super::control::UploadControl;
use super::engine::upload_to_target;
use super::options::{target_from_options, UploadOptions};
use super::resume_store;
use super::source::Source;
use super::types::UploadTarget;
use crate::events::new_event_target;
use crate::promise::promise;

/// A running upload: `done`, `pause()`, `resume()`, `abort(reason?)`,
/// `paused`, `events`.
#[wasm_bindgen]
pub struct Upload {
    control: UploadControl,
    done: Promise,
    events: EventTarget,
}

#[wasm_bindgen]
impl Upload {
    /// Resolves with the `UploadResult`, or rejects with an `ImportError`.
    #[wasm_bindgen(getter, unchecked_return_type = "Promise<UploadResult>")]
    pub fn done(&self) -> Promise {
        self.done.clone()
    }

    /// Stops sending: requests in flight are cancelled (their parts are sent
    /// again on resume) and no new one starts until `resume()`.
    pub fn pause(&self) {
        self.control.pause();
    }

    /// Continues after `pause()`.
    pub fn resume(&self) {
        self.control.resume();
    }

    /// Cancels the upload: `done` rejects with kind `aborted`. Stored parts
    /// stay recorded, so `resumeUpload` can continue later.
    pub fn abort(&self, reason: Option<JsValue>) {
        self.control.abort(reason.unwrap_or(JsValue::UNDEFINED));
    }

    /// Whether the upload is paused.
    #[wasm_bindgen(getter)]
    pub fn paused(&self) -> bool {
        self.control.is_paused()
    }

    /// Receives `progress`, `part` and `warning` `CustomEvent`s.
    #[wasm_bindgen(getter)]
    pub fn events(&self) -> EventTarget {
        self.events.clone()
    }
}

impl Upload {
    /// Starts uploading at once; the handle controls it.
    pub fn start(source: Source, target: UploadTarget, mut opts: UploadOptions) -> Upload {
        let control = UploadControl::new();
        let events = opts.events.clone().unwrap_or_else(new_event_target);
        opts.events = Some(events.clone());
        let c = control.clone();
        let done = promise(async move {
            let result = upload_to_target(&source, &target, &opts, &c).await?;
            Ok(result.to_js())
        });
        Upload {
            control,
            done,
            events,
        }
    }
}

/// `upload(file, { url, method?, headers?, expiresAt?, ...UploadOptions })`:
/// the engine on its own, for any pre-signed URL. `file` is a Blob, a File
/// or a file source (in Node also a path).
#[wasm_bindgen(js_name = upload)]
pub fn upload_js(
    #[wasm_bindgen(unchecked_param_type = "UploadSource")] file: JsValue,
    #[wasm_bindgen(unchecked_param_type = "StandaloneUploadOptions")] options: JsValue,
) -> Result<Upload, JsValue> {
    let source = Source::from_js(file)?;
    let opts = UploadOptions::from_js(&options)?;
    let target = target_from_options(&options)?;
    Ok(Upload::start(source, target, opts))
}

/// The resume key `client.upload` and `client.resumeUpload` use for a job
/// and a file (importFile should use it too, so an interrupted import can
/// be resumed with `resumeUpload`).
pub fn job_resume_key(job_id: &str, source: &Source) -> String {
    format!("job:{job_id}:{}", resume_store::fingerprint(source))
}

#[wasm_bindgen(typescript_custom_section)]
const TS_UPLOAD: &'static str = r#"
/**
 * A file that is not a Blob: `read(offset, length)` resolves with exactly
 * `length` bytes from byte `offset` (parts are read at their offsets, each
 * once, a few at a time). In Node, a path or a `file:` URL gives one read
 * from a `FileHandle`, its size from `stat`.
 */
export interface FileSource {
  /** Bytes in the file. */
  size: number;
  /** The file's name (`importFile`'s default `fileName`, part of the resume key). */
  name?: string;
  /** Its media type. */
  type?: string;
  /** Milliseconds since the epoch (part of the resume key). */
  lastModified?: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** What `upload`, `resumeUpload` and `importFile` read: a Blob or File, a `FileSource`, or in Node a path or `file:` URL (elsewhere a path is a `validation` error). */
export type UploadSource = Blob | FileSource | string | URL;

/** A storage protocol: chosen from the URL and headers unless named. */
export type UploadProtocol = "azure-blocks" | "single-put" | "gcs-resumable";

/** Options of `client.upload`, `client.resumeUpload` and `upload`. */
export interface UploadOptions {
  /** Overrides detection from the URL and headers. */
  protocol?: UploadProtocol;
  /** Bytes per part (default 8 MiB, and for files over 512 MiB about a 64th of the file (16 MiB at 1 GiB), at most 32 MiB; raised to stay within 50,000 parts; a multiple of 256 KiB for GCS). */
  partSize?: number;
  /** Parts in flight at once (default 6; GCS sessions send one at a time). */
  concurrency?: number;
  /** An integrity check storage verifies on every request that takes one (x-ms-content-crc64 on Azure, Content-MD5 on an S3 single PUT), and a whole-object MD5 check where storage reports one (default true). */
  checksum?: boolean;
  /** Cancels the upload (`done` rejects with kind `aborted`). */
  signal?: AbortSignal;
  /** Called on every part, phase change, and at most every `progressIntervalMs` in between where the runtime reports bytes as they go (browsers). */
  onProgress?: (progress: UploadProgress) => void;
  /** Receives `progress`, `part` and `warning` CustomEvents (default: the handle's own `events`). */
  events?: EventTarget;
  /** Per-request retries (default 6 attempts, 500 ms base, 30 s cap; full jitter, Retry-After honoured). */
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Names the resume record (default: the job id, or the URL without its query, plus the file's name, size and lastModified). */
  resumeKey?: string;
  /** Where resume records are kept (default: localStorage where usable, else IndexedDB, else memory for the module's lifetime). */
  resumeStore?: { getItem(key: string): string | null | Promise<string | null>; setItem(key: string, value: string): void | Promise<void>; removeItem(key: string): void | Promise<void> };
  /** A fetch for storage requests (disables XMLHttpRequest byte progress). */
  fetch?: (request: Request) => Promise<Response>;
  /** Minimum milliseconds between byte-level progress reports (default 100). */
  progressIntervalMs?: number;
  /** Use XMLHttpRequest where present for byte-level progress (default true). */
  useXhr?: boolean;
}

/** Options of the standalone `upload(blob, options)`. */
export interface StandaloneUploadOptions extends UploadOptions {
  /** The pre-signed URL. */
  url: string;
  /** `PUT` (the default). */
  method?: string;
  /** Headers every storage request must carry (e.g. `{"x-ms-blob-type": "BlockBlob"}`). */
  headers?: Record<string, string>;
  /** When the URL expires: RFC 3339, a Date or epoch milliseconds. */
  expiresAt?: string | number | Date;
  /** Skip the parts an earlier upload of the same file to the same URL (or `resumeKey`) recorded as stored (default false: start over). */
  resume?: boolean;
}

/** One progress report. */
export interface UploadProgress {
  phase: "upload" | "commit" | "complete";
  /** Bytes storage has received. */
  loaded: number;
  total: number;
  partsDone: number;
  partsTotal: number;
  bytesPerSecond: number;
  /** Seconds left at the current rate, `null` until known. */
  etaSeconds: number | null;
}

/** What a finished upload reports. */
export interface UploadResult {
  protocol: UploadProtocol;
  size: number;
  partSize: number;
  parts: number;
  /** Parts a previous session had stored (resumeUpload). */
  partsSkipped: number;
  /** Requests sent to storage, retries included. */
  requests: number;
  retries: number;
  etag: string | null;
  /** Base64 MD5 of the whole object as storage reported it, when it did. */
  storageMd5: string | null;
  resumeStore: "custom" | "localStorage" | "indexedDB" | "memory";
  /** `xhr` where XMLHttpRequest gave byte-level progress, else `fetch`. */
  transport: "xhr" | "fetch";
  durationMs: number;
}

/** Detail of the `warning` event. */
export interface UploadWarning {
  /** `URL_EXPIRES_BEFORE_FINISH`. */
  code: string;
  message: string;
  expiresAt: number;
  projectedFinish: number;
}

/** Detail of the `part` event. */
export interface UploadPartEvent { index: number; attempts: number; bytes: number }
"#;
