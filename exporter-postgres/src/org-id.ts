import { ORG_ID_PATTERN, ORG_ID_RULE } from '@observatory/semconv';
import { z } from 'zod';

/** An org id, as keys, events and the API accept it. */
export const OrgIdSchema = z.string().regex(ORG_ID_PATTERN, ORG_ID_RULE);
