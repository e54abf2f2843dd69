/** What the soak's client processes are told to do (their first IPC message) and report back (their last). */

/** Latencies in ms of the requests that succeeded, per route (`GET /api/telemetry/events`…). */
export type Timings = Record<string, number[]>;
/** Answers per route and status (`POST /v1/traces 503`, `… network` for no answer at all). */
export type Statuses = Record<string, number>;

export interface Burst {
  /** The model the alert rule watches: one span of it in every request while a burst is on. */
  model: string;
  periodMs: number;
  onMs: number;
}

export type ClientSpec =
  | {
      role: 'ingest';
      url: string;
      key: string;
      /** Requests started per second, whatever the answers (a fixed rate, as instrumented services send). */
      requestsPerSecond: number;
      spansPerRequest: number;
      /** No new request after this (epoch ms); retries go on until `giveUpAt`. */
      until: number;
      giveUpAt: number;
      burst?: Burst;
      startedAt: number;
    }
  | { role: 'query'; url: string; key: string; until: number; concurrency: number }
  | { role: 'export'; url: string; key: string; until: number; giveUpAt: number }
  | { role: 'stream'; url: string; key: string; orgId: string; streams: number };

export interface AckedBurst {
  /** Epoch ms. */
  at: number;
  /** ms from sending a span of the burst to its acknowledgement, the quickest of the burst. */
  firstAckMs: number;
}

export interface IngestResult {
  role: 'ingest';
  /** Span ids of every request answered 200: what the receivers acknowledged. */
  acked: string[];
  /** Requests never acknowledged before `giveUpAt`. */
  abandoned: number;
  /** Retries of requests (after 429/503/network errors). */
  retries: number;
  /** Bursts of the watched model with a span acknowledged: when each started, and its quickest acknowledgement. */
  bursts: AckedBurst[];
  timings: Timings;
  statuses: Statuses;
}

export interface ExportJob {
  id: string;
  createdAt: number;
  completedAt?: number;
  status: string;
  rowCount?: number;
  downloadedRows?: number;
}

export interface StreamReport {
  firstConnectedAt: number;
  /** Span ids of the telemetry messages received, once each. */
  received: string[];
  duplicates: number;
  /** Span ids received that belong to another org (must be none). */
  foreign: number;
  /** ms from an event's `received_at` to its arrival here. */
  delaysMs: number[];
  connects: number;
}

export interface QueryResult {
  role: 'query';
  timings: Timings;
  statuses: Statuses;
}

export interface ExportResult {
  role: 'export';
  jobs: ExportJob[];
  timings: Timings;
  statuses: Statuses;
}

export interface StreamResult {
  role: 'stream';
  streams: StreamReport[];
}

export type ClientResult = IngestResult | QueryResult | ExportResult | StreamResult;

/** How far each stream of a stream client has got, asked for while the soak drains. */
export type StreamProgress = Pick<StreamReport, 'firstConnectedAt'> & { received: number };

export type ClientMessage =
  | { type: 'result'; result: ClientResult }
  | { type: 'error'; message: string }
  | { type: 'progress'; streams: StreamProgress[] };
