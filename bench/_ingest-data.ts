/** Synthetic spans for the ingest benchmark, made on demand, and their OTLP protobuf encoding. */
import { randomBytes } from 'node:crypto';
import type { HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SpanInput } from '../exporter-postgres/src/index.ts';
import { ExportTraceServiceRequest } from '../exporter-postgres/src/otlp/trace-proto.ts';

export const RUN = randomBytes(6).toString('hex');
const MODELS = Array.from(
  { length: 30 },
  (_, i) =>
    ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4', 'gemini-2.5-flash', 'in-house'][i % 5] +
    (i < 5 ? '' : `-v${i}`),
);

function spanAt(i: number, base: bigint): SpanInput {
  const start = base + BigInt(i) * 1_000_000n;
  return {
    // Ids from the index (with a per-run prefix): making random bytes would cost more than the mapping being measured.
    traceId: `${RUN}${i.toString(16).padStart(20, '0')}`,
    spanId: i.toString(16).padStart(16, '0'),
    name: 'chat',
    kind: 3,
    startTimeUnixNano: start,
    endTimeUnixNano: start + 350_000_000n,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': MODELS[i % 30]!,
      'gen_ai.usage.input_tokens': 500 + (i % 1000),
      'gen_ai.usage.output_tokens': 50 + (i % 200),
      'observatory.org_id': `org-${i % 20}`,
      'observatory.endpoint': i % 2 ? 'analyze' : 'infer',
      'observatory.request_id': `req-${i}`,
      'user.id': `user-${i % 5000}`,
      'observatory.tags': '{"team":"search"}',
      ...(i % 17 === 0 ? { 'error.type': 'timeout' } : {}),
    },
    status: { code: i % 17 === 0 ? 2 : 0, message: i % 17 === 0 ? 'upstream timed out' : undefined },
    events: [],
    resource: { 'service.name': 'bench' },
  };
}

const BASE = BigInt(Date.now() - 3_600_000) * 1_000_000n;

/**
 * Span `i` of agent runs, four spans a run: an `invoke_agent` span stating the user and session, a model call under
 * it, an `execute_tool` span under it and a model call under the tool. The model calls state no user or session:
 * they take them from the agent, so the context walk is part of what is measured.
 */
function agentSpanAt(i: number, base: bigint): SpanInput {
  const run = i >> 2;
  const role = i & 3;
  const model = spanAt(i, base);
  const traceId = `${RUN}${run.toString(16).padStart(20, '0')}`;
  const id = (r: number) => ((run << 2) | r).toString(16).padStart(16, '0');
  const { 'user.id': _user, ...modelAttributes } = model.attributes;
  if (role === 1 || role === 3) {
    return { ...model, traceId, spanId: id(role), parentSpanId: id(role - 1), attributes: modelAttributes };
  }
  const agent = role === 0;
  return {
    ...model,
    traceId,
    spanId: id(role),
    parentSpanId: agent ? undefined : id(0),
    name: agent ? 'invoke_agent planner' : 'execute_tool search',
    kind: 1,
    attributes: agent
      ? {
          'gen_ai.operation.name': 'invoke_agent',
          'gen_ai.agent.name': 'planner',
          'observatory.org_id': `org-${run % 20}`,
          'user.id': `user-${run % 5000}`,
          'gen_ai.conversation.id': `conv-${run % 20_000}`,
        }
      : {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': 'search',
          'gen_ai.tool.call.id': `call_${run}`,
          'observatory.org_id': `org-${run % 20}`,
        },
    status: { code: 0 },
  };
}

/** `spans`, but agent runs: half the spans are agents and tools (`ai_spans` rows), half model calls. */
export function agentSpans(from: number, n: number): SpanInput[] {
  return Array.from({ length: n }, (_, i) => agentSpanAt(from + i, BASE));
}

/** Spans `from`…`from + n`, made on demand so the benchmark's own data never dominates RSS. */
export function spans(from: number, n: number): SpanInput[] {
  return Array.from({ length: n }, (_, i) => spanAt(from + i, BASE));
}

const hrTime = (nanos: bigint): HrTime => [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)];

/**
 * `spans`, as the OpenTelemetry SDK hands finished spans to an exporter: what `PostgresSpanExporter.export` takes.
 * Only what the exporter reads is made real.
 */
export function readableSpans(from: number, n: number): ReadableSpan[] {
  return spans(from, n).map(
    (span) =>
      ({
        name: span.name,
        kind: span.kind - 1,
        spanContext: () => ({ traceId: span.traceId, spanId: span.spanId, traceFlags: 1 }),
        startTime: hrTime(span.startTimeUnixNano),
        endTime: hrTime(span.endTimeUnixNano),
        attributes: span.attributes,
        status: span.status,
        events: [],
        links: [],
        resource: { attributes: span.resource },
        instrumentationScope: { name: 'bench' },
      }) as unknown as ReadableSpan,
  );
}

const kv = (attrs: SpanInput['attributes']) =>
  Object.entries(attrs).map(([key, value]) => ({
    key,
    value: typeof value === 'number' ? { intValue: value } : { stringValue: String(value) },
  }));

export function toOtlp(batch: SpanInput[]): Uint8Array {
  return ExportTraceServiceRequest.encode(
    ExportTraceServiceRequest.fromObject({
      resourceSpans: [
        {
          resource: { attributes: kv(batch[0]!.resource) },
          scopeSpans: [
            {
              scope: { name: 'bench' },
              spans: batch.map((s) => ({
                traceId: Buffer.from(s.traceId, 'hex'),
                spanId: Buffer.from(s.spanId, 'hex'),
                name: s.name,
                kind: s.kind,
                startTimeUnixNano: s.startTimeUnixNano.toString(),
                endTimeUnixNano: s.endTimeUnixNano.toString(),
                attributes: kv(s.attributes),
                status: s.status,
              })),
            },
          ],
        },
      ],
    }),
  ).finish();
}

/** The same request in OTLP/JSON: ids as hex, int64 as decimal strings. */
export function toOtlpJson(batch: SpanInput[]): string {
  const json = (attrs: SpanInput['attributes']) =>
    kv(attrs).map(({ key, value }) => ({
      key,
      value: 'intValue' in value ? { intValue: String(value.intValue) } : value,
    }));
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: json(batch[0]!.resource) },
        scopeSpans: [
          {
            scope: { name: 'bench' },
            spans: batch.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: s.startTimeUnixNano.toString(),
              endTimeUnixNano: s.endTimeUnixNano.toString(),
              attributes: json(s.attributes),
              status: s.status,
            })),
          },
        ],
      },
    ],
  });
}
