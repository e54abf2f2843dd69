import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { createApp } from '../app.ts';
import { createKey, ensureOrg } from '../keys/keys.ts';
import { createLogger } from '../log.ts';
import { Mailer } from './email.ts';
import { RuleEngine } from './engine.ts';
import { type AlertRuleInput, AlertRuleInputSchema } from './schema.ts';
import * as sql from './sql.ts';

const db = await createTestDatabase();
for (const org of ['acme', 'globex', 'initech']) await ensureOrg(db.pool, org);
// Only the rules these tests add.
await db.pool.query('DELETE FROM alert_rules');

interface Received {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

/** A real SMTP server on a free port, with a login, that keeps what it is sent; `refuse` answers MAIL FROM with it. */
async function smtpServer(refuse?: { code: number; message: string }) {
  const received: Received[] = [];
  let mailFrom = 0;
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === 'alerts' && auth.password === 's3cret') callback(null, { user: 'alerts' });
      else callback(new Error('Invalid username or password'));
    },
    onMailFrom(_address, _session, callback) {
      mailFrom++;
      if (!refuse) return callback();
      callback(Object.assign(new Error(refuse.message), { responseCode: refuse.code }));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          received.push({
            from: mail.from?.text ?? '',
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: mail.subject ?? '',
            text: mail.text ?? '',
          });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    received,
    port,
    attempts: () => mailFrom,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function engineFor(url: string, perOrgPerHour = 10) {
  const mailer = new Mailer({
    url,
    from: 'Observatory <alerts@obs.example.test>',
    perOrgPerHour,
    timeoutMs: 2000,
  });
  afterAll(() => mailer.close());
  return new RuleEngine({
    pool: db.pool,
    logger: createLogger('silent'),
    delivery: { mailer, publicUrl: 'https://obs.example.test/', backoffMs: 20, maxAttempts: 3 },
  });
}

async function addRule(orgId: string, input: Partial<AlertRuleInput>) {
  const rule = AlertRuleInputSchema.parse({
    name: `errors-${randomUUID().slice(0, 8)}`,
    metric: 'error_rate',
    threshold: 0.1,
    window_seconds: 300,
    cooldown_seconds: 3600,
    severity: 'critical',
    ...input,
  });
  const { rows } = await db.pool.query<{ id: string; name: string }>(
    sql.insertRule(randomUUID(), orgId, rule),
  );
  return rows[0]!;
}

async function addEvents(orgId: string, count: number, success: boolean) {
  await db.pool.query(
    `INSERT INTO ai_events (id, org_id, model_name, latency_ms, cost_source, success, created_at)
     SELECT gen_random_uuid(), $1, 'gpt-4o', 100, 'unpriced', $2, now() - interval '1 second'
     FROM generate_series(1, $3)`,
    [orgId, success, count],
  );
}

async function evaluateNow(engine: RuleEngine) {
  await db.pool.query('UPDATE alert_rules SET next_evaluation_at = now()');
  return engine.evaluate();
}

async function notificationsOf(ruleId: string) {
  const { rows } = await db.pool.query(
    `SELECT n.channel_type, n.event, n.status, n.attempts, n.error FROM alert_notifications n
     JOIN alerts a ON a.id = n.alert_id WHERE a.rule_id = $1 ORDER BY n.created_at`,
    [ruleId],
  );
  return rows;
}

describe('email alert channel', () => {
  it('sends one message per cooldown, with the subject and a link to the alert, over an SMTP login', async () => {
    const smtp = await smtpServer();
    const engine = engineFor(`smtp://alerts:s3cret@127.0.0.1:${smtp.port}`);
    const rule = await addRule('acme', {
      channels: [{ type: 'email', to: ['oncall@example.com', 'lead@example.com'] }],
    });
    await addEvents('acme', 10, false);
    await evaluateNow(engine);
    await engine.settled();
    const { rows: opened } = await db.pool.query(
      'SELECT id, notification_status FROM alerts WHERE rule_id = $1',
      [rule.id],
    );
    expect(opened).toEqual([{ id: expect.any(String), notification_status: 'delivered' }]);
    expect(smtp.received).toEqual([
      {
        from: '"Observatory" <alerts@obs.example.test>',
        to: ['oncall@example.com', 'lead@example.com'],
        subject: `[FIRING] ${rule.name} (critical, org acme)`,
        text: expect.stringContaining(
          `Open in Observatory: https://obs.example.test/#alerts/${opened[0].id}`,
        ),
      },
    ]);
    expect(smtp.received[0]!.text).toContain('error_rate 100.00% for org acme');

    // Still firing: the open alert is kept, nobody is mailed again.
    await evaluateNow(engine);
    await engine.settled();
    expect(smtp.received).toHaveLength(1);

    // Recovers: one "resolved" message; fails again within the cooldown: no new alert, no message.
    await addEvents('acme', 200, true);
    await evaluateNow(engine);
    await engine.settled();
    expect(smtp.received.map((m) => m.subject)).toEqual([
      `[FIRING] ${rule.name} (critical, org acme)`,
      `[RESOLVED] ${rule.name} (critical, org acme)`,
    ]);
    await addEvents('acme', 400, false);
    await evaluateNow(engine);
    await engine.settled();
    expect(smtp.received).toHaveLength(2);
    expect(await notificationsOf(rule.id)).toEqual([
      { channel_type: 'email', event: 'firing', status: 'delivered', attempts: 1, error: null },
      { channel_type: 'email', event: 'resolved', status: 'delivered', attempts: 1, error: null },
    ]);
  });

  it('retries an SMTP server that is down or answers 4xx, records the failure, and never holds up evaluation', async () => {
    const busy = await smtpServer({ code: 421, message: 'Try again later' });
    const down = await smtpServer();
    await down.close();
    const busyRule = await addRule('globex', { channels: [{ type: 'email', to: ['ops@example.com'] }] });
    const busyEngine = engineFor(`smtp://alerts:s3cret@127.0.0.1:${busy.port}`);
    await addEvents('globex', 10, false);
    expect(await evaluateNow(busyEngine)).toBeGreaterThan(0);
    // The pass is over and the alert open while its email is still being tried.
    const { rows } = await db.pool.query(
      'SELECT status, notification_status FROM alerts WHERE rule_id = $1',
      [busyRule.id],
    );
    expect(rows).toEqual([{ status: 'active', notification_status: 'pending' }]);
    await busyEngine.settled();
    expect(busy.attempts()).toBe(3);
    expect(await notificationsOf(busyRule.id)).toEqual([
      {
        channel_type: 'email',
        event: 'firing',
        status: 'failed',
        attempts: 3,
        error: expect.stringContaining('421'),
      },
    ]);

    const downRule = await addRule('initech', { channels: [{ type: 'email', to: ['ops@example.com'] }] });
    const downEngine = engineFor(`smtp://127.0.0.1:${down.port}`);
    await addEvents('initech', 10, false);
    await evaluateNow(downEngine);
    await downEngine.settled();
    expect(await notificationsOf(downRule.id)).toEqual([
      {
        channel_type: 'email',
        event: 'firing',
        status: 'failed',
        attempts: 3,
        error: expect.stringMatching(/ECONNREFUSED|connect/),
      },
    ]);
    const { rows: after } = await db.pool.query('SELECT notification_status FROM alerts WHERE rule_id = $1', [
      downRule.id,
    ]);
    expect(after).toEqual([{ notification_status: 'failed' }]);
  });

  it('gives up at once on a 5xx answer, without repeating the recipients in the error', async () => {
    const strict = await smtpServer({ code: 550, message: 'No relaying for oncall@example.com' });
    await db.pool.query('DELETE FROM alert_rules');
    const rule = await addRule('acme', { channels: [{ type: 'email', to: ['oncall@example.com'] }] });
    const engine = engineFor(`smtp://alerts:s3cret@127.0.0.1:${strict.port}`);
    await evaluateNow(engine);
    await engine.settled();
    const [row] = await notificationsOf(rule.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.error).toContain('550');
    expect(row.error).not.toContain('oncall@example.com');
    expect(strict.attempts()).toBe(1);
  });

  it('limits messages per org and hour', () => {
    const mailer = new Mailer({ url: 'smtp://127.0.0.1:1', from: 'a@b.c', perOrgPerHour: 2, timeoutMs: 100 });
    mailer.admit('acme');
    mailer.admit('acme');
    expect(() => mailer.admit('acme')).toThrow(/at most 2 emails per hour per org/);
    expect(() => mailer.admit('globex')).not.toThrow();
  });

  it('accepts email channels in rules only when SMTP is configured', async () => {
    const admin = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
    const body = JSON.stringify({
      name: 'mail me',
      metric: 'error_rate',
      threshold: 0.05,
      window_seconds: 300,
      channels: [{ type: 'email', to: ['oncall@example.com'] }],
    });
    const post = (emailEnabled: boolean) =>
      createApp({ pool: db.pool, logger: createLogger('silent'), alerting: { emailEnabled } }).request(
        '/api/telemetry/alert-rules',
        {
          method: 'POST',
          headers: { authorization: `Bearer ${admin.key}`, 'content-type': 'application/json' },
          body,
        },
      );
    const refused = await post(false);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe(
      'channels.0.type',
    );
    expect((await post(true)).status).toBe(201);
  });
});
