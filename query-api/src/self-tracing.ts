import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface SelfTracing {
  /** Where spans go, for the start-up log line. */
  endpoint: string;
  shutdown(): Promise<void>;
}

/**
 * Observatory's own traces (a server span per request), exported over OTLP/HTTP protobuf to a Collector or Jaeger,
 * only when the standard OTEL_* variables name an endpoint. There is no default endpoint: the default port would be
 * Observatory's own, and it must never export into itself unless told to. The exporter reads the rest of OTEL_*
 * (headers, timeout, compression) from the environment itself.
 */
export function startSelfTracing(env: NodeJS.ProcessEnv = process.env): SelfTracing | undefined {
  // As the OTLP exporter specification says: the signal's own endpoint as it is, the generic one plus /v1/traces.
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (base && `${base}/v1/traces`);
  if (!endpoint || env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return undefined;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'observatory' }),
    // The URL is passed on, never left to the exporter: its own default is localhost:4318, Observatory itself.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
  });
  trace.setGlobalTracerProvider(provider);
  return {
    endpoint,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
    },
  };
}
