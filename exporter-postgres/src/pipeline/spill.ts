import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AiEvent } from '../event.ts';
import { dateReviver, EVENT_DATE_FIELDS } from './row-json.ts';

/**
 * An append-only file of event batches (one JSON array per line, fsync'd) that holds what PostgreSQL could not
 * take. Appends go to this process's active file; replay first renames it aside, so appends during a replay never
 * mix with the lines being replayed. Files left by a crashed process are replayed too.
 */
export class SpillFile<T = AiEvent> {
  private active = '';
  private sequence = 0;
  // Appends and the hand-over of the active file to a replay never interleave.
  private lock: Promise<unknown> = Promise.resolve();

  private readonly revive: (key: string, value: unknown) => unknown;

  constructor(
    private readonly dir: string,
    dateFields: readonly string[] = EVENT_DATE_FIELDS,
  ) {
    this.revive = dateReviver(dateFields);
    this.rotate();
  }

  private rotate(): void {
    const name = `spill-${Date.now()}-${process.pid}-${String(this.sequence++).padStart(6, '0')}.jsonl`;
    this.active = join(this.dir, name);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Durable once this resolves. */
  append(events: readonly T[]): Promise<void> {
    return this.exclusive(async () => {
      await mkdir(this.dir, { recursive: true });
      const handle = await open(this.active, 'a');
      try {
        await handle.appendFile(`${JSON.stringify(events)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
  }

  async pendingBytes(): Promise<number> {
    let total = 0;
    for (const file of await this.files())
      total += (await stat(join(this.dir, file)).catch(() => ({ size: 0 }))).size;
    return total;
  }

  private async files(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[]))
      .filter((f) => /^spill-.*\.jsonl(\.replaying)?$/.test(f))
      .sort();
  }

  /**
   * Hands every spilled batch, oldest file first, to `write`; a file is deleted once all its batches are written.
   * Stops at the first batch `write` could not store (returns false), keeping that file for the next replay.
   */
  async replay(write: (events: T[]) => Promise<boolean>): Promise<boolean> {
    for (const file of await this.files()) {
      let path = join(this.dir, file);
      if (!file.endsWith('.replaying')) {
        const from = path;
        path = `${from}.replaying`;
        await this.exclusive(async () => {
          await rename(from, path);
          if (from === this.active) this.rotate();
        });
      }
      const lines = (await readFile(path, 'utf8')).split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        if (!line) continue;
        let events: T[];
        try {
          events = JSON.parse(line, this.revive) as T[];
        } catch {
          // A line torn by a crash mid-append holds nothing that was acknowledged as durable.
          continue;
        }
        if (!(await write(events))) {
          // Keep only what is left, so a later replay does not redo what is already written.
          const rest = `${path}.rest`;
          await writeFile(
            rest,
            lines
              .slice(i)
              .filter(Boolean)
              .map((l) => `${l}\n`)
              .join(''),
          );
          await rename(rest, path);
          return false;
        }
      }
      await rm(path);
    }
    return true;
  }
}
