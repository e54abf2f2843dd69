import { parseArgs } from 'node:util';
import { z } from 'zod';
import { writeAudit } from '../audit.ts';
import { type Config, ConfigError, loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { createKey, listKeys, OrgIdSchema, RoleSchema, revokeKey } from '../keys/keys.ts';
import { runServe, runWorker } from '../server.ts';

const USAGE = `Usage: observatory <command>

  serve                                   run the service (migrates first) with an export worker inside
  worker                                  run only the export worker (OBSERVATORY_WORKER=false on serve to split)
  migrate                                 apply pending migrations and exit
  keys create --org <org> --role <viewer|org_admin|ingest> [--name <text>]
  keys list --org <org>
  keys revoke <key_id>

Configuration comes from the environment: DATABASE_URL, OBSERVATORY_DATA_DIR, PORT, HOST, LOG_LEVEL,
and OBSERVATORY_WORKER / OBSERVATORY_EXPORT_* / OBSERVATORY_SIGNING_SECRET (see query-api/README.md).`;

async function withDatabase<T>(
  config: Config,
  fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>,
) {
  const db = await openDatabase(config);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigError(`${what} is invalid (actual: ${JSON.stringify(value ?? null)})`);
  return result.data;
}

async function keysCommand(config: Config, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { org: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } },
    allowPositionals: true,
  });
  if (sub === 'create') {
    const orgId = parse(OrgIdSchema, values.org, '--org');
    const role = parse(RoleSchema, values.role, '--role (viewer, org_admin or ingest)');
    await withDatabase(config, async ({ pool }) => {
      const key = await createKey(pool, { orgId, role, name: values.name });
      await writeAudit(pool, {
        orgId,
        actor: 'cli',
        action: 'keys.create',
        target: key.id,
        details: { role },
      });
      process.stdout.write(`Created ${role} key ${key.id} for org ${orgId}. It is shown once:\n${key.key}\n`);
    });
  } else if (sub === 'list') {
    const orgId = parse(OrgIdSchema, values.org, '--org');
    await withDatabase(config, async ({ pool }) => {
      for (const k of await listKeys(pool, orgId)) {
        const state = k.revoked_at ? `revoked ${k.revoked_at.toISOString()}` : 'active';
        process.stdout.write(`${k.id}  ${k.role.padEnd(9)}  ${k.key_prefix}…  ${state}  ${k.name}\n`);
      }
    });
  } else if (sub === 'revoke') {
    const keyId = parse(z.uuid(), positionals[0], 'key id');
    await withDatabase(config, async ({ pool }) => {
      const revoked = await revokeKey(pool, keyId);
      if (!revoked) throw new ConfigError(`No key with id ${keyId}`);
      await writeAudit(pool, { orgId: revoked.org_id, actor: 'cli', action: 'keys.revoke', target: keyId });
      process.stdout.write(`Revoked key ${keyId}\n`);
    });
  } else {
    throw new ConfigError(`Unknown keys command "${sub ?? ''}"\n${USAGE}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === undefined || command === 'help' || command === '--help') {
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 1 : 0;
    }
    const config = loadConfig();
    switch (command) {
      case 'serve':
        await runServe(config);
        return 0;
      case 'worker':
        await runWorker(config);
        return 0;
      case 'migrate':
        await withDatabase(config, async ({ applied }) => {
          process.stdout.write(
            applied.length
              ? `Applied ${applied.map((m) => `${m.version}_${m.name}`).join(', ')}\n`
              : 'Up to date\n',
          );
        });
        return 0;
      case 'keys':
        await keysCommand(config, args);
        return 0;
      default:
        throw new ConfigError(`Unknown command "${command}"\n${USAGE}`);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`observatory: ${message}\n`);
    if (!(err instanceof ConfigError) && process.env.OBSERVATORY_DEBUG)
      process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}
