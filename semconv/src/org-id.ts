/**
 * What an org id may be, wherever one is accepted (API keys, spans, event envelopes, the example service): 1-64
 * letters, digits, ".", "_" or "-", starting with a letter or digit.
 */
export const ORG_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const ORG_ID_RULE = 'must be 1-64 letters, digits, ".", "_" or "-"';
