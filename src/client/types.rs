//! The TypeScript of the client's options, requests and answers (the
//! `.d.ts` of the package), beside the wasm-bindgen exports that use them.

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
