import { ObservatoryAttributes as Obs } from '../attributes.ts';
import type { SpanInput } from '../span.ts';
import { CONVENTION_READERS } from './conventions.ts';
import { capped } from './normalise.ts';
import { type ContentConvention, type DecisionContent, emptyDecisionContent } from './schema.ts';

/**
 * A model-call span's content in the one shape, or undefined when it carries none. Pure. Every text is scrubbed
 * and capped (`capped`). Each side (input, output, tool definitions) comes from the first convention that has it,
 * so a span carrying two conventions (OpenLLMetry's current and older names) is not read twice.
 */
export function extractContent(span: Pick<SpanInput, 'attributes' | 'events'>): DecisionContent | undefined {
  const attrs = span.attributes;
  const content = emptyDecisionContent();
  for (const [name, read] of CONVENTION_READERS) {
    const found = read(attrs, span.events);
    let used = false;
    if (found.input && content.input.length === 0) [content.input, used] = [found.input, true];
    if (found.output && content.output.length === 0) [content.output, used] = [found.output, true];
    if (found.toolDefinitions && !content.tool_definitions)
      [content.tool_definitions, used] = [found.toolDefinitions, true];
    if (used) content.sources.push(name as ContentConvention);
  }
  const rationale = attrs[Obs.DECISION_RATIONALE];
  if (typeof rationale === 'string' && rationale !== '') content.rationale = capped(rationale);
  const confidence = Number(attrs[Obs.DECISION_CONFIDENCE]);
  if (attrs[Obs.DECISION_CONFIDENCE] !== undefined && confidence >= 0 && confidence <= 1)
    content.confidence = confidence;
  const empty = content.sources.length === 0 && content.rationale === null && content.confidence === null;
  return empty ? undefined : content;
}

/** Whether any field of `content` was cut to the cap. */
export function anyTruncated(content: DecisionContent): boolean {
  const messages = [...content.input, ...content.output];
  return (
    Boolean(content.tool_definitions?.truncated || content.rationale?.truncated) ||
    messages.some(
      (m) =>
        m.content.some((p) => p.type === 'text' && p.truncated) ||
        m.tool_calls.some((c) => c.arguments.truncated),
    )
  );
}
