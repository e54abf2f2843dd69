import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ALERTS_DIR = fileURLToPath(new URL('.', import.meta.url));

async function available(binary: string): Promise<boolean> {
  try {
    await run(binary, ['--version']);
    return true;
  } catch {
    return false;
  }
}

async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(`${ALERTS_DIR}${dir}`)).filter((f) => f.endsWith('.yml')).map((f) => `${dir}${f}`);
}

const ruleFiles = (await filesIn('')).filter((f) => f !== 'alertmanager.yml');
const testFiles = await filesIn('tests/');
const hasPromtool = await available('promtool');
const hasAmtool = await available('amtool');
const inCi = process.env.CI === 'true';

for (const [tool, present] of [
  ['promtool', hasPromtool],
  ['amtool', hasAmtool],
] as const) {
  if (!present && !inCi) {
    console.warn(
      `alerts: ${tool} is not installed, so its checks are SKIPPED (apt-get install prometheus prometheus-alertmanager)`,
    );
  }
}

describe('Prometheus rules and Alertmanager config', () => {
  it('has rule files and unit tests to check', () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    expect(testFiles.length).toBeGreaterThan(0);
  });

  it.skipIf(!hasPromtool && !inCi)('pass promtool check rules', async () => {
    expect(hasPromtool, 'promtool is required in CI').toBe(true);
    const { stdout } = await run('promtool', ['check', 'rules', ...ruleFiles], { cwd: ALERTS_DIR });
    expect(stdout).toContain('SUCCESS');
  });

  it.skipIf(!hasPromtool && !inCi)('pass the promtool unit tests', async () => {
    expect(hasPromtool, 'promtool is required in CI').toBe(true);
    const result = await run('promtool', ['test', 'rules', ...testFiles], { cwd: ALERTS_DIR }).catch(
      (err: { stdout?: string; stderr?: string }) => ({
        stdout: `${err.stdout}\n${err.stderr}`,
        failed: true,
      }),
    );
    expect(result.stdout).not.toContain('FAILED');
    expect('failed' in result, result.stdout).toBe(false);
  });

  it.skipIf(!hasAmtool && !inCi)('alertmanager.yml passes amtool check-config', async () => {
    expect(hasAmtool, 'amtool is required in CI').toBe(true);
    const { stdout } = await run('amtool', ['check-config', 'alertmanager.yml'], { cwd: ALERTS_DIR });
    expect(stdout).toContain('SUCCESS');
  });
});
