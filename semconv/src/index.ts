export {
  FALLBACK_REASONS,
  type FallbackReason,
  ObservatoryAttributes,
  StandardAttributes,
} from './attributes.ts';
export { cutText, looksPersonal, MAX_JSON_STRING, scrubJson, scrubText, scrubToLength } from './scrub.ts';
