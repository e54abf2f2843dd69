import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';

/**
 * A TCP proxy in front of a server (PostgreSQL in the tests), so a test can take the server away from its client —
 * cutting every open connection and refusing new ones — and then bring it back, as an outage would.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  /** Cuts every connection and stops listening: clients see their connections drop and new ones refused. */
  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server?.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
    this.server = undefined;
  }

  /** Listens again on the same port. */
  restore(): Promise<number> {
    return this.start(this.port);
  }

  stop(): Promise<void> {
    return this.cut();
  }

  /** `databaseUrl` with its host and port replaced by this (started) proxy's. */
  urlFor(databaseUrl: string): string {
    const proxied = new URL(databaseUrl);
    proxied.host = `127.0.0.1:${this.port}`;
    return proxied.toString();
  }
}

/** A pool reaching the database at `url` through a started TcpProxy, so a test can cut it off and restore it. */
export async function proxiedPool(url: string): Promise<{ proxy: TcpProxy; pool: pg.Pool }> {
  const target = new URL(url);
  const proxy = new TcpProxy('127.0.0.1', Number(target.port || 5432));
  await proxy.start();
  const pool = new pg.Pool({ connectionString: proxy.urlFor(url), connectionTimeoutMillis: 500, max: 2 });
  pool.on('error', () => undefined);
  return { proxy, pool };
}
