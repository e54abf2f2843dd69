import type { AiEvent } from '../event.ts';
import type { SpanInput } from '../span.ts';
import { extractContent } from './extract.ts';
import type { DecisionContent } from './schema.ts';

/** An org's capture rule, present only for orgs whose `capture_content` is on. */
export interface CapturePolicy {
  /** Only calls whose span says `observatory.consent=true` are captured. */
  requireConsent: boolean;
}

/** The capture policy of an org, or undefined when it does not capture content. */
export type CapturePolicyOf = (orgId: string) => CapturePolicy | undefined;

export interface CapturedContent {
  event: AiEvent;
  content: DecisionContent;
}

/** `outer` completed by `inner`: a side (input, output, …) the outer call lacks comes from the inner one. */
function merge(outer: DecisionContent, inner: DecisionContent): DecisionContent {
  return {
    sources: [...new Set([...outer.sources, ...inner.sources])],
    input: outer.input.length > 0 ? outer.input : inner.input,
    output: outer.output.length > 0 ? outer.output : inner.output,
    tool_definitions: outer.tool_definitions ?? inner.tool_definitions,
    rationale: outer.rationale ?? inner.rationale,
    confidence: outer.confidence ?? inner.confidence,
  };
}

/**
 * The content of one batch's model calls, held only while the batch is mapped. Content is read only from spans of
 * orgs that capture; a call folded into its wrapper hands its content to the wrapper, and consent is judged on the
 * call that is stored (the wrapper says `observatory.consent`, the client instrumentation inside it has the content).
 */
export class BatchContents {
  private readonly byEvent = new Map<string, DecisionContent>();

  constructor(private readonly policyOf: CapturePolicyOf) {}

  add(event: AiEvent, span: SpanInput): void {
    if (!this.policyOf(event.org_id)) return;
    const content = extractContent(span);
    if (content) this.byEvent.set(event.id, content);
  }

  fold(inner: AiEvent, outer: AiEvent): void {
    const content = this.byEvent.get(inner.id);
    if (!content) return;
    this.byEvent.delete(inner.id);
    const own = this.byEvent.get(outer.id);
    this.byEvent.set(outer.id, own ? merge(own, content) : content);
  }

  /** The content of `events` (the calls stored) that may be kept: consent given where the org requires it. */
  take(events: readonly AiEvent[]): CapturedContent[] {
    const captured: CapturedContent[] = [];
    if (this.byEvent.size === 0) return captured;
    for (const event of events) {
      const content = this.byEvent.get(event.id);
      if (content && (event.consent || !this.policyOf(event.org_id)?.requireConsent)) {
        captured.push({ event, content });
      }
    }
    this.byEvent.clear();
    return captured;
  }
}
