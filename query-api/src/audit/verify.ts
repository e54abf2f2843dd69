import type pg from 'pg';
import { checkout } from '../db/checkout.ts';
import { type AuditContent, GENESIS, rowMac } from './chain.ts';

export type TamperKind = 'edited' | 'deleted' | 'inserted' | 'reordered';

export interface ChainProblem {
  kind: TamperKind;
  /** The first bad row (for a deletion, the row found where the missing one should be), or null at the end. */
  id: string | null;
  seq: string | null;
  message: string;
}

export interface ChainReport {
  /** The org id; '' for rows without an org. */
  chain: string;
  /** Rows checked before the first problem (all of them when intact). */
  verified: number;
  /** Rows from before the chains began (migration 0019), which nothing protects. */
  unchained: number;
  problem: ChainProblem | null;
}

interface StoredRow extends AuditContent {
  id: string;
  seq: string;
  prev_hash: Buffer | null;
  hmac: Buffer | null;
}

const PAGE = 1000;
// Ordered by the table's columns, not the text copies the rows are read as (ORDER BY would take those).

/** One chain's rows in order, a page at a time, so a long chain never sits in memory whole. */
async function* chainRows(db: pg.PoolClient, chain: string): AsyncGenerator<StoredRow> {
  let after = ['0', '0'];
  for (;;) {
    const { rows } = await db.query<StoredRow>(
      `SELECT id::text, seq::text, org_id, actor, action, target, ip, details, created_at, prev_hash, hmac
       FROM audit_log WHERE coalesce(org_id, '') = $1 AND seq IS NOT NULL AND (seq, id) > ($2::bigint, $3::bigint)
       ORDER BY audit_log.seq, audit_log.id LIMIT ${PAGE}`,
      [chain, ...after],
    );
    yield* rows;
    if (rows.length < PAGE) return;
    const last = rows[rows.length - 1]!;
    after = [last.seq, last.id];
  }
}

const same = (a: Buffer | null | undefined, b: Buffer | null | undefined) => !!a && !!b && a.equals(b);

/**
 * Walks every chain (or one org's) and names the first row that was edited, deleted, inserted or reordered. Each
 * chain is read in one repeatable-read snapshot, so appends made meanwhile are neither missed nor half-seen.
 */
export async function verifyAudit(pool: pg.Pool, key: Buffer, orgId?: string): Promise<ChainReport[]> {
  const { client, release } = await checkout(pool);
  let broken = false;
  try {
    const chains =
      orgId !== undefined
        ? [orgId]
        : (
            await client.query<{ chain: string }>(
              `SELECT chain FROM audit_chain_heads
               UNION SELECT DISTINCT coalesce(org_id, '') FROM audit_log ORDER BY 1`,
            )
          ).rows.map((r) => r.chain);
    const reports: ChainReport[] = [];
    for (const chain of chains) {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        reports.push(await verifyChain(client, key, chain));
      } finally {
        await client.query('COMMIT').catch(() => {
          broken = true;
        });
      }
    }
    return reports;
  } finally {
    release(broken);
  }
}

async function verifyChain(db: pg.PoolClient, key: Buffer, chain: string): Promise<ChainReport> {
  const { rows: heads } = await db.query<{ seq: string; hash: Buffer }>(
    'SELECT seq::text, hash FROM audit_chain_heads WHERE chain = $1',
    [chain],
  );
  const { rows: counts } = await db.query<{ unchained: number; inserted: string | null }>(
    `WITH start AS (SELECT min(id) AS id FROM audit_log WHERE seq IS NOT NULL)
     SELECT count(*) FILTER (WHERE a.id < coalesce(start.id, 'Infinity'::numeric))::int AS unchained,
            min(a.id) FILTER (WHERE a.id > start.id)::text AS inserted
     FROM audit_log a, start WHERE coalesce(a.org_id, '') = $1 AND a.seq IS NULL`,
    [chain],
  );
  const head = heads[0];
  const report: ChainReport = { chain, verified: 0, unchained: counts[0]?.unchained ?? 0, problem: null };
  const fail = (kind: TamperKind, row: StoredRow | null, message: string) => {
    report.problem = { kind, id: row?.id ?? null, seq: row?.seq ?? null, message };
    return report;
  };
  const headSeq = BigInt(head?.seq ?? '0');
  const headHash = head?.hash ?? GENESIS;
  let expected = 1n;
  let prev: Buffer = GENESIS;
  const rows = chainRows(db, chain);
  let current = (await rows.next()).value as StoredRow | undefined;
  if (current && !head) {
    return fail('deleted', null, `the chain head of ${describe(chain)} is missing from audit_chain_heads`);
  }
  while (current) {
    const next = (await rows.next()).value as StoredRow | undefined;
    const row = current;
    const seq = BigInt(row.seq);
    const at = `row ${row.id} (seq ${row.seq})`;
    if (seq > headSeq) {
      return fail('inserted', row, `${at} was inserted: the chain ends at seq ${headSeq}`);
    }
    if (seq > expected) {
      const missing = seq - 1n === expected ? `seq ${expected}` : `seq ${expected}…${seq - 1n}`;
      return fail('deleted', row, `the row(s) with ${missing} were deleted (missing before ${at})`);
    }
    const authentic =
      row.prev_hash !== null &&
      row.hmac !== null &&
      same(rowMac(key, { ...row, prev_hash: row.prev_hash }), row.hmac);
    if (!authentic) {
      // An edited row is still what the next row points at; an inserted one is skipped over by that link.
      const pointer = next ? next.prev_hash : headHash;
      if (!same(pointer, row.hmac) && same(pointer, prev)) {
        return fail('inserted', row, `${at} was inserted: the chain links past it`);
      }
      const hint = report.verified === 0 ? ' (or the audit key is not the one that wrote this chain)' : '';
      return fail('edited', row, `${at} was edited: its HMAC does not match its content${hint}`);
    }
    if (!same(row.prev_hash, prev)) {
      const { rows: copies } = await db.query<{ id: string }>(
        'SELECT id::text FROM audit_log WHERE hmac = $1 AND id <> $2 ORDER BY audit_log.id LIMIT 1',
        [row.hmac, row.id],
      );
      if (copies[0]) return fail('inserted', row, `${at} was inserted: it copies row ${copies[0].id}`);
      const { rows: before } = await db.query<{ id: string }>(
        `SELECT id::text FROM audit_log WHERE hmac = $1 AND coalesce(org_id, '') = $2 LIMIT 1`,
        [row.prev_hash, chain],
      );
      if (before[0]) {
        return fail('reordered', row, `${at} was reordered: it belongs right after row ${before[0].id}`);
      }
      return fail('deleted', row, `the row before ${at} was deleted: the row it links to is gone`);
    }
    prev = row.hmac!;
    expected = seq + 1n;
    report.verified++;
    current = next;
  }
  if (expected - 1n < headSeq) {
    const missing = expected === headSeq ? `seq ${headSeq}` : `seq ${expected}…${headSeq}`;
    return fail('deleted', null, `the row(s) with ${missing} at the end of the chain were deleted`);
  }
  if (!same(prev, headHash)) {
    return fail('edited', null, 'the chain head does not match the last row of the chain');
  }
  const unchained = counts[0]?.inserted;
  if (unchained) {
    const message = `row ${unchained} was inserted: it carries no chain fields, yet came after the chains began`;
    report.problem = { kind: 'inserted', id: unchained, seq: null, message };
  }
  return report;
}

export function describe(chain: string): string {
  return chain === '' ? 'rows without an org' : `org ${chain}`;
}
