import type { Statuses, Timings } from '../protocol.ts';

/** Per-route latency samples and answer counts of one client process. */
export class Recorder {
  readonly timings: Timings = {};
  readonly statuses: Statuses = {};

  status(route: string, status: number | 'network'): void {
    const key = `${route} ${status}`;
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
  }

  latency(route: string, ms: number): void {
    const samples = this.timings[route] ?? [];
    samples.push(ms);
    this.timings[route] = samples;
  }

  /** `fetch` through the load balancer, timed and counted; never throws (a network error is status 0). */
  async call(
    route: string,
    url: string,
    init: RequestInit = {},
  ): Promise<{ status: number; body: string; headers?: Headers }> {
    const started = performance.now();
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
      const body = await res.text();
      this.status(route, res.status);
      if (res.ok) this.latency(route, performance.now() - started);
      return { status: res.status, body, headers: res.headers };
    } catch {
      this.status(route, 'network');
      return { status: 0, body: '' };
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const bearer = (key: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${key}`,
  ...extra,
});
