import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { onPath } from './system-tools.ts';

/** The Debian binary names first, then upstream's. */
const ALERTMANAGER_BINARIES = ['prometheus-alertmanager', 'alertmanager'];

/** The Prometheus and Alertmanager binaries, or undefined when either is not installed. */
export function findPrometheusBinaries(): { prometheus: string; alertmanager: string } | undefined {
  const alertmanager = ALERTMANAGER_BINARIES.find(onPath);
  return onPath('prometheus') && alertmanager ? { prometheus: 'prometheus', alertmanager } : undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface RuleGroupFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string; for?: string }[] }[];
}

/**
 * Copies of `files` for tests that cannot wait minutes: every `for:` becomes 0s and every range selector
 * (`[15m]`, `[24h]`) becomes `range`, so the production expressions fire and clear within seconds.
 */
export async function fastRuleFiles(files: string[], dir: string, range = '5s'): Promise<string[]> {
  return Promise.all(
    files.map(async (file, i) => {
      const doc = parse(await readFile(file, 'utf8')) as RuleGroupFile;
      for (const group of doc.groups) {
        for (const rule of group.rules) {
          rule.expr = rule.expr.replace(/\[\d+[smhdwy]\]/g, `[${range}]`);
          if (rule.alert) rule.for = '0s';
        }
      }
      const out = join(dir, `fast-rules-${i}.yml`);
      await writeFile(out, stringify(doc));
      return out;
    }),
  );
}

export interface PrometheusStackOptions {
  /** What Prometheus scrapes (job "observatory"), e.g. http://127.0.0.1:4318/metrics. */
  scrapeUrl: string;
  /** The service's OBSERVATORY_METRICS_TOKEN, sent as bearer token (read from a file, as in production). */
  scrapeToken?: string;
  ruleFiles: string[];
  /** Where Alertmanager delivers, with `webhookToken` as bearer token (read from a file, as in production). */
  webhookUrl: string;
  webhookToken: string;
  /** Scrape and rule evaluation interval. */
  interval?: string;
}

export interface PrometheusStack {
  prometheusUrl: string;
  alertmanagerUrl: string;
  /** Runs a PromQL instant query and returns its vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Output of both processes so far, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

async function waitReady(
  url: string,
  child: ChildProcess,
  logs: () => string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited early:\n${logs()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${logs()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts a real Prometheus and Alertmanager on free loopback ports with short intervals, from generated
 * configuration in a temporary directory: Prometheus scrapes `scrapeUrl`, evaluates `ruleFiles` and sends
 * alerts to Alertmanager, which groups by alertname/org_id and posts to `webhookUrl` (also when resolved).
 */
export async function startPrometheusStack(options: PrometheusStackOptions): Promise<PrometheusStack> {
  const binaries = findPrometheusBinaries();
  if (!binaries) throw new Error('prometheus and prometheus-alertmanager must be installed');
  const interval = options.interval ?? '1s';
  const dir = await mkdtemp(join(tmpdir(), 'observatory-prometheus-'));
  const [promPort, amPort] = [await freePort(), await freePort()];
  const target = new URL(options.scrapeUrl);

  await writeFile(join(dir, 'token'), options.webhookToken, { mode: 0o600 });
  if (options.scrapeToken) {
    await writeFile(join(dir, 'scrape-token'), options.scrapeToken, { mode: 0o600 });
  }
  await writeFile(
    join(dir, 'alertmanager.yml'),
    stringify({
      route: {
        receiver: 'observatory',
        group_by: ['alertname', 'org_id'],
        group_wait: interval,
        group_interval: interval,
        repeat_interval: '1h',
      },
      receivers: [
        {
          name: 'observatory',
          webhook_configs: [
            {
              url: options.webhookUrl,
              send_resolved: true,
              http_config: { authorization: { type: 'Bearer', credentials_file: join(dir, 'token') } },
            },
          ],
        },
      ],
    }),
  );
  await writeFile(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: interval, evaluation_interval: interval },
      rule_files: options.ruleFiles,
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
      scrape_configs: [
        {
          job_name: 'observatory',
          scheme: target.protocol.replace(':', ''),
          metrics_path: target.pathname,
          static_configs: [{ targets: [target.host] }],
          ...(options.scrapeToken
            ? { authorization: { type: 'Bearer', credentials_file: join(dir, 'scrape-token') } }
            : {}),
        },
      ],
    }),
  );

  let output = '';
  const capture = (name: string, child: ChildProcess) => {
    const append = (chunk: Buffer) => {
      output = `${output}${name}: ${chunk}`.slice(-20_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    return child;
  };
  const logs = () => output;
  const alertmanager = capture(
    'alertmanager',
    spawn(binaries.alertmanager, [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ]),
  );
  const prometheus = capture(
    'prometheus',
    spawn(binaries.prometheus, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      `--rules.alert.resend-delay=${interval}`,
      '--log.level=warn',
    ]),
  );
  const stop = async () => {
    await Promise.all([stopChild(prometheus), stopChild(alertmanager)]);
    await rm(dir, { recursive: true, force: true });
  };

  const prometheusUrl = `http://127.0.0.1:${promPort}`;
  const alertmanagerUrl = `http://127.0.0.1:${amPort}`;
  try {
    await waitReady(`${alertmanagerUrl}/-/ready`, alertmanager, logs);
    await waitReady(`${prometheusUrl}/-/ready`, prometheus, logs);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    prometheusUrl,
    alertmanagerUrl,
    logs,
    stop,
    async query(expr) {
      const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return body.data.result;
    },
  };
}
