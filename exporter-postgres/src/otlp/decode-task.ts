import { MAPPED_ATTRIBUTES } from '../mapping/mapped-attributes.ts';
import { decodeOtlpJson } from './decode.ts';
import { decodeOtlpProtobuf } from './decode-spans.ts';
import type { DecodedSpans } from './decoded.ts';
import { parseJsonBody } from './json-body.ts';

/**
 * What a body is decoded as: an OTLP trace or logs request in either encoding, or plain JSON (the event ingest
 * route).
 */
export type DecodeTask =
  | {
      kind: 'otlp';
      format: 'protobuf' | 'json';
      maxSpans?: number | undefined;
      attributes?: SpanAttributes | undefined;
    }
  | { kind: 'logs'; format: 'protobuf' | 'json'; maxRecords?: number | undefined }
  | { kind: 'json' };

/**
 * Which span attributes a protobuf body is decoded with: those the mapping reads (the receiver: everything else,
 * prompts and completions included, is stepped over unread), or all.
 */
export type SpanAttributes = 'mapped' | 'all';

/** A JSON body as a list: the items of a top-level array, or the one value that is not an array. */
export interface JsonItems {
  items: unknown[];
  array: boolean;
}

export function decodeOtlpBody(
  body: Uint8Array,
  format: 'protobuf' | 'json',
  maxSpans = Number.POSITIVE_INFINITY,
  attributes: SpanAttributes = 'all',
): DecodedSpans {
  return format === 'protobuf'
    ? decodeOtlpProtobuf(body, maxSpans, attributes === 'mapped' ? MAPPED_ATTRIBUTES : 'all')
    : decodeOtlpJson(body, maxSpans);
}

export function jsonItems(body: Uint8Array): JsonItems {
  const value = parseJsonBody(body);
  return Array.isArray(value) ? { items: value, array: true } : { items: [value], array: false };
}
