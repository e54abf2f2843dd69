import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

/** What a request asks the fake model to do; without one, the configured rates decide. */
export const BehaviourSchema = z.enum(['success', 'fallback', 'rate_limited', 'timeout', 'error']);
export type Behaviour = z.infer<typeof BehaviourSchema>;

/** How one model reacts to one call. */
export type Outcome = 'answer' | 'overloaded' | 'rate_limited' | 'hang' | 'fail';

/** The outcomes of the primary and the fallback model for each behaviour. */
export const PLANS: Record<Behaviour, { primary: Outcome; fallback: Outcome }> = {
  success: { primary: 'answer', fallback: 'answer' },
  fallback: { primary: 'overloaded', fallback: 'answer' },
  rate_limited: { primary: 'rate_limited', fallback: 'answer' },
  timeout: { primary: 'hang', fallback: 'answer' },
  error: { primary: 'overloaded', fallback: 'fail' },
};

/** Shaped like the errors provider SDKs throw: an HTTP status and a provider code. */
export class ModelError extends Error {
  override name = 'ModelError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface Completion {
  text: string;
  /** The resolved model version, as providers report it. */
  model: string;
  id: string;
  usage: { inputTokens: number; outputTokens: number; cachedInputTokens: number };
}

export interface FakeModelOptions {
  latencyMs: number;
  /** Share of calls, without a requested behaviour, where both models fail. */
  errorRate: number;
  /** Share of calls, without a requested behaviour, where the primary fails and the fallback answers. */
  fallbackRate: number;
  random?: () => number;
}

/** A stand-in for a model provider: answers after a delay, or fails the way real providers fail. */
export class FakeModel {
  private calls = 0;
  constructor(private readonly options: FakeModelOptions) {}

  behaviour(requested: Behaviour | undefined): Behaviour {
    if (requested) return requested;
    const roll = (this.options.random ?? Math.random)();
    if (roll < this.options.errorRate) return 'error';
    if (roll < this.options.errorRate + this.options.fallbackRate)
      return roll < this.options.errorRate + this.options.fallbackRate / 2 ? 'fallback' : 'rate_limited';
    return 'success';
  }

  async complete(model: string, input: string, outcome: Outcome, signal?: AbortSignal): Promise<Completion> {
    await this.respond(model, outcome, signal);
    return this.completion(model, input);
  }

  /**
   * The same call streamed, as providers stream: errors come before the first chunk, which arrives after the
   * model's latency; the output's further chunks follow a tenth of that latency apart (at least 1 ms). Resolves to
   * the whole completion once `onChunk` has had every chunk.
   */
  async stream(
    model: string,
    input: string,
    outcome: Outcome,
    onChunk: (chunk: string) => void | Promise<void>,
    signal?: AbortSignal,
  ): Promise<Completion> {
    await this.respond(model, outcome, signal);
    const completion = this.completion(model, input);
    // One chunk per output token: the label, then an ellipsis per further token.
    const chunks = [completion.text, ...Array<string>(completion.usage.outputTokens - 1).fill(' …')];
    const gapMs = Math.max(1, this.options.latencyMs / 10);
    for (const [i, chunk] of chunks.entries()) {
      if (i > 0) await sleep(gapMs, undefined, { signal });
      await onChunk(chunk);
    }
    return { ...completion, text: chunks.join('') };
  }

  /** Waits as long as the model takes to answer, or throws the way it fails. */
  private async respond(model: string, outcome: Outcome, signal: AbortSignal | undefined): Promise<void> {
    if (outcome === 'hang') {
      await sleep(60_000, undefined, { signal });
    }
    await sleep(this.options.latencyMs, undefined, { signal });
    if (outcome === 'overloaded') throw new ModelError(`${model} is overloaded`, 503, 'overloaded');
    if (outcome === 'rate_limited')
      throw new ModelError(`rate limit reached for ${model}`, 429, 'rate_limit_exceeded');
    if (outcome === 'fail') throw new ModelError(`${model} failed`, 500, 'server_error');
  }

  private completion(model: string, input: string): Completion {
    this.calls += 1;
    const inputTokens = Math.max(1, Math.ceil(Buffer.byteLength(input) / 4));
    return {
      text: inputTokens % 3 === 0 ? 'negative' : 'positive',
      model: `${model}-2025-01-01`,
      id: `fake-${this.calls}`,
      usage: { inputTokens, outputTokens: 12, cachedInputTokens: inputTokens > 256 ? 128 : 0 },
    };
  }
}
