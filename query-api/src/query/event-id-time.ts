/**
 * The millisecond an event id says its event happened, when the id has the UUIDv7 layout the service writes
 * (`exporter-postgres/src/mapping/event-id.ts`: the first 48 bits are the span's start, which is also its
 * `created_at`). Undefined for any other UUID version. Ids that clients supply may carry another time or none;
 * `ai_event_id_matches_time` in migrations/0008_read_paths.sql keeps those findable through a partial index.
 */
export function eventIdMillis(id: string): number | undefined {
  const hex = id.replaceAll('-', '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex) || hex[12] !== '7') return undefined;
  return Number.parseInt(hex.slice(0, 12), 16);
}
