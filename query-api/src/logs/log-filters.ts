import { hexIdSchema, type LogRow } from '@observatory/exporter-postgres';
import { z } from 'zod';
import type { SqlStatement } from '../db/sql-statement.ts';
import { storableText } from '../http/storable-text.ts';

const isoDate = z.iso
  .datetime({ offset: true })
  .or(z.iso.date())
  .transform((v) => new Date(v))
  .describe('ISO-8601 date or date-time');

/** OTLP's severity ranges by the name of their first number. */
const SEVERITY_NAMES = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 } as const;

const severity = z
  .union([
    z.coerce.number().int().min(0).max(24),
    z.enum(Object.keys(SEVERITY_NAMES) as [keyof typeof SEVERITY_NAMES]).transform((n) => SEVERITY_NAMES[n]),
  ])
  .describe('lowest severity shown: 0–24 or trace, debug, info, warn, error, fatal');

/** Log filters shared by `GET /api/telemetry/logs` and the live stream's `log` events. */
export const LOG_FILTER_FIELDS = {
  date_from: isoDate.optional(),
  date_to: isoDate.optional(),
  min_severity: severity.optional(),
  service: storableText.min(1).max(256).optional(),
  trace_id: hexIdSchema(16).optional(),
  span_id: hexIdSchema(8).optional(),
  q: storableText
    .min(1)
    .max(256)
    .optional()
    .describe(
      'text in the body, any case: each word must occur (also inside a longer one), "a phrase" as written, -word must not',
    ),
};

export const LogFiltersSchema = z.object(LOG_FILTER_FIELDS);
export type LogFilters = z.infer<typeof LogFiltersSchema>;

/** The WHERE clause (without the keyword) for `filters` in `orgId`, parameters numbered from $1. */
export function logWhere(orgId: string, filters: LogFilters): SqlStatement {
  const values: unknown[] = [orgId];
  const clauses = ['org_id = $1'];
  const add = (sql: (p: string) => string, value: unknown) => {
    values.push(value);
    clauses.push(sql(`$${values.length}`));
  };
  if (filters.date_from) add((p) => `time >= ${p}`, filters.date_from);
  if (filters.date_to) add((p) => `time <= ${p}`, filters.date_to);
  if (filters.min_severity !== undefined) add((p) => `severity_number >= ${p}`, filters.min_severity);
  if (filters.service !== undefined) add((p) => `service_name = ${p}`, filters.service);
  if (filters.trace_id !== undefined) add((p) => `trace_id = ${p}`, filters.trace_id);
  if (filters.span_id !== undefined) add((p) => `span_id = ${p}`, filters.span_id);
  // Substring matches, which the trigram index of migration 0021 serves (terms of three characters or more).
  if (filters.q !== undefined) {
    const { include, exclude } = searchTerms(filters.q);
    for (const term of include) add((p) => `body ILIKE ${p}`, `%${escapeLike(term)}%`);
    for (const term of exclude) add((p) => `body NOT ILIKE ${p}`, `%${escapeLike(term)}%`);
  }
  return { text: clauses.join(' AND '), values };
}

/** A search's terms: words and "quoted phrases" that must occur, -words (and -"phrases") that must not. */
export function searchTerms(q: string): { include: string[]; exclude: string[] } {
  const include: string[] = [];
  const exclude: string[] = [];
  for (const [, minus, phrase, word] of q.matchAll(/(-?)"([^"]*)"|(\S+)/g)) {
    const excluded = minus === '-' || (word !== undefined && word.startsWith('-') && word.length > 1);
    const term = phrase ?? (excluded ? word!.slice(1) : word!);
    if (term.trim()) (excluded ? exclude : include).push(term);
  }
  return { include, exclude };
}

// LIKE's wildcards and its escape character, taken literally.
const escapeLike = (term: string) => term.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Whether `body` matches a search as the database reads it, for live lines that never meet the query. */
export function textMatches(body: string, q: string): boolean {
  const text = body.toLowerCase();
  const { include, exclude } = searchTerms(q);
  return (
    include.every((t) => text.includes(t.toLowerCase())) &&
    !exclude.some((t) => text.includes(t.toLowerCase()))
  );
}

/** True when a live log line passes `filters` (time filters do not apply to lines arriving now). */
export function logMatches(
  row: Pick<LogRow, 'severity_number' | 'service_name' | 'trace_id' | 'span_id' | 'body'>,
  filters: Omit<LogFilters, 'date_from' | 'date_to'>,
): boolean {
  if (filters.min_severity !== undefined && row.severity_number < filters.min_severity) return false;
  if (filters.service !== undefined && row.service_name !== filters.service) return false;
  if (filters.trace_id !== undefined && row.trace_id !== filters.trace_id) return false;
  if (filters.span_id !== undefined && row.span_id !== filters.span_id) return false;
  if (filters.q !== undefined && !textMatches(row.body, filters.q)) return false;
  return true;
}
