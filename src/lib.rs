//! import-uploader: the JavaScript-facing API of the Import Jobs client,
//! compiled to WebAssembly and shipped as the `import-uploader` npm package.
//!
//! This crate is deliberately thin: JS interop and I/O only. Request rules,
//! wire types and error codes live in `import-core`, so the checks made here
//! before anything is sent are the very checks the emulator makes on arrival.
//!
//! It touches only the global scope (`globalThis` and its `fetch`), never
//! `window`, so one build runs in a page, a Web Worker, Node, Deno and
//! Cloudflare workerd.
//!
//! * [`version`]: the package version.
//! * [`ImportClient`]: `new ImportClient({ baseUrl, token, fetch? })`, with
//!   `createJob(request)`.
//! * Every failure rejects with one error shape, an `Error` named
//!   `ImportError` carrying `kind`, `status`, `code`, `message`,
//!   `correlationId` and `retryable` (see [`error`]).

use wasm_bindgen::prelude::*;

pub mod client;
pub mod error;
mod fetch;
mod js;
pub mod runtime;

pub use client::ImportClient;
pub use error::ClientError;

/// The package version (the crate's, which is also the npm package's).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `new ImportClient(options)`. */
export interface ImportClientOptions {
  /**
   * The API's base URL, including `/public/v1`, e.g.
   * `https://api.experiture.ai/public/v1`, or a broker's URL in a browser.
   */
  baseUrl: string;
  /**
   * Bearer token sent as `Authorization: Bearer <token>`. In a browser this
   * must be a short-lived upload ticket issued by a broker, never a
   * workspace token.
   */
  token: string;
  /** A `fetch` to use instead of the global one (e.g. an instrumented one). */
  fetch?: (request: Request) => Promise<Response>;
}

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

/**
 * What went wrong:
 * - `validation`: the request was refused before anything was sent;
 * - `network`: no HTTP response (offline, DNS, CORS, connection reset);
 * - `api`: the API answered with an error status;
 * - `protocol`: the API answered success with a body that is not the
 *   documented envelope.
 */
export type ImportErrorKind = "validation" | "network" | "api" | "protocol";

/** The one error shape every method rejects with. */
export interface ImportError extends Error {
  name: "ImportError";
  kind: ImportErrorKind;
  /** HTTP status, or `null` when no response was received. */
  status: number | null;
  /**
   * Code a program can branch on: the API's `error.code` (e.g.
   * `CDP_ETL.AUTH.TOKEN_INVALID`), `CDP_ETL.VALIDATION.REQUEST_INVALID` for
   * requests refused before sending, `HTTP_<status>` for an error response
   * without the documented envelope, `NETWORK_ERROR`, `RESPONSE_INVALID`.
   */
  code: string;
  message: string;
  /** The response's correlation id, to quote to support. */
  correlationId: string | null;
  /** Whether sending the same request again may succeed. */
  retryable: boolean;
  /** `validation` only: the broken rule, e.g. `FILE_SIZE_OUT_OF_RANGE`. */
  rule?: string;
  /** `validation` only: the request field at fault, e.g. `fileSize`. */
  field?: string;
  /** `api` only: the envelope's `error.details`. */
  details?: unknown;
}
"#;
