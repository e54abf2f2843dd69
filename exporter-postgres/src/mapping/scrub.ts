// Defined in @observatory/semconv: the instrumentation SDK scrubs with the same rules before a span leaves a service.
export {
  cutText,
  looksPersonal,
  MAX_JSON_STRING,
  scrubJson,
  scrubText,
  scrubToLength,
} from '@observatory/semconv';
