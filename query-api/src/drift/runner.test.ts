import { ADVISORY_LOCKS } from '@observatory/exporter-postgres';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { insertModelCalls } from '../../../test-support/model-calls.ts';
import { until } from '../../../test-support/until.ts';
import { ensureOrg } from '../keys/keys.ts';
import { createLogger } from '../log.ts';
import { DriftRunner, startDriftRunner } from './runner.ts';

const db = await createTestDatabase();
await ensureOrg(db.pool, 'acme');
await ensureOrg(db.pool, 'globex');
const runner = new DriftRunner({ pool: db.pool, logger: createLogger('silent') });

// acme's "uniform" model: a baseline of latencies 1…1000 ms over days 2–4 back, so its deciles are exactly 100, 200,
// …, 900; input tokens half 10 and half 20 (ties: seven deciles fall on the same two values); output tokens and cost
// present. In the last 24 h: half the calls below 100 ms and half at 900 ms or more; every input 20; no output
// tokens; every call unpriced.
const baseline = Array.from({ length: 1000 }, (_, i) => i + 1);
await insertModelCalls(db.pool, {
  orgId: 'acme',
  model: 'uniform',
  latencies: baseline,
  inputTokens: baseline.map((v) => (v % 2 === 0 ? 10 : 20)),
  fromHoursAgo: 96,
  toHoursAgo: 30,
});
const current = [
  ...Array.from({ length: 100 }, (_, i) => (i % 99) + 1),
  ...Array.from({ length: 100 }, (_, i) => 900 + i),
];
await insertModelCalls(db.pool, {
  orgId: 'acme',
  model: 'uniform',
  latencies: current,
  inputTokens: 20,
  outputTokens: null,
  costUsd: null,
  fromHoursAgo: 20,
  toHoursAgo: 1,
});
// globex's model of the same name: calls 100× slower in both windows. It must not move acme's figures.
await insertModelCalls(db.pool, {
  orgId: 'globex',
  model: 'uniform',
  latencies: baseline.map((v) => v * 100),
  fromHoursAgo: 96,
  toHoursAgo: 30,
});
await insertModelCalls(db.pool, {
  orgId: 'globex',
  model: 'uniform',
  latencies: baseline.slice(0, 300).map((v) => v * 100),
  fromHoursAgo: 20,
  toHoursAgo: 1,
});
// A model with too few calls, and one used only long ago (no call in the last 24 h: not computed).
await insertModelCalls(db.pool, {
  orgId: 'acme',
  model: 'rare',
  latencies: [5, 6, 7],
  fromHoursAgo: 50,
  toHoursAgo: 10,
});
await insertModelCalls(db.pool, {
  orgId: 'acme',
  model: 'retired',
  latencies: baseline,
  fromHoursAgo: 150,
  toHoursAgo: 30,
});

interface DriftRow {
  org_id: string;
  model_name: string;
  feature: string;
  psi: number | null;
  reading: string;
  bin_edges: number[];
  baseline_bins: number[];
  current_bins: number[];
  baseline_n: string;
  current_n: string;
  computed_at: Date;
}

async function stored(orgId: string): Promise<Record<string, DriftRow>> {
  const { rows } = await db.pool.query<DriftRow>(
    'SELECT * FROM model_drift WHERE org_id = $1 ORDER BY model_name, feature',
    [orgId],
  );
  return Object.fromEntries(rows.map((r) => [`${r.model_name}/${r.feature}`, r]));
}

const within = (a: number[], b: number[]) => a.map((v, i) => Math.abs(v - b[i]!)).every((d) => d < 1e-12);

