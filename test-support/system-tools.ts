import { execFileSync } from 'node:child_process';

/** CI installs every system package the tests drive (.ci/run), so there a missing one is a failure, not a skip. */
export const IN_CI = process.env.CI === 'true';

/** Whether `binary --version` runs. */
export function onPath(binary: string): boolean {
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the tests that need a system tool should run: yes when it is installed; outside CI, no, saying so once;
 * in CI, it throws with the package to install, so the suite fails with a clear message instead of skipping.
 */
export function requireTool(what: string, present: boolean, debianPackages: string): boolean {
  if (present) return true;
  const message = `${what} is not installed (apt-get install ${debianPackages})`;
  if (IN_CI) throw new Error(`${message}; CI must run these tests`);
  console.warn(`${message}: its tests are SKIPPED`);
  return false;
}
