import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServe, runCli, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { requireTool } from '../../test-support/system-tools.ts';

const CHROMIUM = '/usr/bin/chromium';
const runs = requireTool(`Chromium (${CHROMIUM})`, existsSync(CHROMIUM), 'chromium');

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');
const db = await createTestDatabase();

describe.runIf(runs)('web console in a real browser', () => {
  let serve: RunningServe;
  let browser: Browser;
  let page: Page;
  let adminKey: string;
  let ingestKey: string;

  const lastLine = (text: string) => text.trim().split('\n').at(-1)!;

  async function ingest(events: object[]) {
    const res = await fetch(`${serve.baseUrl}/api/telemetry/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    expect(res.status).toBe(200);
  }

  beforeAll(async () => {
    adminKey = lastLine(
      (await runCli(['keys', 'create', '--org', 'acme', '--role', 'org_admin'], { DATABASE_URL: db.url }))
        .stdout,
    );
    ingestKey = lastLine(
      (await runCli(['keys', 'create', '--org', 'acme', '--role', 'ingest'], { DATABASE_URL: db.url }))
        .stdout,
    );
    serve = await startServe({
      DATABASE_URL: db.url,
      OBSERVATORY_DATA_DIR: await mkdtemp(join(tmpdir(), 'observatory-console-')),
      OBSERVATORY_STREAM_RECHECK_MS: '500',
    });
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    serve?.child.kill('SIGTERM');
    await serve?.exited;
  });

  it('signs in with a key and shows the org', async () => {
    await page.goto(serve.baseUrl);
    await page.getByLabel('API key').fill(adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#who').textContent()).toContain('Org acme');
    // The key is exchanged for an HttpOnly cookie the page itself cannot read.
    expect(await page.evaluate('document.cookie')).toBe('');
    const storage = await page.evaluate('JSON.stringify({ ...sessionStorage, ...localStorage })');
    expect(storage).not.toContain('obs_');
    await page.screenshot({ path: join(ARTIFACTS, '1-signed-in.png') });
  });

  it('shows live events within 2 seconds of ingestion, and an event with its trace waterfall', async () => {
    await expect.poll(() => page.locator('#conn').textContent()).toBe('live');
    const trace = 'ab'.repeat(16);
    const t0 = Date.now();
    await ingest([
      {
        model_name: 'gpt-4o',
        endpoint: 'analyze',
        created_at: new Date(t0).toISOString(),
        latency_ms: 800,
        // Streamed: 50 tokens in the 600 ms after the first one.
        ttft_ms: 200,
        success: true,
        input_tokens: 1000,
        output_tokens: 50,
        trace_id: trace,
        span_id: '1'.repeat(16),
      },
      {
        model_name: 'gpt-4o-mini',
        endpoint: 'analyze',
        created_at: new Date(t0 + 900).toISOString(),
        latency_ms: 300,
        success: false,
        error_code: 'timeout',
        trace_id: trace,
        span_id: '2'.repeat(16),
        fallback_used: true,
        fallback_model: 'claude-sonnet-4',
      },
    ]);
    const sent = Date.now();
    await page.locator('#feed tr').nth(1).waitFor({ timeout: 2000 });
    expect(Date.now() - sent).toBeLessThan(2000);
    await expect.poll(() => page.locator('#kpi-requests .value').textContent()).toBe('2');
    await page.screenshot({ path: join(ARTIFACTS, '2-activity.png') });

    await page.locator('#feed tr', { hasText: 'gpt-4o-mini' }).click();
    await page.locator('#waterfall .bar').nth(1).waitFor();
    expect(await page.locator('#waterfall .bar').count()).toBe(2);
    expect(await page.locator('#inspector a').getAttribute('href')).toContain(trace);
    // The streamed call shows its first token in the waterfall; the other did not stream.
    expect(await page.locator('#waterfall .bar').first().textContent()).toContain('first token 200 ms');
    expect(await page.locator('#waterfall .bar i.ttft').count()).toBe(1);
    expect(await page.locator('#tokens-per-second').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, '3-inspector.png'), fullPage: true });

    await page.locator('#feed tr', { hasText: 'gpt-4o' }).filter({ hasNotText: 'gpt-4o-mini' }).click();
    await expect.poll(() => page.locator('#tokens-per-second').textContent()).toBe('83.3');
  });

  it('shows log lines under their event, and a Logs page with live tail and jump-to-trace', async () => {
    const trace = 'ab'.repeat(16);
    const logs = (records: object[]) =>
      fetch(`${serve.baseUrl}/v1/logs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          resourceLogs: [
            {
              resource: { attributes: [{ key: 'service.name', value: { stringValue: 'console-api' } }] },
              scopeLogs: [{ logRecords: records }],
            },
          ],
        }),
      });
    const now = BigInt(Date.now()) * 1_000_000n;
    const res = await logs([
      {
        timeUnixNano: `${now}`,
        severityNumber: 17,
        body: { stringValue: 'mini timed out' },
        traceId: trace,
        spanId: '2'.repeat(16),
      },
      {
        timeUnixNano: `${now + 1n}`,
        severityNumber: 9,
        body: { stringValue: 'first call done' },
        traceId: trace,
        spanId: '1'.repeat(16),
      },
    ]);
    expect(res.status).toBe(200);
    await page.getByRole('button', { name: 'Logs', exact: true }).click();
    await expect.poll(() => page.locator('#log-list').textContent()).toContain('mini timed out');
    expect(await page.locator('#log-list').textContent()).toContain('first call done');

    // Live tail: a new line appears without searching again.
    await page.getByRole('button', { name: 'Live tail' }).click();
    await expect.poll(() => page.locator('#logs-conn').textContent()).toBe('live');
    expect((await logs([{ severityNumber: 13, body: { stringValue: 'tail sees this' } }])).status).toBe(200);
    await expect
      .poll(() => page.locator('#log-list li').first().textContent(), { timeout: 5000 })
      .toContain('tail sees this');

    // Jump to the trace: the inspector opens on the call the line was logged in, with its lines under it.
    await page.locator('#log-list li', { hasText: 'mini timed out' }).getByRole('button').click();
    await expect.poll(() => page.locator('#event-logs').textContent()).toContain('mini timed out');
    expect(await page.locator('#trace-logs').textContent()).toContain('first call done');
    expect(await page.locator('#inspector').textContent()).toContain('gpt-4o-mini');
    await page.screenshot({ path: join(ARTIFACTS, '3b-logs.png'), fullPage: true });
  });

  it('shows the overview aggregates', async () => {
    await page.getByRole('button', { name: 'Overview' }).click();
    await page.locator('#overview-body table').first().waitFor();
    expect(await page.locator('#overview-body').textContent()).toContain('gpt-4o-mini');
    await page.screenshot({ path: join(ARTIFACTS, '4-overview.png'), fullPage: true });
  });

  it('acknowledges an alert', async () => {
    await db.pool.query(
      `INSERT INTO alerts (id, org_id, source, fingerprint, name, severity, summary, status, started_at)
       VALUES (gen_random_uuid(), 'acme', 'builtin', 'console-test', 'ErrorRateHigh', 'critical', 'error rate above 5 %', 'active', now())`,
    );
    await page.getByRole('button', { name: 'Alerts' }).click();
    await page.getByRole('button', { name: 'Ack' }).click();
    const acks = async () =>
      (await db.pool.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.ack'")).rows[0].n;
    await expect.poll(acks).toBe(1);
    await page.getByLabel('Status').selectOption('acknowledged');
    // The acknowledged list names who acknowledged it, which the active list never shows.
    await expect.poll(() => page.locator('#alert-list').textContent()).toMatch(/ErrorRateHigh.*by /);
    // The rule editor for the built-in engine.
    await page.getByLabel('Name').fill('Errors above 5 %');
    await page.getByLabel('Threshold').fill('0.05');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await expect.poll(() => page.locator('#rule-list').textContent()).toContain('Errors above 5 %');
    const { rows: rules } = await db.pool.query(
      "SELECT metric, threshold FROM alert_rules WHERE org_id = 'acme'",
    );
    expect(rules).toEqual([{ metric: 'error_rate', threshold: 0.05 }]);
    await page.screenshot({ path: join(ARTIFACTS, '5-alerts.png'), fullPage: true });
  });

  it('creates an export, watches it complete and downloads it', async () => {
    await page.getByRole('button', { name: 'Exports' }).click();
    await page.getByLabel('Format').selectOption('csv');
    await page.getByRole('button', { name: 'Create export' }).click();
    const link = page.locator('#export-list a.download').first();
    await link.waitFor({ timeout: 15_000 });
    expect(await page.locator('#export-list .job-status').first().textContent()).toBe('completed');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const file = join(ARTIFACTS, 'export.csv');
    await download.saveAs(file);
    const { readFile } = await import('node:fs/promises');
    const csv = await readFile(file, 'utf8');
    expect(csv.split('\n')[0]).toContain('model_name');
    expect(csv).toContain('gpt-4o-mini');
    await page.screenshot({ path: join(ARTIFACTS, '6-exports.png') });
  });

  it('says the live feed closed when its key is revoked, instead of reconnecting forever', async () => {
    const created = await runCli(['keys', 'create', '--org', 'acme', '--role', 'viewer'], {
      DATABASE_URL: db.url,
    });
    const viewerKey = lastLine(created.stdout);
    const keyId = /key (\S+) for org/.exec(created.stdout)![1]!;
    const viewerPage = await browser.newPage();
    try {
      await viewerPage.goto(serve.baseUrl);
      await viewerPage.getByLabel('API key').fill(viewerKey);
      await viewerPage.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => viewerPage.locator('#conn').textContent()).toBe('live');
      expect((await runCli(['keys', 'revoke', keyId], { DATABASE_URL: db.url })).code).toBe(0);
      await expect
        .poll(() => viewerPage.locator('#conn').textContent(), { timeout: 10_000 })
        .toBe('stream closed: sign in again');
    } finally {
      await viewerPage.close();
    }
  });
});
