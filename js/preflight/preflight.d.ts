// Types of `import-uploader/preflight`: know what an import will do
// before uploading the file. The report's fields are import-core's
// `Preflight` (core/src/preflight/mod.rs), written by serde.

import type { DataType, ErrorRow, ObjectSchema } from './index.js';

/** A data type of `sourceFields` and of the schema's fields. */
export type PreflightDataType = DataType;

/** A mapping body, as `setMapping` and `importFile` take it. */
export interface PreflightMapping {
  /** `{ column: dataType }`, every column of the file, in file order. */
  sourceFields: Record<string, DataType>;
  /** `{ column: field }`, only the columns mapped. */
  fieldMap: Record<string, string>;
}

/** A file that is not a `Blob`: its size, and its bytes by offset (e.g. a Node file handle). */
export interface PreflightFileSource {
  size: number;
  name?: string;
  read(offset: number, length: number): Promise<Uint8Array | ArrayBuffer> | Uint8Array | ArrayBuffer;
}

/** A saved mapping template, matched against the header. */
export interface PreflightTemplate {
  id?: string | null;
  name: string;
  sourceFields: Record<string, DataType>;
  fieldMap: Record<string, string>;
}

/** What is already known of the file, overriding the sniff. */
export interface DialectOverrides {
  delimiter?: ',' | ';' | '\t' | '|';
  hasHeader?: boolean;
  /** A `TextDecoder` label (`utf-8`, `windows-1252`, …). */
  encoding?: string;
}

export interface PreflightProgress {
  /** `sample`: the first part is read; `full`: a later part of a `full` run. */
  phase: 'sample' | 'full';
  /** Bytes of the file read so far. */
  loaded: number;
  /** The file's size in bytes. */
  total: number;
}

export interface PreflightOptions {
  /** The object's Metadata API schema (`await client.objectSchema(name)`): without it, no mapping is suggested. */
  schema?: ObjectSchema | null;
  /** The job's `importMode` (default `balanced`). */
  importMode?: 'strict' | 'balanced' | 'landing_friendly';
  /** Bytes read for the first answer (default 1 MiB, at least 1024); never the whole file unless it is smaller. */
  sampleBytes?: number;
  /** Read the whole file, in parts, for exact counters (default `false`). */
  full?: boolean;
  /** Cancels the run: it rejects with an `ImportError` of kind `aborted`, code `ABORTED`. */
  signal?: AbortSignal;
  /** Called after each part read. */
  onProgress?: (progress: PreflightProgress) => void;
  /** Saved templates to match the header against. */
  templates?: PreflightTemplate[];
  /** What is already known of the dialect. */
  dialect?: DialectOverrides;
  /** Predict with this mapping instead of the suggested one. */
  mapping?: PreflightMapping | null;
}

/** How the file is written. */
export interface PreflightDialect {
  /** WHATWG encoding label (`utf-8`, `windows-1252`, `utf-16le`, …). */
  encoding: string;
  /** 0 to 1. */
  confidence: number;
  bom: boolean;
  delimiter: ',' | ';' | '\t' | '|';
  quote: string;
  lineEnding: 'lf' | 'crlf' | 'cr' | 'mixed' | 'none';
  hasHeader: boolean;
}

/** One column of the file. */
export interface PreflightColumn {
  /** Header name (or `column N` without a header). */
  name: string;
  /** 0-based position. */
  index: number;
  /** The type to declare in `sourceFields`. */
  inferredType: PreflightDataType;
  /** Share of the non-empty values examined that are of that type, 0 to 1. */
  confidence: number;
  /** Up to 5 distinct non-empty values. */
  examples: string[];
  /** Up to 5 values not of the inferred type. */
  misfits: string[];
  misfitCount: number;
  emptyCount: number;
}

/** Why a column is mapped to a field. */
export interface PreflightSuggestion {
  column: string;
  field: string;
  /** 0 to 1. */
  score: number;
  reason: 'exact' | 'synonym' | 'template' | 'similar' | 'given';
}

/** A problem a program can branch on (`code`) and a person can act on (`message`). */
export interface PreflightProblem {
  /** `EMPTY_COLUMN_NAME`, `DUPLICATE_COLUMN_NAME`, `KEY_NOT_MAPPED`, `FIELD_MAPPED_TWICE`, `UNKNOWN_FIELD`, `RAGGED_ROWS`, `EMPTY_FILE`, `NO_DATA_ROWS`, `NOT_UTF8`, or the code of a job failure. */
  code: string;
  message: string;
  column?: string;
  field?: string;
}

