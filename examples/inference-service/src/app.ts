import {
  type InferenceCall,
  requestContext,
  setRequestIdentity,
  traceAgent,
  traceInference,
  traceTool,
  withFallback,
} from '@observatory/instrumentation';
import { ORG_ID_PATTERN } from '@observatory/semconv';
import { type Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { BehaviourSchema, type Completion, type FakeModel, ModelError, PLANS } from './fake-model.ts';

export const MODELS = {
  primary: 'gpt-4o-mini',
  fallback: 'claude-3-5-haiku',
  embedding: 'text-embedding-3-small',
} as const;

const InferBody = z.object({ prompt: z.string().min(1).max(20_000), simulate: BehaviourSchema.optional() });
const AgentBody = z.object({ task: z.string().min(1).max(20_000), simulate: BehaviourSchema.optional() });
const AnalyzeBody = z.object({ text: z.string().min(1).max(20_000), simulate: BehaviourSchema.optional() });
// Stand-in for authentication: a real service takes org and user from its verified session or token.
const Identifier = z.string().regex(ORG_ID_PATTERN);

export interface AppOptions {
  model: FakeModel;
  primaryTimeoutMs: number;
}

function problem(c: Context, status: 400 | 502, title: string, detail: string, extra: object = {}) {
  return c.body(JSON.stringify({ type: 'about:blank', title, status, detail, ...extra }), status, {
    'content-type': 'application/problem+json',
  });
}

async function parseBody<T>(c: Context, schema: z.ZodType<T>): Promise<{ data: T } | { response: Response }> {
  const raw: unknown = await c.req.json().catch(() => undefined);
  const result = schema.safeParse(raw);
  if (result.success) return { data: result.data };
  const errors = result.error.issues.map((i) => ({ field: i.path.join('.') || 'body', message: i.message }));
  return {
    response: problem(
      c,
      400,
      'Invalid request body',
      errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      { errors },
    ),
  };
}

function record(call: InferenceCall, input: string, completion: Completion): Completion {
  call.recordUsage(completion.usage);
  call.setResponseModel(completion.model);
  call.setResponseId(completion.id);
  call.setInputSize(Buffer.byteLength(input));
  call.setOutputSize(Buffer.byteLength(completion.text));
  return completion;
}

/**
 * Runs a streamed model call that must start answering within `ms`; past it, the call is aborted as a timeout. Only
 * the wait for the first chunk is bounded: a model that has started answering is not replaced mid-answer.
 */
async function firstChunkWithin<T>(
  ms: number,
  signal: AbortSignal,
  run: (signal: AbortSignal, firstChunk: () => void) => Promise<T>,
): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new DOMException(`no first chunk within ${ms} ms`, 'TimeoutError')),
    ms,
  );
  try {
    return await run(AbortSignal.any([signal, deadline.signal]), () => clearTimeout(timer));
  } finally {
    clearTimeout(timer);
  }
}

