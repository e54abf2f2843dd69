// 08xxx: connection exceptions; 57P01–57P03: the server shut down or is not taking connections yet; 53300: too
// many connections. All of them say nothing about the statement: the same statement may succeed on a new connection.
const CONNECTION_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;

const SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

// What node-postgres and pg-pool say, without a code, when a socket dies or a connection cannot be had in time.
const DRIVER_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable|Client was closed and is not queryable/i;

/**
 * True when `err` means the database connection was lost or could not be made: the operation may be retried on a
 * fresh connection, and an HTTP caller should hear 503 rather than 500.
 */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_SQLSTATE.test(code) || SOCKET_CODES.has(code))) return true;
  return DRIVER_MESSAGE.test(err.message);
}
