import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ExportStorage } from './storage.ts';

export interface S3StorageOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key, e.g. "exports/". */
  prefix?: string;
  serverSideEncryption?: ServerSideEncryption;
  /** Local directory for files being written before upload. */
  tempDir: string;
}

/**
 * Files in an S3-compatible bucket, uploaded whole once written, so a reader never sees a partial object.
 * Server-side encryption is requested on every upload; downloads use presigned GET URLs.
 */
export class S3Storage implements ExportStorage {
  readonly tempDir: string;
  readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly options: S3StorageOptions) {
    this.tempDir = options.tempDir;
    this.client = options.client;
    this.prefix = options.prefix ?? '';
  }

  async init(): Promise<this> {
    await mkdir(this.tempDir, { recursive: true, mode: 0o700 });
    return this;
  }

  async put(key: string, tempFile: string): Promise<void> {
    const { client, bucket, serverSideEncryption = 'AES256' } = this.options;
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: this.prefix + key,
          Body: createReadStream(tempFile),
          ContentLength: (await stat(tempFile)).size,
          ServerSideEncryption: serverSideEncryption,
        }),
      );
    } finally {
      await rm(tempFile, { force: true });
    }
  }

  async open(key: string): Promise<NodeJS.ReadableStream | undefined> {
    try {
      const { Body } = await this.options.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key }),
      );
      return Body as NodeJS.ReadableStream | undefined;
    } catch (err) {
      if (err instanceof NoSuchKey) return undefined;
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    await this.options.client.send(
      new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key }),
    );
  }

  presignedUrl(key: string, fileName: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(
      this.options.client,
      new GetObjectCommand({
        Bucket: this.options.bucket,
        Key: this.prefix + key,
        ResponseContentDisposition: `attachment; filename="${fileName}"`,
      }),
      { expiresIn: expiresInSeconds },
    );
  }
}
