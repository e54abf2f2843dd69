import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { proxiedPool } from '../../../test-support/tcp-proxy.ts';
import { until } from '../../../test-support/until.ts';
import { makeSpan } from '../../test/make-span.ts';
import { Ingest } from '../ingest.ts';
import { ContentCapture } from './capture.ts';
import { DataKeys } from './data-keys.ts';
import { contentAssociatedData, open } from './envelope.ts';
import { LocalMasterKeys } from './master-keys.ts';
import { DecisionContentSchema } from './schema.ts';

const db = await createTestDatabase();
const spillDir = await mkdtemp(join(tmpdir(), 'observatory-content-spill-'));
afterAll(() => rm(spillDir, { recursive: true, force: true }));
await db.pool.query(`INSERT INTO orgs (id, name) VALUES ('acme', 'acme'), ('quiet', 'quiet')`);

const keys = new DataKeys(LocalMasterKeys.ephemeral());
const acmeCaptures = async (orgs: readonly string[]) =>
  new Map(orgs.filter((o) => o === 'acme').map((o) => [o, { requireConsent: false }]));
const capture = new ContentCapture(db.pool, acmeCaptures, keys);

const call = (secret: string) =>
  makeSpan({
    startTimeUnixNano: BigInt(Date.now()) * 1_000_000n,
    endTimeUnixNano: BigInt(Date.now() + 100) * 1_000_000n,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.input.messages': JSON.stringify([
        { role: 'user', parts: [{ type: 'text', content: `ask ${secret}` }] },
      ]),
      'ai.response.text': `answer ${secret}`,
    },
  });

async function spilledText(dir = spillDir): Promise<string> {
  const files = await readdir(dir);
  return (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('');
}

describe('content capture on the ingest path', () => {
  it('queues and spills only ciphertext, and the replayed row decrypts to the content', async () => {
    const { proxy, pool } = await proxiedPool(db.url);
    const ingest = new Ingest({
      pool,
      spillDir,
      content: capture,
      retryBaseMs: 5,
      maxAttempts: 1,
      replayIntervalMs: 100,
      flushIntervalMs: 5,
    });
    await ingest.start();
    try {
      await proxy.cut();
      const secret = `zq${Date.now().toString(36)}`;
      const result = await ingest.spans([call(secret)], 'acme');
      expect(result.durability).toBe('spilled');
      const spilled = await spilledText();
      expect(spilled).toContain('"ciphertext"');
      expect(spilled).not.toContain(secret);
      // An org that does not capture spills no content row at all.
      await ingest.spans([call(`${secret}q`)], 'quiet');
      expect((await spilledText()).match(/"ciphertext"/g)).toHaveLength(1);

      await proxy.restore();
      const row = await until('the replayed content row', async () => {
        const { rows } = await db.pool.query<{ event_id: string; ciphertext: Buffer }>(
          `SELECT event_id, ciphertext FROM ai_event_content WHERE org_id = 'acme'`,
        );
        return rows[0];
      });
      const key = (await keys.forOrg(db.pool, 'acme', { create: false }))!;
      const content = DecisionContentSchema.parse(
        JSON.parse(open(key, row.ciphertext, contentAssociatedData('acme', row.event_id)).toString()),
      );
      expect(content.sources).toEqual(['genai', 'vercel']);
      expect(content.output[0]!.content).toEqual([
        { type: 'text', text: `answer ${secret}`, truncated: false },
      ]);
      const { rows } = await db.pool.query(`SELECT 1 FROM ai_event_content WHERE org_id = 'quiet'`);
      expect(rows).toEqual([]);
    } finally {
      await ingest.shutdown();
      await pool.end();
      await proxy.stop();
    }
  });

  it('drops the content, never the events, when the org’s data key cannot be read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'observatory-content-offline-'));
    const { proxy, pool } = await proxiedPool(db.url);
    const offline = new ContentCapture(pool, acmeCaptures, new DataKeys(LocalMasterKeys.ephemeral()));
    const ingest = new Ingest({ pool, spillDir: dir, content: offline, retryBaseMs: 5, maxAttempts: 1 });
    await ingest.start();
    try {
      await proxy.cut();
      const secret = `zq${Date.now().toString(36)}`;
      expect(await ingest.spans([call(secret)], 'acme')).toMatchObject({ events: 1, durability: 'spilled' });
      const spilled = await spilledText(dir);
      expect(spilled).toContain('"model_name":"gpt-4o"');
      expect(spilled).not.toContain('ciphertext');
      expect(spilled).not.toContain(secret);
    } finally {
      await proxy.restore();
      await ingest.shutdown();
      await pool.end();
      await proxy.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
