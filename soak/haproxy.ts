import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { reapOnExit } from './reaper.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The load balancer's configuration: round robin over the `serve` replicas, a replica taken out after two failed
 * checks a second apart and back after one good one; a check may take 5 s (a busy replica is not a dead one). The check accepts 503 as well as 200: `/health` answers
 * 503 while PostgreSQL is down, but a replica still takes ingest then (into its spill file), so only a replica that
 * does not answer at all is out. Connection failures are retried on another replica (never a request that reached
 * one: an export creation is not idempotent). Long timeouts keep live streams open between heartbeats.
 */
export function haproxyConfig(port: number, backends: number[]): string {
  return `global
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  timeout client 5m
  timeout server 5m
  retries 3
  option redispatch
  retry-on conn-failure

frontend observatory
  bind 127.0.0.1:${port}
  default_backend replicas

backend replicas
  balance roundrobin
  option httpchk GET /health
  http-check expect rstatus ^(200|503)$
  timeout check 5s
  default-server inter 1s fall 2 rise 1
${backends.map((p, i) => `  server serve${i + 1} 127.0.0.1:${p} check`).join('\n')}
`;
}

/** Debian's HAProxy in the foreground (`-db`), until `stop()`. */
export async function startHaproxy(dir: string, port: number, backends: number[]) {
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, haproxyConfig(port, backends));
  const child: ChildProcess = reapOnExit(
    spawn('haproxy', ['-f', file, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${stderr}`);
    if (
      await fetch(`${url}/health`).then(
        (r) => r.status === 200,
        () => false,
      )
    )
      break;
    if (i > 100) throw new Error(`haproxy did not forward to a healthy replica: ${stderr}`);
    await sleep(100);
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
