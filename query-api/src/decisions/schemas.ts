import { z } from '@hono/zod-openapi';
import { DecisionContentSchema } from '@observatory/exporter-postgres';
import { named } from '../http/openapi.ts';

/**
 * `GET /api/telemetry/events/{id}/trace`: one model call's decrypted content (the Decision Tracer). Content parts and
 * tool-call arguments carry their own `truncated` flag; `truncated` here says whether any field was cut.
 */
export const DecisionTraceSchema = named(
  'DecisionTrace',
  DecisionContentSchema.extend({
    event_id: z.uuid(),
    trace_id: z.string().nullable(),
    span_id: z.string().nullable(),
    model_name: z.string(),
    /** The model call's time (the event's `created_at`). */
    created_at: z.iso.datetime(),
    /** When the traces leave: `created_at` + the org's `trace_retention_days`, as of now. */
    expires_at: z.iso.datetime(),
    truncated: z.boolean(),
  }),
  "A model call's captured input and output messages, rationale and confidence, decrypted",
);
export type DecisionTrace = z.infer<typeof DecisionTraceSchema>;

export const TraceParamsSchema = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, description: 'the event id' }),
});
