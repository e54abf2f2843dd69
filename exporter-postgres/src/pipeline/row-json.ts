/** The Date fields of an AiEvent, the rows spilled unless told otherwise. */
export const EVENT_DATE_FIELDS = ['created_at', 'received_at'] as const;

/**
 * A `JSON.parse` reviver that turns the named fields back into Dates: rows travel as JSON (the spill file, the
 * ingest buffer), and the writer takes ISO strings as they are, but what reads a row after commit (the live stream's
 * notifier) needs its Dates.
 */
export function dateReviver(fields: readonly string[]): (key: string, value: unknown) => unknown {
  const dates = new Set(fields);
  return (key, value) => (dates.has(key) && typeof value === 'string' ? new Date(value) : value);
}
