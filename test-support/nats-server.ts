import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './cli.ts';
import { onPath } from './system-tools.ts';

export const NATS_SERVER = '/usr/sbin/nats-server';

export function natsServerInstalled(): boolean {
  return onPath(NATS_SERVER);
}

/** One JetStream-enabled nats-server on loopback, with its own store; can be killed and started again on it. */
export class NatsNode {
  private child: ChildProcess | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly storeDir: string,
    private readonly cluster?: { name: string; port: number; routes: number[] },
  ) {}

  /** The running server's process id, for CPU accounting. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir, '-n', this.name];
    if (this.cluster) {
      args.push(
        '--cluster_name',
        this.cluster.name,
        '--cluster',
        `nats://127.0.0.1:${this.cluster.port}`,
        '--routes',
        this.cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(','),
      );
    }
    const child = spawn(NATS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(
        () => reject(new Error(`nats-server ${this.name} did not start: ${log}`)),
        20_000,
      );
      child.stderr!.on('data', (d) => {
        log += d;
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server ${this.name} exited with ${code}: ${log}`));
      });
    });
    // Keep draining its log, so a full pipe never blocks the server.
    child.stderr!.resume();
  }

  /** SIGKILL, as a lost machine: nothing is flushed or handed over. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** A single node (`size` 1) or a cluster of nodes with routes to each other, on free loopback ports. */
export async function startNats(
  size = 1,
): Promise<{ nodes: NatsNode[]; urls: string[]; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'observatory-nats-'));
  const ports: number[] = [];
  const clusterPorts: number[] = [];
  for (let i = 0; i < size; i++) {
    ports.push(await freePort());
    clusterPorts.push(await freePort());
  }
  const nodes = ports.map(
    (port, i) =>
      new NatsNode(
        `n${i + 1}`,
        port,
        join(dir, `n${i + 1}`),
        size > 1 ? { name: 'observatory-test', port: clusterPorts[i]!, routes: clusterPorts } : undefined,
      ),
  );
  await Promise.all(nodes.map((n) => n.start()));
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