/** The example inference service: every model call traced, org and user set once per request. */
export function createApp({ model, primaryTimeoutMs }: AppOptions): Hono {
  const app = new Hono();
  app.use(requestContext());
  app.use(async function identity(c, next) {
    const orgId = Identifier.safeParse(c.req.header('x-org-id'));
    const userId = Identifier.safeParse(c.req.header('x-user-id'));
    // The conversation a request continues; every model call, agent and tool of the request carries it.
    const sessionId = Identifier.safeParse(c.req.header('x-session-id'));
    setRequestIdentity({
      orgId: orgId.success ? orgId.data : 'demo',
      userId: userId.success ? userId.data : undefined,
      sessionId: sessionId.success ? sessionId.data : undefined,
    });
    await next();
  });

  const chat = (endpoint: string, input: string, simulate: z.infer<typeof BehaviourSchema> | undefined) => {
    const plan = PLANS[model.behaviour(simulate)];
    return withFallback({
      operation: 'chat',
      model: MODELS.primary,
      provider: 'openai',
      endpoint,
      fallbackModel: MODELS.fallback,
      timeoutMs: primaryTimeoutMs,
      primary: async (call, signal) =>
        record(call, input, await model.complete(MODELS.primary, input, plan.primary, signal)),
      fallback: async (call) =>
        record(call, input, await model.complete(MODELS.fallback, input, plan.fallback)),
    });
  };

  const chatStream = (
    endpoint: string,
    input: string,
    simulate: z.infer<typeof BehaviourSchema> | undefined,
    send: (chunk: string) => Promise<void>,
    signal: AbortSignal,
  ) => {
    const plan = PLANS[model.behaviour(simulate)];
    const onChunk = (call: InferenceCall) => (chunk: string) => {
      call.recordFirstToken();
      return send(chunk);
    };
    return withFallback({
      operation: 'chat',
      model: MODELS.primary,
      provider: 'openai',
      endpoint,
      fallbackModel: MODELS.fallback,
      // A client that went away is no reason to ask another model.
      shouldFallback: () => !signal.aborted,
      primary: async (call) => {
        const completion = await firstChunkWithin(primaryTimeoutMs, signal, (bounded, firstChunk) =>
          model.stream(
            MODELS.primary,
            input,
            plan.primary,
            (chunk) => {
              firstChunk();
              return onChunk(call)(chunk);
            },
            bounded,
          ),
        );
        return record(call, input, completion);
      },
      fallback: async (call) =>
        record(call, input, await model.stream(MODELS.fallback, input, plan.fallback, onChunk(call), signal)),
    });
  };

  app.post('/infer', async (c) => {
    const body = await parseBody(c, InferBody);
    if ('response' in body) return body.response;
    const completion = await chat('/infer', body.data.prompt, body.data.simulate);
    return c.json({ output: completion.text, model: completion.model });
  });

  // The same call streamed as server-sent events: `chunk` events, then `done` (or `error` when no model answered).
  app.post('/infer/stream', async (c) => {
    const body = await parseBody(c, InferBody);
    if ('response' in body) return body.response;
    const { prompt, simulate } = body.data;
    return streamSSE(c, async function streamAnswer(sse) {
      const gone = new AbortController();
      sse.onAbort(() => gone.abort());
      const send = (chunk: string) => sse.writeSSE({ event: 'chunk', data: chunk });
      try {
        const completion = await chatStream('/infer/stream', prompt, simulate, send, gone.signal);
        await sse.writeSSE({ event: 'done', data: JSON.stringify({ model: completion.model }) });
      } catch (err) {
        // The status line is long gone: a failure is the stream's last event.
        if (!(err instanceof ModelError)) throw err;
        const detail = `${err.code} (status ${err.status})`;
        await sse.writeSSE({ event: 'error', data: JSON.stringify({ title: 'Model call failed', detail }) });
      }
    });
  });

  app.post('/analyze', async (c) => {
    const body = await parseBody(c, AnalyzeBody);
    if ('response' in body) return body.response;
    const { text, simulate } = body.data;
    const embedding = await traceInference(
      { operation: 'embeddings', model: MODELS.embedding, provider: 'openai', endpoint: '/analyze' },
      async (call) => record(call, text, await model.complete(MODELS.embedding, text, 'answer')),
    );
    const classification = await chat('/analyze', text, simulate);
    return c.json({
      sentiment: classification.text,
      model: classification.model,
      embeddingModel: embedding.model,
    });
  });

  // An agent run, so the demo shows a real tree: the planner asks one model for a plan, runs a search tool (which
  // embeds the query for its lookup) and has a second call, with its fallback, write the answer.
  app.post('/agent', async (c) => {
    const body = await parseBody(c, AgentBody);
    if ('response' in body) return body.response;
    const { task, simulate } = body.data;
    const result = await traceAgent({ name: 'planner', id: 'planner-v1' }, async () => {
      const plan = await traceInference(
        { operation: 'chat', model: MODELS.fallback, provider: 'anthropic', endpoint: '/agent' },
        async (call) => record(call, task, await model.complete(MODELS.fallback, task, 'answer')),
      );
      const hits = await traceTool({ name: 'search', type: 'function' }, () =>
        traceInference(
          { operation: 'embeddings', model: MODELS.embedding, provider: 'openai', endpoint: '/agent' },
          async (call) => record(call, task, await model.complete(MODELS.embedding, task, 'answer')),
        ),
      );
      const answer = await chat('/agent', `${task}\n${plan.text}\n${hits.text}`, simulate);
      return { answer: answer.text, model: answer.model, steps: ['plan', 'search', 'answer'] };
    });
    return c.json(result);
  });

  app.onError((err, c) => {
    if (err instanceof ModelError)
      return problem(c, 502, 'Model call failed', `${err.code} (status ${err.status})`);
    throw err;
  });
  return app;
}
