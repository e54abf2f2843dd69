/**
 * Every read path issue 14 budgets, as plain data: a name, the URL of call `i` (built from rows sampled out of the
 * seed, so each call reads different rows spread over the month) and its p95 budget. One line per path: a new
 * action adds its line here. A path whose `action` the service does not know yet (a 400 naming `action`) is printed
 * as "n/a" instead of failing the run.
 */
import { encodeCursor } from '../query-api/src/query/events-sql.ts';

export interface Samples {
  /** Service ids (UUIDv7 of their own time), with their rows' cursor fields, trace, request and user. */
  events: {
    id: string;
    created_at: Date;
    trace_id: string;
    request_id: string;
    user_id: string | null;
  }[];
  /** Ids a client supplied (not the service's UUIDv7 of the row's time). */
  clientIds: string[];
  users: string[];
  /** When the calls started: windows end here. */
  now: number;
}

export interface ReadPath {
  name: string;
  url: (s: Samples, i: number) => string;
  budgetMs: number;
  /** `first-rows`: time until the response has delivered 1,000 CSV rows (after its header), not the whole body. */
  measure?: 'response' | 'first-rows';
}

const DAY = 86_400_000;
const pick = <T>(list: T[], i: number) => list[i % list.length]!;
const page = '/api/telemetry/events?limit=100';
const ago = (s: Samples, days: number) => new Date(s.now - days * DAY).toISOString();
/** An id in the service's layout whose millisecond holds no event: a 404 after two index probes. */
const missingId = (s: Samples, i: number) => {
  const hex = (s.now + i).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7000-8000-000000000000`;
};

const LIST = 50;
const AGGREGATE = 300;

const aggregates = (action: string): ReadPath[] => [
  ...['24h', '7d', '30d'].map((range) => ({
    name: `${action} ${range}`,
    url: () => `/api/telemetry?action=${action}&range=${range}`,
    budgetMs: AGGREGATE,
  })),
  {
    name: `${action} explicit 180 d window`,
    url: (s: Samples) =>
      `/api/telemetry?action=${action}&date_from=${ago(s, 180)}&date_to=${new Date(s.now).toISOString()}`,
    budgetMs: AGGREGATE,
  },
];

export const READ_PATHS: ReadPath[] = [
  { name: 'newest page', url: () => page, budgetMs: LIST },
  { name: 'filtered: model (common)', url: () => `${page}&model_name=model-3`, budgetMs: LIST },
  { name: 'filtered: model (rare)', url: () => `${page}&model_name=model-29`, budgetMs: LIST },
  { name: 'filtered: success=false', url: () => `${page}&success=false`, budgetMs: LIST },
  { name: 'filtered: fallback_used=true', url: () => `${page}&fallback_used=true`, budgetMs: LIST },
  { name: 'filtered: endpoint (25 %)', url: () => `${page}&endpoint=%2Fsearch`, budgetMs: LIST },
  { name: 'filtered: endpoint (1 %)', url: () => `${page}&endpoint=%2Fadmin%2Freindex`, budgetMs: LIST },
  { name: 'filtered: error_code', url: () => `${page}&error_code=rate_limited`, budgetMs: LIST },
  { name: 'filtered: user_id', url: (s, i) => `${page}&user_id=${pick(s.users, i)}`, budgetMs: LIST },
  {
    name: 'filtered: model + success=false + 7 d',
    url: (s) => `${page}&model_name=model-3&success=false&date_from=${ago(s, 7)}`,
    budgetMs: LIST,
  },
  {
    name: 'deep page by cursor (anywhere in 30 d)',
    url: (s, i) => `${page}&cursor=${encodeCursor(pick(s.events, i))}`,
    budgetMs: LIST,
  },
  {
    name: 'deep page by cursor, filtered: user_id',
    url: (s, i) => `${page}&user_id=${pick(s.users, i)}&cursor=${encodeCursor(pick(s.events, i))}`,
    budgetMs: LIST,
  },
  { name: 'page at the offset cap (offset=10000)', url: () => `${page}&offset=10000`, budgetMs: LIST },
  { name: 'event by id', url: (s, i) => `/api/telemetry/events/${pick(s.events, i).id}`, budgetMs: LIST },
  {
    name: 'event by id a client supplied',
    url: (s, i) => `/api/telemetry/events/${pick(s.clientIds, i)}`,
    budgetMs: LIST,
  },
  {
    name: 'event by id: not found (404)',
    url: (s, i) => `/api/telemetry/events/${missingId(s, i)}`,
    budgetMs: LIST,
  },
  {
    name: 'trace_id, no dates',
    url: (s, i) => `/api/telemetry/events?limit=1000&trace_id=${pick(s.events, i).trace_id}`,
    budgetMs: LIST,
  },
  {
    name: 'request_id, no dates',
    url: (s, i) => `/api/telemetry/events?limit=1000&request_id=${pick(s.events, i).request_id}`,
    budgetMs: LIST,
  },
  ...aggregates('overview'),
  ...aggregates('models'),
  ...aggregates('errors'),
  ...aggregates('fallbacks'),
  { name: 'drift 24h (stored PSI)', url: () => '/api/telemetry?action=drift&range=24h', budgetMs: AGGREGATE },
  // Traces and sessions group a window's ai_events and ai_spans rows by trace (issue 18).
  { name: 'traces: newest 50 of 24 h', url: () => '/api/telemetry/traces', budgetMs: AGGREGATE },
  {
    name: 'traces: newest 50 of 1 h',
    url: (s) => `/api/telemetry/traces?date_from=${ago(s, 1 / 24)}`,
    budgetMs: LIST,
  },
  {
    name: "traces: one trace's tree",
    url: (s, i) => `/api/telemetry/traces/${pick(s.events, i).trace_id}`,
    budgetMs: LIST,
  },
  { name: 'sessions: newest 50 of 24 h', url: () => '/api/telemetry/sessions', budgetMs: AGGREGATE },
  // Series and breakdowns read the narrow rollups (0024).
  ...(['24h', '7d', '30d'] as const).flatMap((range) =>
    (['1h', '1d'] as const).map((interval) => ({
      name: `series ${range} / ${interval}`,
      url: () => `/api/telemetry?action=series&range=${range}&interval=${interval}`,
      budgetMs: AGGREGATE,
    })),
  ),
  ...(['1h', '1d'] as const).map((interval) => ({
    name: `series 30d / ${interval}, one model`,
    url: () => `/api/telemetry?action=series&range=30d&interval=${interval}&model_name=model-3`,
    budgetMs: AGGREGATE,
  })),
  // Independent random dimensions: users (5,000, ~4,700 in any hour) are the widest rollup.
  ...(
    [
      ['model_name', '30d'],
      ['user_id', '24h'],
      ['user_id', '7d'],
      ['user_id', '30d'],
      ['endpoint', '7d'],
      ['service_name', '30d'],
      ['provider', '24h'],
    ] as const
  ).map(([by, range]) => ({
    name: `breakdown by ${by} ${range}`,
    url: () => `/api/telemetry?action=breakdown&by=${by}&range=${range}`,
    budgetMs: AGGREGATE,
  })),
  {
    name: 'CSV: time to the first 1,000 rows',
    url: () => '/api/telemetry/events/stream?limit=100000',
    budgetMs: AGGREGATE,
    measure: 'first-rows',
  },
];
