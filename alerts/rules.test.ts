import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { onPath, requireTool } from '../test-support/system-tools.ts';

const run = promisify(execFile);
const ALERTS_DIR = fileURLToPath(new URL('.', import.meta.url));

async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(`${ALERTS_DIR}${dir}`)).filter((f) => f.endsWith('.yml')).map((f) => `${dir}${f}`);
}

const ruleFiles = (await filesIn('')).filter((f) => f !== 'alertmanager.yml');
const testFiles = await filesIn('tests/');
const hasPromtool = requireTool('promtool', onPath('promtool'), 'prometheus');
const hasAmtool = requireTool('amtool', onPath('amtool'), 'prometheus-alertmanager');

describe('Prometheus rules and Alertmanager config', () => {
  it('has rule files and unit tests to check', () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    expect(testFiles.length).toBeGreaterThan(0);
  });

  it.runIf(hasPromtool)('pass promtool check rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', ...ruleFiles], { cwd: ALERTS_DIR });
    expect(stdout).toContain('SUCCESS');
  });

  it.runIf(hasPromtool)('pass the promtool unit tests', async () => {
    const result = await run('promtool', ['test', 'rules', ...testFiles], { cwd: ALERTS_DIR }).catch(
      (err: { stdout?: string; stderr?: string }) => ({
        stdout: `${err.stdout}\n${err.stderr}`,
        failed: true,
      }),
    );
    expect(result.stdout).not.toContain('FAILED');
    expect('failed' in result, result.stdout).toBe(false);
  });

  it.runIf(hasAmtool)('alertmanager.yml passes amtool check-config', async () => {
    const { stdout } = await run('amtool', ['check-config', 'alertmanager.yml'], { cwd: ALERTS_DIR });
    expect(stdout).toContain('SUCCESS');
  });

  it('every alert waits (for:) and links its runbook section; inhibit rules compare labels their alerts carry', async () => {
    interface Rule {
      record?: string;
      alert?: string;
      expr: string;
      for?: string;
      annotations?: Record<string, string>;
    }
    const rules = (
      parse(await readFile(`${ALERTS_DIR}observatory-rules.yml`, 'utf8')) as { groups: { rules: Rule[] }[] }
    ).groups.flatMap((g) => g.rules);
    const readme = await readFile(`${ALERTS_DIR}README.md`, 'utf8');
    const alerts = rules.filter((r) => r.alert);
    for (const alert of alerts) {
      expect(alert.for, alert.alert).toMatch(/^\d+[smh]$/);
      const anchor = alert.alert!.toLowerCase();
      expect(alert.annotations?.runbook_url, alert.alert).toMatch(
        new RegExp(`alerts/README\\.md#${anchor}$`),
      );
      expect(readme, alert.alert).toContain(`### ${alert.alert}\n`);
    }
    for (const rule of rules.filter((r) => r.record)) {
      expect(rule.record).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
    }
    // The labels an alert keeps: those of its `by (…)` clauses, or of the recording rule it reads.
    const labelsOf = (expr: string): Set<string> => {
      const recorded = rules.find((r) => r.record && expr.includes(r.record));
      const text = recorded ? recorded.expr : expr;
      return new Set(
        [...text.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
      );
    };
    const config = parse(await readFile(`${ALERTS_DIR}alertmanager.yml`, 'utf8')) as {
      inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal?: string[] }[];
    };
    for (const inhibit of config.inhibit_rules) {
      const matching = (matchers: string[]) =>
        alerts.filter((a) =>
          matchers.every((m) => {
            const [, op, value] = /^alertname(=~|=)"(.*)"$/.exec(m)!;
            return op === '=' ? a.alert === value : new RegExp(`^(?:${value})$`).test(a.alert!);
          }),
        );
      const sources = matching(inhibit.source_matchers);
      const targets = matching(inhibit.target_matchers);
      expect(sources.length, JSON.stringify(inhibit)).toBeGreaterThan(0);
      expect(targets.length, JSON.stringify(inhibit)).toBeGreaterThan(0);
      for (const alert of [...sources, ...targets]) {
        for (const label of inhibit.equal ?? []) expect(labelsOf(alert.expr), alert.alert).toContain(label);
      }
    }
  });
});
