import type { StreamReport } from '../protocol.ts';
import { bearer, sleep } from './http.ts';

interface Message {
  event: string;
  id?: string;
  data: string;
}

/** Splits an SSE byte stream into messages. */
async function* sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<Message> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const message: Message = { event: 'message', data: '' };
      for (const line of buffer.slice(0, end).split('\n')) {
        const colon = line.indexOf(':');
        const field = line.slice(0, colon);
        const value = line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') message.event = value;
        else if (field === 'id') message.id = value;
        else if (field === 'data') message.data += value;
      }
      buffer = buffer.slice(end + 2);
      yield message;
    }
  }
}

/**
 * One live-stream client as a browser's EventSource behaves: it reconnects whenever the stream ends or breaks
 * (a replica killed, the database away, the stream's lifetime over), sending the last id it saw as
 * `Last-Event-ID`, until `signal` aborts.
 */
export function newStreamReport(): StreamReport {
  return { firstConnectedAt: 0, received: [], duplicates: 0, foreign: 0, delaysMs: [], connects: 0 };
}

/** Fills `report` as messages arrive (so progress can be read meanwhile), until `signal` aborts. */
export async function holdStream(
  url: string,
  key: string,
  orgId: string,
  signal: AbortSignal,
  report: StreamReport,
): Promise<StreamReport> {
  const seen = new Set<string>();
  let lastEventId: string | undefined;
  while (!signal.aborted) {
    try {
      const res = await fetch(`${url}/api/telemetry/stream`, {
        headers: bearer(key, lastEventId ? { 'last-event-id': lastEventId } : {}),
        signal,
      });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel();
        await sleep(500);
        continue;
      }
      for await (const message of sseMessages(res.body)) {
        if (message.event === 'connected') {
          report.connects++;
          report.firstConnectedAt ||= Date.now();
        }
        // As EventSource does: any message's id is the one to resume from.
        if (message.id) lastEventId = message.id;
        if (message.event !== 'telemetry') continue;
        const event = JSON.parse(message.data) as { span_id: string; org_id: string; received_at: string };
        if (event.org_id !== orgId) report.foreign++;
        if (seen.has(event.span_id)) {
          report.duplicates++;
          continue;
        }
        seen.add(event.span_id);
        report.received.push(event.span_id);
        report.delaysMs.push(Date.now() - Date.parse(event.received_at));
      }
    } catch {
      // A broken connection (or the abort): reconnect, as EventSource does, unless stopping.
    }
    if (!signal.aborted) await sleep(200);
  }
  return report;
}
