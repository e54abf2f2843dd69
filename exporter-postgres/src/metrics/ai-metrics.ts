import type { Counter, Meter } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { AiEvent } from '../event.ts';
import { ERROR_CODES } from '../mapping/error-codes.ts';
import type { PipelineHealth } from '../pipeline/pipeline.ts';
import { LabelCap, LabelCapPerOrg, OVERFLOW_LABEL } from './label-cap.ts';

export interface AiMetricsOptions {
  /** Distinct org_id label values kept before the rest become `other`. */
  maxOrgs?: number;
  /**
   * Distinct model_name (and fallback_model) label values kept per org before that org's other models become
   * `other`; orgs past `maxOrgs` share the budget of the org label `other`.
   */
  maxModels?: number;
}

/** Model latency spans 10 ms to 80 s; the GenAI semantic conventions' duration buckets cover exactly that. */
export const LATENCY_BUCKETS_SECONDS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

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

export function createAiMetrics({ maxOrgs = 100, maxModels = 100 }: AiMetricsOptions = {}): AiMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  const provider = new MeterProvider({ readers: [exporter] });
  const meter = provider.getMeter('observatory');
  const orgs = new LabelCap(maxOrgs);
  const models = new LabelCapPerOrg(maxModels);
  const fallbackModels = new LabelCapPerOrg(maxModels);

  const requests = meter.createCounter('ai_inference_requests_total', { description: 'Model calls' });
  const errors = meter.createCounter('ai_inference_errors_total', { description: 'Failed model calls' });
  const fallbacks = meter.createCounter('ai_inference_fallbacks_total', {
    description: 'Model calls answered by a fallback model',
  });
  const latency = meter.createHistogram('ai_inference_latency_seconds', {
    description: 'Model call latency',
    unit: 's',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
  });
  const cost = meter.createCounter('ai_cost_usd_total', { description: 'Cost of model calls in USD' });
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
        bump(requests, 'requests', series);
        latency.record(event.latency_ms / 1000, series);
        if (!event.success) {
          const code = event.error_code ?? 'unknown';
          bump(errors, 'errors', {
            org_id,
            model_name,
            error_code: KNOWN_ERROR_CODES.has(code) ? code : OVERFLOW_LABEL,
          });
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
