import { z } from 'zod';
import { ProblemError } from '../http/problem.ts';

/** Position after the last item of a page of traces or sessions: keyset on (time, id), newest first. */
export interface KeyCursor {
  at: Date;
  id: string;
}

export function encodeKeyCursor(cursor: KeyCursor): string {
  return Buffer.from(JSON.stringify([cursor.at.toISOString(), cursor.id])).toString('base64url');
}

const CursorSchema = z.tuple([z.iso.datetime(), z.string().min(1).max(256)]);

/**
 * The cursor, or a 400 when the text is not one this service issued: only the exact text `encodeKeyCursor` makes is
 * taken, so no forged value reaches SQL.
 */
export function decodeKeyCursor(text: string | undefined): KeyCursor | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const shape = CursorSchema.safeParse(parsed);
  const cursor = shape.success ? { at: new Date(shape.data[0]), id: shape.data[1] } : undefined;
  if (!cursor || Number.isNaN(cursor.at.getTime()) || encodeKeyCursor(cursor) !== text) {
    throw new ProblemError(400, 'cursor: not a cursor this service issued', {
      errors: [{ field: 'cursor', message: 'invalid' }],
    });
  }
  return cursor;
}
