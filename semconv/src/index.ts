export {
  FALLBACK_REASONS,
  type FallbackReason,
  ObservatoryAttributes,
  StandardAttributes,
} from './attributes.ts';
export { scrubJson, scrubText } from './scrub.ts';
