export {
  AI_SPAN_COLUMNS,
  type AiSpan,
  AiSpanSchema,
  isAiSpan,
  SpanAttributesSchema,
  type SpanKind,
  SpanKindSchema,
  type StoredRow,
} from './ai-span.ts';
export {
  FALLBACK_REASONS,
  type FallbackReason,
  ObservatoryAttributes,
  StandardAttributes,
} from './attributes.ts';
export type { CapturedContent, CapturePolicy, CapturePolicyOf } from './content/batch-contents.ts';
export { type CapturePolicies, ContentCapture } from './content/capture.ts';
export { type EventContentRow, isEventContent } from './content/content-row.ts';
export { DataKeys, rewrapDataKeys } from './content/data-keys.ts';
export { contentAssociatedData, open as openSealed, seal } from './content/envelope.ts';
export { anyTruncated, extractContent } from './content/extract.ts';
export { LocalMasterKeys, type MasterKeyProvider, masterKeyFrom } from './content/master-keys.ts';
export {
  type CappedText,
  CappedTextSchema,
  type ContentConvention,
  ContentConventionSchema,
  type ContentPart,
  ContentPartSchema,
  type DecisionContent,
  DecisionContentSchema,
  emptyDecisionContent,
  MAX_CONTENT_FIELD_BYTES,
  type Message,
  type MessageRole,
  MessageRoleSchema,
  MessageSchema,
  type ToolCall,
  ToolCallSchema,
} from './content/schema.ts';
export { type Cost, computeCost, type Usage, usdToDecimal } from './cost/cost.ts';
export { type PriceEntry, type PriceFile, PriceFileSchema } from './cost/price-file.ts';
export { type FoundPrice, loadPriceTable, type PriceQuery, PriceTable } from './cost/price-table.ts';
export { decimalToUnits, unitsToDecimal } from './cost/units.ts';
export { ADVISORY_LOCKS } from './db/advisory-locks.ts';
export { type CheckedOutClient, checkout } from './db/checkout.ts';
export { type AppliedMigration, MIGRATIONS_DIR, migrate } from './db/migrate.ts';
export { ensurePartitions } from './db/partitions.ts';
export {
  AI_EVENT_COLUMNS,
  AI_EVENT_PG_TYPES,
  type AiEvent,
  AiEventSchema,
  type CostSource,
  CostSourceSchema,
} from './event.ts';
export { PostgresSpanExporter, type PostgresSpanExporterOptions } from './exporter.ts';
export { hexIdSchema, isStoredHexId, storedHexIdSchema } from './hex-id.ts';
export { Ingest, type IngestOptions, type IngestResult, modelCallsOf } from './ingest.ts';
export { LogIngest, type LogIngestOptions, type LogIngestResult } from './logs/log-ingest.ts';
export type { DecodedLogs, LogInput } from './logs/log-input.ts';
export {
  LOG_ROW_COLUMNS,
  type LogRow,
  LogRowSchema,
  MAX_LOG_BODY,
  STRUCTURED_LOGS_TABLE,
} from './logs/log-row.ts';
export { createLogWriter, LOG_DATE_FIELDS } from './logs/log-writer.ts';
export { mapLog } from './logs/map-log.ts';
export { type EventEnvelope, EventEnvelopeSchema, eventFromEnvelope } from './mapping/envelope.ts';
export { ERROR_CODES, type ErrorCode, normaliseErrorCode } from './mapping/error-codes.ts';
export {
  type PseudonymKey,
  protectIdentifiers,
  protectSpanIdentifiers,
  REDACTED,
  sessionPseudonym,
  userPseudonym,
} from './mapping/identifiers.ts';
export { mapAiSpan, spanKindOf } from './mapping/map-ai-span.ts';
export { type MapOptions, mapBatch, mapSpan, mapSpans } from './mapping/map-span.ts';
export { cutText, looksPersonal, scrubJson, scrubText, scrubToLength } from './mapping/scrub.ts';
export { SESSION_ID_KEYS, USER_ID_KEYS } from './mapping/span-context.ts';
export { type AiMetrics, createAiMetrics } from './metrics/ai-metrics.ts';
export { OPERATION_DURATION_BUCKETS_SECONDS, TOKEN_USAGE_BUCKETS } from './metrics/genai-conventions.ts';
export { OrgIdSchema } from './org-id.ts';
export {
  type DecodedSpans,
  decodeOtlpJson,
  decodeOtlpProtobuf,
  encodeExportTraceResponse,
  OtlpDecodeError,
} from './otlp/decode.ts';
export {
  decodeOtlpLogsJson,
  decodeOtlpLogsProtobuf,
  encodeExportLogsResponse,
} from './otlp/decode-logs.ts';
export { BodyDecoder, DecoderUnavailableError } from './otlp/decode-off-thread.ts';
export type { JsonItems, SpanAttributes } from './otlp/decode-task.ts';
export { TooManySpansError } from './otlp/decoded.ts';
export { JsonBodyError, MAX_JSON_DEPTH } from './otlp/json-body.ts';
export { encodeRpcStatus } from './otlp/rpc-status.ts';
export {
  BatchTooLargeError,
  type Durability,
  EventPipeline,
  PIPELINE_DEFAULTS,
  QueueFullError,
  type RowSink,
  ShutdownError,
} from './pipeline/pipeline.ts';
export { dateReviver, EVENT_DATE_FIELDS } from './pipeline/row-json.ts';
export {
  createEventWriter,
  createRowWriter,
  createStoredRowWriter,
  type EventWriter,
  type RowWriter,
  type WriteResult,
} from './pipeline/writer.ts';
export { type BackfillStep, backfillRollupsStep, startRollupBackfill } from './rollups/backfill.ts';
export {
  COMPACT_BATCH,
  type CompactResult,
  compactRollups,
  compactStatement,
  underRollupLock,
} from './rollups/compact.ts';
export { SKIP_ROLLUPS_SETTING, skipRollupsInTransaction } from './rollups/skip.ts';
export {
  mergedHistogram,
  mergedRows,
  RAW_COLUMNS,
  ROLLUP_KEYS,
  rowsFromRaw,
  unpackBucket,
  unpackCount,
  unpivotDimensions,
} from './rollups/sql.ts';
export {
  PENDING,
  ROLLUP_DIMENSIONS,
  ROLLUP_HISTOGRAMS,
  ROLLUP_SUMS,
  ROLLUP_TABLES,
  ROLLUPS,
  type Rollup,
  type RollupDimension,
  type RollupGrain,
  rollupTable,
} from './rollups/tables.ts';
export { forEachInSlices } from './slices.ts';
export { type AttributeValue, fromReadableSpan, type SpanInput } from './span.ts';
