import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { proxiedPool } from '../../../test-support/tcp-proxy.ts';
import { makeAiSpan, makeEvent } from '../../test/make-event.ts';
import type { StoredRow } from '../ai-span.ts';
import type { AiEvent } from '../event.ts';
import { BatchTooLargeError, EventPipeline, QueueFullError } from './pipeline.ts';
import { createEventWriter, createStoredRowWriter } from './writer.ts';

const db = await createTestDatabase();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function spillDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'observatory-spill-'));
  dirs.push(dir);
  return dir;
}

async function countRows(ids: string[]): Promise<number> {
  const { rows } = await db.pool.query(
    'SELECT count(*)::int AS n FROM ai_events WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return rows[0].n;
}

describe('event writer', () => {
  it('writes every column and turns a re-export of the same events into a no-op', async () => {
    const writer = createEventWriter(db.pool);
    const events = [
      makeEvent({ error_message: 'it\'s "quoted"', tags: { a: [1, 2] } }),
      makeEvent({ created_at: new Date('1999-05-05T00:00:00Z') }),
    ];
    expect(await writer.write(events)).toEqual({ kind: 'success', inserted: 2, rejected: 0 });
    expect(await writer.write(events)).toEqual({ kind: 'success', inserted: 0, rejected: 0 });
    const { rows } = await db.pool.query('SELECT * FROM ai_events WHERE id = $1', [events[0]!.id]);
    expect({ ...rows[0], cost_usd: String(Number(rows[0].cost_usd)) }).toMatchObject({
      ...events[0],
      cost_usd: '0.00045',
      received_at: events[0]!.received_at,
    });
  });

  it('isolates a row PostgreSQL refuses and writes the rest', async () => {
    const writer = createEventWriter(db.pool);
    const good = [makeEvent(), makeEvent(), makeEvent()];
    // A NUL character is valid JSON text but PostgreSQL refuses it in text columns.
    const bad = makeEvent({ endpoint: 'bad\u0000endpoint' });
    expect(await writer.write([good[0]!, bad, good[1]!, good[2]!])).toEqual({
      kind: 'success',
      inserted: 3,
      rejected: 1,
    });
    expect(await countRows(good.map((e) => e.id))).toBe(3);
  });

  it('stores text COPY must escape exactly as given', async () => {
    const awkward = 'tab\there\nnew line\r\\N back\\slash \\. ünïcødé 🚀';
    const event = makeEvent({
      error_message: awkward,
      endpoint: '\\N',
      tags: { text: awkward, nested: { q: '"\\' } },
      latency_ms: 0.1 + 0.2,
      ttft_ms: 1e-7,
    });
    expect(await createEventWriter(db.pool).write([event])).toMatchObject({ inserted: 1 });
    const { rows } = await db.pool.query('SELECT * FROM ai_events WHERE id = $1', [event.id]);
    expect(rows[0]).toMatchObject({
      error_message: awkward,
      endpoint: '\\N',
      tags: event.tags,
      latency_ms: 0.1 + 0.2,
      ttft_ms: 1e-7,
    });
  });

  it('stores each row once when a batch mixes rows already stored with new ones, concurrently too', async () => {
    const writer = createEventWriter(db.pool);
    const stored = [makeEvent(), makeEvent()];
    await writer.write(stored);
    const fresh = Array.from({ length: 50 }, () => makeEvent());
    const batches = [
      [...fresh.slice(0, 30), stored[0]!],
      [stored[1]!, ...fresh.slice(20)],
    ];
    const results = await Promise.all(batches.map((b) => writer.write(b)));
    expect(results.reduce((n, r) => n + (r.kind === 'success' ? r.inserted : 0), 0)).toBe(50);
    expect(await countRows([...stored, ...fresh].map((e) => e.id))).toBe(52);
  });

  it('writes inside a caller’s transaction without aborting it on rows already stored', async () => {
    const event = makeEvent();
    await createEventWriter(db.pool).write([event]);
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const fresh = makeEvent();
      expect(await createEventWriter(client).write([event, fresh])).toEqual({
        kind: 'success',
        inserted: 1,
        rejected: 0,
      });
      await client.query('COMMIT');
      expect(await countRows([event.id, fresh.id])).toBe(2);
    } finally {
      client.release();
    }
  });
});

