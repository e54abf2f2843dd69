import { decimalToUnits, unitsToDecimal } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { rowFigures } from '../query/aggregates-sql.ts';
import { backfillMark, type GroupedRow, groupedStatement } from '../query/rollup-sql.ts';
import type { VersionFigures } from './schemas.ts';

/** One model's calls, error and fallback rates, p95 latency and cost per priced call over `[from, to)`, from the rollups. */
export async function modelFigures(
  pool: pg.Pool,
  orgId: string,
  modelName: string,
  [from, to]: [Date, Date],
): Promise<VersionFigures> {
  const { rows } = await pool.query<GroupedRow>(
    groupedStatement({ orgId, from, to, modelName, group: "''", backfillBefore: await backfillMark(pool) }),
  );
  const row = rows[0];
  const f = row ? rowFigures(row) : undefined;
  const priced = f ? f.calls - f.unpriced_calls : 0;
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    calls: f?.calls ?? 0,
    error_rate: f?.error_rate ?? 0,
    fallback_rate: f?.fallback_rate ?? 0,
    p95_latency_ms: f?.latency_ms.p95 ?? null,
    cost_per_call_usd: priced > 0 ? unitsToDecimal(decimalToUnits(f!.cost_usd) / BigInt(priced)) : null,
  };
}
