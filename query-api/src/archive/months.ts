/** A range within one UTC month: [from, to). */
export interface MonthRange {
  /** `YYYY-MM` */
  month: string;
  from: Date;
  to: Date;
}

function monthStart(year: number, month: number): Date {
  return new Date(Date.UTC(year, month, 1));
}

/** [from, to) cut at UTC month boundaries. */
export function monthRanges(from: Date, to: Date): MonthRange[] {
  const ranges: MonthRange[] = [];
  let start = monthStart(from.getUTCFullYear(), from.getUTCMonth());
  while (start < to) {
    const next = monthStart(start.getUTCFullYear(), start.getUTCMonth() + 1);
    ranges.push({
      month: start.toISOString().slice(0, 7),
      from: from > start ? from : start,
      to: to < next ? to : next,
    });
    start = next;
  }
  return ranges;
}

const compact = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace('.', '');

/** The storage folder of a range: `YYYY-MM` for a whole month, `YYYY-MM/<from>-<to>` for part of one. */
export function rangeKey(range: MonthRange): string {
  const [year, month] = range.month.split('-').map(Number) as [number, number];
  const whole =
    range.from.getTime() === monthStart(year, month - 1).getTime() &&
    range.to.getTime() === monthStart(year, month).getTime();
  return whole ? range.month : `${range.month}/${compact(range.from)}-${compact(range.to)}`;
}
