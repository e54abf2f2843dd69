export {
  FALLBACK_REASONS,
  type FallbackReason,
  ObservatoryAttributes,
  StandardAttributes,
} from './attributes.ts';
export { ORG_ID_PATTERN, ORG_ID_RULE } from './org-id.ts';
export { cutText, looksPersonal, MAX_JSON_STRING, scrubJson, scrubText, scrubToLength } from './scrub.ts';
