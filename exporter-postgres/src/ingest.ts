import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { type AiSpan, isModelCall, type StoredRow } from './ai-span.ts';
import type { ContentCapture } from './content/capture.ts';
import type { EventContentRow } from './content/content-row.ts';
import { fillFromStoredAncestors } from './context/stored-ancestors.ts';
import { loadPriceTable, type PriceTable } from './cost/price-table.ts';
import type { AiEvent } from './event.ts';
import type { PseudonymKey } from './mapping/identifiers.ts';
import { mapSpansInSlices } from './mapping/map-spans-in-slices.ts';
import { orgOf } from './mapping/read-attributes.ts';
import type { AiMetrics } from './metrics/ai-metrics.ts';
import { type Durability, EventPipeline, type PipelineOptions, type RowSink } from './pipeline/pipeline.ts';
import { createStoredRowWriter } from './pipeline/writer.ts';
import { forEachInSlices, runsOf } from './slices.ts';
import type { SpanInput } from './span.ts';

const METRICS_RUN = 500;

export interface IngestOptions extends Omit<PipelineOptions, 'writer' | 'health' | 'onCommitted'> {
  pool: pg.Pool;
  /** Default: the catalogue alone; `loadPriceTable(file)` adds an `OBSERVATORY_PRICES_FILE`'s overrides. */
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
  /**
   * Where mapped rows go instead of this process's pipeline: the durable ingest buffer (OBSERVATORY_INGEST_BUFFER),
   * whose writers commit them and call `onCommitted` there; the pipeline options then go unused.
   */
  sink?: RowSink<StoredRow>;
  /**
   * Content capture for orgs that opted in. Without it, no content is read. Content is encrypted before it is
   * queued, so the queue and the spill file only ever hold ciphertext.
   */
  content?: ContentCapture;
}

/** The model calls among stored rows: what the live stream follows. */
export function modelCallsOf(rows: readonly StoredRow[]): AiEvent[] {
  return rows.every(isModelCall) ? (rows as AiEvent[]) : rows.filter(isModelCall);
}

export interface IngestResult {
  /** Model calls stored. */
  events: number;
  /** Agent, tool, retriever, chain, … spans stored beside them. */
  spans: number;
  durability: Durability;
}

/**
 * The one path from spans to storage: map (pure), then the durable pipeline, then metrics once the events are
 * durable — so a client retrying a refused request is not counted twice. Used by the OTLP receiver, the JSON
 * ingest route and the in-process PostgresSpanExporter alike.
 */
export class Ingest {
  /** Model calls and the agent, tool, … spans around them share one queue, its batches, retries and spill file. */
  readonly pipeline: RowSink<StoredRow>;
  private readonly prices: PriceTable;
  private readonly metrics: AiMetrics | undefined;
  private readonly defaultOrgId: string;
  private readonly pool: pg.Pool;
  private readonly onError: ((err: Error) => void) | undefined;
  readonly pseudonymKey: PseudonymKey;
  private readonly content: ContentCapture | undefined;

  constructor(options: IngestOptions) {
    this.prices = options.prices ?? loadPriceTable();
    this.pseudonymKey = options.pseudonymKey ?? randomBytes(32);
    this.metrics = options.metrics;
    this.defaultOrgId = options.defaultOrgId ?? 'default';
    this.pool = options.pool;
    this.onError = options.onError;
    this.content = options.content;
    const { onCommitted } = options;
    this.pipeline =
      options.sink ??
      new EventPipeline<StoredRow>({
        ...options,
        writer: createStoredRowWriter(options.pool),
        health: options.metrics?.health,
        // The live stream follows model calls only.
        onCommitted:
          onCommitted &&
          ((rows) => {
            const events = modelCallsOf(rows);
            if (events.length > 0) onCommitted(events);
          }),
      });
    options.metrics?.observeQueueDepth(() => this.pipeline.depth);
  }

  get priceTable(): PriceTable {
    return this.prices;
  }

  /** The most events (and so spans) one call can store: the size of the pipeline's queue. */
  get capacity(): number {
    return this.pipeline.capacity;
  }

  start(): Promise<void> {
    return this.pipeline.start();
  }

  /** Whether `orgId` captures content: its spans must then be decoded with every attribute, not only mapped ones. */
  async capturesContent(orgId: string): Promise<boolean> {
    return this.content !== undefined && (await this.content.policies([orgId])).has(orgId);
  }

  /**
   * Maps and stores spans; `orgId` (an ingest key's org) overrides any org the spans claim. Mapping runs in
   * slices, so a large batch does not hold up the event loop. Rows whose ancestors came in an earlier request take
   * the context they lack from those ancestors' stored rows (one lookup, only when some row needs it).
   */
  async spans(spans: readonly SpanInput[], orgId?: string): Promise<IngestResult> {
    const options = { orgId, defaultOrgId: this.defaultOrgId };
    const capturing = this.content && (await this.content.policies(orgId ? [orgId] : orgsOf(spans, options)));
    const mapped = await mapSpansInSlices(spans, {
      ...options,
      prices: this.prices,
      receivedAt: new Date(),
      pseudonymKey: this.pseudonymKey,
      capture: capturing && capturing.size > 0 ? (org) => capturing.get(org) : undefined,
    });
    await fillFromStoredAncestors(this.pool, mapped.gaps, { onError: this.onError });
    const contents = mapped.contents.length > 0 ? await this.content!.seal(mapped.contents) : [];
    return this.store(mapped.events, mapped.spans, contents);
  }

  events(events: AiEvent[]): Promise<IngestResult> {
    return this.store(events, [], []);
  }

  /**
   * One enqueue for every kind of row: they share the queue, its batches, retries and spill file. Content rows follow
   * their events, so a batch writes a call's content after the call.
   */
  private async store(
    events: AiEvent[],
    spans: AiSpan[],
    contents: EventContentRow[],
  ): Promise<IngestResult> {
    const rows: StoredRow[] =
      spans.length === 0 && contents.length === 0 ? events : [...events, ...spans, ...contents];
    const durability = await this.pipeline.enqueue(rows);
    const metrics = this.metrics;
    // Counted in runs: a large batch counted at once would hold up the event loop as long as mapping it would.
    if (metrics) await forEachInSlices(runsOf(events, METRICS_RUN), (run) => metrics.recordEvents(run));
    return { events: events.length, spans: spans.length, durability };
  }

  flush(): Promise<void> {
    return this.pipeline.flush();
  }

  shutdown(): Promise<void> {
    return this.pipeline.shutdown();
  }
}

/** The orgs a batch's spans belong to, when no ingest key decided it. */
function orgsOf(spans: readonly SpanInput[], options: { defaultOrgId: string }): string[] {
  return [...new Set(spans.map((span) => orgOf(span, options)))];
}
