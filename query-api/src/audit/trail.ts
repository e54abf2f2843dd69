import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { withTransaction } from '../db/transaction.ts';
import { chainOf, rowMac, storedDetails } from './chain.ts';
import type { AuditEntry } from './entry.ts';

/**
 * Appends audit rows to their org's hash chain. `append` joins the caller's transaction, so the row commits or
 * rolls back with the action it records; `record` is for actions that change nothing in the database (a download).
 */
export class AuditTrail {
  constructor(private readonly key: Buffer) {}

  /** A trail with a throwaway key, for apps built without one (tests, benchmarks): its chains verify nowhere else. */
  static ephemeral(): AuditTrail {
    return new AuditTrail(randomBytes(32));
  }

  /** `client` must be inside a transaction: the chain head stays locked until it ends. */
  async append(client: pg.PoolClient, entry: AuditEntry): Promise<void> {
    const chain = chainOf(entry.orgId);
    // Locks the chain's head row (creating it on the chain's first row): appends to one chain queue here.
    const { rows } = await client.query<{ seq: string; hash: Buffer }>(
      `INSERT INTO audit_chain_heads (chain) VALUES ($1)
       ON CONFLICT (chain) DO UPDATE SET chain = EXCLUDED.chain RETURNING seq, hash`,
      [chain],
    );
    const head = rows[0]!;
    const row = {
      org_id: entry.orgId,
      actor: entry.actor,
      action: entry.action,
      target: entry.target ?? null,
      ip: entry.ip ?? null,
      details: storedDetails(entry.details),
      // Milliseconds, so the time read back is exactly the one signed.
      created_at: new Date(),
      prev_hash: head.hash,
    };
    const hmac = rowMac(this.key, row);
    const seq = BigInt(head.seq) + 1n;
    await client.query(
      `WITH appended AS (
         INSERT INTO audit_log (org_id, actor, action, target, ip, details, created_at, seq, prev_hash, hmac)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       )
       UPDATE audit_chain_heads SET seq = $8, hash = $10 WHERE chain = $11`,
      [
        row.org_id,
        row.actor,
        row.action,
        row.target,
        row.ip,
        row.details,
        row.created_at,
        seq.toString(),
        row.prev_hash,
        hmac,
        chain,
      ],
    );
  }

  /** Appends in a transaction of its own. */
  record(pool: pg.Pool, entry: AuditEntry): Promise<void> {
    return withTransaction(pool, (client) => this.append(client, entry));
  }
}
