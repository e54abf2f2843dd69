import { createRequire, syncBuiltinESMExports } from 'node:module';
import { context, diag, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { HttpInstrumentation, type HttpInstrumentationConfig } from '@opentelemetry/instrumentation-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  type BufferConfig,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { refreshTracer } from './trace-inference.ts';

export interface OtlpOptions {
  /** Full traces URL; default from `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url?: string;
  /** Default from `OTEL_EXPORTER_OTLP_HEADERS`, e.g. `Authorization=Bearer <ingest key>`. */
  headers?: Record<string, string>;
  /** Default from `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`, else protobuf. */
  protocol?: 'http/protobuf' | 'http/json';
}

export interface TelemetryOptions {
  /** `service.name` when `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) does not set one. */
  serviceName?: string;
  /** Send spans over OTLP/HTTP (default `true`, configured by the standard `OTEL_EXPORTER_OTLP_*` variables). */
  otlp?: boolean | OtlpOptions;
  /** More exporters, each behind its own batch processor: e.g. the in-process `PostgresSpanExporter`. */
  spanExporters?: SpanExporter[];
  /** Span processors used as they are. */
  spanProcessors?: SpanProcessor[];
  /** Batch processor limits; by default `OTEL_BSP_*`, else the SDK's (queue of 2048 spans, then spans drop). */
  batch?: BufferConfig;
  /** Trace incoming and outgoing node:http requests and propagate W3C trace context (default `true`). */
  http?: boolean | HttpInstrumentationConfig;
  /** How long `shutdown()` waits for the last spans to export before giving up on them (default 5000 ms). */
  shutdownTimeoutMs?: number;
}

export interface Telemetry {
  /** Exports every span ended so far. Never rejects. */
  forceFlush(): Promise<void>;
  /** Flushes (waiting at most `shutdownTimeoutMs`), stops exporting and unregisters the SDK. Never rejects. */
  shutdown(): Promise<void>;
}

const DISABLED: Telemetry = { forceFlush: async () => undefined, shutdown: async () => undefined };

function protocolFromEnv(): OtlpOptions['protocol'] {
  const value = (
    process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL
  )?.trim();
  if (value === 'http/json') return 'http/json';
  if (value && value !== 'http/protobuf')
    diag.warn(`OTLP protocol "${value}" is not supported; using http/protobuf`);
  return 'http/protobuf';
}

function otlpExporter(options: OtlpOptions): SpanExporter {
  const config = { url: options.url, headers: options.headers };
  return (options.protocol ?? protocolFromEnv()) === 'http/json'
    ? new OTLPJsonTraceExporter(config)
    : new OTLPProtoTraceExporter(config);
}

/**
 * The ESM namespace of a builtin is a copy taken at first import: patch the CommonJS module, then copy
 * the patched functions into the namespace, so `import { createServer } from 'node:http'` is traced too.
 */
function patchBuiltinHttp(): void {
  const require = createRequire(import.meta.url);
  require('node:http');
  require('node:https');
  syncBuiltinESMExports();
}

/**
 * Starts the OpenTelemetry Node SDK for an inference service: OTLP/HTTP export (batched off the request
 * path, bounded queue, failures only logged through `diag`), http instrumentation, W3C trace context,
 * resource from `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`. Call it before the server is created.
 * `OTEL_SDK_DISABLED=true` turns it into a no-op; model calls are then untraced but still run.
 */
export function startTelemetry(options: TelemetryOptions = {}): Telemetry {
  if (/^true$/i.test(process.env.OTEL_SDK_DISABLED?.trim() ?? '')) return DISABLED;
  const { otlp = true, http = true } = options;
  const exporters = [...(options.spanExporters ?? [])];
  if (otlp) exporters.unshift(otlpExporter(otlp === true ? {} : otlp));
  const spanProcessors = [
    ...exporters.map((exporter) => new BatchSpanProcessor(exporter, options.batch)),
    ...(options.spanProcessors ?? []),
  ];
  const httpInstrumentation = http ? new HttpInstrumentation(http === true ? {} : http) : undefined;
  const hasServiceName =
    process.env.OTEL_SERVICE_NAME ||
    /(^|,)\s*service\.name=/.test(process.env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    serviceName: hasServiceName ? undefined : options.serviceName,
    spanProcessors,
    instrumentations: httpInstrumentation ? [httpInstrumentation] : [],
    // Observatory receives traces only; the SDK would otherwise also push OTLP metrics and logs.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  if (httpInstrumentation) patchBuiltinHttp();
  refreshTracer();

  let stopped: Promise<void> | undefined;
  return {
    async forceFlush() {
      await Promise.all(spanProcessors.map((p) => p.forceFlush().catch(() => undefined)));
    },
    shutdown() {
      stopped ??= (async () => {
        // An unreachable collector would otherwise hold the process for the exporter's full timeout.
        let timer: NodeJS.Timeout | undefined;
        const timeUp = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.shutdownTimeoutMs ?? 5000).unref();
        });
        await Promise.race([
          sdk.shutdown().catch((err: unknown) => diag.error('telemetry shutdown failed', err)),
          timeUp,
        ]);
        clearTimeout(timer);
        if (httpInstrumentation) {
          httpInstrumentation.disable();
          syncBuiltinESMExports();
        }
        trace.disable();
        context.disable();
        propagation.disable();
        refreshTracer();
      })();
      return stopped;
    },
  };
}
