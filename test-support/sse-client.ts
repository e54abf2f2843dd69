import { connect } from 'node:net';

export interface SseMessage {
  event: string;
  id?: string;
  data: string;
}

export interface SseClient {
  /** Every message so far; a refused request is one message `http-<status>` with the body as data. */
  messages: SseMessage[];
  /** The response, once its headers arrived. */
  response(): Response | undefined;
  /** True once the server ended the stream (or refused it). */
  ended(): boolean;
  /** `data` of each message of this type, parsed. */
  data<T = unknown>(event: string): T[];
  close(): Promise<void>;
}

/** A minimal SSE client on fetch, collecting messages until the server ends the stream or `close` is called. */
export function connectSse(url: string, headers: Record<string, string>): SseClient {
  const controller = new AbortController();
  const messages: SseMessage[] = [];
  let response: Response | undefined;
  let ended = false;
  const done = (async () => {
    response = await fetch(url, { headers, signal: controller.signal });
    if (response.status !== 200) {
      messages.push({ event: `http-${response.status}`, data: await response.text() });
      return;
    }
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message: SseMessage = { event: 'message', data: '' };
        for (const line of block.split('\n')) {
          const [field, ...rest] = line.split(': ');
          const value = rest.join(': ');
          if (field === 'event') message.event = value;
          if (field === 'id') message.id = value;
          if (field === 'data') message.data += value;
        }
        messages.push(message);
        end = buffer.indexOf('\n\n');
      }
    }
  })()
    .catch(() => undefined)
    .finally(() => {
      ended = !controller.signal.aborted;
    });
  return {
    messages,
    response: () => response,
    ended: () => ended,
    data: <T>(event: string) => messages.filter((m) => m.event === event).map((m) => JSON.parse(m.data) as T),
    close: async () => {
      controller.abort();
      await done;
    },
  };
}

export interface RawStream {
  /** The HTTP status, once the status line arrived. */
  status(): number | undefined;
  /** Everything received so far, headers included. */
  text(): string;
  close(): void;
}

/**
 * A stream request on a bare socket: far cheaper than fetch, so that one test process can open a thousand streams
 * without its own event loop becoming what is measured.
 */
export function openRawStream(url: string, headers: Record<string, string>): RawStream {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  let text = '';
  let status: number | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
    status ??= Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]) || undefined;
  });
  socket.on('error', () => undefined);
  const lines = Object.entries({ host: `${hostname}:${port}`, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.write(`GET ${pathname}${search} HTTP/1.1\r\n${lines.join('')}\r\n`);
  return { status: () => status, text: () => text, close: () => socket.destroy() };
}
