import {
  alertLink,
  type EmailMessage,
  EmailRateLimited,
  emailMessage,
  type Mailer,
  smtpErrorText,
  transientSmtpError,
} from './email.ts';
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
  /** Email channels' transport; without it (OBSERVATORY_SMTP_URL unset) they fail at once. */
  mailer?: Mailer | undefined;
  /** Where the console is reached, for the link in every notification (OBSERVATORY_PUBLIC_URL). */
  publicUrl: string;
}

export const DEFAULT_DELIVERY: DeliveryOptions = {
  timeoutMs: 5000,
  maxAttempts: 4,
  backoffMs: 500,
  allowPrivate: false,
  publicUrl: 'http://localhost:4318',
};

export interface DeliveryOutcome {
  ok: boolean;
  attempts: number;
  httpStatus: number | null;
  error: string | null;
}

export type NotificationEvent = 'firing' | 'resolved';

export interface Notification {
  event: NotificationEvent;
  alert: AlertView;
  orgId: string;
}

/** Sends one notification to one channel, retrying what may pass later. Never throws. */
export function deliverNotification(
  channel: Channel,
  { event, alert, orgId }: Notification,
  options: DeliveryOptions,
): Promise<DeliveryOutcome> {
  if (channel.type === 'email') {
    return sendEmail(channel.to, orgId, emailMessage(event, alert, orgId, options.publicUrl), options);
  }
  return deliver(channel, notificationBody(channel, event, alert, orgId, options.publicUrl), options);
}

/** The body each channel type expects: our own JSON for webhooks, `text` for Slack-compatible hooks. */
export function notificationBody(
  channel: Exclude<Channel, { type: 'email' }>,
  event: NotificationEvent,
  alert: AlertView,
  orgId: string,
  publicUrl: string,
): unknown {
  const link = alertLink(publicUrl, alert.id);
  if (channel.type === 'slack') {
    const icon =
      event === 'resolved'
        ? ':white_check_mark:'
        : alert.severity === 'critical'
          ? ':red_circle:'
          : ':warning:';
    return {
      text: `${icon} [${event.toUpperCase()}] ${alert.name} (${alert.severity}, org ${orgId}): ${alert.summary ?? ''} <${link}|Open in Observatory>`,
    };
  }
  return {
    event,
    org_id: orgId,
    console_url: link,
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
/** Before retry `attempt` (2, 3, …): the first delay doubled per further retry, with ±25 % jitter. */
const retryDelay = (options: DeliveryOptions, attempt: number) =>
  options.backoffMs * 2 ** (attempt - 2) * (0.75 + Math.random() * 0.5);

/** One message to the recipients, counted once against the org's hourly budget however often it is retried. */
async function sendEmail(
  to: string[],
  orgId: string,
  message: EmailMessage,
  options: DeliveryOptions,
): Promise<DeliveryOutcome> {
  const failed = (attempts: number, error: string) => ({ ok: false, attempts, httpStatus: null, error });
  if (!options.mailer) return failed(0, 'email is not configured: OBSERVATORY_SMTP_URL is unset');
  try {
    options.mailer.admit(orgId);
  } catch (err) {
    if (err instanceof EmailRateLimited) return failed(0, err.message);
    throw err;
  }
  let error = '';
  for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
    if (attempt > 1) await sleep(retryDelay(options, attempt));
    try {
      await options.mailer.send(to, message);
      return { ok: true, attempts: attempt, httpStatus: null, error: null };
    } catch (err) {
      error = smtpErrorText(err);
      if (!transientSmtpError(err)) return failed(attempt, error);
    }
  }
  return failed(options.maxAttempts, error);
}

/**
 * POSTs `body` to the channel, retrying network errors, 429 and 5xx with exponential backoff. Each attempt resolves
 * the host once, checks the addresses and connects to exactly those; a redirect is a failed delivery. Never throws.
 */
export async function deliver(
  channel: Exclude<Channel, { type: 'email' }>,
  body: unknown,
  options: DeliveryOptions,
): Promise<DeliveryOutcome> {
  let httpStatus: number | null = null;
  let error: string | null = null;
  for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
    if (attempt > 1) await sleep(retryDelay(options, attempt));
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