describe('event pipeline', () => {
  it('loses nothing and throws nothing while PostgreSQL goes away and comes back', async () => {
    const { proxy, pool } = await proxiedPool(db.url);
    const committed: AiEvent[] = [];
    const pipeline = new EventPipeline({
      writer: createEventWriter(pool),
      spillDir: await spillDir(),
      retryBaseMs: 20,
      replayIntervalMs: 100,
      flushIntervalMs: 10,
      onCommitted: (events) => committed.push(...events),
    });
    await pipeline.start();

    const all: AiEvent[] = [];
    const outcomes: string[] = [];
    const send = async (n: number) => {
      const events = Array.from({ length: n }, () => makeEvent());
      all.push(...events);
      outcomes.push(await pipeline.enqueue(events));
    };
    await send(50);
    await proxy.cut();
    for (let i = 0; i < 5; i++) await send(20);
    expect(outcomes).toContain('spilled');
    await proxy.restore();
    await send(30);
    await pipeline.flush();
    for (let i = 0; i < 100 && (await countRows(all.map((e) => e.id))) < all.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await countRows(all.map((e) => e.id))).toBe(all.length);
    expect(new Set(committed.map((e) => e.id)).size).toBe(all.length);
    await pipeline.shutdown();
    await pool.end();
    await proxy.stop();
  });

  it('replays a spill file left by a process that stopped before the database came back', async () => {
    const dir = await spillDir();
    const deadPool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMillis: 200,
    });
    deadPool.on('error', () => undefined);
    const first = new EventPipeline({
      writer: createEventWriter(deadPool),
      spillDir: dir,
      retryBaseMs: 5,
      maxAttempts: 1,
    });
    const events = Array.from({ length: 25 }, () => makeEvent());
    expect(await first.enqueue(events)).toBe('spilled');
    await first.shutdown();
    await deadPool.end();
    expect((await readdir(dir)).length).toBeGreaterThan(0);

    const second = new EventPipeline({ writer: createEventWriter(db.pool), spillDir: dir });
    await second.start();
    expect(await countRows(events.map((e) => e.id))).toBe(25);
    expect(await readdir(dir)).toEqual([]);
    await second.shutdown();
  });

  it('spills and replays agent and tool spans with the events of the same batch', async () => {
    const dir = await spillDir();
    const deadPool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMillis: 200,
    });
    deadPool.on('error', () => undefined);
    const first = new EventPipeline<StoredRow>({
      writer: createStoredRowWriter(deadPool),
      spillDir: dir,
      maxAttempts: 1,
    });
    const events = [makeEvent({ session_id: 'conv-1' }), makeEvent()];
    const spans = [
      makeAiSpan({ span_kind: 'agent' }),
      makeAiSpan({ span_kind: 'tool', created_at: new Date('1999-01-01Z') }),
    ];
    expect(await first.enqueue([...events, ...spans])).toBe('spilled');
    await first.shutdown();
    await deadPool.end();

    const committed: StoredRow[] = [];
    const second = new EventPipeline<StoredRow>({
      writer: createStoredRowWriter(db.pool),
      spillDir: dir,
      onCommitted: (rows) => committed.push(...rows),
    });
    await second.start();
    expect(await countRows(events.map((e) => e.id))).toBe(2);
    const { rows } = await db.pool.query(
      'SELECT * FROM ai_spans WHERE id = ANY($1::uuid[]) ORDER BY created_at',
      [spans.map((s) => s.id)],
    );
    expect(rows).toEqual([spans[1], spans[0]]);
    expect(committed.map((e) => (e as { id: string }).id).sort()).toEqual(
      [...events, ...spans].map((e) => e.id).sort(),
    );
    // Re-delivery of the same rows is a no-op in both tables.
    expect(await createStoredRowWriter(db.pool).write([...events, ...spans])).toEqual({
      kind: 'success',
      inserted: 0,
      rejected: 0,
    });
    await second.shutdown();
  });

  it('refuses at once when the queue is full instead of growing', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slowWriter = {
      write: async (events: readonly AiEvent[]) => {
        await gate;
        return { kind: 'success' as const, inserted: events.length, rejected: 0 };
      },
    };
    const pipeline = new EventPipeline({
      writer: slowWriter,
      spillDir: await spillDir(),
      maxQueue: 100,
      batchSize: 10,
      concurrency: 1,
    });
    const first = pipeline.enqueue(Array.from({ length: 10 }, () => makeEvent()));
    await new Promise((r) => setTimeout(r, 20));
    const queued = pipeline.enqueue(Array.from({ length: 90 }, () => makeEvent()));
    await expect(pipeline.enqueue(Array.from({ length: 11 }, () => makeEvent()))).rejects.toBeInstanceOf(
      QueueFullError,
    );
    release();
    expect(await first).toBe('committed');
    expect(await queued).toBe('committed');
    await pipeline.shutdown();
  });

  it('refuses a batch larger than the whole queue for good, and writes a large batch in parts of batchSize', async () => {
    const written: number[] = [];
    const pipeline = new EventPipeline({
      writer: {
        write: async (events: readonly AiEvent[]) => {
          written.push(events.length);
          return { kind: 'success' as const, inserted: events.length, rejected: 0 };
        },
      },
      spillDir: await spillDir(),
      maxQueue: 100,
      batchSize: 10,
    });
    const tooLarge = pipeline.enqueue(Array.from({ length: 101 }, () => makeEvent()));
    await expect(tooLarge).rejects.toBeInstanceOf(BatchTooLargeError);
    await expect(tooLarge).rejects.toThrow(/101 events is larger than the event queue \(100\)/);
    expect(await pipeline.enqueue(Array.from({ length: 95 }, () => makeEvent()))).toBe('committed');
    expect(written.reduce((a, b) => a + b, 0)).toBe(95);
    expect(Math.max(...written)).toBeLessThanOrEqual(10);
    await pipeline.shutdown();
  });
});
