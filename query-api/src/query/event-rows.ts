import pg from 'pg';

// Byte sizes arrive as int8; as numbers they match AiEvent (sizes stay far below 2^53). Everything else keeps
// node-postgres' parsing: numeric cost as an exact decimal string, timestamps as Dates, jsonb as objects.
const INT8_OID = 20;

/** Type parsers for reading `ai_events` rows as AiEvent values. */
export const EVENT_ROW_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};
