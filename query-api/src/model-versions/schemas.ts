import { z } from '@hono/zod-openapi';

const modelName = z.string().min(1).max(256);
const version = z.string().min(1).max(256);

/** `POST /api/telemetry/model-versions`: records that a version of a model was deployed. */
export const DeploymentInputSchema = z
  .object({
    model_name: modelName,
    version,
    note: z.string().max(2000).optional(),
    /** The deployment's configuration (temperature, prompt template id, …); at most 16 KiB as JSON. */
    configuration: z.record(z.string(), z.unknown()).optional(),
    /** When it was deployed; now when absent. */
    deployed_at: z.iso.datetime({ offset: true }).optional(),
  })
  .strict()
  .openapi('ModelDeploymentInput');
export type DeploymentInput = z.infer<typeof DeploymentInputSchema>;

export const DeploymentSchema = z
  .object({
    id: z.uuid(),
    model_name: modelName,
    version,
    deployed_at: z.iso.datetime(),
    /** Who recorded it: an API key id, or `cli`. */
    deployed_by: z.string(),
    note: z.string().nullable(),
    configuration: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('ModelDeployment');
export type Deployment = z.infer<typeof DeploymentSchema>;

/** A model's figures over a span of time, from the rollups. */
export const VersionFiguresSchema = z
  .object({
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    calls: z.number().int(),
    error_rate: z.number(),
    fallback_rate: z.number(),
    /** From the rollups' latency histogram: within 2 % of the exact value. */
    p95_latency_ms: z.number().nullable(),
    /** Decimal string; null without priced calls. */
    cost_per_call_usd: z.string().nullable(),
  })
  .openapi('VersionFigures');
export type VersionFigures = z.infer<typeof VersionFiguresSchema>;

export const ModelVersionSchema = z
  .object({
    version,
    /** First and last event seen with this version (null: deployed, not seen yet). */
    first_seen: z.iso.datetime().nullable(),
    last_seen: z.iso.datetime().nullable(),
    /** While this version was the model's current one (from when it took over to when the next did, or now). */
    figures: VersionFiguresSchema.nullable(),
  })
  .openapi('ModelVersion');
export type ModelVersion = z.infer<typeof ModelVersionSchema>;

/**
 * A change of the model's current version, and the rollback preview: `after` covers the new version from the change
 * for up to as long as it was current (to now at most), `before` the previous version over the same length of time
 * just before the change.
 */
export const VersionChangeSchema = z
  .object({
    at: z.iso.datetime(),
    from_version: version.nullable(),
    to_version: version,
    /** The deployment that made the change, when one was recorded. */
    deployment_id: z.uuid().nullable(),
    before: VersionFiguresSchema.nullable(),
    after: VersionFiguresSchema,
  })
  .openapi('VersionChange');
export type VersionChange = z.infer<typeof VersionChangeSchema>;

export const ModelTimelineSchema = z
  .object({
    model_name: modelName,
    /** Oldest first. */
    versions: z.array(ModelVersionSchema),
    deployments: z.array(DeploymentSchema),
    changes: z.array(VersionChangeSchema),
  })
  .openapi('ModelTimeline');
export type ModelTimeline = z.infer<typeof ModelTimelineSchema>;

export const ModelVersionsResponseSchema = z
  .object({ models: z.array(ModelTimelineSchema) })
  .openapi('ModelVersions');
export type ModelVersionsResponse = z.infer<typeof ModelVersionsResponseSchema>;

export const ModelVersionsQuerySchema = z.object({
  model_name: modelName.optional().describe('one model; all of the org’s models when absent'),
});
