import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createKey, type Role } from '../query-api/src/keys/keys.ts';
import { ClientProcess } from './client-process.ts';
import { type Cluster, startCluster } from './cluster.ts';
import { CpuMeter, postmasterPid } from './cpu-meter.ts';
import type { Burst, ExportResult, IngestResult, QueryResult, StreamResult, Timings } from './protocol.ts';
import { quantile, type RouteFigures, type SoakReport } from './report.ts';
import {
  type Check,
  checkAlerts,
  checkExports,
  checkSpans,
  checkStream,
  completionsLogged,
  storedSpans,
} from './verify.ts';

export interface SoakOptions {
  seconds: number;
  /** How long PostgreSQL is stopped midway. */
  outageSeconds: number;
  /** OTLP requests per second per ingest client (two clients, one per org). */
  requestsPerSecond?: number;
  spansPerRequest?: number;
  /** Where the processes' logs go; a temporary directory (removed afterwards) when not given. */
  dir?: string;
  log?: (line: string) => void;
}

const ORGS = ['soak-a', 'soak-b'] as const;
const BURST: Burst = { model: 'soak-burst', periodMs: 25_000, onMs: 3000 };
const RULE = { window_seconds: 10, cooldown_seconds: 20 };
// How long clients keep retrying, and exports keep being awaited, after the load ends.
const GRACE_MS = 60_000;
// After the last acknowledged request: the longest the streams are given to deliver what was stored.
const DRAIN_MS = 60_000;

const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

/**
 * The soak: the cluster under a fixed OTLP load, queries, exports, live streams and an alert rule, while a replica
 * and a worker are SIGKILLed and restarted (at a quarter of the run) and PostgreSQL is stopped for `outageSeconds`
 * (from 45 % of the run). Then it checks the pass condition against the database.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'observatory-soak-')));
  log(`starting PostgreSQL, 3 replicas, 2 workers and HAProxy (logs in ${dir})`);
  const cluster = await startCluster(dir, { replicas: 3, workers: 2 });
  const pool = new pg.Pool({ connectionString: cluster.postgres.url(), max: 4 });
  pool.on('error', () => undefined);
  const streamClients: ClientProcess<StreamResult>[] = [];
  try {
    const keys = await createKeys(pool);
    const rule = await createRule(cluster.url, keys['soak-a'].org_admin);
    for (const org of ORGS) {
      streamClients.push(
        new ClientProcess<StreamResult>({
          role: 'stream',
          url: cluster.url,
          key: keys[org].viewer,
          orgId: org,
          streams: 2,
        }),
      );
    }
    // The streams connect before the load starts, so they are owed every event.
    await new Promise((r) => setTimeout(r, 2000));
    const startedAt = Date.now();
    const running = (processes: { pid: number | undefined }[]) => async () =>
      processes.flatMap((p) => (p.pid === undefined ? [] : [p.pid]));
    const meter = new CpuMeter({
      [`observatory serve (${cluster.serves.length})`]: running(cluster.serves),
      [`observatory worker (${cluster.workers.length})`]: running(cluster.workers),
      PostgreSQL: postmasterPid(cluster.postgres.dataDir),
      HAProxy: running([{ pid: cluster.haproxyPid }]),
    });
    const until = startedAt + options.seconds * 1000;
    const giveUpAt = until + GRACE_MS;
    log(`load for ${options.seconds} s`);
    const ingest = ORGS.map(
      (org) =>
        new ClientProcess<IngestResult>({
          role: 'ingest',
          url: cluster.url,
          key: keys[org].ingest,
          requestsPerSecond: options.requestsPerSecond ?? 10,
          spansPerRequest: options.spansPerRequest ?? 25,
          until,
          giveUpAt,
          startedAt,
          ...(org === 'soak-a' ? { burst: BURST } : {}),
        }),
    );
    const query = new ClientProcess<QueryResult>({
      role: 'query',
      url: cluster.url,
      key: keys['soak-a'].viewer,
      until,
      concurrency: 2,
    });
    const exporter = new ClientProcess<ExportResult>({
      role: 'export',
      url: cluster.url,
      key: keys['soak-a'].org_admin,
      until,
      giveUpAt,
    });

    const chaos = await runChaos(cluster, startedAt, options, log);
    const ingested = await Promise.all(ingest.map((c) => c.result));
    const queried = await query.result;
    const exported = await exporter.result;
    log('load over; waiting for the streams to deliver what was stored');
    await drainStreams(pool, streamClients);
    const cpuSeconds = await meter.stop();
    const meteredSeconds = (Date.now() - startedAt) / 1000;
    for (const client of streamClients) client.stop();
    const streams = await Promise.all(streamClients.map((c) => c.result));

    const checks: Check[] = [];
    for (const [i, org] of ORGS.entries()) {
      checks.push(checkSpans(org, ingested[i]!.acked, await storedSpans(pool, org)));
    }
    for (const [i, org] of ORGS.entries()) {
      const reports = streams[i]!.streams;
      for (const [j, report] of reports.entries()) checks.push(await checkStream(pool, org, j, report));
    }
    const { jobs } = exported;
    checks.push(
      await checkExports(pool, jobs, await completionsLogged(cluster.workers.map((w) => w.logFile))),
    );
    checks.push(
      await checkAlerts(pool, rule, ingested[0]!.bursts, { burstMs: BURST.onMs, outage: chaos.outage }),
    );

    const acknowledged = ingested.reduce((n, r) => n + r.acked.length, 0);
    const allStreams = streams.flatMap((s) => s.streams);
    const delays = allStreams.flatMap((s) => s.delaysMs);
    const completed = jobs.filter((j) => j.completedAt !== undefined);
    const durations = completed.map((j) => j.completedAt! - j.createdAt);
    return {
      seconds: options.seconds,
      outageSeconds: options.outageSeconds,
      load: `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
      spansPerSecond: acknowledged / options.seconds,
      cpu: Object.entries(cpuSeconds).map(([tier, seconds]) => ({
        tier,
        seconds,
        usPerSpan: acknowledged > 0 ? (seconds * 1e6) / acknowledged : null,
        cores: seconds / meteredSeconds,
      })),
      ingest: {
        acknowledged,
        retries: ingested.reduce((n, r) => n + r.retries, 0),
        abandoned: ingested.reduce((n, r) => n + r.abandoned, 0),
      },
      routes: routeFigures([...ingested, queried, exported]),
      stream: { messages: delays.length, p50Ms: quantile(delays, 0.5), p99Ms: quantile(delays, 0.99) },
      exports: {
        created: jobs.length,
        completed: completed.length,
        p50Ms: quantile(durations, 0.5),
        p99Ms: quantile(durations, 0.99),
      },
      chaos: chaos.steps,
      checks,
      passed: checks.every((c) => c.ok),
    };
  } finally {
    for (const client of streamClients) client.kill();
    await pool.end();
    await cluster.stop();
    if (!options.dir) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Waits until every stream has received as many events as its org stored since it connected (or `DRAIN_MS`):
 * spill files are being replayed and deliveries may lag under load. The pass condition then checks ids, not counts.
 */
