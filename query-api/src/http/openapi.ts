import { OpenAPIHono } from '@hono/zod-openapi';
import { AiEventSchema } from '@observatory/exporter-postgres';
import { z } from 'zod';
import type { AppEnv } from '../app.ts';
import { problemFromZod } from './problem.ts';

/** A sub-app whose request validation failures become problem+json 400s naming the field. */
export function openApiRoutes(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success)
        throw problemFromZod(result.error as z.ZodError, result.target === 'json' ? 'body' : 'query');
    },
  });
}

/** An event as JSON: the AiEvent with its times as ISO strings. */
export const AiEventJsonSchema = AiEventSchema.extend({
  created_at: z.iso.datetime(),
  received_at: z.iso.datetime(),
});

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
});

/** The error answers every authenticated route can give. */
export const PROBLEM_RESPONSES = {
  400: problem('Invalid input; `errors` names each field'),
  401: problem('Missing, unknown or revoked API key'),
  403: problem('The key may not do this, or names another org'),
};

export const BEARER = [{ bearerAuth: [] }];
