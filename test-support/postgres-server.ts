import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './cli.ts';

const run = promisify(execFile);

/** Debian's PostgreSQL server binaries (package postgresql-15). */
export const PG_BIN = process.env.OBSERVATORY_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export function havePostgresServer(): boolean {
  return existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_basebackup'));
}

/** PostgreSQL refuses to run as root: as root, the server and its tools run as the `postgres` system user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

async function tool(name: string, args: string[]): Promise<string> {
  const user = runAs();
  const { stdout } = await run(join(PG_BIN, name), args, {
    ...(user ?? {}),
    env: { ...process.env, LC_ALL: 'C' },
    cwd: tmpdir(),
  });
  return stdout;
}

/**
 * A throwaway PostgreSQL server of its own (TCP on loopback only, trust auth, `wal_level=replica`), started from
 * the Debian binaries with `pg_ctl`; `stop()` and `start()` again simulate an outage, `destroy()` removes it all.
 */
export class PostgresServer {
  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly root: string,
  ) {}

  /** postgres:// URL of `database` on this server, as the superuser `postgres`. */
  url(database = 'postgres', applicationName?: string): string {
    const query = applicationName ? `?application_name=${encodeURIComponent(applicationName)}` : '';
    return `postgres://postgres@127.0.0.1:${this.port}/${database}${query}`;
  }

  static async create(settings: Record<string, string> = {}): Promise<PostgresServer> {
    const root = await ownedTempDir('observatory-pg-');
    const dataDir = join(root, 'data');
    await tool('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    const server = new PostgresServer(dataDir, await freePort(), root);
    await server.configure({ wal_level: 'replica', max_wal_senders: '5', ...settings });
    await appendFile(join(dataDir, 'pg_hba.conf'), 'host replication all 127.0.0.1/32 trust\n');
    await server.start();
    return server;
  }

  /** A hot standby streaming from `primary`, made with `pg_basebackup -R`, on a port of its own. */
  static async standbyOf(primary: PostgresServer): Promise<PostgresServer> {
    const root = await ownedTempDir('observatory-pg-standby-');
    const dataDir = join(root, 'data');
    await tool('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primary.port),
      '-U',
      'postgres',
      '-D',
      dataDir,
      '-R',
      '-X',
      'stream',
      '--no-sync',
    ]);
    const standby = new PostgresServer(dataDir, await freePort(), root);
    await standby.configure({ hot_standby: 'on' });
    await standby.start();
    return standby;
  }

  private async configure(settings: Record<string, string>): Promise<void> {
    const lines = Object.entries({
      port: String(this.port),
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: "''",
      fsync: 'off',
      ...settings,
    }).map(([k, v]) => `${k} = ${v}`);
    await appendFile(join(this.dataDir, 'postgresql.conf'), `${lines.join('\n')}\n`);
  }

  async start(): Promise<void> {
    await tool('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      join(this.root, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** `fast` ends every session at once (what clients see when the database goes away). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await tool('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
  }
}

/** A temporary directory the server's user owns (initdb and pg_basebackup create their directory inside it). */
async function ownedTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const user = runAs();
  if (user) await chown(dir, user.uid, user.gid);
  return dir;
}
