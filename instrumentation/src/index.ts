export { FALLBACK_REASONS, type FallbackReason } from '@observatory/semconv';
export { errorSummary, errorType, fallbackReasonFor } from './error-info.ts';
export { type FallbackOptions, withFallback } from './fallback.ts';
export {
  getRequestContext,
  REQUEST_ID_HEADER,
  type RequestContext,
  requestContext,
  requestIdFrom,
  runWithRequestContext,
  setRequestIdentity,
  withRequestContext,
} from './request-context.ts';
export { type OtlpOptions, startTelemetry, type Telemetry, type TelemetryOptions } from './telemetry.ts';
export { type AgentOptions, type ToolOptions, traceAgent, traceTool } from './trace-agent.ts';
export {
  type Decision,
  type InferenceCall,
  type InferenceOptions,
  traceInference,
  type Usage,
} from './trace-inference.ts';
