import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { loadPriceTable, type PriceTable } from './cost/price-table.ts';
import type { AiEvent } from './event.ts';
import type { PseudonymKey } from './mapping/identifiers.ts';
import { mapSpans } from './mapping/map-span.ts';
import type { AiMetrics } from './metrics/ai-metrics.ts';
import { type Durability, EventPipeline, type PipelineOptions } from './pipeline/pipeline.ts';
import { createEventWriter } from './pipeline/writer.ts';
import type { SpanInput } from './span.ts';

export interface IngestOptions extends Omit<PipelineOptions, 'writer' | 'health' | 'onCommitted'> {
  pool: pg.Pool;
  prices?: PriceTable;
  metrics?: AiMetrics;
  /** The org of spans that name none and arrive without an ingest key's org. */
  defaultOrgId?: string;
  /** After rows commit (the live stream publishes from here). */
  onCommitted?: (events: AiEvent[]) => void;
  /**
   * The secret behind user pseudonyms. Without one, a random key is made for this process: pseudonyms are then
   * stable only until it exits. The service passes its persistent key (OBSERVATORY_PSEUDONYM_KEY or the data
   * directory's); an in-process exporter should pass the same one so both agree.
   */
  pseudonymKey?: PseudonymKey;
}

export interface IngestResult {
  events: number;
  durability: Durability;
}

/**
 * The one path from spans to storage: map (pure), then the durable pipeline, then metrics once the events are
 * durable — so a client retrying a refused request is not counted twice. Used by the OTLP receiver, the JSON
 * ingest route and the in-process PostgresSpanExporter alike.
 */
export class Ingest {
  readonly pipeline: EventPipeline;
  private readonly prices: PriceTable;
  private readonly metrics: AiMetrics | undefined;
  private readonly defaultOrgId: string;
  readonly pseudonymKey: PseudonymKey;

  constructor(options: IngestOptions) {
    this.prices = options.prices ?? loadPriceTable();
    this.pseudonymKey = options.pseudonymKey ?? randomBytes(32);
    this.metrics = options.metrics;
    this.defaultOrgId = options.defaultOrgId ?? 'default';
    this.pipeline = new EventPipeline({
      ...options,
      writer: createEventWriter(options.pool),
      health: options.metrics?.health,
    });
    options.metrics?.observeQueueDepth(() => this.pipeline.depth);
  }

  get priceTable(): PriceTable {
    return this.prices;
  }

  start(): Promise<void> {
    return this.pipeline.start();
  }

  /** Maps and stores spans; `orgId` (an ingest key's org) overrides any org the spans claim. */
  spans(spans: readonly SpanInput[], orgId?: string): Promise<IngestResult> {
    const events = mapSpans(spans, {
      orgId,
      defaultOrgId: this.defaultOrgId,
      prices: this.prices,
      receivedAt: new Date(),
      pseudonymKey: this.pseudonymKey,
    });
    return this.events(events);
  }

  async events(events: AiEvent[]): Promise<IngestResult> {
    const durability = await this.pipeline.enqueue(events);
    this.metrics?.recordEvents(events);
    return { events: events.length, durability };
  }

  flush(): Promise<void> {
    return this.pipeline.flush();
  }

  shutdown(): Promise<void> {
    return this.pipeline.shutdown();
  }
}
