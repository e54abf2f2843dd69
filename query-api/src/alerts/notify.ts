import type { AlertView, Channel } from './schema.ts';
import { postJson } from './webhook-post.ts';
import { type ResolveHost, resolveWebhookTarget } from './webhook-url.ts';

export interface DeliveryOptions {
  /** Per attempt. */
  timeoutMs: number;
  maxAttempts: number;
  /** First retry delay; doubled for each further retry, with jitter. */
  backoffMs: number;
  allowPrivate: boolean;
  /** Host name resolution, once per attempt; the system resolver unless a test gives its own. */
  resolve?: ResolveHost;
}

export const DEFAULT_DELIVERY: DeliveryOptions = {
  timeoutMs: 5000,
  maxAttempts: 4,
  backoffMs: 500,
  allowPrivate: false,
};

export interface DeliveryOutcome {
  ok: boolean;
  attempts: number;
  httpStatus: number | null;
  error: string | null;
}

export type NotificationEvent = 'firing' | 'resolved';

/** The body each channel type expects: our own JSON for webhooks, `text` for Slack-compatible hooks. */
export function notificationBody(
  channel: Channel,
  event: NotificationEvent,
  alert: AlertView,
  orgId: string,
): unknown {
  if (channel.type === 'slack') {
    const icon =
      event === 'resolved'
        ? ':white_check_mark:'
        : alert.severity === 'critical'
          ? ':red_circle:'
          : ':warning:';
    return {
      text: `${icon} [${event.toUpperCase()}] ${alert.name} (${alert.severity}, org ${orgId}): ${alert.summary ?? ''}`,
    };
  }
  return {
    event,
    org_id: orgId,
    alert: {
      id: alert.id,
      name: alert.name,
      source: alert.source,
      severity: alert.severity,
      status: alert.status,
      summary: alert.summary,
      description: alert.description,
      value: alert.value,
      labels: alert.labels,
      started_at: alert.started_at,
      ended_at: alert.ended_at,
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POSTs `body` to the channel, retrying network errors, 429 and 5xx with exponential backoff. Each attempt resolves
 * the host once, checks the addresses and connects to exactly those; a redirect is a failed delivery. Never throws.
 */
export async function deliver(
  channel: Channel,
  body: unknown,
  options: DeliveryOptions,
): Promise<DeliveryOutcome> {
  let httpStatus: number | null = null;
  let error: string | null = null;
  for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
    if (attempt > 1) await sleep(options.backoffMs * 2 ** (attempt - 2) * (0.75 + Math.random() * 0.5));
    try {
      const target = await resolveWebhookTarget(channel.url, options);
      httpStatus = await postJson(target, body, options.timeoutMs);
      if (httpStatus >= 200 && httpStatus < 300)
        return { ok: true, attempts: attempt, httpStatus, error: null };
      error =
        httpStatus >= 300 && httpStatus < 400
          ? `HTTP ${httpStatus}: redirects are not followed`
          : `HTTP ${httpStatus}`;
      if (httpStatus !== 429 && httpStatus < 500) return { ok: false, attempts: attempt, httpStatus, error };
    } catch (err) {
      error = (err as Error).message;
      if ((err as Error).name === 'WebhookUrlError')
        return { ok: false, attempts: attempt, httpStatus, error };
    }
  }
  return { ok: false, attempts: options.maxAttempts, httpStatus, error };
}
