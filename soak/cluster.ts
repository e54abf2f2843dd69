import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, runCli } from '../test-support/cli.ts';
import { PostgresServer } from '../test-support/postgres-server.ts';
import { startHaproxy } from './haproxy.ts';
import { ObservatoryProcess } from './observatory-process.ts';

export interface ClusterOptions {
  replicas: number;
  workers: number;
}

export type Cluster = Awaited<ReturnType<typeof startCluster>>;

/**
 * The deployment under test: a PostgreSQL server of its own, `replicas` × `observatory serve` (no export worker
 * inside) behind HAProxy, and `workers` × `observatory worker`. Every process shares the secrets and the export
 * directory, as replicas of one deployment must; each has its own data directory (its spill files).
 */
export async function startCluster(dir: string, { replicas, workers }: ClusterOptions) {
  const postgres = await PostgresServer.create({ max_connections: '200' });
  const secret = () => randomBytes(32).toString('hex');
  const shared: Record<string, string> = {
    DATABASE_URL: postgres.url(),
    OBSERVATORY_PSEUDONYM_KEY: secret(),
    OBSERVATORY_AUDIT_KEY: secret(),
    OBSERVATORY_SIGNING_SECRET: secret(),
    OBSERVATORY_EXPORT_DIR: join(dir, 'exports'),
    // The soak creates an export every few seconds; a killed worker's job is taken over after its lease.
    OBSERVATORY_EXPORT_RATE_LIMIT: '1000',
    OBSERVATORY_EXPORT_LEASE_SECONDS: '6',
    OBSERVATORY_EXPORT_POLL_MS: '250',
    // Streams end every ~20 s, so every client resumes with Last-Event-ID many times, not only after the chaos.
    OBSERVATORY_STREAM_MAX_LIFETIME_MS: '20000',
    LOG_LEVEL: 'info',
    OTEL_SDK_DISABLED: 'true',
  };
  const migrated = await runCli(['migrate'], shared);
  if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`);
  const serves: ObservatoryProcess[] = [];
  for (let i = 1; i <= replicas; i++) {
    await mkdir(join(dir, `serve${i}`), { recursive: true });
    const env = { ...shared, OBSERVATORY_WORKER: 'false', OBSERVATORY_DATA_DIR: join(dir, `serve${i}`) };
    serves.push(
      new ObservatoryProcess(`serve${i}`, 'serve', env, join(dir, `serve${i}.log`), await freePort()),
    );
  }
  const workerProcesses: ObservatoryProcess[] = [];
  for (let i = 1; i <= workers; i++) {
    await mkdir(join(dir, `worker${i}`), { recursive: true });
    const env = { ...shared, OBSERVATORY_DATA_DIR: join(dir, `worker${i}`) };
    workerProcesses.push(new ObservatoryProcess(`worker${i}`, 'worker', env, join(dir, `worker${i}.log`)));
  }
  const all = [...serves, ...workerProcesses];
  try {
    await Promise.all(all.map((p) => p.start()));
    const haproxy = await startHaproxy(
      dir,
      await freePort(),
      serves.map((s) => s.port!),
    );
    return {
      postgres,
      serves,
      workers: workerProcesses,
      url: haproxy.url,
      haproxyPid: haproxy.pid,
      async stop() {
        await haproxy.stop();
        await Promise.all(all.map((p) => p.close()));
        await postgres.destroy();
      },
    };
  } catch (err) {
    await Promise.all(all.map((p) => p.close()));
    await postgres.destroy();
    throw err;
  }
}
