//! The hand-written TypeScript of the client's own options (the `.d.ts` of
//! the package). The wire types' interfaces (`CreateJobRequest`,
//! `JobStatus`, …) are not here: `cargo xtask build` generates them from
//! import-core's contract, and fails if this text declares one of them.

use wasm_bindgen::prelude::*;

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
}"#;
