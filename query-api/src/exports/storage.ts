/** Where finished export files live. Keys look like `<org>/<job id>.csv.gz`. */
export interface ExportStorage {
  /** Directory for files being written; `put` takes them from here. */
  readonly tempDir: string;
  /** Moves a finished temporary file into place under `key`, replacing any earlier file atomically. */
  put(key: string, tempFile: string): Promise<void>;
  /** Opens a stored file for download; undefined when it is gone. */
  open(key: string): Promise<NodeJS.ReadableStream | undefined>;
  remove(key: string): Promise<void>;
  /** A URL the client can fetch directly (presigned), when the storage offers one. */
  presignedUrl?(key: string, fileName: string, expiresInSeconds: number): Promise<string>;
}
