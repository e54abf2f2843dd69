import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, loadConfig } from '../../query-api/src/config.ts';
import { readRepoFile, repoPath } from '../stack/stack-files.ts';

/** The rows of README.md's configuration table: variable → default cell. */
function readmeConfigTable(): Map<string, string> {
  const readme = readRepoFile('README.md');
  const section = readme.slice(
    readme.indexOf('## Configuration'),
    readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1),
  );
  return new Map(
    [...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)`\s*\| ([^|]*?)\s*\|/gm)].map((m) => [m[1]!, m[2]!] as const),
  );
}

/** Environment variables the server-side sources read outside config.ts (`process.env.X`, `env.X`). */
function variablesReadInSources(): string[] {
  const found = new Set<string>();
  for (const dir of ['query-api/src', 'exporter-postgres/src']) {
    for (const file of readdirSync(repoPath(dir), { recursive: true }) as string[]) {
      if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
      const text = readFileSync(join(repoPath(dir), file), 'utf8');
      for (const m of text.matchAll(/\b(?:process\.)?env\.([A-Z][A-Z0-9_]+)/g)) found.add(m[1]!);
    }
  }
  return [...found];
}

describe("README.md's configuration table", () => {
  const table = readmeConfigTable();

  it('lists every variable the service reads', () => {
    expect(table.size).toBeGreaterThan(20);
    for (const name of [...Object.keys(ConfigSchema.shape), ...variablesReadInSources()]) {
      expect([...table.keys()], name).toContain(name);
    }
  });

  it('gives each default the code has', () => {
    const defaults = loadConfig({});
    for (const [name, value] of Object.entries(defaults)) {
      // The value first, in code; words may follow (`268435456` (256 MiB)).
      expect(table.get(name)?.startsWith(`\`${String(value)}\``), `${name}: ${table.get(name)}`).toBe(true);
    }
    // Variables without a schema default say in words what happens, or name what the default derives from.
    for (const name of Object.keys(ConfigSchema.shape).filter((n) => !(n in defaults))) {
      expect(table.get(name), name).toMatch(/^\(|<[A-Z_]+>/);
    }
  });
});
