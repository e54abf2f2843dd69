// Defined in @observatory/semconv, which the instrumentation SDK shares without depending on this package.
export {
  FALLBACK_REASONS,
  type FallbackReason,
  ObservatoryAttributes,
  StandardAttributes,
} from '@observatory/semconv';
