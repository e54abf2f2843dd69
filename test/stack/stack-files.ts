import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type CollectionTag, parseDocument, YAMLSeq } from 'yaml';
import { requireTool } from '../../test-support/system-tools.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const repoPath = (...parts: string[]) => join(repoRoot, ...parts);

export const readRepoFile = (path: string) => readFileSync(repoPath(path), 'utf8');

export const existsInRepo = (path: string) => existsSync(repoPath(path));

/** Compose's `!reset []` (override files) clears a list; for reading the file it is an ordinary list. */
const composeReset: CollectionTag = {
  tag: '!reset',
  collection: 'seq',
  nodeClass: YAMLSeq,
  default: false,
  resolve: (seq) => seq,
};

/** Parses a YAML file of the repository, failing on any error or warning (an unknown tag, a duplicate key). */
export function loadYaml<T = Record<string, unknown>>(path: string): T {
  const doc = parseDocument(readRepoFile(path), {
    customTags: [composeReset],
    uniqueKeys: true,
    merge: true,
  });
  const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
  if (problems.length > 0) throw new Error(`${path}: ${problems.join('; ')}`);
  return doc.toJS() as T;
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string } | string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
  secrets?: { source: string; target: string }[];
  deploy?: { replicas?: number };
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { environment?: string; file?: string }>;
  'x-observatory-env'?: Record<string, string>;
}

export const composeFile = 'docker-compose.yml';
export const scaleOutComposeFile = 'collector-config/scale-out/compose.yaml';

/** Replaces Compose `${VAR}` / `${VAR:-default}` references with the values given (default when missing). */
export function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
    const value = vars[name] ?? fallback;
    if (value === undefined) throw new Error(`no value for \${${name}}`);
    return value;
  });
}

/** Every `${VAR}` a Compose file interpolates (`$${…}` is an escaped literal and not counted). */
export function composeVariables(text: string): string[] {
  return [...text.matchAll(/(?<!\$)\$\{([A-Z0-9_]+)(?::?-[^}]*)?\}/g)].map((m) => m[1]!);
}

/** Every `${env:VAR}` a collector configuration reads. */
export function collectorEnvVariables(text: string): string[] {
  return [...text.matchAll(/\$\{env:([A-Za-z0-9_]+)(?::-[^}]*)?\}/g)].map((m) => m[1]!);
}

/** Splits a short-syntax Compose volume `source:target[:mode]`. */
export function splitVolume(spec: string): { source: string; target: string } {
  const [source, target] = spec.split(':');
  return { source: source!, target: target! };
}

const run = promisify(execFile);

/** Path of promtool, or undefined when it is not installed. */
export function findPromtool(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, 'promtool');
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Runs promtool; resolves with its output whether it succeeded or not. */
export async function promtool(args: string[]): Promise<{ ok: boolean; output: string }> {
  const bin = findPromtool();
  if (!bin) throw new Error('promtool is not installed');
  try {
    const { stdout, stderr } = await run(bin, args);
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

/** Whether promtool checks run: always in CI (a missing promtool fails there), elsewhere only when installed. */
export function promtoolAvailable(): boolean {
  return requireTool('promtool', findPromtool() !== undefined, 'prometheus');
}
