import type { Counter, Meter } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { StandardAttributes as Std } from '../attributes.ts';
import type { AiEvent } from '../event.ts';
import { ERROR_CODES } from '../mapping/error-codes.ts';
import type { PipelineHealth } from '../pipeline/pipeline.ts';
import {
  GEN_AI_TOKEN_TYPE,
  GenAiMetrics,
  GenAiTokenTypes,
  OPERATION_DURATION_BUCKETS_SECONDS,
  operationLabel,
  TOKEN_USAGE_BUCKETS,
} from './genai-conventions.ts';
import { LabelCap, LabelCapPerOrg, OVERFLOW_LABEL } from './label-cap.ts';

export interface AiMetricsOptions {
  /** Distinct org_id label values kept before the rest become `other`. */
  maxOrgs?: number;
  /**
   * Distinct model_name (and fallback_model) label values kept per org before that org's other models become
   * `other`; orgs past `maxOrgs` share the budget of the org label `other`.
   */
  maxModels?: number;
  /** Distinct `gen_ai.provider.name` label values kept per org before that org's other providers become `other`. */
  maxProviders?: number;
}

/**
 * @opentelemetry/exporter-prometheus writes metric names without the unit suffix that the OpenTelemetry
 * Prometheus compatibility rules add, and that the Collector's Prometheus exporter and other SDKs therefore
 * expose (`gen_ai_client_operation_duration_seconds`); renaming the stream gives /metrics the same name, so
 * dashboards built on those work here too. The token histogram's `{token}` unit adds no suffix by the same rules.
 */
const PROMETHEUS_COMPATIBLE_NAMES = [GenAiMetrics.OPERATION_DURATION, GenAiMetrics.TIME_TO_FIRST_CHUNK].map(
  (name) => ({ instrumentName: name, name: `${name}_seconds` }),
);

const KNOWN_ERROR_CODES = new Set<string>(ERROR_CODES);

export interface AiMetrics {
  recordEvents(events: readonly AiEvent[]): void;
  /** Counters for the event pipeline's health. */
  health: PipelineHealth;
  /** Reports the queue depth on every scrape. */
  observeQueueDepth(read: () => number): void;
  /** For other components' own instruments (export jobs, …), exposed on the same /metrics. */
  meter: Meter;
  /** The Prometheus text exposition of every instrument. */
  render(): Promise<string>;
  shutdown(): Promise<void>;
}

