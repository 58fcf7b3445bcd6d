// Types of `import-uploader/node`: serve a fetch-style handler (such as the
// one `createBroker` returns) with Node's `http` module.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Options of `toRequest` and `toNodeListener`. */
export interface NodeAdapterOptions {
  /** Scheme and host of the URLs handed to the handler (default `http://` + the Host header), e.g. behind a TLS proxy. */
  origin?: string;
  /**
   * Largest request body in bytes (`toNodeListener`: default 1 MiB, the broker's limit; `toRequest`: default none).
   * A larger body is not read further: `toNodeListener` answers 413 `BROKER.REQUEST.TOO_LARGE` and closes the connection.
   */
  maxBodySize?: number;
}

/** The default `maxBodySize` of `toNodeListener` (1 MiB). */
export const DEFAULT_MAX_BODY_SIZE: number;

/** The `Request` for a Node request; its body is streamed (and errors past `maxBodySize`, calling `onBodyLimit`). */
export function toRequest(
  req: IncomingMessage,
  options?: NodeAdapterOptions & { signal?: AbortSignal; onBodyLimit?: () => void },
): Request;

/** Writes a `Response` to a Node response, streaming its body. */
export function writeResponse(response: Response, res: ServerResponse): Promise<void>;

/** A `http.createServer` listener that answers with `handler`. A handler that throws answers a bare 500; a body over `maxBodySize`, 413. */
export function toNodeListener(
  handler: (request: Request) => Response | Promise<Response>,
  options?: NodeAdapterOptions & { onError?: (error: unknown) => void },
): (req: IncomingMessage, res: ServerResponse) => void;
