import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { createApp } from '../app.ts';
import { AuditTrail } from '../audit/trail.ts';
import { createKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';

const db = await createTestDatabase();
const trail = AuditTrail.ephemeral();
const app = createApp({ pool: db.pool, logger: createLogger('silent'), audit: trail });
const admin = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
const other = await createKey(db.pool, { orgId: 'globex', role: 'org_admin' });

interface Page {
  items: { id: string; seq: string; actor: string; action: string; target: string; created_at: string }[];
  next_cursor: string | null;
}

async function page(query: string, key = admin.key): Promise<Page> {
  const res = await app.request(`/api/audit${query}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
}

// Through the API: a key created and one revoked, each with its audit row.
const made = await app.request('/api/keys', {
  method: 'POST',
  headers: { authorization: `Bearer ${admin.key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ role: 'viewer' }),
});
const madeKey = (await made.json()) as { id: string };
await app.request(`/api/keys/${madeKey.id}`, {
  method: 'DELETE',
  headers: { authorization: `Bearer ${admin.key}` },
});
for (let i = 0; i < 7; i++) {
  await trail.record(db.pool, { orgId: 'acme', actor: 'cli', action: 'alert.ack', target: `a${i}` });
}
await trail.record(db.pool, { orgId: 'globex', actor: 'cli', action: 'keys.create', target: 'theirs' });

describe('GET /api/audit', () => {
  it("lists the caller org's rows newest first, by cursor, without repeats or gaps", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const p: Page = await page(`?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(p.items.length).toBeLessThanOrEqual(3);
      seen.push(...p.items.map((r) => r.seq));
      cursor = p.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['9', '8', '7', '6', '5', '4', '3', '2', '1']);
    expect((await page('')).items.some((r) => r.target === 'theirs')).toBe(false);
    expect((await page('', other.key)).items.map((r) => r.target)).toEqual(['theirs']);
  });

  it('filters by actor, action and time', async () => {
    const byApi = await page(`?actor=${admin.id}`);
    expect(byApi.items.map((r) => [r.action, r.target])).toEqual([
      ['keys.revoke', madeKey.id],
      ['keys.create', madeKey.id],
    ]);
    expect((await page('?action=alert.ack')).items).toHaveLength(7);
    expect((await page('?action=alert.ack&actor=nobody')).items).toEqual([]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await page(`?date_from=${encodeURIComponent(future)}`)).items).toEqual([]);
    expect((await page(`?date_to=${encodeURIComponent(future)}`)).items).toHaveLength(9);
  });

  it('refuses a forged cursor and a backwards date range, naming the field', async () => {
    const headers = { authorization: `Bearer ${admin.key}` };
    const forged = await app.request('/api/audit?cursor=bm9wZQ', { headers });
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe('cursor');
    const backwards = await app.request('/api/audit?date_from=2026-02-01&date_to=2026-01-01', { headers });
    expect(backwards.status).toBe(400);
    expect(JSON.stringify(await backwards.json())).toContain('date_from');
  });
});
