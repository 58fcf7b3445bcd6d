// Types of `import-uploader/cloudflare`: a broker rate limit shared by every
// instance of a Worker, counted by a Durable Object per subject.
import type { BrokerRateLimiter } from './index.js';

/** The parts of a Durable Object namespace binding this module uses. */
export interface RateLimiterNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

/** Options of `durableObjectRateLimiter`. */
export interface DurableObjectRateLimiterOptions {
  /** Requests per window and subject (default 120). */
  requests?: number;
  /** The window, seconds (default 60). */
  perSeconds?: number;
  /** Put before each subject in the object's name, to keep several brokers apart in one namespace. */
  prefix?: string;
}

/** A `rateLimiter` for `createBroker`, backed by the `RateLimiterObject` objects of `namespace`. */
export function durableObjectRateLimiter(namespace: RateLimiterNamespace, options?: DurableObjectRateLimiterOptions): BrokerRateLimiter;

/** The Durable Object class; export it from the Worker's main module and bind it (`class_name = "RateLimiterObject"`). */
export class RateLimiterObject {
  constructor(state: { storage: { get(key: string): Promise<unknown>; put(key: string, value: unknown): Promise<void> } }, env?: unknown);
  fetch(request: Request): Promise<Response>;
}
