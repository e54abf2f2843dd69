import { looksPersonal } from '../mapping/scrub.ts';

export const OVERFLOW_LABEL = 'other';
/** The label of a value that looks personal: an email, key or token is never a label. */
export const REDACTED_LABEL = 'redacted';

/**
 * Keeps a label's values to a bounded set of values that hold nothing personal: the first `max` distinct clean
 * values pass, later new ones become `other`, values holding personal data or secrets become `redacted`, so
 * neither a flood of model names nor a leaked email grows the series or reaches /metrics.
 */
export class LabelCap {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  apply(value: string | null | undefined): string {
    const v = value || 'unknown';
    if (this.seen.has(v)) return v;
    // Past the cap the value is never shown, so it need not be scrubbed either.
    if (this.seen.size >= this.max) return OVERFLOW_LABEL;
    if (looksPersonal(v)) return REDACTED_LABEL;
    this.seen.add(v);
    return v;
  }
}

/** A LabelCap of `max` values per org label, so one org's values never use up another org's budget. */
export class LabelCapPerOrg {
  private readonly caps = new Map<string, LabelCap>();

  constructor(private readonly max: number) {}

  /** `orgLabel` is an already capped org_id label, which bounds the number of caps kept. */
  apply(orgLabel: string, value: string | null | undefined): string {
    let cap = this.caps.get(orgLabel);
    if (!cap) {
      cap = new LabelCap(this.max);
      this.caps.set(orgLabel, cap);
    }
    return cap.apply(value);
  }
}
