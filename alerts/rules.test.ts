import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
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
});
