import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { OrgIdSchema } from '@observatory/exporter-postgres';
import { z } from 'zod';
import { CliDateSchema, manifestLine } from '../archive/cli-format.ts';
import { bigQuerySchema } from '../archive/columns.ts';
import { ArchiveManifestSchema, manifestsOverlapping } from '../archive/manifest.ts';
import { AuditTrail } from '../audit/trail.ts';
import { describe, verifyAudit } from '../audit/verify.ts';
import { type Config, ConfigError, loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { withTransaction } from '../db/transaction.ts';
import { rotateMasterKey } from '../decisions/master-key.ts';
import { DriftRunner } from '../drift/runner.ts';
import { createArchiveStorage } from '../exports/service.ts';
import { createKey, listKeys, RoleSchema, revokeKey, ScopeError, ScopeSchema } from '../keys/keys.ts';
import { createLogger } from '../log.ts';
import { DeploymentInputSchema } from '../model-versions/schemas.ts';
import { recordDeployment } from '../model-versions/store.ts';
import { archiveRangeFor } from '../retention/archive-range.ts';
import { formatReport } from '../retention/format.ts';
import { runRetention } from '../retention/run.ts';
import { resolveAuditKey } from '../secrets.ts';
import { runServe, runWorker, runWriter } from '../server.ts';
import { OrgSettingsPatchSchema } from '../settings/schema.ts';
import { readSettings, SettingsError, updateSettings } from '../settings/store.ts';

/** Where a command writes: the process's streams, or strings in tests. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

const processOutput: CliOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

type Options = NonNullable<ParseArgsConfig['options']>;

interface CommandContext {
  values: ReturnType<typeof parseArgs>['values'];
  positionals: string[];
  output: CliOutput;
  env: NodeJS.ProcessEnv;
}

interface Command {
  /** The words that name it, e.g. `keys create`. */
  name: string;
  /** Arguments after the name, as the usage line shows them. */
  args: string;
  summary: string;
  options: Options;
  /** How many positional arguments it takes at most. */
  positionals?: number;
  run(context: CommandContext): Promise<void>;
}

/** `key=value` words as a settings change: values are JSON where they parse (`30`, `false`), text otherwise. */
function settingsPatch(words: string[], command: Command) {
  if (words.length === 0) {
    throw new ConfigError(
      `${command.name} needs key=value; usage: observatory ${command.name} ${command.args}`,
    );
  }
  const entries = words.map((word) => {
    const at = word.indexOf('=');
    if (at <= 0) throw new ConfigError(`"${word}" is not key=value`);
    const raw = word.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // text as it is
    }
    return [word.slice(0, at), value] as const;
  });
  const result = OrgSettingsPatchSchema.safeParse(Object.fromEntries(entries));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.') || ('keys' in issue ? String(issue.keys) : 'settings');
    throw new ConfigError(`${field} is invalid: ${issue.message}`);
  }
  return result.data;
}

function printSettings(output: CliOutput, settings: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(settings)) output.out(`${key}=${JSON.stringify(value)}\n`);
}

const PortSchema = z.coerce.number().int().min(0).max(65535);

/** A flag's value checked against its schema, with a message that names the flag. */
function flagValue<T>(schema: z.ZodType<T>, value: unknown, flag: string, command: Command): T {
  if (value === undefined) {
    throw new ConfigError(
      `${command.name} needs ${flag}; usage: observatory ${command.name} ${command.args}`,
    );
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const reason = result.error.issues[0]?.message ?? 'invalid';
    throw new ConfigError(`${flag} is invalid: ${reason} (actual: ${JSON.stringify(value)})`);
  }
  return result.data;
}

function auditKey(config: Config): Promise<Buffer> {
  return resolveAuditKey(config.OBSERVATORY_AUDIT_KEY, config.OBSERVATORY_DATA_DIR);
}

