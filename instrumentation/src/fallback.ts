import type { FallbackReason } from '@observatory/semconv';
import { fallbackReasonFor } from './error-info.ts';
import { type InferenceCall, type InferenceOptions, traceInference } from './trace-inference.ts';

export interface FallbackOptions<T> extends InferenceOptions {
  /** The model the fallback calls; `model` is the primary. */
  fallbackModel: string;
  /** Calls the primary model. `signal` aborts when `timeoutMs` passes. */
  primary: (call: InferenceCall, signal: AbortSignal | undefined) => Promise<T>;
  /** Calls the fallback model, told why the primary did not answer. */
  fallback: (call: InferenceCall, reason: FallbackReason) => Promise<T>;
  /** Skip the primary (circuit open, budget spent, …): the fallback answers with reason `skipped`. */
  skipPrimary?: boolean;
  /** Stop waiting for the primary after this many milliseconds; the fallback answers with reason `timeout`. */
  timeoutMs?: number;
  /** Whether an error from the primary should fall back; by default every error does. */
  shouldFallback?: (error: unknown) => boolean;
}

function primaryWithTimeout<T>(options: FallbackOptions<T>, call: InferenceCall): Promise<T> {
  const { timeoutMs } = options;
  if (timeoutMs === undefined) return options.primary(call, undefined);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DOMException(`primary model gave no answer within ${timeoutMs} ms`, 'TimeoutError');
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  return Promise.race([options.primary(call, controller.signal), timedOut]).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * One traced model call that tries the primary model and, when it fails, times out or is skipped, the
 * fallback model: the span records `fallback.used`, the normalised reason and the fallback model. When the
 * fallback fails too, its error is rethrown as it is.
 */
export function withFallback<T>(options: FallbackOptions<T>): Promise<T> {
  return traceInference(options, async (call) => {
    let reason: FallbackReason = 'skipped';
    if (!options.skipPrimary) {
      try {
        return await primaryWithTimeout(options, call);
      } catch (err) {
        if (options.shouldFallback && !options.shouldFallback(err)) throw err;
        reason = fallbackReasonFor(err);
      }
    }
    call.recordFallback(reason, options.fallbackModel);
    return options.fallback(call, reason);
  });
}
