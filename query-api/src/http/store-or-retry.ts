import { QueueFullError, ShutdownError } from '@observatory/exporter-postgres';
import { ProblemError } from './problem.ts';

/**
 * Stores an ingest batch and maps a full queue to 429 and an unusable database plus spill file to 503, both with
 * Retry-After: the two answers OTLP clients retry.
 */
export async function storeOrRetryLater<T>(store: () => Promise<T>): Promise<T> {
  try {
    return await store();
  } catch (err) {
    if (err instanceof QueueFullError) throw new ProblemError(429, err.message, {}, { 'Retry-After': '1' });
    const problem = new ProblemError(
      503,
      'Events could not be stored durably; retry later',
      {},
      { 'Retry-After': '5' },
    );
    // Shutting down is expected; anything else (the spill file refusing, a bug) is logged with the request.
    if (!(err instanceof ShutdownError)) problem.cause = err;
    throw problem;
  }
}
