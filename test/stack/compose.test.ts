import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadDashboard } from './dashboard.ts';
import {
  type ComposeFile,
  collectorEnvVariables,
  composeFile,
  composeVariables,
  existsInRepo,
  loadYaml,
  promtool,
  promtoolAvailable,
  readRepoFile,
  repoPath,
  scaleOutComposeFile,
  splitVolume,
} from './stack-files.ts';

const compose = loadYaml<ComposeFile>(composeFile);
const scaleOut = loadYaml<ComposeFile>(scaleOutComposeFile);
const services = compose.services;
const serviceNames = Object.keys(services);

const requiredServices = [
  'postgres',
  'observatory',
  'observatory-worker',
  'otel-collector',
  'jaeger',
  'prometheus',
  'alertmanager',
  'grafana',
  'inference-service',
];

/** Host path mounted at a container path by a service (`./x:/y` → `x`). */
function mountedFrom(service: string, containerPath: string): string {
  const volume = (services[service]?.volumes ?? []).map(splitVolume).find((v) => v.target === containerPath);
  if (!volume) throw new Error(`${service} mounts nothing at ${containerPath}`);
  return volume.source.replace(/^\.\//, '');
}

interface PrometheusConfig {
  rule_files: string[];
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: {
    job_name: string;
    metrics_path?: string;
    authorization?: { type?: string; credentials_file?: string };
    static_configs?: { targets: string[] }[];
    dns_sd_configs?: { names: string[]; port: number }[];
  }[];
}
/**
 * What each image can run for a healthcheck, from its contents: postgres (Alpine) has a shell and
 * pg_isready; Prometheus and Alertmanager (busybox base), Jaeger and Grafana (Alpine) have a shell and
 * busybox wget; the collector image is its binary alone (FROM scratch); Observatory's image is Node.js.
 */
const imagePrograms: Record<string, { shell: boolean; programs: string[] }> = {
  'postgres:': { shell: true, programs: ['pg_isready'] },
  'prom/prometheus:': { shell: true, programs: ['wget'] },
  'prom/alertmanager:': { shell: true, programs: ['wget'] },
  'jaegertracing/all-in-one:': { shell: true, programs: ['wget'] },
  'grafana/grafana:': { shell: true, programs: ['wget'] },
  'otel/opentelemetry-collector-contrib:': { shell: false, programs: ['/otelcol-contrib'] },
  'observatory:': { shell: false, programs: ['node'] },
};

const prometheusConfigFile = mountedFrom('prometheus', '/etc/prometheus/prometheus.yml');
const prometheus = loadYaml<PrometheusConfig>(prometheusConfigFile);

describe('docker-compose.yml', () => {
  it('has every service of the stack', () => {
    expect(serviceNames.sort()).toEqual([...requiredServices].sort());
  });

  it('pins every image to a version and a digest, and every local image is built by a service', () => {
    const built = new Set(
      Object.values(services)
        .filter((s) => s.build)
        .map((s) => s.image),
    );
    for (const [name, service] of Object.entries({ ...services, ...scaleOut.services })) {
      const image = service.image ?? services[name]?.image;
      expect(image, name).toBeDefined();
      const [reference, digest] = image!.split('@');
      const tag = reference!.split('/').at(-1)!.split(':')[1];
      expect(tag, `${name}: ${image}`).toMatch(/^v?\d+(\.\d+)+(-[a-z0-9.]+)?$/);
      if (image!.startsWith('observatory:')) {
        expect(built, `${name}: ${image} is built here`).toContain(image);
      } else {
        // Pulled images: the tag names the release, the digest makes the pull reproducible.
        expect(digest, `${name}: ${image} has no @sha256: digest`).toMatch(/^sha256:[0-9a-f]{64}$/);
      }
    }
  });

  it('pins one digest per image tag across the compose files', () => {
    const digests = new Map<string, Set<string>>();
    for (const { image } of [...Object.values(services), ...Object.values(scaleOut.services)]) {
      if (!image?.includes('@')) continue;
      const [reference, digest] = image.split('@') as [string, string];
      digests.set(reference, (digests.get(reference) ?? new Set()).add(digest));
    }
    expect(digests.size).toBeGreaterThan(5);
    for (const [reference, found] of digests) expect(found.size, reference).toBe(1);
  });

  it('mounts only files and folders that exist, and declares every named volume', () => {
    for (const [file, { services: s }] of [
      [composeFile, compose],
      [scaleOutComposeFile, scaleOut],
    ] as const) {
      for (const [name, service] of Object.entries(s)) {
        for (const { source } of (service.volumes ?? []).map(splitVolume)) {
          if (source.startsWith('.')) {
            expect(existsInRepo(source), `${file} ${name}: ${source}`).toBe(true);
          } else {
            expect(Object.keys(compose.volumes ?? {}), `${name}: ${source}`).toContain(source);
          }
        }
      }
    }
  });

  it('builds from a context that exists, with a Dockerfile whose sources exist', () => {
    const build = services.observatory!.build as { context: string; dockerfile: string };
    expect(existsInRepo(build.context)).toBe(true);
    const dockerfile = readRepoFile(join(build.context, build.dockerfile));
    const ignored = readRepoFile(join(build.context, '.dockerignore')).split('\n');
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) (\S+)$/gm)) {
      for (const source of m[1]!.split(' ')) {
        expect(existsInRepo(join(build.context, source)), `COPY ${source}`).toBe(true);
        expect(ignored, `COPY ${source} is excluded by .dockerignore`).not.toContain(
          source.replace(/\/$/, ''),
        );
      }
    }
  });

  it('has a multi-stage Dockerfile that installs production dependencies and runs as a non-root user', () => {
    const dockerfile = readRepoFile('Dockerfile');
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    expect(stages.length).toBeGreaterThan(1);
    for (const image of stages) expect(image).toMatch(/^node:\d+\.\d+\.\d+-/);
    expect(dockerfile).toMatch(/RUN npm ci\b[^\n]*\\\n\s*&& npm prune --omit=dev/);
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(finalStage).toMatch(/^USER (?!root)\w+$/m);
    expect(finalStage).toContain('ENTRYPOINT ["node", "query-api/bin/observatory.mjs"]');
  });

  it('runs compiled JavaScript in the image: the sources are removed and tsx is no production dependency', () => {
    const dockerfile = readRepoFile('Dockerfile');
    // Without query-api/src, the CLI runs query-api/dist.
    expect(dockerfile).toMatch(/rm -rf [^\n]*\bquery-api\/src\b/);
    for (const workspace of ['semconv', 'exporter-postgres', 'instrumentation', 'query-api']) {
      const manifest = JSON.parse(readRepoFile(`${workspace}/package.json`)) as {
        dependencies?: Record<string, string>;
      };
      expect(Object.keys(manifest.dependencies ?? {}), workspace).not.toContain('tsx');
    }
    const bin = readRepoFile('query-api/bin/observatory.mjs');
    expect(bin).toContain("import('../dist/cli/main.js')");
  });

  it('builds on a current Node.js LTS, one of the versions engines names', () => {
    const dockerfile = readRepoFile('Dockerfile');
    const majors = [...dockerfile.matchAll(/^FROM node:(\d+)\./gm)].map((m) => Number(m[1]));
    const { engines } = JSON.parse(readRepoFile('package.json')) as { engines: { node: string } };
    for (const major of majors) {
      expect(major % 2, 'an even (LTS) major').toBe(0);
      expect(major).toBeGreaterThanOrEqual(24);
      expect(engines.node.split('||').map((range) => range.trim())).toContain(String(major));
    }
  });

  it('runs serve and worker from the Observatory image against the compose PostgreSQL', () => {
    expect(services.observatory!.command).toEqual(['serve']);
    expect(services['observatory-worker']!.command).toEqual(['worker']);
    for (const name of ['observatory', 'observatory-worker']) {
      const url = new URL(
        services[name]!.environment!.DATABASE_URL!.replace(/\$\{POSTGRES_PASSWORD\}/, 'secret'),
      );
      expect(url.hostname).toBe('postgres');
      expect(url.pathname).toBe(`/${services.postgres!.environment!.POSTGRES_DB}`);
      expect(url.username).toBe(services.postgres!.environment!.POSTGRES_USER);
    }
  });

  it('has a healthcheck on every service, run with a program its image ships', () => {
    for (const [file, { services: s }] of [
      [composeFile, compose],
      [scaleOutComposeFile, scaleOut],
    ] as const) {
      for (const [name, service] of Object.entries(s)) {
        const image = service.image ?? services[name]?.image;
        const healthcheck = service.healthcheck ?? services[name]?.healthcheck;
        expect(healthcheck?.test, `${file} ${name}`).toBeDefined();
        const [kind, program] = healthcheck!.test;
        expect(['CMD', 'CMD-SHELL'], `${file} ${name}`).toContain(kind);
        const shipped = Object.entries(imagePrograms).find(([prefix]) => image!.startsWith(prefix))?.[1];
        expect(shipped, `${name}: what does ${image} ship?`).toBeDefined();
        // CMD-SHELL needs a shell; the collector image (FROM scratch) has none.
        if (kind === 'CMD-SHELL') expect(shipped!.shell, `${name}: ${image} has no shell`).toBe(true);
        const executable = kind === 'CMD' ? program! : program!.split(' ')[0]!;
        expect(shipped!.programs, `${name}: ${image} does not ship ${executable}`).toContain(executable);
      }
    }
  });

  it('starts a service only once what it needs is healthy', () => {
    for (const [file, { services: s }] of [
      [composeFile, compose],
      [scaleOutComposeFile, scaleOut],
    ] as const) {
      for (const [name, service] of Object.entries(s)) {
        if (!service.depends_on) continue;
        expect(Array.isArray(service.depends_on), `${file} ${name}: depends_on without conditions`).toBe(
          false,
        );
        for (const [dependency, { condition }] of Object.entries(
          service.depends_on as Record<string, { condition: string }>,
        )) {
          expect(serviceNames, `${file} ${name}`).toContain(dependency);
          expect(condition, `${file} ${name} → ${dependency}`).toBe('service_healthy');
        }
      }
    }
    const dependsOn = services.observatory!.depends_on as Record<string, { condition: string }>;
    expect(dependsOn.postgres?.condition).toBe('service_healthy');
  });

  it('commits no secret: every variable it interpolates is listed, empty or harmless, in .env.example', () => {
    const example = readRepoFile('.env.example');
    const listed = new Map(
      [...example.matchAll(/^([A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const),
    );
    const used = new Set([
      ...composeVariables(readRepoFile(composeFile)),
      ...composeVariables(readRepoFile(scaleOutComposeFile)),
    ]);
    expect(used.size).toBeGreaterThan(3);
    for (const name of used) expect([...listed.keys()], name).toContain(name);
    for (const [name, value] of listed) {
      if (/PASSWORD|TOKEN|SECRET|KEY/.test(name)) expect(value, name).toBe('');
    }
    expect(readRepoFile('.gitignore').split('\n')).toContain('.env');
  });

  it('passes every variable the mounted configurations read into the service that reads them', () => {
    const collectorFile = mountedFrom('otel-collector', '/etc/otelcol-contrib/otelcol.yaml');
    for (const name of collectorEnvVariables(readRepoFile(collectorFile))) {
      expect(Object.keys(services['otel-collector']!.environment ?? {}), name).toContain(name);
    }
    const datasources = readRepoFile('dashboards/provisioning/datasources/observatory.yml');
    for (const name of composeVariables(datasources)) {
      expect(Object.keys(services.grafana!.environment ?? {}), name).toContain(name);
    }
    const initScript = readRepoFile('deploy/postgres/10-grafana-reader.sh');
    for (const m of initScript.matchAll(/"\$([A-Z_]+)"/g)) {
      expect(Object.keys(services.postgres!.environment ?? {}), m[1]).toContain(m[1]);
    }
  });
});

describe('Prometheus configuration', () => {
  const job = (name: string) => prometheus.scrape_configs.find((j) => j.job_name === name);

  it("scrapes Observatory's /metrics on the port the service listens on", () => {
    const observatory = job('observatory');
    expect(observatory?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(observatory?.dns_sd_configs?.[0]?.names).toEqual(['observatory']);
    expect(String(observatory?.dns_sd_configs?.[0]?.port)).toBe(services.observatory!.environment!.PORT);
  });

  it("scrapes with the bearer token the service's /metrics requires, from the compose secret", () => {
    const authorization = job('observatory')?.authorization;
    expect(authorization?.type ?? 'Bearer').toBe('Bearer');
    const secret = services.prometheus!.secrets?.find((s) => s.target === authorization?.credentials_file);
    expect(secret, 'the credentials file is a compose secret').toBeDefined();
    expect(compose.secrets?.[secret!.source]?.environment).toBe('OBSERVATORY_METRICS_TOKEN');
    expect(composeVariables(services.observatory!.environment!.OBSERVATORY_METRICS_TOKEN ?? '')).toEqual([
      'OBSERVATORY_METRICS_TOKEN',
    ]);
  });

  it('names only compose services as targets', () => {
    const hosts = [
      ...prometheus.scrape_configs.flatMap((j) => [
        ...(j.static_configs ?? []).flatMap((s) => s.targets.map((t) => t.split(':')[0]!)),
        ...(j.dns_sd_configs ?? []).flatMap((d) => d.names),
      ]),
      ...prometheus.alerting.alertmanagers.flatMap((a) =>
        a.static_configs.flatMap((s) => s.targets.map((t) => t.split(':')[0]!)),
      ),
    ];
    for (const host of hosts) expect([...serviceNames, 'localhost'], host).toContain(host);
    expect(prometheus.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(['alertmanager:9093']);
  });

  it('loads the rule files from the alerts/ folder the compose file mounts', () => {
    const alertsDir = mountedFrom('prometheus', '/etc/prometheus/alerts');
    expect(alertsDir).toBe('alerts');
    for (const glob of prometheus.rule_files) expect(glob.startsWith('/etc/prometheus/alerts/')).toBe(true);
  });

  it('finds rule files in alerts/ with its rule_files globs', () => {
    const files = readdirSync(repoPath('alerts'));
    const globToRegex = (glob: string) =>
      new RegExp(`^${glob.split('/').at(-1)!.replaceAll('.', '\\.').replaceAll('*', '[^/]*')}$`);
    const loaded = files.filter((f) => prometheus.rule_files.some((g) => globToRegex(g).test(f)));
    expect(loaded.length, `no file in alerts/ matches ${prometheus.rule_files.join(', ')}`).toBeGreaterThan(
      0,
    );
    expect(loaded).not.toContain('alertmanager.yml');
    for (const file of loaded) {
      for (const m of readRepoFile(join('alerts', file)).matchAll(/job="([^"]+)"/g)) {
        expect(job(m[1]!), `${file} refers to scrape job ${m[1]}`).toBeDefined();
      }
    }
  });

  it('matches the job names the dashboard filters on', () => {
    const dashboardText = JSON.stringify(loadDashboard());
    for (const m of dashboardText.matchAll(/job=\\"([^\\]+)\\"/g)) expect(job(m[1]!), m[1]).toBeDefined();
  });

  describe.skipIf(!promtoolAvailable())('promtool check config', () => {
    it('accepts the configuration, with the rule files it loads from alerts/', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'observatory-prometheus-config-'));
      try {
        // Map the container paths back onto the repository, as the compose volumes do, and each credentials
        // file (a compose secret) onto a local one: promtool checks that it exists.
        const credentials = join(dir, 'credentials');
        await writeFile(credentials, 'token-for-promtool');
        const local = {
          ...prometheus,
          rule_files: prometheus.rule_files.map((g) =>
            g.replace('/etc/prometheus/alerts', repoPath('alerts')),
          ),
          scrape_configs: prometheus.scrape_configs.map((j) =>
            j.authorization
              ? { ...j, authorization: { ...j.authorization, credentials_file: credentials } }
              : j,
          ),
        };
        const file = join(dir, 'prometheus.yml');
        await writeFile(file, stringify(local));
        const result = await promtool(['check', 'config', file]);
        expect(result.ok, result.output).toBe(true);
        expect(result.output).toContain('SUCCESS');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('Grafana provisioning', () => {
  const datasources = loadYaml<{ datasources: { uid: string; type: string; url: string }[] }>(
    'dashboards/provisioning/datasources/observatory.yml',
  ).datasources;
  const dashboard = loadDashboard();

  it('provisions both datasources the dashboard variables default to, at compose service addresses', () => {
    for (const variable of ['DS_PROMETHEUS', 'DS_POSTGRES']) {
      const v = dashboard.templating.list.find((t) => t.name === variable);
      expect(v?.type).toBe('datasource');
      const ds = datasources.find((d) => d.uid === (v?.current?.value as string));
      expect(ds, variable).toBeDefined();
      expect(ds!.type).toBe(v!.query);
      const host = ds!.url.replace(/^https?:\/\//, '').split(':')[0]!;
      expect(serviceNames).toContain(host);
    }
  });

  it('loads the dashboard from the path the dashboard provider reads', () => {
    const providers = loadYaml<{ providers: { options: { path: string } }[] }>(
      'dashboards/provisioning/dashboards/observatory.yml',
    ).providers;
    const mounted = (services.grafana!.volumes ?? []).map(splitVolume);
    expect(mounted.find((v) => v.source === './dashboards/provisioning')?.target).toBe(
      '/etc/grafana/provisioning',
    );
    const dashboardMount = mounted.find((v) => v.source === './dashboards/observatory.json');
    expect(dashboardMount?.target.startsWith(`${providers[0]!.options.path}/`)).toBe(true);
  });

  it('has the org and model variables, and refers to datasources only through the variables', () => {
    const names = dashboard.templating.list.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['org_id', 'model_name']));
    const uids = [...JSON.stringify(dashboard.panels).matchAll(/"uid":"([^"]+)"/g)].map((m) => m[1]);
    const viaVariable = (name: string) => `\${${name}}`;
    expect(new Set(uids)).toEqual(new Set([viaVariable('DS_PROMETHEUS'), viaVariable('DS_POSTGRES')]));
  });
});

describe('the example inference service and Alertmanager in the stack', () => {
  it('sends the example service spans to the collector OTLP/HTTP receiver', () => {
    const env = services['inference-service']!.environment!;
    const url = new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT!);
    expect(url.hostname).toBe('otel-collector');
    expect(url.port).toBe('4318');
    expect(services['inference-service']!.entrypoint).toEqual([
      'node',
      'examples/inference-service/dist/main.js',
    ]);
  });

  it('runs the example service from a file that exists', () => {
    expect(existsInRepo('examples/inference-service/src/main.ts')).toBe(true);
  });

  it("delivers Alertmanager's webhook to the Observatory service with the token compose provides", () => {
    const config = loadYaml<{
      receivers: {
        webhook_configs?: {
          url: string;
          http_config?: { authorization?: { credentials_file?: string } };
        }[];
      }[];
    }>('alerts/alertmanager.yml');
    const webhooks = config.receivers.flatMap((r) => r.webhook_configs ?? []);
    expect(webhooks.length).toBeGreaterThan(0);
    for (const hook of webhooks) {
      const url = new URL(hook.url);
      expect(url.hostname).toBe('observatory');
      expect(url.port).toBe(services.observatory!.environment!.PORT);
      expect(url.pathname).toBe('/api/telemetry/alerts/webhook');
      const secret = services.alertmanager!.secrets!.find(
        (s) => s.target === hook.http_config?.authorization?.credentials_file,
      );
      expect(secret, 'the webhook token file is the compose secret').toBeDefined();
      expect(compose.secrets?.[secret!.source]?.environment).toBe('OBSERVATORY_ALERTMANAGER_TOKEN');
    }
  });
});