async function withDatabase<T>(
  config: Config,
  fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>,
): Promise<T> {
  const db = await openDatabase(config);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const COMMANDS: Command[] = [
  {
    name: 'serve',
    args: '[--port <port>] [--host <address>]',
    summary: 'run the service (migrates first), with an export worker inside unless OBSERVATORY_WORKER=false',
    options: { port: { type: 'string' }, host: { type: 'string' } },
    async run({ values, env }) {
      const config = loadConfig(env);
      if (values.port !== undefined) config.PORT = flagValue(PortSchema, values.port, '--port', this);
      if (values.host !== undefined) config.HOST = String(values.host);
      await runServe(config);
    },
  },
  {
    name: 'worker',
    args: '',
    summary: 'run only the export worker, so exports scale apart from the API',
    options: {},
    async run({ env }) {
      await runWorker(loadConfig(env));
    },
  },
  {
    name: 'writer',
    args: '',
    summary:
      'commit what receivers put in the ingest buffer (OBSERVATORY_INGEST_BUFFER) to PostgreSQL, acknowledging after commit',
    options: {},
    async run({ env }) {
      await runWriter(loadConfig(env));
    },
  },
  {
    name: 'migrate',
    args: '',
    summary: 'apply pending migrations and exit',
    options: {},
    async run({ output, env }) {
      await withDatabase(loadConfig(env), async ({ applied }) => {
        output.out(
          applied.length
            ? `Applied ${applied.map((m) => `${m.version}_${m.name}`).join(', ')}\n`
            : 'Up to date\n',
        );
      });
    },
  },
  {
    name: 'keys create',
    args: '--org <org> --role <viewer|org_admin|ingest> [--name <text>] [--scope traces:read]',
    summary:
      'create the org if missing and a key (a viewer key with --scope traces:read also reads decision traces); the key is the last line of stdout, shown once',
    options: {
      org: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
    },
    async run({ values, output, env }) {
      const orgId = flagValue(OrgIdSchema, values.org, '--org', this);
      const role = flagValue(RoleSchema, values.role, '--role', this);
      const scopes = ((values.scope as string[] | undefined) ?? []).map((s) =>
        flagValue(ScopeSchema, s, '--scope', this),
      );
      const config = loadConfig(env);
      const audit = new AuditTrail(await auditKey(config));
      await withDatabase(config, async ({ pool }) => {
        const key = await withTransaction(pool, async (client) => {
          const created = await createKey(client, {
            orgId,
            role,
            name: values.name as string | undefined,
            scopes,
          }).catch((err: unknown) => {
            throw err instanceof ScopeError ? new ConfigError(err.message) : err;
          });
          await audit.append(client, {
            orgId,
            actor: 'cli',
            action: 'keys.create',
            target: created.id,
            details: { role, scopes: created.scopes },
          });
          return created;
        });
        output.out(`Created ${role} key ${key.id} for org ${orgId}. It is shown once:\n${key.key}\n`);
      });
    },
  },
  {
    name: 'keys list',
    args: '--org <org>',
    summary: "the org's keys: id, role, prefix, state, name",
    options: { org: { type: 'string' } },
    async run({ values, output, env }) {
      const orgId = flagValue(OrgIdSchema, values.org, '--org', this);
      await withDatabase(loadConfig(env), async ({ pool }) => {
        const { rowCount } = await pool.query('SELECT 1 FROM orgs WHERE id = $1', [orgId]);
        if (!rowCount) throw new ConfigError(`No org "${orgId}"`);
        for (const k of await listKeys(pool, orgId)) {
          const state = k.revoked_at ? `revoked ${k.revoked_at.toISOString()}` : 'active';
          output.out(`${k.id}  ${k.role.padEnd(9)}  ${k.key_prefix}…  ${state}  ${k.name}\n`);
        }
      });
    },
  },
  {
    name: 'keys revoke',
    args: '<key_id>',
    summary: 'revoke a key at once',
    options: {},
    positionals: 1,
    async run({ positionals, output, env }) {
      const keyId = flagValue(z.uuid(), positionals[0], '<key_id>', this);
      const config = loadConfig(env);
      const audit = new AuditTrail(await auditKey(config));
      await withDatabase(config, async ({ pool }) => {
        const revoked = await withTransaction(pool, async (client) => {
          const key = await revokeKey(client, keyId);
          if (key)
            await audit.append(client, {
              orgId: key.org_id,
              actor: 'cli',
              action: 'keys.revoke',
              target: keyId,
            });
          return key;
        });
        if (!revoked) throw new ConfigError(`No key with id ${keyId}`);
        output.out(`Revoked key ${keyId}\n`);
      });
    },
  },
  {
    name: 'keys rotate-master',
    args: '',
    summary:
      're-wrap every org data key of captured content under a new master key (the key file) or OBSERVATORY_MASTER_KEY (the old one in OBSERVATORY_MASTER_KEY_PREVIOUS); no ciphertext changes',
    options: {},
    async run({ output, env }) {
      const config = loadConfig(env);
      const audit = new AuditTrail(await auditKey(config));
      await withDatabase(config, async ({ pool }) => {
        const { rewrapped, keyId } = await rotateMasterKey(pool, config);
        await audit.record(pool, {
          orgId: null,
          actor: 'cli',
          action: 'keys.rotate_master',
          details: { rewrapped, master_key_id: keyId },
        });
        output.out(`Re-wrapped ${rewrapped} data key(s) under master key ${keyId}\n`);
      });
    },
  },
  {
    name: 'models deploy',
    args: '--org <org> --model <model> --version <version> [--note <text>] [--config <json>] [--at <time>]',
    summary: 'record a deployment of a model version (who: cli, when: now or --at); audited',
    options: {
      org: { type: 'string' },
      model: { type: 'string' },
      version: { type: 'string' },
      note: { type: 'string' },
      config: { type: 'string' },
      at: { type: 'string' },
    },
    async run({ values, output, env }) {
      const orgId = flagValue(OrgIdSchema, values.org, '--org', this);
      let configuration: unknown;
      if (values.config !== undefined) {
        try {
          configuration = JSON.parse(String(values.config));
        } catch {
          throw new ConfigError('--config is invalid: not JSON');
        }
      }
      const input = DeploymentInputSchema.safeParse({
        model_name: flagValue(z.string(), values.model, '--model', this),
        version: flagValue(z.string(), values.version, '--version', this),
        note: values.note,
        configuration,
        deployed_at: values.at,
      });
      if (!input.success) {
        const issue = input.error.issues[0]!;
        const flag = { model_name: '--model', deployed_at: '--at', configuration: '--config' }[
          String(issue.path[0])
        ];
        throw new ConfigError(`${flag ?? `--${String(issue.path[0])}`} is invalid: ${issue.message}`);
      }
      const config = loadConfig(env);
      const audit = new AuditTrail(await auditKey(config));
      await withDatabase(config, async ({ pool }) => {
        const { rowCount } = await pool.query('SELECT 1 FROM orgs WHERE id = $1', [orgId]);
        if (!rowCount) throw new ConfigError(`No org "${orgId}"`);
        const deployment = await withTransaction(pool, async (client) => {
          const recorded = await recordDeployment(client, orgId, input.data, 'cli');
          await audit.append(client, {
            orgId,
            actor: 'cli',
            action: 'model.deploy',
            target: recorded.id,
            details: { model_name: recorded.model_name, version: recorded.version },
          });
          return recorded;
        });
        output.out(
          `Recorded deployment ${deployment.id}: ${deployment.model_name} ${deployment.version} at ${deployment.deployed_at}\n`,
        );
      });
    },
  },
  {
    name: 'archive list',
    args: '--org <org>',
    summary:
      "the org's archive files (Parquet): month, part, range, rows, size, schema version, SHA-256, storage key",
    options: { org: { type: 'string' } },
    async run({ values, output, env }) {
      const orgId = flagValue(OrgIdSchema, values.org, '--org', this);
      await withDatabase(loadConfig(env), async ({ pool }) => {
        const { rows } = await pool.query(manifestsOverlapping(orgId));
        for (const row of rows) output.out(`${manifestLine(ArchiveManifestSchema.parse(row))}\n`);
        if (rows.length === 0) output.out(`No archive files for org ${orgId}\n`);
      });
    },
  },
  {
    name: 'archive restore',
    args: '--org <org> --from <date> --to <date>',
    summary:
      'put archived events with from <= created_at < to back into the database; rows already there are kept, so running it twice adds nothing',
    options: { org: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
    async run({ values, output, env }) {
      const orgId = flagValue(OrgIdSchema, values.org, '--org', this);
      const from = flagValue(CliDateSchema, values.from, '--from', this);
      const to = flagValue(CliDateSchema, values.to, '--to', this);
      if (from >= to) throw new ConfigError('--from must be before --to');
      const config = loadConfig(env);
      const storage = await createArchiveStorage(config);
      // Loaded on use: DuckDB's engine is a native module every other command can do without.
      const { restoreEvents } = await import('../archive/restore.ts');
      const audit = new AuditTrail(await auditKey(config));
      await withDatabase(config, async ({ pool }) => {
        const result = await restoreEvents({ pool, storage }, orgId, from, to);
        await audit.record(pool, {
          orgId,
          actor: 'cli',
          action: 'archive.restore',
          details: { from: from.toISOString(), to: to.toISOString(), ...result },
        });
        output.out(
          `Restored ${result.inserted} of ${result.rows} archived events of org ${orgId} from ${result.files} file(s); ${result.rows - result.inserted} were already present\n`,
        );
      });
    },
  },
  {
    name: 'archive bigquery-schema',
    args: '',
    summary:
      'print the BigQuery table schema (JSON) of archive and Parquet export files, for bq load --schema',
    options: {},
    async run({ output }) {
      output.out(`${JSON.stringify(bigQuerySchema(), null, 2)}\n`);
    },
  },
  {
    name: 'settings get',
    args: '--org <org>',
    summary: "the org's settings (retention, archive), one key=value a line",
    options: { org: { type: 'string' } },
    async run({ values, output, env }) {
      const orgId = flagValue(OrgIdSchema, values.org, '--org', this);
      await withDatabase(loadConfig(env), async ({ pool }) => {
        const settings = await readSettings(pool, orgId);
        if (!settings) throw new ConfigError(`No org "${orgId}"`);
        printSettings(output, settings);
      });
    },
  },
  {
    name: 'settings set',
    args: '--org <org> key=value [key=value…]',
    summary: "change some of the org's settings (audited); prints them all after the change",
    options: { org: { type: 'string' } },
    positionals: Number.POSITIVE_INFINITY,
    async run({ values, positionals, output, env }) {
      const orgId = flagValue(OrgIdSchema, values.org, '--org', this);
      const patch = settingsPatch(positionals, this);
      const config = loadConfig(env);
      const audit = new AuditTrail(await auditKey(config));
      await withDatabase(config, async ({ pool }) => {
        let settings: Awaited<ReturnType<typeof updateSettings>>;
        try {
          settings = await updateSettings(pool, audit, orgId, patch, { actor: 'cli' });
        } catch (err) {
          if (err instanceof SettingsError) throw new ConfigError(err.message);
          throw err;
        }
        if (!settings) throw new ConfigError(`No org "${orgId}"`);
        printSettings(output, settings);
      });
    },
  },
  {
    name: 'retention run',
    args: '[--org <org>]',
    summary: 'remove what is past retention now (archived first); prints what it did per org',
    options: { org: { type: 'string' } },
    async run({ values, output, env }) {
      const orgId = values.org === undefined ? undefined : flagValue(OrgIdSchema, values.org, '--org', this);
      const config = loadConfig(env);
      await withDatabase(config, async ({ pool }) => {
        const report = await runRetention({ pool, archive: await archiveRangeFor(config, pool) }, { orgId });
        output.out(formatReport(report));
      });
    },
  },
  {
    name: 'drift run',
    args: '[--org <org>]',
    summary: "compute today's drift (PSI, last 24 h against the 7 days before) of every model with calls now",
    options: { org: { type: 'string' } },
    async run({ values, output, env }) {
      const orgId = values.org === undefined ? undefined : flagValue(OrgIdSchema, values.org, '--org', this);
      const config = loadConfig(env);
      await withDatabase(config, async ({ pool }) => {
        if (orgId !== undefined) {
          const { rowCount } = await pool.query('SELECT 1 FROM orgs WHERE id = $1', [orgId]);
          if (!rowCount) throw new ConfigError(`No org "${orgId}"`);
        }
        const started = performance.now();
        const runner = new DriftRunner({ pool, logger: createLogger(config.LOG_LEVEL) });
        const report = await runner.run({ orgId, force: true });
        if (!report.ran) {
          throw new ConfigError(
            'Another process is computing drift right now; run this again when it is done',
          );
        }
        for (const { orgId: org, model, features } of report.computed) {
          const figures = features.map(
            (f) => `${f.feature} ${f.psi === null ? '-' : f.psi.toFixed(3)} ${f.reading}`,
          );
          output.out(`${org}  ${model}  ${figures.join(', ')}\n`);
        }
        for (const f of report.failed) output.out(`${f.orgId}  ${f.model}  failed: ${f.error}\n`);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        output.out(
          `Computed drift of ${report.computed.length} model(s) in ${seconds} s${report.failed.length ? `; ${report.failed.length} failed` : ''}\n`,
        );
      });
    },
  },
  {
    name: 'audit verify',
    args: '[--org <org>]',
    summary:
      "check the audit chains (or one org's); names the first row edited, deleted, inserted or reordered",
    options: { org: { type: 'string' } },
    async run({ values, output, env }) {
      const orgId = values.org === undefined ? undefined : flagValue(OrgIdSchema, values.org, '--org', this);
      const config = loadConfig(env);
      const key = await auditKey(config);
      const reports = await withDatabase(config, ({ pool }) => verifyAudit(pool, key, orgId));
      let failed = 0;
      for (const r of reports) {
        const older = r.unchained ? ` (${r.unchained} older rows from before the chains, unprotected)` : '';
        if (r.problem) failed++;
        output.out(
          r.problem
            ? `${describe(r.chain)}: TAMPERED: ${r.problem.message}\n`
            : `${describe(r.chain)}: ${r.verified} rows intact${older}\n`,
        );
      }
      if (failed) throw new ConfigError(`audit verify: ${failed} of ${reports.length} chains failed`);
    },
  },
];

function usage(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: observatory <command> [options]    (observatory <command> --help for one command)

${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

  --version     print the version
  help          this text

Configuration comes from the environment (DATABASE_URL, OBSERVATORY_DATA_DIR, PORT, …); the README's
configuration table lists every variable with its default.`;
}

function commandHelp(command: Command): string {
  return `Usage: observatory ${command.name}${command.args ? ` ${command.args}` : ''}\n\n  ${command.summary}\n`;
}

function version(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** The command the arguments name (the longest match), and the arguments after its name. */
function resolve(argv: string[]): { command: Command; rest: string[] } {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command) return { command, rest: argv.slice(words) };
  }
  const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
  if (group.length > 0) {
    throw new ConfigError(
      `Unknown ${argv[0]} command "${argv[1] ?? ''}"; one of: ${group.map((c) => c.name).join(', ')}`,
    );
  }
  throw new ConfigError(`Unknown command "${argv[0]}"; observatory --help lists the commands`);
}

/** Runs one CLI invocation and returns its exit code; errors are one line on stderr. */
export async function main(
  argv: string[],
  output: CliOutput = processOutput,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  try {
    const [first] = argv;
    if (first === undefined) {
      output.err(`${usage()}\n`);
      return 1;
    }
    if (first === '--help' || first === '-h' || (first === 'help' && argv.length === 1)) {
      output.out(`${usage()}\n`);
      return 0;
    }
    if (first === '--version' || first === '-v') {
      output.out(`${version()}\n`);
      return 0;
    }
    const wantsHelp = first === 'help';
    const { command, rest } = resolve(wantsHelp ? argv.slice(1) : argv);
    if (wantsHelp || rest.includes('--help') || rest.includes('-h')) {
      output.out(commandHelp(command));
      return 0;
    }
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    } catch (err) {
      throw new ConfigError(`${(err as Error).message}; usage: observatory ${command.name} ${command.args}`);
    }
    if (parsed.positionals.length > (command.positionals ?? 0)) {
      throw new ConfigError(
        `Unexpected argument "${parsed.positionals[command.positionals ?? 0]}"; usage: observatory ${command.name} ${command.args}`,
      );
    }
    await command.run({ values: parsed.values, positionals: parsed.positionals, output, env });
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    output.err(`observatory: ${message.split('\n')[0]}\n`);
    if (!(err instanceof ConfigError) && env.OBSERVATORY_DEBUG) output.err(`${(err as Error).stack}\n`);
    return 1;
  }
}
