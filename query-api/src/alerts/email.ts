import nodemailer, { type Transporter } from 'nodemailer';
import type { NotificationEvent } from './notify.ts';
import type { AlertView } from './schema.ts';

export interface MailerOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered; `?requireTLS=true` insists) or `smtps://…` (TLS). */
  url: string;
  from: string;
  /** Messages one org may be sent per hour, across its rules and recipients' lists. */
  perOrgPerHour: number;
  /** Per SMTP conversation step: connecting, the greeting, each command. */
  timeoutMs: number;
}

export interface EmailMessage {
  subject: string;
  text: string;
}

export class EmailRateLimited extends Error {
  override name = 'EmailRateLimited';
}

const HOUR_MS = 3_600_000;

/** Sends alert email over SMTP, at most `perOrgPerHour` messages per org and hour. */
export class Mailer {
  private readonly transport: Transporter;
  // Send times of the last hour, per org: a sliding window of this process.
  private readonly sent = new Map<string, number[]>();

  constructor(private readonly options: MailerOptions) {
    // One connection per message: alert mail is rare, and nothing is left open between alerts.
    this.transport = nodemailer.createTransport(
      {
        url: options.url,
        connectionTimeout: options.timeoutMs,
        greetingTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
      },
      { from: options.from },
    );
  }

  /** Counts one message against the org's hourly budget; throws EmailRateLimited once it is spent. */
  admit(orgId: string): void {
    const now = Date.now();
    const recent = (this.sent.get(orgId) ?? []).filter((t) => now - t < HOUR_MS);
    this.sent.set(orgId, recent);
    if (recent.length >= this.options.perOrgPerHour) {
      throw new EmailRateLimited(
        `rate limited: at most ${this.options.perOrgPerHour} emails per hour per org`,
      );
    }
    recent.push(now);
  }

  /** Throws the SMTP error, with its `responseCode` when the server answered. */
  async send(to: string[], message: EmailMessage): Promise<void> {
    await this.transport.sendMail({ to, subject: message.subject, text: message.text });
  }

  close(): void {
    this.transport.close();
  }
}

/** The console page of an alert: the Alerts page, opened at that alert. */
export function alertLink(publicUrl: string, alertId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/#alerts/${alertId}`;
}

export function emailMessage(
  event: NotificationEvent,
  alert: AlertView,
  orgId: string,
  publicUrl: string,
): EmailMessage {
  const subject = `[${event.toUpperCase()}] ${alert.name} (${alert.severity}, org ${orgId})`;
  const lines = [
    alert.summary ?? alert.name,
    '',
    alert.description ?? '',
    '',
    `Started: ${alert.started_at.toISOString()}`,
    ...(alert.ended_at ? [`Resolved: ${alert.ended_at.toISOString()}`] : []),
    `Open in Observatory: ${alertLink(publicUrl, alert.id)}`,
  ];
  // Header values must stay on one line, whatever a rule's name holds.
  return { subject: subject.replace(/[\r\n]+/g, ' '), text: `${lines.join('\n')}\n` };
}

/** Whether an SMTP failure may pass on a later try: connection trouble and 4xx replies, not 5xx ones. */
export function transientSmtpError(err: unknown): boolean {
  const code = (err as { responseCode?: number }).responseCode;
  return code === undefined || code < 500;
}

/** An SMTP error as stored and logged: servers quote recipients back, and addresses stay out of both. */
export function smtpErrorText(err: unknown): string {
  return String((err as Error).message ?? err)
    .replace(/[^\s<>"'@]+@[^\s<>"'@]+/g, '<address>')
    .slice(0, 500);
}
