// Types of `import-uploader/node`: serve a fetch-style handler (such as the
// one `createBroker` returns) with Node's `http` module.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Options of `toRequest` and `toNodeListener`. */
export interface NodeAdapterOptions {
  /** Scheme and host of the URLs handed to the handler (default `http://` + the Host header), e.g. behind a TLS proxy. */
  origin?: string;
}

/** The `Request` for a Node request; its body is streamed. */
export function toRequest(req: IncomingMessage, options?: NodeAdapterOptions & { signal?: AbortSignal }): Request;

/** Writes a `Response` to a Node response, streaming its body. */
export function writeResponse(response: Response, res: ServerResponse): Promise<void>;

/** A `http.createServer` listener that answers with `handler`. A handler that throws answers a bare 500. */
export function toNodeListener(
  handler: (request: Request) => Response | Promise<Response>,
  options?: NodeAdapterOptions & { onError?: (error: unknown) => void },
): (req: IncomingMessage, res: ServerResponse) => void;
