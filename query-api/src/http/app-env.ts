import type { AuthEnv } from './auth.ts';
import type { RequestLogEnv } from './request-log.ts';

/** What every route of the app may read from the context: the request's id and logger, and its caller once known. */
export type AppEnv = { Variables: RequestLogEnv['Variables'] & Partial<AuthEnv['Variables']> };
