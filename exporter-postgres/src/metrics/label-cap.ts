export const OVERFLOW_LABEL = 'other';

/**
 * Keeps a label's values to a bounded set: the first `max` distinct values pass, later new ones become `other`,
 * so a flood of model names or orgs cannot grow the series count without bound.
 */
export class LabelCap {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  apply(value: string | null | undefined): string {
    const v = value || 'unknown';
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.max) return OVERFLOW_LABEL;
    this.seen.add(v);
    return v;
  }
}
