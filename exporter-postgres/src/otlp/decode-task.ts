import { decodeOtlpJson } from './decode.ts';
import { decodeOtlpProtobuf } from './decode-protobuf.ts';
import type { DecodedSpans } from './decoded.ts';
import { parseJsonBody } from './json-body.ts';

/**
 * What a body is decoded as: an OTLP trace or logs request in either encoding, or plain JSON (the event ingest
 * route).
 */
export type DecodeTask =
  | { kind: 'otlp'; format: 'protobuf' | 'json'; maxSpans?: number | undefined }
  | { kind: 'logs'; format: 'protobuf' | 'json'; maxRecords?: number | undefined }
  | { kind: 'json' };

/** A JSON body as a list: the items of a top-level array, or the one value that is not an array. */
export interface JsonItems {
  items: unknown[];
  array: boolean;
}

export function decodeOtlpBody(
  body: Uint8Array,
  format: 'protobuf' | 'json',
  maxSpans = Number.POSITIVE_INFINITY,
): DecodedSpans {
  return format === 'protobuf' ? decodeOtlpProtobuf(body, maxSpans) : decodeOtlpJson(body, maxSpans);
}

export function jsonItems(body: Uint8Array): JsonItems {
  const value = parseJsonBody(body);
  return Array.isArray(value) ? { items: value, array: true } : { items: [value], array: false };
}
