import { OpenAPIHono, z } from '@hono/zod-openapi';
import { AiEventSchema } from '@observatory/exporter-postgres';
import type { MiddlewareHandler } from 'hono';
import type pg from 'pg';
import type { Role, Scope } from '../keys/keys.ts';
import { sharedVerifier } from '../stream/shared-verifier.ts';
import type { AppEnv } from './app-env.ts';
import {
  type CredentialVerifier,
  databaseVerifier,
  requireKey,
  requireRole,
  requireRoleOrScope,
} from './auth.ts';
import { withLastKnownKeys } from './last-known-keys.ts';
import { problemFromZod } from './problem.ts';

const WHERE = {
  json: 'body',
  form: 'body',
  query: 'query',
  param: 'param',
  header: 'header',
  cookie: 'header',
} as const;

/** A sub-app whose request validation failures become problem+json 400s naming the field. */
export function openApiRoutes(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw problemFromZod(result.error as z.ZodError, WHERE[result.target]);
    },
  });
}

/**
 * `schema` as the named component `name`. Cloned first: a schema built before `@hono/zod-openapi` extended zod (in
 * another package, or a module imported earlier) has no `.openapi` of its own.
 */
export function named<T extends z.ZodType>(name: string, schema: T, description?: string): T {
  return schema.clone().openapi(name, description ? { description } : {}) as T;
}

/** An event as JSON: the AiEvent with its times as ISO strings. */
export const AiEventJsonSchema = named(
  'AiEvent',
  AiEventSchema.extend({ created_at: z.iso.datetime(), received_at: z.iso.datetime() }),
);

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details; `errors` names each offending field' });

const PROBLEMS = {
  400: 'Invalid input; `errors` names each field',
  401: 'Missing, unknown or revoked credential',
  403: 'The credential may not do this',
  404: 'No such resource in the caller org',
  409: 'Conflicts with an existing resource',
  413: 'Body too large',
  415: 'Unsupported Content-Type or Content-Encoding',
  429: 'Too many requests; see Retry-After',
  503: 'Temporarily unavailable; see Retry-After',
} as const;
type ProblemStatus = keyof typeof PROBLEMS;
type ProblemResponse = {
  description: string;
  content: { 'application/problem+json': { schema: typeof ProblemSchema } };
};

/** Problem+json answers of these statuses, for a route's `responses`. */
export function problems<S extends ProblemStatus>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: PROBLEMS[status], content: { 'application/problem+json': { schema: ProblemSchema } } },
    ]),
  ) as unknown as Record<S, ProblemResponse>;
}

/** The error answers every key-authenticated route can give. */
export const PROBLEM_RESPONSES = problems(400, 401, 403);

/** A JSON response or request body of `schema`. */
export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

export const BEARER = [{ bearerAuth: [] }];

/**
 * What a route callable with an API key (or console session) of one of `roles` declares: its security scheme, and
 * the guards, followed by `then` (a body reader, say).
 */
export function keyAccess(pool: pg.Pool, roles: Role[], ...then: MiddlewareHandler[]) {
  return { security: BEARER, middleware: [requireKey(pool), requireRole(...roles), ...then] };
}

const ingestVerifiers = new WeakMap<pg.Pool, CredentialVerifier>();

/**
 * `keyAccess` for the ingest routes (role ingest): a key checked in the last 10 minutes is still taken while the
 * database cannot be reached (last-known-keys.ts), so the spill file or the JetStream buffer takes ingest through an
 * outage. One memory per pool, shared by every ingest route.
 */
export function ingestAccess(pool: pg.Pool, ...then: MiddlewareHandler[]) {
  let verifier = ingestVerifiers.get(pool);
  if (!verifier) {
    verifier = withLastKnownKeys(sharedVerifier(databaseVerifier(pool)));
    ingestVerifiers.set(pool, verifier);
  }
  return { security: BEARER, middleware: [requireKey(pool, verifier), requireRole('ingest'), ...then] };
}

/** `keyAccess` for a route also open to viewer keys holding `scope`. */
export function keyOrScopeAccess(pool: pg.Pool, roles: Role[], scope: Scope, ...then: MiddlewareHandler[]) {
  return { security: BEARER, middleware: [requireKey(pool), requireRoleOrScope(roles, scope), ...then] };
}
