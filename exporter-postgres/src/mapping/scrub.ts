// Defined in @observatory/semconv: the instrumentation SDK scrubs with the same rules before a span leaves a service.
export { scrubJson, scrubText } from '@observatory/semconv';
