import { randomBytes } from 'node:crypto';
import { ExportTraceServiceRequest } from '../src/otlp/trace-proto.ts';

const Span = ExportTraceServiceRequest.root.lookupType('otlp.Span');

function varint(n: number): number[] {
  const out: number[] = [];
  let rest = n;
  while (rest > 127) {
    out.push((rest & 127) | 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/**
 * An OTLP/protobuf request of `count` model-call spans (`chat gpt-4o`, tagged with `requestId`) of about
 * `bytesPerSpan` bytes each, built by patching the ids into one encoded span: encoding a hundred thousand spans
 * one by one would take the test longer than the service takes to refuse or store them.
 */
export function bulkOtlpProtobuf(count: number, requestId: string, bytesPerSpan = 270): Buffer {
  const start = BigInt(Date.now() - 60_000) * 1_000_000n;
  const attribute = (key: string, value: object) => ({ key, value });
  const template = (padding: string) =>
    Span.encode(
      Span.fromObject({
        traceId: Buffer.alloc(16, 1),
        spanId: Buffer.alloc(8, 1),
        name: 'chat gpt-4o',
        kind: 3,
        startTimeUnixNano: start.toString(),
        endTimeUnixNano: (start + 250_000_000n).toString(),
        attributes: [
          attribute('gen_ai.operation.name', { stringValue: 'chat' }),
          attribute('gen_ai.request.model', { stringValue: 'gpt-4o' }),
          attribute('gen_ai.usage.input_tokens', { intValue: 120 }),
          attribute('gen_ai.usage.output_tokens', { intValue: 30 }),
          attribute('observatory.request_id', { stringValue: requestId }),
          attribute('padding', { stringValue: padding }),
        ],
      }),
    ).finish();
  const bare = template('').length;
  const span = Buffer.from(template('x'.repeat(Math.max(0, bytesPerSpan - bare - 3))));
  // traceId (field 1) and spanId (field 2) lead the encoding: tag, length 16, bytes; tag, length 8, bytes.
  if (span[0] !== 0x0a || span[1] !== 16 || span[18] !== 0x12 || span[19] !== 8) {
    throw new Error('unexpected Span encoding');
  }
  const entryHead = [0x12, ...varint(span.length)];
  const scopeLength = count * (entryHead.length + span.length);
  const resourceHead = [0x12, ...varint(scopeLength)];
  const requestHead = [0x0a, ...varint(resourceHead.length + scopeLength)];
  const out = Buffer.allocUnsafe(requestHead.length + resourceHead.length + scopeLength);
  let offset = out.set(requestHead, 0) ?? requestHead.length;
  out.set(resourceHead, offset);
  offset += resourceHead.length;
  const tracePrefix = randomBytes(8);
  for (let i = 0; i < count; i++) {
    out.set(entryHead, offset);
    offset += entryHead.length;
    span.copy(out, offset);
    tracePrefix.copy(out, offset + 2);
    out.writeUInt32BE(i, offset + 14);
    out.writeUInt32BE(0, offset + 20);
    out.writeUInt32BE(i + 1, offset + 24);
    offset += span.length;
  }
  return out;
}
