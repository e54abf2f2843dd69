import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test-support/database.ts';
import { PostgresSpanExporter } from './exporter.ts';
import { userPseudonym } from './mapping/identifiers.ts';

const db = await createTestDatabase();
const spillDir = await mkdtemp(join(tmpdir(), 'observatory-exporter-'));
afterAll(() => rm(spillDir, { recursive: true, force: true }));

async function exportCall(exporter: PostgresSpanExporter, userId: string, requestId: string): Promise<void> {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const span = provider.getTracer('test').startSpan('chat gpt-4o');
  span.setAttributes({
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'gpt-4o',
    'user.id': userId,
    'observatory.org_id': 'acme',
    'observatory.request_id': requestId,
  });
  span.end();
  await provider.forceFlush();
  await exporter.forceFlush();
}

async function storedUser(requestId: string): Promise<string> {
  const { rows } = await db.pool.query('SELECT user_id FROM ai_events WHERE request_id = $1', [requestId]);
  expect(rows).toHaveLength(1);
  return rows[0].user_id;
}

describe('PostgresSpanExporter and user pseudonyms', () => {
  it("uses the key it is given, so its pseudonyms agree with the service's", async () => {
    const key = 's'.repeat(40);
    const exporter = new PostgresSpanExporter({ pool: db.pool, spillDir, pseudonymKey: key });
    await exportCall(exporter, 'ada@example.com', 'given-key');
    await exporter.shutdown();
    expect(await storedUser('given-key')).toBe(userPseudonym(key, 'acme', 'ada@example.com'));
  });

  it('without a key, still stores a pseudonym, never the address', async () => {
    const exporter = new PostgresSpanExporter({ pool: db.pool, spillDir });
    await exportCall(exporter, 'ada@example.com', 'own-key-1');
    await exportCall(exporter, 'ada@example.com', 'own-key-2');
    await exporter.shutdown();
    const pseudonym = await storedUser('own-key-1');
    expect(pseudonym).toMatch(/^u_[0-9a-f]{32}$/);
    expect(await storedUser('own-key-2')).toBe(pseudonym);
  });
});
