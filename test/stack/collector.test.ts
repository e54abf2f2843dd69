import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type ComposeFile,
  collectorEnvVariables,
  composeFile,
  composeVariables,
  loadYaml,
  readRepoFile,
  scaleOutComposeFile,
} from './stack-files.ts';

/**
 * Component type names of the otelcol-contrib distribution, version 0.136.0, the image the compose file
 * pins. Taken from open-telemetry/opentelemetry-collector-releases,
 * distributions/otelcol-contrib/manifest.yaml (each gomod module's component type, e.g.
 * memorylimiterprocessor → memory_limiter, healthcheckextension → health_check); a subset of the
 * distribution, the components a deployment of Observatory plausibly uses.
 */
const contribComponents = {
  receivers: [
    'otlp',
    'nop',
    'filelog',
    'hostmetrics',
    'prometheus',
    'jaeger',
    'zipkin',
    'kafka',
    'k8s_cluster',
    'docker_stats',
  ],
  processors: [
    'batch',
    'memory_limiter',
    'attributes',
    'cumulativetodelta',
    'deltatocumulative',
    'filter',
    'groupbyattrs',
    'groupbytrace',
    'k8sattributes',
    'metricstransform',
    'probabilistic_sampler',
    'redaction',
    'resource',
    'resourcedetection',
    'span',
    'tail_sampling',
    'transform',
  ],
  exporters: [
    'debug',
    'nop',
    'otlp',
    'otlphttp',
    'loadbalancing',
    'file',
    'kafka',
    'prometheus',
    'prometheusremotewrite',
    'zipkin',
    'clickhouse',
    'elasticsearch',
  ],
  extensions: [
    'health_check',
    'pprof',
    'zpages',
    'basicauth',
    'bearertokenauth',
    'headers_setter',
    'oauth2client',
    'oidc',
    'file_storage',
  ],
  connectors: ['forward', 'routing', 'spanmetrics', 'count'],
} as const;

type Section = keyof typeof contribComponents;
const sections = Object.keys(contribComponents) as Section[];

interface CollectorConfig {
  receivers?: Record<string, Record<string, unknown> | null>;
  processors?: Record<string, Record<string, unknown> | null>;
  exporters?: Record<string, Record<string, unknown> | null>;
  extensions?: Record<string, Record<string, unknown> | null>;
  connectors?: Record<string, Record<string, unknown> | null>;
  service: {
    extensions?: string[];
    telemetry?: {
      metrics?: { readers?: { pull?: { exporter?: { prometheus?: { host: string; port: number } } } }[] };
    };
    pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
  };
}

/** `otlphttp/observatory` is an `otlphttp` component named `observatory`. */
const componentType = (id: string) => id.split('/')[0]!;

const configs = {
  single: 'collector-config/otelcol.yaml',
  gateway: 'collector-config/scale-out/tier1-gateway.yaml',
} as const;

const compose = loadYaml<ComposeFile>(composeFile);
const scaleOut = loadYaml<ComposeFile>(scaleOutComposeFile);

