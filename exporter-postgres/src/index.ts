export {
  FALLBACK_REASONS,
  type FallbackReason,
  ObservatoryAttributes,
  StandardAttributes,
} from './attributes.ts';
export { type AppliedMigration, MIGRATIONS_DIR, migrate } from './db/migrate.ts';
export { ensurePartitions } from './db/partitions.ts';
export { AI_EVENT_COLUMNS, type AiEvent, AiEventSchema, type CostSource, CostSourceSchema } from './event.ts';