describe('drift runner', () => {
  it('waits for nothing and computes nothing while another process holds the drift lock', async () => {
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.drift]);
      expect(await runner.run()).toEqual({ ran: false, computed: [], failed: [] });
      expect(await stored('acme')).toEqual({});
    } finally {
      await other.end();
    }
  });

  it('bins by the baseline deciles in SQL and stores PSI per org × model × feature', async () => {
    const report = await runner.run({ orgId: 'acme' });
    expect(report.ran).toBe(true);
    expect(report.computed.map((c) => `${c.orgId}/${c.model}`).sort()).toEqual(['acme/rare', 'acme/uniform']);
    const rows = await stored('acme');

    const latency = rows['uniform/latency_ms']!;
    expect(latency.bin_edges).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900]);
    // Bin 0 holds 1–99, bins 1–8 a hundred values each, bin 9 holds 900–1000.
    expect(within(latency.baseline_bins, [0.099, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.101])).toBe(true);
    expect(latency.current_bins).toEqual([0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.5]);
    expect([latency.baseline_n, latency.current_n]).toEqual(['1000', '200']);
    const expected =
      (0.5 - 0.099) * Math.log(0.5 / 0.099) +
      (0.5 - 0.101) * Math.log(0.5 / 0.101) +
      8 * (1e-4 - 0.1) * Math.log(1e-4 / 0.1);
    expect(latency.psi).toBeCloseTo(expected, 9);
    expect(latency.reading).toBe('significant');

    // Tied deciles merge into two edges: bins below 10, 10–19, 20 and above.
    const input = rows['uniform/input_tokens']!;
    expect(input.bin_edges).toEqual([10, 20]);
    expect(input.baseline_bins).toEqual([0, 0.5, 0.5]);
    expect(input.current_bins).toEqual([0, 0, 1]);
    expect(input.psi).toBeCloseTo((1e-4 - 0.5) * Math.log(1e-4 / 0.5) + 0.5 * Math.log(2), 9);

    // No output tokens and no priced call in the last 24 h: too few values to read.
    expect(rows['uniform/output_tokens']).toMatchObject({
      psi: null,
      reading: 'insufficient_data',
      current_n: '0',
    });
    expect(rows['uniform/cost_usd']).toMatchObject({
      psi: null,
      reading: 'insufficient_data',
      current_n: '0',
    });
    expect(rows['uniform/cost_usd']!.baseline_n).toBe('1000');
    expect(rows['rare/latency_ms']).toMatchObject({
      reading: 'insufficient_data',
      baseline_n: '2',
      current_n: '1',
    });
    expect(Object.keys(rows).some((k) => k.startsWith('retired/'))).toBe(false);
    // Only the org asked for.
    expect(await stored('globex')).toEqual({});
  });

  it("keeps each org's rows to itself", async () => {
    await runner.run({ orgId: 'globex' });
    const globex = (await stored('globex'))['uniform/latency_ms']!;
    expect(globex.bin_edges).toEqual([
      10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 90_000,
    ]);
    expect([globex.baseline_n, globex.current_n]).toEqual(['1000', '300']);
    // acme's stored figures are what its own rows make, with globex's rows in the table too.
    const acme = (await runner.run({ orgId: 'acme', force: true })).computed.find(
      (c) => c.model === 'uniform',
    )!;
    const latency = acme.features.find((f) => f.feature === 'latency_ms')!;
    expect(latency.edges).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect([latency.baselineN, latency.currentN]).toEqual([1000, 200]);
  });

  it('computes each model once a day: a second pass skips what is done, force recomputes it', async () => {
    const before = await stored('acme');
    expect((await runner.run()).computed).toEqual([]);
    const forced = await runner.run({ orgId: 'acme', force: true });
    expect(forced.computed).toHaveLength(2);
    const after = await stored('acme');
    expect(Object.keys(after)).toEqual(Object.keys(before));
    expect(after['uniform/latency_ms']!.computed_at.getTime()).toBeGreaterThan(
      before['uniform/latency_ms']!.computed_at.getTime(),
    );
  });

  it('two runners at once compute each model once', async () => {
    await db.pool.query('DELETE FROM model_drift');
    const second = new DriftRunner({ pool: db.pool, logger: createLogger('silent') });
    const reports = await Promise.all([runner.run(), second.run()]);
    const computed = reports.flatMap((r) => r.computed.map((c) => `${c.orgId}/${c.model}`)).sort();
    expect(computed).toEqual(['acme/rare', 'acme/uniform', 'globex/uniform']);
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM model_drift');
    expect(rows[0]!.n).toBe(12);
  });

  it('skips a model that runs past the statement timeout and goes on with the next', async () => {
    const impatient = new DriftRunner({
      pool: db.pool,
      logger: createLogger('silent'),
      options: { statementTimeoutMs: 300 },
    });
    // Another session keeps model_drift from being written: each model's upsert waits until the timeout cancels it.
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('LOCK TABLE model_drift IN SHARE MODE');
      const report = await impatient.run({ orgId: 'acme', force: true });
      expect(report.computed).toEqual([]);
      expect(report.failed.map((f) => [f.model, f.error])).toEqual([
        ['rare', 'canceling statement due to statement timeout'],
        ['uniform', 'canceling statement due to statement timeout'],
      ]);
    } finally {
      await other.end();
    }
    // The pass left the pooled connection as it found it: no timeout, no lock.
    expect((await impatient.run({ orgId: 'acme', force: true })).computed).toHaveLength(2);
    const { rows } = await db.pool.query<{ statement_timeout: string }>('SHOW statement_timeout');
    expect(rows[0]!.statement_timeout).toBe('0');
  });

  it('stops without waiting for the model being computed', async () => {
    await db.pool.query('DELETE FROM model_drift');
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      // The first model's upsert waits on this lock, and would for ten minutes.
      await other.query('BEGIN');
      await other.query('LOCK TABLE model_drift IN SHARE MODE');
      const running = startDriftRunner({
        pool: db.pool,
        logger: createLogger('silent'),
        options: { statementTimeoutMs: 600_000 },
      });
      await until('the runner waiting on model_drift', async () => {
        const { rows } = await db.pool.query(
          "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO model_drift%'",
        );
        return rows.length > 0;
      });
      await running.stop();
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    // Nothing half-written, and the lock is free for the next runner.
    expect((await stored('acme'))['uniform/latency_ms']).toBeUndefined();
    expect((await runner.run({ orgId: 'acme' })).computed).toHaveLength(2);
  });
});
