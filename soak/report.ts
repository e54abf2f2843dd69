import type { Check } from './verify.ts';

/** The value below which a fraction `q` of the samples fall (nearest rank), or null without samples. */
export function quantile(samples: number[], q: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface RouteFigures {
  route: string;
  ok: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Other answers by status (`503`, `network`…). */
  other: Record<string, number>;
}

export interface SoakReport {
  seconds: number;
  outageSeconds: number;
  load: string;
  spansPerSecond: number;
  /**
   * CPU by tier from the start of the load until the streams drained: seconds, per acknowledged span (the whole mix
   * of ingest, queries, exports and streams a span came with), and cores busy on average.
   */
  cpu: { tier: string; seconds: number; usPerSpan: number | null; cores: number }[];
  ingest: { acknowledged: number; retries: number; abandoned: number };
  routes: RouteFigures[];
  stream: { messages: number; p50Ms: number | null; p99Ms: number | null };
  exports: { created: number; completed: number; p50Ms: number | null; p99Ms: number | null };
  chaos: string[];
  checks: Check[];
  passed: boolean;
}

const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(0)} ms`);

export function formatReport(r: SoakReport): string {
  const lines = [
    `Observatory soak: ${r.seconds} s, PostgreSQL down ${r.outageSeconds} s (${r.load})`,
    '',
    `sustained ingest   ${r.spansPerSecond.toFixed(0)} spans/s acknowledged (${r.ingest.acknowledged} spans; ${r.ingest.retries} retried requests, ${r.ingest.abandoned} given up)`,
    `stream delivery    p50 ${ms(r.stream.p50Ms)}, p99 ${ms(r.stream.p99Ms)} from receipt to client (${r.stream.messages} messages)`,
    `exports            ${r.exports.completed}/${r.exports.created} completed; creation to completion p50 ${ms(r.exports.p50Ms)}, p99 ${ms(r.exports.p99Ms)}`,
    '',
    'CPU (from the start of the load until the streams drained)   seconds   µs/span   cores busy',
    ...r.cpu.map(
      (c) =>
        `${c.tier.padEnd(58)} ${c.seconds.toFixed(1).padStart(9)} ${(c.usPerSpan === null ? '-' : c.usPerSpan.toFixed(0)).padStart(9)} ${c.cores.toFixed(2).padStart(12)}`,
    ),
    '',
    'route                                                 ok       p50       p99   other answers',
    ...r.routes.map(
      (f) =>
        `${f.route.padEnd(50)} ${String(f.ok).padStart(6)} ${ms(f.p50Ms).padStart(9)} ${ms(f.p99Ms).padStart(9)}   ${
          Object.entries(f.other)
            .map(([s, n]) => `${s}×${n}`)
            .join(' ') || '-'
        }`,
    ),
    '',
    'chaos',
    ...r.chaos.map((c) => `  ${c}`),
    '',
    'pass condition',
    ...r.checks.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`),
    '',
    r.passed ? 'SOAK PASSED' : 'SOAK FAILED',
  ];
  return lines.join('\n');
}