export function createAiMetrics({
  maxOrgs = 100,
  maxModels = 100,
  maxProviders = 20,
}: AiMetricsOptions = {}): AiMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  const provider = new MeterProvider({ readers: [exporter], views: PROMETHEUS_COMPATIBLE_NAMES });
  const meter = provider.getMeter('observatory');
  const orgs = new LabelCap(maxOrgs);
  const models = new LabelCapPerOrg(maxModels);
  const fallbackModels = new LabelCapPerOrg(maxModels);
  const providers = new LabelCapPerOrg(maxProviders);

  const requests = meter.createCounter('ai_inference_requests_total', { description: 'Model calls' });
  const errors = meter.createCounter('ai_inference_errors_total', { description: 'Failed model calls' });
  const fallbacks = meter.createCounter('ai_inference_fallbacks_total', {
    description: 'Model calls answered by a fallback model',
  });
  const latency = meter.createHistogram('ai_inference_latency_seconds', {
    description: 'Model call latency',
    unit: 's',
    advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS_SECONDS },
  });
  const cost = meter.createCounter('ai_cost_usd_total', { description: 'Cost of model calls in USD' });
  const tokens = meter.createCounter('ai_tokens_total', {
    description:
      'Tokens of model calls by token_type: input and output, and of those the cached input and the reasoning output',
  });
  const tokenUsage = meter.createHistogram(GenAiMetrics.TOKEN_USAGE, {
    description: 'Number of input and output tokens used per model call',
    unit: '{token}',
    advice: { explicitBucketBoundaries: TOKEN_USAGE_BUCKETS },
  });
  const operationDuration = meter.createHistogram(GenAiMetrics.OPERATION_DURATION, {
    description: 'GenAI operation duration',
    unit: 's',
    advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS_SECONDS },
  });
  const timeToFirstChunk = meter.createHistogram(GenAiMetrics.TIME_TO_FIRST_CHUNK, {
    description: 'Time to receive the first chunk of a streamed response',
    unit: 's',
    advice: { explicitBucketBoundaries: OPERATION_DURATION_BUCKETS_SECONDS },
  });
  const unpriced = meter.createCounter('ai_unpriced_events_total', {
    description: 'Model calls whose model has no price, so their cost is unknown',
  });
  const written = meter.createCounter('observatory_exporter_events_written_total', {
    description: 'Events committed to PostgreSQL',
  });
  const spilled = meter.createCounter('observatory_exporter_spilled_events_total', {
    description: 'Events written to the spill file while PostgreSQL was unavailable',
  });
  const dropped = meter.createCounter('observatory_exporter_dropped_events_total', {
    description: 'Events lost: refused by PostgreSQL for their data, or neither written nor spilled',
  });
  const exportErrors = meter.createCounter('observatory_exporter_errors_total', {
    description: 'Failed attempts to write a batch to PostgreSQL',
  });
  // Pipeline health series exist from the start at 0, so rate() and alerts see "none yet" rather than "no data".
  for (const counter of [written, spilled, dropped, exportErrors]) counter.add(0);
  let readDepth = () => 0;
  meter
    .createObservableGauge('observatory_exporter_queue_depth', { description: 'Events waiting in memory' })
    .addCallback((result) => result.observe(readDepth()));

  return {
    recordEvents(events) {
      // Counters are summed per label set first: one add() per series per batch instead of several per event.
      const sums = new Map<string, { counter: Counter; attrs: Record<string, string>; n: number }>();
      const bump = (counter: Counter, name: string, attrs: Record<string, string>, n = 1) => {
        const key = `${name}\u0000${Object.values(attrs).join('\u0000')}`;
        const sum = sums.get(key);
        if (sum) sum.n += n;
        else sums.set(key, { counter, attrs, n });
      };
      for (const event of events) {
        const org_id = orgs.apply(event.org_id);
        const model_name = models.apply(org_id, event.model_name);
        const series = { org_id, model_name };
        const code = event.error_code ?? 'unknown';
        const error_code = KNOWN_ERROR_CODES.has(code) ? code : OVERFLOW_LABEL;
        bump(requests, 'requests', series);
        latency.record(event.latency_ms / 1000, series);
        if (!event.success) bump(errors, 'errors', { org_id, model_name, error_code });
        for (const [token_type, n] of [
          ['input', event.input_tokens],
          ['output', event.output_tokens],
          ['cached', event.cached_input_tokens],
          ['reasoning', event.reasoning_tokens],
        ] as const) {
          if (n) bump(tokens, 'tokens', { org_id, model_name, token_type }, n);
        }

        // The GenAI conventions' attributes, with the same bounded values: gen_ai.request.model is model_name.
        const genAi = {
          org_id,
          [Std.OPERATION_NAME]: operationLabel(event.operation),
          [Std.PROVIDER_NAME]: providers.apply(org_id, event.provider),
          [Std.REQUEST_MODEL]: model_name,
        };
        operationDuration.record(
          event.latency_ms / 1000,
          event.success ? genAi : { ...genAi, [Std.ERROR_TYPE]: error_code },
        );
        // Streamed calls only, as the conventions say; they define no error.type on this metric.
        if (event.ttft_ms !== null) timeToFirstChunk.record(event.ttft_ms / 1000, genAi);
        if (event.input_tokens !== null) {
          tokenUsage.record(event.input_tokens, { ...genAi, [GEN_AI_TOKEN_TYPE]: GenAiTokenTypes.INPUT });
        }
        if (event.output_tokens !== null) {
          tokenUsage.record(event.output_tokens, { ...genAi, [GEN_AI_TOKEN_TYPE]: GenAiTokenTypes.OUTPUT });
        }
        if (event.fallback_used) {
          bump(fallbacks, 'fallbacks', {
            org_id,
            fallback_model: fallbackModels.apply(org_id, event.fallback_model),
          });
        }
        if (event.cost_usd !== null) bump(cost, 'cost', { org_id }, Number(event.cost_usd));
        if (event.cost_source === 'unpriced') bump(unpriced, 'unpriced', series);
      }
      for (const { counter, attrs, n } of sums.values()) counter.add(n, attrs);
    },
    health: {
      written: (n) => written.add(n),
      spilled: (n) => spilled.add(n),
      dropped: (n) => dropped.add(n),
      exportError: () => exportErrors.add(1),
    },
    observeQueueDepth(read) {
      readDepth = read;
    },
    meter,
    async render() {
      const { resourceMetrics } = await exporter.collect();
      return serializer.serialize(resourceMetrics);
    },
    shutdown: () => provider.shutdown(),
  };
}
