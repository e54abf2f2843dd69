import { randomBytes } from 'node:crypto';
import { ExportTraceServiceRequest } from '../../exporter-postgres/src/otlp/trace-proto.ts';

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'];

export interface OtlpRequest {
  body: Uint8Array;
  spanIds: string[];
}

/**
 * One OTLP/protobuf export request of `count` model-call spans started now, with fresh random ids (so every span
 * is one row), one in twenty failed; with `extraModel`, one more span of that model.
 */
export function otlpRequest(count: number, extraModel?: string): OtlpRequest {
  const now = BigInt(Date.now()) * 1_000_000n;
  const traceId = randomBytes(16);
  const models = Array.from({ length: count }, (_, i) => MODELS[i % MODELS.length]!);
  if (extraModel) models.push(extraModel);
  const spanIds: string[] = [];
  const spans = models.map((model) => {
    const spanId = randomBytes(8);
    spanIds.push(spanId.toString('hex'));
    const failed = Math.random() < 0.05;
    return {
      traceId,
      spanId,
      name: `chat ${model}`,
      kind: 3,
      startTimeUnixNano: (now - 300_000_000n).toString(),
      endTimeUnixNano: now.toString(),
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.provider.name', value: { stringValue: 'openai' } },
        { key: 'gen_ai.request.model', value: { stringValue: model } },
        { key: 'gen_ai.usage.input_tokens', value: { intValue: 200 + Math.floor(Math.random() * 800) } },
        { key: 'gen_ai.usage.output_tokens', value: { intValue: 20 + Math.floor(Math.random() * 200) } },
        ...(failed ? [{ key: 'error.type', value: { stringValue: 'timeout' } }] : []),
      ],
      status: failed ? { code: 2, message: 'upstream timed out' } : { code: 0 },
    };
  });
  const body = ExportTraceServiceRequest.encode(
    ExportTraceServiceRequest.fromObject({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'soak' } }] },
          scopeSpans: [{ scope: { name: 'soak' }, spans }],
        },
      ],
    }),
  ).finish();
  return { body, spanIds };
}
