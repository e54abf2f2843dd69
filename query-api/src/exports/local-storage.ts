import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { ExportStorage } from './storage.ts';

/**
 * Files in a local directory. The temporary directory sits inside it, on the same file system, so that
 * `put` is a rename: readers see the old file or the whole new one, never a part.
 */
export class LocalStorage implements ExportStorage {
  readonly root: string;
  readonly tempDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.tempDir = join(this.root, '.tmp');
  }

  async init(): Promise<this> {
    await mkdir(this.tempDir, { recursive: true, mode: 0o700 });
    return this;
  }

  private path(key: string): string {
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep))
      throw new Error(`Storage key escapes the export directory: ${key}`);
    return path;
  }

  async put(key: string, tempFile: string): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await rename(tempFile, target);
  }

  async open(key: string): Promise<NodeJS.ReadableStream | undefined> {
    const path = this.path(key);
    try {
      await stat(path);
    } catch {
      return undefined;
    }
    return createReadStream(path);
  }

  async remove(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
