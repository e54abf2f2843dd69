import type pg from 'pg';

/** The setting the rollup trigger reads; `on` makes it ignore the statement. */
export const SKIP_ROLLUPS_SETTING = 'observatory.skip_rollups';

/**
 * Turns the rollup trigger off until the caller's transaction ends: rows inserted into `ai_events` after this are not
 * counted. For re-inserting rows the rollups already hold (an archive restore): rollups outlive raw rows, so counting
 * them again would double them. Call it between BEGIN and COMMIT: it is `SET LOCAL`, which outside a transaction
 * lasts for no statement at all.
 */
export async function skipRollupsInTransaction(client: pg.ClientBase): Promise<void> {
  await client.query(`SET LOCAL ${SKIP_ROLLUPS_SETTING} = on`);
}
