import type { AlertEvents } from './events.ts';

/** How the service takes part in alerting; every field is optional so that tests set only what they use. */
export interface AlertingOptions {
  /** Bearer token Alertmanager must send to the webhook; without it the webhook refuses every call. */
  alertmanagerToken?: string | undefined;
  /** Lets rule channels point at loopback/private addresses (tests, single-host installs). */
  allowPrivateWebhooks?: boolean | undefined;
  /** Whether email channels can be delivered (OBSERVATORY_SMTP_URL is set). */
  emailEnabled?: boolean | undefined;
  /** Receives every alert change; the live stream subscribes here. */
  events?: AlertEvents | undefined;
}
