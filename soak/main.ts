/**
 * `npm run soak`: the cluster under load and chaos for SOAK_SECONDS (default 600) with PostgreSQL stopped for
 * SOAK_PG_OUTAGE_SECONDS (default 30); prints the report, exits 1 unless the pass condition holds.
 */
import { formatReport } from './report.ts';
import { runSoak } from './run-soak.ts';

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive whole number of seconds`);
  return value;
}

const report = await runSoak({
  seconds: seconds('SOAK_SECONDS', 600),
  outageSeconds: seconds('SOAK_PG_OUTAGE_SECONDS', 30),
  requestsPerSecond: seconds('SOAK_REQUESTS_PER_SECOND', 10),
  dir: process.env.SOAK_DIR,
  log: (line) => console.error(`[soak] ${line}`),
});
console.log(formatReport(report));
process.exitCode = report.passed ? 0 : 1;
