import type { AiSpan } from '../ai-span.ts';
import { BatchContents } from '../content/batch-contents.ts';
import type { AiEvent } from '../event.ts';
import { forEachInSlices } from '../slices.ts';
import type { SpanInput } from '../span.ts';
import { foldIntoOuterCall, type MapOptions, type MappedBatch, mapInto } from './map-span.ts';
import { BatchContext, type ContextGap, lacksContext } from './span-context.ts';

/** `mapBatch`, giving the event loop a turn between slices: the same rows, whatever the batch's size. */
export async function mapSpansInSlices(
  spans: readonly SpanInput[],
  options: MapOptions,
): Promise<MappedBatch & { gaps: ContextGap[] }> {
  // Indexing is a map insert per span: the whole batch at once, so every span can see all its ancestors.
  const context = new BatchContext();
  for (const span of spans) context.add(span);
  const batch = new Map<string, AiEvent>();
  const others: AiSpan[] = [];
  const contents = options.capture && new BatchContents(options.capture);
  await forEachInSlices(spans, (span) => mapInto(span, options, context, batch, others, contents));
  const events: AiEvent[] = [];
  await forEachInSlices(batch.values(), (event) => {
    if (!foldIntoOuterCall(event, batch, contents)) events.push(event);
  });
  const gaps: ContextGap[] = [];
  const findGap = (row: AiEvent | AiSpan) => {
    if (!lacksContext(row) || !row.trace_id || !row.span_id) return;
    const ancestor = context.outsideAncestor(row.span_id, row.trace_id);
    if (ancestor) gaps.push({ row, ancestorSpanId: ancestor });
  };
  await forEachInSlices(events, findGap);
  await forEachInSlices(others, findGap);
  return { events, spans: others, gaps, contents: contents ? contents.take(events) : [] };
}