async function drainStreams(pool: pg.Pool, clients: ClientProcess<StreamResult>[]): Promise<void> {
  const deadline = Date.now() + DRAIN_MS;
  // Spill files are replayed every 2 s: the last acknowledged spans may still be on their way to the table.
  await new Promise((r) => setTimeout(r, 3000));
  while (Date.now() < deadline) {
    let behind = false;
    for (const [i, client] of clients.entries()) {
      for (const stream of await client.progress()) {
        const { rows } = await pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM ai_events WHERE org_id = $1 AND received_at >= $2',
          [ORGS[i], new Date(stream.firstConnectedAt)],
        );
        if (stream.received < rows[0]!.n) behind = true;
      }
    }
    if (!behind) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function createKeys(pool: pg.Pool) {
  const keys = {} as Record<(typeof ORGS)[number], Record<Role, string>>;
  for (const org of ORGS) {
    keys[org] = {} as Record<Role, string>;
    for (const role of ['ingest', 'viewer', 'org_admin'] as const) {
      keys[org][role] = (await createKey(pool, { orgId: org, role })).key;
    }
  }
  return keys;
}

/** The alert rule the bursts trip: any call of the burst model in the last 10 s. */
async function createRule(url: string, adminKey: string) {
  const res = await fetch(`${url}/api/telemetry/alert-rules`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'soak burst',
      metric: 'request_count',
      model_name: BURST.model,
      operator: '>',
      threshold: 0,
      interval_seconds: 1,
      ...RULE,
    }),
  });
  if (res.status !== 201) throw new Error(`creating the alert rule: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  return { id, cooldownSeconds: RULE.cooldown_seconds, windowSeconds: RULE.window_seconds };
}

async function runChaos(
  cluster: Cluster,
  startedAt: number,
  options: SoakOptions,
  log: (line: string) => void,
) {
  const steps: string[] = [];
  const at = () => `t+${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
  const step = (what: string) => {
    steps.push(`${at()} (${new Date().toISOString()})  ${what}`);
    log(what);
  };
  const seconds = options.seconds * 1000;
  await sleepUntil(startedAt + seconds * 0.25);
  const [replica, worker] = [cluster.serves[1]!, cluster.workers[0]!];
  await Promise.all([replica.kill(), worker.kill()]);
  step(`SIGKILL ${replica.name} and ${worker.name}`);
  await new Promise((r) => setTimeout(r, 2000));
  await Promise.all([replica.start(), worker.start()]);
  step(`${replica.name} and ${worker.name} restarted`);
  await sleepUntil(startedAt + seconds * 0.45);
  const from = Date.now();
  await cluster.postgres.stop('fast');
  step('PostgreSQL stopped');
  await new Promise((r) => setTimeout(r, options.outageSeconds * 1000));
  await cluster.postgres.start();
  const to = Date.now();
  step(`PostgreSQL started again after ${((to - from) / 1000).toFixed(1)} s`);
  return { steps, outage: { from, to } };
}

function routeFigures(results: { timings?: Timings; statuses?: Record<string, number> }[]): RouteFigures[] {
  const latencies = new Map<string, number[]>();
  const statuses = new Map<string, Record<string, number>>();
  for (const r of results) {
    for (const [route, samples] of Object.entries(r.timings ?? {})) {
      latencies.set(route, [...(latencies.get(route) ?? []), ...samples]);
    }
    for (const [key, n] of Object.entries(r.statuses ?? {})) {
      const space = key.lastIndexOf(' ');
      const route = key.slice(0, space);
      const status = key.slice(space + 1);
      const counts = statuses.get(route) ?? {};
      counts[status] = (counts[status] ?? 0) + n;
      statuses.set(route, counts);
    }
  }
  return [...statuses.keys()].sort().map((route) => {
    const samples = latencies.get(route) ?? [];
    const { 200: _ok, 201: _created, 202: _accepted, ...other } = statuses.get(route)!;
    return {
      route,
      ok: samples.length,
      p50Ms: quantile(samples, 0.5),
      p99Ms: quantile(samples, 0.99),
      other,
    };
  });
}
