import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { makeSpan } from '../../test/make-span.ts';
import { Ingest } from '../ingest.ts';
import type { SpanInput } from '../span.ts';

const db = await createTestDatabase();
let spillDir: string;
let ingest: Ingest;

beforeAll(async () => {
  spillDir = await mkdtemp(join(tmpdir(), 'observatory-ancestors-'));
  ingest = new Ingest({ pool: db.pool, spillDir, flushIntervalMs: 5 });
  await ingest.start();
});

afterAll(async () => {
  await ingest.shutdown();
  await rm(spillDir, { recursive: true, force: true });
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const NOW = BigInt(Date.now() - 60_000) * 1_000_000n;

/** An agent span stating route, user and session: what a first export request stores. */
function agent(traceId: string, spanId: string): SpanInput {
  return makeSpan({
    traceId,
    spanId,
    name: 'invoke_agent planner',
    kind: 1,
    startTimeUnixNano: NOW,
    endTimeUnixNano: NOW + 900_000_000n,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'observatory.endpoint': '/agent',
      'user.id': 'u-parent',
      'gen_ai.conversation.id': 'conv-parent',
    },
  });
}

/** A model call under `parentSpanId` stating no context of its own. */
function call(traceId: string, parentSpanId: string, attributes: SpanInput['attributes'] = {}): SpanInput {
  return makeSpan({
    traceId,
    spanId: hex(8),
    parentSpanId,
    startTimeUnixNano: NOW + 10_000_000n,
    endTimeUnixNano: NOW + 500_000_000n,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 10,
      ...attributes,
    },
  });
}

async function send(spans: SpanInput[], orgId = 'acme'): Promise<void> {
  await ingest.spans(spans, orgId);
  await ingest.flush();
}

async function contextOf(spanId: string) {
  const { rows } = await db.pool.query(
    `SELECT org_id, endpoint, user_id, session_id FROM ai_events WHERE span_id = $1
     UNION ALL SELECT org_id, endpoint, user_id, session_id FROM ai_spans WHERE span_id = $1`,
    [spanId],
  );
  return rows;
}

describe('context from stored ancestors', () => {
  it('completes a child exported after its parent, in a later request', async () => {
    const traceId = hex(16);
    const parentId = hex(8);
    await send([agent(traceId, parentId)]);
    const tool = makeSpan({
      traceId,
      spanId: hex(8),
      parentSpanId: parentId,
      name: 'execute_tool search',
      kind: 1,
      startTimeUnixNano: NOW + 5_000_000n,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' },
    });
    const child = call(traceId, tool.spanId);
    // The child states its own user: only what it lacks is taken.
    const own = call(traceId, parentId, { 'user.id': 'u-own' });
    await send([tool, child, own]);

    const inherited = { org_id: 'acme', endpoint: '/agent', user_id: 'u-parent', session_id: 'conv-parent' };
    expect(await contextOf(tool.spanId)).toEqual([inherited]);
    expect(await contextOf(child.spanId)).toEqual([inherited]);
    expect(await contextOf(own.spanId)).toEqual([{ ...inherited, user_id: 'u-own' }]);
  });

  it('never takes it from another trace or another org holding the same span id', async () => {
    const parentId = hex(8);
    await send([agent(hex(16), parentId)]);
    const otherTrace = call(hex(16), parentId);
    await send([otherTrace]);
    expect(await contextOf(otherTrace.spanId)).toEqual([
      { org_id: 'acme', endpoint: null, user_id: null, session_id: null },
    ]);

    const traceId = hex(16);
    await send([agent(traceId, parentId)], 'globex');
    const otherOrg = call(traceId, parentId);
    await send([otherOrg], 'acme');
    expect(await contextOf(otherOrg.spanId)).toEqual([
      { org_id: 'acme', endpoint: null, user_id: null, session_id: null },
    ]);
  });

  it('stores the batch as mapped when the lookup fails', async () => {
    const errors: Error[] = [];
    const broken = new Ingest({
      pool: db.pool,
      spillDir,
      flushIntervalMs: 5,
      onError: (err) => errors.push(err),
    });
    await db.pool.query('ALTER TABLE ai_spans RENAME COLUMN session_id TO session_id_away');
    try {
      const orphan = call(hex(16), hex(8));
      await broken.spans([orphan], 'acme');
      await broken.flush();
      const { rows } = await db.pool.query('SELECT user_id FROM ai_events WHERE span_id = $1', [
        orphan.spanId,
      ]);
      expect(rows).toEqual([{ user_id: null }]);
      expect(errors.map((e) => e.message).join()).toMatch(/session_id/);
    } finally {
      await db.pool.query('ALTER TABLE ai_spans RENAME COLUMN session_id_away TO session_id');
      await broken.shutdown();
    }
  });
});
