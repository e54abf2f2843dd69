/**
 * `npm run demo`: starts Observatory (embedded PostgreSQL unless DATABASE_URL is set), gets an ingest key for
 * org "demo", starts the example inference service exporting OTLP to Observatory with that key, and drives
 * traffic (successes, fallbacks, failures) so the dashboards have data. It prints the console's URL and an
 * org_admin key of org "demo" to sign in with. Ctrl-C stops everything.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'query-api/bin/observatory.mjs');
const SERVICE = fileURLToPath(new URL('./main.ts', import.meta.url));

const DemoConfigSchema = z.object({
  OBSERVATORY_PORT: z.coerce.number().int().min(1).max(65535).default(4318),
  SERVICE_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  OBSERVATORY_DATA_DIR: z.string().min(1).default('./.observatory'),
  DEMO_DURATION_SECONDS: z.coerce.number().min(0).default(0),
  DEMO_RPS: z.coerce.number().min(0.1).max(500).default(5),
});

function prefixed(child: ChildProcess, name: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line) process.stderr.write(`[${name}] ${line}\n`);
    });
  }
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await sleep(500);
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
}

/** The key stored from an earlier run, else a new one from `observatory keys create` (its last stdout line). */
async function demoKey(dataDir: string, role: 'ingest' | 'org_admin'): Promise<string> {
  const file = join(dataDir, `demo-${role}-key`);
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [CLI, 'keys', 'create', '--org', 'demo', '--role', role, '--name', `demo ${role}`],
    { cwd: ROOT, env: process.env },
  );
  const key = stdout.trim().split('\n').at(-1)!;
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

const PROMPTS = [
  'Summarise this support ticket in one sentence.',
  'Is this review positive or negative? The battery died after two days.',
  'Translate the release notes into French.',
  'Classify the intent of: where is my order?',
  'Draft a polite reply declining the meeting.',
];

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

/** One request like a real client's: a user, sometimes a gateway request id, now and then a slow primary. */
async function sendOne(serviceUrl: string, counts: Map<string, number>): Promise<void> {
  const roll = Math.random();
  const analyze = roll < 0.4;
  // One request in ten is an agent run continuing one of a few conversations, so traces show trees and the
  // sessions view has multi-turn sessions.
  const agent = roll >= 0.9;
  // A quarter of the chat calls stream, so the console and dashboard show time to first token.
  const path = analyze ? '/analyze' : agent ? '/agent' : roll < 0.55 ? '/infer/stream' : '/infer';
  const user = 1 + Math.floor(Math.random() * 20);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-org-id': 'demo',
    'x-user-id': `user-${user}`,
  };
  if (agent) headers['x-session-id'] = `conv-${user}-${Math.floor(Math.random() * 3)}`;
  if (Math.random() < 0.5)
    headers['x-request-id'] = `gw-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const prompt = pick(PROMPTS);
  const simulate = Math.random() < 0.03 ? 'timeout' : undefined;
  const body = analyze
    ? { text: prompt, simulate }
    : agent
      ? { task: prompt, simulate }
      : { prompt, simulate };
  const outcome = await fetch(`${serviceUrl}${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  })
    .then(async (res) => {
      await res.arrayBuffer();
      return String(res.status);
    })
    .catch(() => 'unreachable');
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
}

async function main(): Promise<void> {
  const config = DemoConfigSchema.parse(
    Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')),
  );
  const dataDir = resolve(ROOT, config.OBSERVATORY_DATA_DIR);
  const observatoryUrl = `http://127.0.0.1:${config.OBSERVATORY_PORT}`;
  const serviceUrl = `http://127.0.0.1:${config.SERVICE_PORT}`;
  let observatory: ChildProcess | undefined;
  let service: ChildProcess | undefined;
  let stopping = false;
  const shutdown = () => {
    stopping = true;
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);

  try {
    process.stderr.write(`Starting Observatory on ${observatoryUrl} (data in ${dataDir})…\n`);
    observatory = spawn(process.execPath, [CLI, 'serve'], {
      cwd: ROOT,
      // Request logs at info would drown the demo's own output; LOG_LEVEL=info brings them back.
      env: {
        ...process.env,
        PORT: String(config.OBSERVATORY_PORT),
        OBSERVATORY_DATA_DIR: dataDir,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    prefixed(observatory, 'observatory');
    await waitFor('Observatory', async () => (await fetch(`${observatoryUrl}/health`)).ok, 180_000);

    process.env.OBSERVATORY_DATA_DIR = dataDir;
    const ingestKey = await demoKey(dataDir, 'ingest');
    const adminKey = await demoKey(dataDir, 'org_admin');

    service = spawn(process.execPath, ['--conditions=@observatory/source', '--import', 'tsx', SERVICE], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(config.SERVICE_PORT),
        OTEL_SERVICE_NAME: 'inference-service',
        OTEL_EXPORTER_OTLP_ENDPOINT: observatoryUrl,
        OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer%20${encodeURIComponent(ingestKey)}`,
        OTEL_BSP_SCHEDULE_DELAY: '1000',
        FAKE_MODEL_LATENCY_MS: '60',
        FAKE_MODEL_ERROR_RATE: '0.04',
        FAKE_MODEL_FALLBACK_RATE: '0.1',
        PRIMARY_TIMEOUT_MS: '500',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    prefixed(service, 'inference-service');
    await waitFor('The inference service', async () => (await fetch(serviceUrl)).status === 404, 60_000);

    process.stderr.write(
      `\nDemo running: ${config.DEMO_RPS} requests/s to ${serviceUrl}, spans to ${observatoryUrl}/v1/traces.\n` +
        `Console: http://localhost:${config.OBSERVATORY_PORT}/ — sign in to org "demo" with this org_admin key:\n` +
        `  ${adminKey}\n` +
        `Stop with Ctrl-C${config.DEMO_DURATION_SECONDS ? ` (or after ${config.DEMO_DURATION_SECONDS} s)` : ''}.\n\n`,
    );
    const counts = new Map<string, number>();
    const inFlight = new Set<Promise<void>>();
    const startedAt = Date.now();
    let lastReport = startedAt;
    while (
      !stopping &&
      (!config.DEMO_DURATION_SECONDS || Date.now() - startedAt < config.DEMO_DURATION_SECONDS * 1000)
    ) {
      const request = sendOne(serviceUrl, counts).finally(() => inFlight.delete(request));
      inFlight.add(request);
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        process.stderr.write(`responses so far: ${[...counts].map(([k, v]) => `${k}: ${v}`).join(', ')}\n`);
      }
      await sleep(1000 / config.DEMO_RPS);
    }
    await Promise.all(inFlight);
    process.stderr.write(`responses: ${[...counts].map(([k, v]) => `${k}: ${v}`).join(', ')}\n`);
  } finally {
    // The service first: its shutdown flushes the last spans to Observatory.
    await stop(service);
    await stop(observatory);
  }
}

await main().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