/** The collector configuration as the compose service runs it: `${env:X}` from the service's environment. */
function expandWithServiceEnv(path: string, env: Record<string, string>): CollectorConfig {
  const text = readRepoFile(path).replace(/\$\{env:([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined)
      throw new Error(`${path} reads \${env:${name}}, which the compose service does not set`);
    return value;
  });
  return parse(text) as CollectorConfig;
}

describe.each(Object.entries(configs))('collector config %s', (_, path) => {
  const config = loadYaml<CollectorConfig>(path);

  it('names only components that exist in otelcol-contrib', () => {
    for (const section of sections) {
      for (const id of Object.keys(config[section] ?? {})) {
        expect(contribComponents[section] as readonly string[], `${section}: ${id}`).toContain(
          componentType(id),
        );
      }
    }
  });

  it('uses in every pipeline only components it defines, and defines none it leaves unused', () => {
    const used = new Set<string>();
    for (const [name, pipeline] of Object.entries(config.service.pipelines)) {
      expect(['traces', 'metrics', 'logs']).toContain(name.split('/')[0]);
      expect(pipeline.receivers.length, name).toBeGreaterThan(0);
      expect(pipeline.exporters.length, name).toBeGreaterThan(0);
      for (const [section, ids] of [
        ['receivers', pipeline.receivers],
        ['processors', pipeline.processors ?? []],
        ['exporters', pipeline.exporters],
      ] as const) {
        for (const id of ids) {
          expect(Object.keys(config[section] ?? {}), `${name} ${section}`).toContain(id);
          used.add(`${section}:${id}`);
        }
      }
      // memory_limiter first, batch last: the order the collector documentation requires.
      const processors = pipeline.processors ?? [];
      expect(processors[0], name).toBe('memory_limiter');
      if (processors.includes('batch')) expect(processors.at(-1), name).toBe('batch');
    }
    for (const id of config.service.extensions ?? [])
      expect(Object.keys(config.extensions ?? {})).toContain(id);
    for (const section of ['receivers', 'processors', 'exporters'] as const) {
      for (const id of Object.keys(config[section] ?? {}))
        expect(used, `unused ${section}: ${id}`).toContain(`${section}:${id}`);
    }
  });

  it('receives OTLP on gRPC 4317 and HTTP 4318', () => {
    const otlp = config.receivers?.otlp as {
      protocols: { grpc: { endpoint: string }; http: { endpoint: string } };
    };
    expect(otlp.protocols.grpc.endpoint).toBe('0.0.0.0:4317');
    expect(otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
  });
});

describe('collector config for Observatory', () => {
  const service = compose.services['otel-collector']!;
  const mounted = service.volumes?.find((v) => v.startsWith(`./${configs.single}:`));
  const config = expandWithServiceEnv(configs.single, service.environment ?? {});

  it('is the file the compose service mounts and runs', () => {
    expect(mounted).toBeDefined();
    const target = mounted!.split(':')[1]!;
    expect(service.command).toContain(`--config=${target}`);
  });

  it('sends traces to the Observatory service at /v1/traces on its port, with the ingest key', () => {
    const exporter = config.exporters?.['otlphttp/observatory'] as {
      traces_endpoint: string;
      headers: Record<string, string>;
    };
    const url = new URL(exporter.traces_endpoint);
    expect(url.pathname).toBe('/v1/traces');
    expect(Object.keys(compose.services)).toContain(url.hostname);
    const observatory = compose.services[url.hostname]!;
    expect(url.port).toBe(observatory.environment?.PORT);
    expect(observatory.command).toEqual(['serve']);
    expect(exporter.headers.Authorization).toBe(`Bearer ${service.environment?.OBSERVATORY_INGEST_KEY}`);
    expect(collectorEnvVariables(readRepoFile(configs.single))).toContain('OBSERVATORY_INGEST_KEY');
    expect(composeVariables(service.environment?.OBSERVATORY_INGEST_KEY ?? '')).toEqual([
      'OBSERVATORY_INGEST_KEY',
    ]);
  });

  it('publishes the ports its receivers listen on, and Observatory publishes the port it serves', () => {
    const containerPorts = (ports: string[] = []) => ports.map((p) => p.split(':').at(-1));
    const otlp = config.receivers?.otlp as { protocols: Record<string, { endpoint: string }> };
    const receiverPorts = Object.values(otlp.protocols).map((p) => p.endpoint.split(':')[1]);
    expect(containerPorts(service.ports).sort()).toEqual(receiverPorts.sort());
    const observatory = compose.services.observatory!;
    expect(containerPorts(observatory.ports)).toEqual([observatory.environment?.PORT]);
  });

  it('sends traces to Jaeger over OTLP gRPC', () => {
    const exporter = config.exporters?.['otlp/jaeger'] as { endpoint: string };
    const [host, port] = exporter.endpoint.split(':');
    expect(Object.keys(compose.services)).toContain(host);
    expect(compose.services[host!]!.image).toMatch(/^jaegertracing\//);
    expect(port).toBe('4317');
  });

  it('exposes its own metrics where Prometheus scrapes them', () => {
    const pull = config.service.telemetry?.metrics?.readers?.[0]?.pull?.exporter?.prometheus;
    expect(pull).toEqual({ host: '0.0.0.0', port: 8888 });
    const prometheus = loadYaml<{
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
    }>('deploy/prometheus/prometheus.yml');
    const job = prometheus.scrape_configs.find((j) => j.job_name === 'otel-collector');
    expect(job?.dns_sd_configs?.[0]).toMatchObject({ names: ['otel-collector'], port: pull?.port });
  });

  describe('prompt and completion content', () => {
    const statements = (
      config.processors!['transform/drop_ai_content'] as {
        trace_statements: { context: string; statements: string[] }[];
      }
    ).trace_statements;
    const patterns = statements.flatMap((group) =>
      group.statements.map((s) => {
        const m = s.match(/^delete_matching_keys\((span|spanevent)\.attributes, "(.*)"\)$/);
        if (!m) throw new Error(`unexpected statement ${s}`);
        // The YAML string holds an OTTL string literal: unescape it once to get the RE2 pattern.
        return { context: m[1]!, regex: new RegExp(m[2]!.replaceAll('\\\\', '\\')) };
      }),
    );

    it('are deleted from span attributes and span event attributes by the same pattern', () => {
      expect(patterns.map((p) => p.context).sort()).toEqual(['span', 'spanevent']);
      expect(patterns[0]!.regex.source).toBe(patterns[1]!.regex.source);
    });

    it.each([
      'gen_ai.input.messages',
      'gen_ai.output.messages',
      'gen_ai.system_instructions',
      'gen_ai.prompt',
      'gen_ai.prompt.0.content',
      'gen_ai.completion.0.content',
      'gen_ai.tool.call.arguments',
      'input.value',
      'output.value',
      'llm.input_messages.0.message.content',
      'llm.output_messages.0.message.content',
      'ai.prompt',
      'ai.prompt.messages',
      'ai.response.text',
      'ai.response.object',
      'ai.toolCall.args',
      'traceloop.entity.input',
    ])('deletes %s', (attribute) => {
      expect(patterns[0]!.regex.test(attribute)).toBe(true);
    });

    it.each([
      'gen_ai.operation.name',
      'gen_ai.request.model',
      'gen_ai.usage.input_tokens',
      'gen_ai.usage.prompt_tokens',
      'llm.token_count.prompt',
      'ai.usage.promptTokens',
      'ai.model.id',
      'input.mime_type',
      'observatory.org_id',
      'observatory.fallback.model',
      'error.type',
    ])('keeps %s, which Observatory maps', (attribute) => {
      expect(patterns[0]!.regex.test(attribute)).toBe(false);
    });

    it('runs before the batch leaves for either exporter', () => {
      expect(config.service.pipelines.traces!.processors).toContain('transform/drop_ai_content');
    });
  });
});

describe('scale-out layout', () => {
  const gatewayService = scaleOut.services['otel-gateway']!;
  const gateway = expandWithServiceEnv(configs.gateway, gatewayService.environment ?? {});

  it('routes spans by trace ID to every tier-2 collector the DNS name resolves to', () => {
    const lb = gateway.exporters?.loadbalancing as {
      routing_key: string;
      resolver: { dns: { hostname: string; port: number } };
    };
    expect(lb.routing_key).toBe('traceID');
    expect(lb.resolver.dns.hostname).toBe('otel-collector');
    expect(Object.keys(compose.services)).toContain(lb.resolver.dns.hostname);
    expect(scaleOut.services['otel-collector']?.deploy?.replicas).toBeGreaterThan(1);
    const tier2 = loadYaml<CollectorConfig>(configs.single);
    const grpc = (tier2.receivers!.otlp as { protocols: { grpc: { endpoint: string } } }).protocols.grpc;
    expect(grpc.endpoint).toBe(`0.0.0.0:${lb.resolver.dns.port}`);
  });

  it('runs several Observatory replicas on the one PostgreSQL', () => {
    expect(scaleOut.services.observatory?.deploy?.replicas).toBeGreaterThan(1);
    expect(scaleOut.services.postgres).toBeUndefined();
    expect(collectorEnvVariables(readRepoFile(configs.gateway))).toEqual(['TIER2_COLLECTORS_HOSTNAME']);
  });
});
