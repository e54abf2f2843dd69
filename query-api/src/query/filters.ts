import { hexIdSchema } from '@observatory/exporter-postgres';
import { z } from 'zod';
import { BooleanTextSchema } from '../boolean-text.ts';
import type { SqlStatement } from '../db/sql-statement.ts';
import { ProblemError } from '../http/problem.ts';
import { storableText } from '../http/storable-text.ts';
import type { Principal } from '../keys/keys.ts';

const isoDate = z.iso
  .datetime({ offset: true })
  .or(z.iso.date())
  .transform((v) => new Date(v))
  .describe('ISO-8601 date or date-time');

const shortText = storableText.min(1).max(256);

/** The filter fields shared by /events, /events/stream, exports and the live stream. */
export const EVENT_FILTER_FIELDS = {
  org_id: shortText.optional(),
  model_name: shortText.optional(),
  date_from: isoDate.optional(),
  date_to: isoDate.optional(),
  success: BooleanTextSchema.optional(),
  fallback_used: BooleanTextSchema.optional(),
  endpoint: shortText.optional(),
  service_name: shortText.optional(),
  user_id: shortText.optional(),
  session_id: shortText.optional(),
  request_id: shortText.optional(),
  trace_id: hexIdSchema(16).optional(),
  error_code: shortText.optional(),
};

/** A date range must not run backwards; refine any schema holding the filter fields with these two. */
export const datesInOrder = (f: { date_from?: Date | undefined; date_to?: Date | undefined }) =>
  !f.date_from || !f.date_to || f.date_from <= f.date_to;
export const DATES_OUT_OF_ORDER = { message: 'must not be after date_to', path: ['date_from'] };

export const EventFiltersSchema = z.object(EVENT_FILTER_FIELDS).refine(datesInOrder, DATES_OUT_OF_ORDER);

export type EventFilters = z.infer<typeof EventFiltersSchema>;

/** Filters bound to the caller's org: naming another org is refused (403), never silently widened. */
export type ScopedFilters = EventFilters & { org_id: string };

export function scopeFilters(filters: EventFilters, principal: Principal): ScopedFilters {
  if (filters.org_id !== undefined && filters.org_id !== principal.orgId) {
    throw new ProblemError(403, `org_id: this key belongs to org "${principal.orgId}"`, {
      errors: [{ field: 'org_id', message: 'another org' }],
    });
  }
  return { ...filters, org_id: principal.orgId };
}

const EQUALITY_COLUMNS = [
  'model_name',
  'success',
  'fallback_used',
  'endpoint',
  'service_name',
  'user_id',
  'request_id',
  'trace_id',
  'error_code',
] as const;

/**
 * The WHERE clause (without the keyword) for `filters`, with parameters numbered from `$1 + offset`.
 * Always starts with `org_id`, so every query uses an index that begins with it.
 */
export function eventWhere(filters: ScopedFilters, offset = 0): SqlStatement {
  const values: unknown[] = [filters.org_id];
  const clauses = [`org_id = $${offset + 1}`];
  const add = (sql: (p: string) => string, value: unknown) => {
    values.push(value);
    clauses.push(sql(`$${offset + values.length}`));
  };
  for (const column of EQUALITY_COLUMNS) {
    const value = filters[column];
    if (value !== undefined) add((p) => `${column} = ${p}`, value);
  }
  // Through the session's traces (ai_traces by session, then ai_events by trace): events have no session index.
  if (filters.session_id !== undefined)
    add(
      (p) =>
        `session_id = ${p} AND trace_id IN (SELECT trace_id FROM ai_traces WHERE org_id = $${offset + 1} AND session_id = ${p})`,
      filters.session_id,
    );
  if (filters.date_from) add((p) => `created_at >= ${p}`, filters.date_from);
  if (filters.date_to) add((p) => `created_at <= ${p}`, filters.date_to);
  return { text: clauses.join(' AND '), values };
}
