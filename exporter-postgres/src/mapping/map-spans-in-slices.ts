import type { AiEvent } from '../event.ts';
import { forEachInSlices } from '../slices.ts';
import type { SpanInput } from '../span.ts';
import { foldIntoOuterCall, type MapOptions, mapSpan } from './map-span.ts';

/** `mapSpans`, giving the event loop a turn between slices: the same events, whatever the batch's size. */
export async function mapSpansInSlices(spans: readonly SpanInput[], options: MapOptions): Promise<AiEvent[]> {
  const batch = new Map<string, AiEvent>();
  await forEachInSlices(spans, (span) => {
    const event = mapSpan(span, options);
    if (event) batch.set(span.spanId, event);
  });
  const events: AiEvent[] = [];
  await forEachInSlices(batch.values(), (event) => {
    if (!foldIntoOuterCall(event, batch)) events.push(event);
  });
  return events;
}
