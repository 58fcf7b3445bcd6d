// Types of `import-uploader/element`: the `<import-uploader>` custom element.
import type { ImportError, JobStatus, MappingRequest, UploadOptions, UploadProgress } from './index.js';

/** Every label of the element, in English; the `strings` property overrides any of them. */
export declare const STRINGS: Readonly<Record<string, string>>;

/** `detail` of `import-uploader:file`. */
export interface ImportUploaderFileDetail {
  file: File;
  name: string;
  size: number;
  type: string;
}

/** `detail` of `import-uploader:status`: the job's status (with its id). */
export type ImportUploaderStatusDetail = Partial<JobStatus> & { jobId: string; stage: string; state: JobStatus['state'] };

/** `detail` of `import-uploader:download`. */
export interface ImportUploaderDownloadDetail {
  rows: number;
  fileName: string;
}

/** The element's DOM events (they bubble and cross shadow roots). */
export interface ImportUploaderEventMap {
  'import-uploader:file': CustomEvent<ImportUploaderFileDetail>;
  /** The mapping as it stands (sent to `setMapping` when the import starts). */
  'import-uploader:mapping': CustomEvent<MappingRequest>;
  'import-uploader:progress': CustomEvent<UploadProgress>;
  'import-uploader:status': CustomEvent<ImportUploaderStatusDetail>;
  /** The final status (`completed` or `failed`). */
  'import-uploader:done': CustomEvent<JobStatus & { jobId: string }>;
  /** Any failure: the client's `ImportError`, or the element's own (`ELEMENT.…` codes). */
  'import-uploader:error': CustomEvent<ImportError>;
  'import-uploader:download': CustomEvent<ImportUploaderDownloadDetail>;
}

/**
 * `<import-uploader broker-url="…" ticket-url="…" object-name? import-mode? lang?>`.
 * It talks to the broker only, with upload tickets: never give it a workspace token.
 */
export declare class ImportUploaderElement extends HTMLElement {
  /** Returns an upload ticket; used instead of `ticket-url` when set. */
  getTicket?: () => string | Promise<string>;
  /** Labels overriding the English ones (keys of `STRINGS`). */
  strings: Record<string, string>;
  /** Extra options of the upload engine (`partSize`, `concurrency`, `retry`, …). */
  uploadOptions: Omit<UploadOptions, 'signal' | 'onProgress'>;
  /** Status polling while the job runs (default 1 s doubling to 5 s). */
  pollOptions: { pollStartMs?: number; pollCapMs?: number };
  /** Loads the preflight module (default: the package's own `import-uploader/preflight`). */
  loadPreflight: () => Promise<{ preflight: (file: Blob, options?: object) => Promise<unknown> }>;
  readonly brokerUrl: string | null;
  readonly ticketUrl: string | null;
  readonly objectName: string;
  readonly importMode: string;
  addEventListener<K extends keyof ImportUploaderEventMap>(type: K, listener: (this: ImportUploaderElement, ev: ImportUploaderEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ImportUploaderEventMap>(type: K, listener: (this: ImportUploaderElement, ev: ImportUploaderEventMap[K]) => unknown, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

/** Splits CSV text for display (at most `max` rows); exported for tests and custom previews. */
export declare function splitRows(text: string, delimiter: string, quote: string, max: number, partial: boolean): string[][];

declare global {
  interface HTMLElementTagNameMap {
    'import-uploader': ImportUploaderElement;
  }
  interface HTMLElementEventMap extends ImportUploaderEventMap {}
}
