import { ObservatoryAttributes, StandardAttributes } from '@observatory/semconv';
import { type Attributes, context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { errorSummary, errorType } from './error-info.ts';
import { getRequestContext } from './request-context.ts';
import { observatoryTracer } from './trace-inference.ts';

/** Who a span is for; what is not given comes from the current request context. */
interface Identity {
  orgId?: string;
  userId?: string;
  /** The conversation or thread (`gen_ai.conversation.id`). */
  sessionId?: string;
  requestId?: string;
  /** The product feature or route the work serves. */
  endpoint?: string;
}

export interface AgentOptions extends Identity {
  /** `gen_ai.agent.name`: a name the developer chose, never user input. */
  name: string;
  /** `gen_ai.agent.id`: the framework's or service's id of the agent. */
  id?: string;
  description?: string;
  /** `gen_ai.provider.name` of a remote agent service (an invocation over the network is a CLIENT span). */
  provider?: string;
}

export interface ToolOptions extends Identity {
  /** `gen_ai.tool.name`. */
  name: string;
  /** `gen_ai.tool.type`: `function`, `extension` or `datastore`. */
  type?: 'function' | 'extension' | 'datastore';
  /** `gen_ai.tool.call.id`: the model's id of the call being answered. */
  callId?: string;
  description?: string;
}

function identity(options: Identity): Attributes {
  const request = getRequestContext();
  const attributes: Attributes = {};
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined) attributes[key] = value;
  };
  set(ObservatoryAttributes.ORG_ID, options.orgId ?? request?.orgId);
  set(StandardAttributes.USER_ID, options.userId ?? request?.userId);
  set(StandardAttributes.CONVERSATION_ID, options.sessionId ?? request?.sessionId);
  set(ObservatoryAttributes.REQUEST_ID, options.requestId ?? request?.requestId);
  set(ObservatoryAttributes.ENDPOINT, options.endpoint);
  return attributes;
}

/** Runs `fn` inside `span`, marking the span failed by what it throws (rethrown as is), and ends it. */
async function within<T>(span: Span, fn: (span: Span) => T | PromiseLike<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(context.active(), span), fn, undefined, span);
  } catch (err) {
    span.setAttribute(StandardAttributes.ERROR_TYPE, errorType(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorSummary(err) });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Traces an agent's run as a GenAI `invoke_agent {name}` span, active while `fn` runs, so the model calls
 * (`traceInference`) and tools (`traceTool`) inside it form its tree. In-process agents are INTERNAL spans, a
 * remote agent service (`provider` given) a CLIENT span, as the conventions say. Returns what `fn` returns and
 * rethrows what it throws. It never records usage: the model calls below it carry their own.
 */
export function traceAgent<T>(options: AgentOptions, fn: (span: Span) => T | PromiseLike<T>): Promise<T> {
  const attributes: Attributes = {
    [StandardAttributes.OPERATION_NAME]: 'invoke_agent',
    [StandardAttributes.AGENT_NAME]: options.name,
    ...identity(options),
  };
  if (options.id !== undefined) attributes[StandardAttributes.AGENT_ID] = options.id;
  if (options.description !== undefined)
    attributes[StandardAttributes.AGENT_DESCRIPTION] = options.description;
  if (options.provider !== undefined) attributes[StandardAttributes.PROVIDER_NAME] = options.provider;
  const span = observatoryTracer().startSpan(`invoke_agent ${options.name}`, {
    kind: options.provider !== undefined ? SpanKind.CLIENT : SpanKind.INTERNAL,
    attributes,
  });
  return within(span, fn);
}

/**
 * Traces one tool execution as a GenAI `execute_tool {name}` INTERNAL span, active while `fn` runs. Arguments and
 * results are content and are never recorded.
 */
export function traceTool<T>(options: ToolOptions, fn: (span: Span) => T | PromiseLike<T>): Promise<T> {
  const attributes: Attributes = {
    [StandardAttributes.OPERATION_NAME]: 'execute_tool',
    [StandardAttributes.TOOL_NAME]: options.name,
    ...identity(options),
  };
  if (options.type !== undefined) attributes[StandardAttributes.TOOL_TYPE] = options.type;
  if (options.callId !== undefined) attributes[StandardAttributes.TOOL_CALL_ID] = options.callId;
  if (options.description !== undefined)
    attributes[StandardAttributes.TOOL_DESCRIPTION] = options.description;
  const span = observatoryTracer().startSpan(`execute_tool ${options.name}`, {
    kind: SpanKind.INTERNAL,
    attributes,
  });
  return within(span, fn);
}
