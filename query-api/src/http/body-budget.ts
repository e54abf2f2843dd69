import { ProblemError } from './problem.ts';

export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;

/** One request's share of the budget. */
export interface BodyHold {
  /** Reserves `bytes` more for this request, or throws the answer the request gets instead (413 or 503). */
  reserve(bytes: number): void;
  /** Gives back `bytes` of this request's reservation, or all of it. */
  release(bytes?: number): void;
}

// Both refusals may come before the body was read: closing the connection spares reading the rest of it.
const tooLarge = (max: number) =>
  new ProblemError(
    413,
    `Body needs more than the ${max} bytes this service buffers at once (OBSERVATORY_MAX_BUFFERED_BYTES)`,
    { errors: [{ field: 'body', message: `needs more than ${max} bytes in memory` }] },
    { connection: 'close' },
  );
const busy = () =>
  new ProblemError(
    503,
    'The service holds as many request bodies in memory as it may right now; retry later',
    {},
    { 'Retry-After': '1', connection: 'close' },
  );

/**
 * Request-body bytes held in memory at once across all requests, compressed and inflated alike. A request
 * reserves before it holds more bytes; past the budget it gets a retryable 503, so memory stays flat whatever
 * arrives, and a body that alone needs more than the whole budget gets a 413 (it could never be held).
 */
export class BodyBudget {
  private used = 0;

  constructor(readonly maxBytes = DEFAULT_MAX_BUFFERED_BYTES) {}

  hold(): BodyHold {
    let held = 0;
    return {
      reserve: (bytes) => {
        if (held + bytes > this.maxBytes) throw tooLarge(this.maxBytes);
        if (this.used + bytes > this.maxBytes) throw busy();
        this.used += bytes;
        held += bytes;
      },
      release: (bytes = held) => {
        const given = Math.min(bytes, held);
        held -= given;
        this.used -= given;
      },
    };
  }
}
