import { z } from 'zod';

const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  FAKE_MODEL_LATENCY_MS: z.coerce.number().min(0).max(60_000).default(20),
  FAKE_MODEL_ERROR_RATE: z.coerce.number().min(0).max(1).default(0),
  FAKE_MODEL_FALLBACK_RATE: z.coerce.number().min(0).max(1).default(0),
  PRIMARY_TIMEOUT_MS: z.coerce.number().int().min(1).default(2000),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Reads the service's configuration once, reporting every invalid variable together. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = ConfigSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!result.success) {
    throw new Error(
      `Configuration: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  }
  return result.data;
}