/** The job's verdict, predicted: the status counters and the first lines of the error file. */
export interface PreflightPrediction {
  readRows: number;
  validRows: number;
  invalidRows: number;
  /** `{ code: count }`, `null` when nothing is rejected. */
  errorSummary: Record<string, number> | null;
  /** The first lines of the error file, in file order. */
  firstErrors: ErrorRow[];
  /** When the job would fail before importing anything: its code and `errorMessage`. */
  failure?: { code: string; message: string };
}

export interface Preflight {
  dialect: PreflightDialect;
  columns: PreflightColumn[];
  /** Ready for `setMapping`. */
  mapping: PreflightMapping;
  suggestions: PreflightSuggestion[];
  problems: PreflightProblem[];
  prediction: PreflightPrediction;
  /** Whether only the start of the file was examined (the counters cover those rows). */
  sampled: boolean;
  /** Bytes examined (UTF-8, as decoded). */
  bytesExamined: number;
  /** Whether the file must be re-written (another encoding or delimiter) before the API can read it. */
  needsNormalising: boolean;
  /** The exact size of the normalised file, when it needs normalising and the whole file was examined. */
  normalisedSize: number | null;
}

/**
 * Sniffs the file, infers its columns' types, suggests a mapping against
 * `schema` and predicts the job's verdict. In browsers it runs in a module
 * Worker, except a small first answer (`sampleBytes` of 64 KiB or less,
 * not `full`: a short task), computed on the page from the module compiled
 * there; in Node, Deno and workerd in-process. Fails with an `ImportError`
 * (`kind`, `code`, `message`): `PREFLIGHT_OPTIONS_INVALID` and
 * `PREFLIGHT_FILE_INVALID` (kind `validation`, with `field`),
 * `PREFLIGHT_ENCODING_UNSUPPORTED`, `PREFLIGHT_READ_FAILED`, `ABORTED`
 * (kind `aborted`), `WASM_LOAD_FAILED` (kind `network`).
 */
export declare function preflight(file: Blob | PreflightFileSource, options?: PreflightOptions): Promise<Preflight>;

/**
 * Loads the preflight ahead of the first call. In browsers it loads the
 * module on the page, where samples are read, and runs it once over a
 * small generated table (with `options.schema` and `options.importMode`,
 * if given: the object's schema makes that run cover the mapping's code
 * too), so that the first answer runs compiled code; and it starts the
 * module Worker that whole-file runs use (kept for the next call). It
 * resolves once both are ready, or rejects with an `ImportError`:
 * `WASM_LOAD_FAILED` (kind `network`), or `ABORTED` (kind `aborted`) when
 * a `preflight()` call that took that Worker was cancelled (or failed)
 * before the module loaded. It always settles. A page calls it when a
 * file is about to be chosen (a drag entering the drop zone, the file
 * picker opened). In Node, Deno and workerd it resolves at once.
 */
export declare function preload(options?: Pick<PreflightOptions, 'schema' | 'importMode'>): Promise<void>;

/** The default `sampleBytes`: 1 MiB. */
export declare const DEFAULT_SAMPLE_BYTES: number;

/** The normalised file, as `importFile` and `upload` read it. */
export interface NormalisedFile {
  /** The exact size of the normalised file (the report's `normalisedSize`). */
  readonly size: number;
  readonly name?: string;
  /** The bytes `[offset, offset + length)` of the normalised file. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/**
 * The file re-written as the API reads it (UTF-8, `,` delimiters, quotes
 * where needed), part by part as it is read, never whole: give it to
 * `importFile` or `upload` instead of the file. `report` is the `full`
 * preflight of the same file (`preflight(file, { full: true })`), whose
 * `normalisedSize` is the size declared. In browsers the work is done in
 * a module Worker. Throws an `ImportError` with code `PREFLIGHT_NOT_FULL`
 * for a sampled report; a read fails with `PREFLIGHT_FILE_CHANGED` when
 * the file no longer gives that size.
 */
export declare function normalised(file: Blob | PreflightFileSource, report: Preflight): NormalisedFile;
