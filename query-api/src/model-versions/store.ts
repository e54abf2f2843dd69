import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Deployment, DeploymentInput } from './schemas.ts';

export interface SeenVersion {
  model_name: string;
  version: string;
  first_seen: Date;
  last_seen: Date;
}

interface DeploymentRow extends Omit<Deployment, 'deployed_at'> {
  deployed_at: Date;
}

export const deploymentJson = (row: DeploymentRow): Deployment => ({
  ...row,
  deployed_at: row.deployed_at.toISOString(),
});

const DEPLOYMENT_COLUMNS = 'id, model_name, version, deployed_at, deployed_by, note, configuration';

/** Records a deployment; `client` may be inside the transaction that audits it. */
export async function recordDeployment(
  client: pg.PoolClient | pg.Pool,
  orgId: string,
  input: DeploymentInput,
  deployedBy: string,
): Promise<Deployment> {
  const { rows } = await client.query<DeploymentRow>(
    `INSERT INTO model_deployments (id, org_id, model_name, version, deployed_at, deployed_by, note, configuration)
     VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now()), $6, $7, $8) RETURNING ${DEPLOYMENT_COLUMNS}`,
    [
      randomUUID(),
      orgId,
      input.model_name,
      input.version,
      input.deployed_at ?? null,
      deployedBy,
      input.note ?? null,
      input.configuration ?? null,
    ],
  );
  return deploymentJson(rows[0]!);
}

/** The org's seen versions and deployments (of one model, or all), oldest first. */
export async function readRegistry(
  pool: pg.Pool,
  orgId: string,
  modelName: string | undefined,
): Promise<{ versions: SeenVersion[]; deployments: Deployment[] }> {
  const [versions, deployments] = await Promise.all([
    pool.query<SeenVersion>(
      `SELECT model_name, version, first_seen, last_seen FROM model_versions
       WHERE org_id = $1 AND ($2::text IS NULL OR model_name = $2) ORDER BY model_name, first_seen, version`,
      [orgId, modelName ?? null],
    ),
    pool.query<DeploymentRow>(
      `SELECT ${DEPLOYMENT_COLUMNS} FROM model_deployments
       WHERE org_id = $1 AND ($2::text IS NULL OR model_name = $2) ORDER BY model_name, deployed_at, created_at`,
      [orgId, modelName ?? null],
    ),
  ]);
  return { versions: versions.rows, deployments: deployments.rows.map(deploymentJson) };
}
