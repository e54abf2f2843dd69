import { z } from 'zod';

/**
 * A string PostgreSQL can store as text: NUL is refused at the edge (400 naming the field) because the database
 * would otherwise fail the whole statement as a server error.
 */
export const storableText = z.string().regex(/^[^\0]*$/, 'must not contain a NUL character');
