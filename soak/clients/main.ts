/**
 * Entry of a soak client process: waits for its spec (IPC), does its part of the load and sends back its result.
 * Stream clients run until the soak sends `stop`.
 */
import type { ClientMessage, ClientResult, ClientSpec } from '../protocol.ts';
import { runExports } from './export.ts';
import { runIngest } from './ingest.ts';
import { runQuery } from './query.ts';
import { holdStream, newStreamReport } from './stream.ts';

function run(spec: ClientSpec): Promise<ClientResult> {
  switch (spec.role) {
    case 'ingest':
      return runIngest(spec);
    case 'query':
      return runQuery(spec);
    case 'export':
      return runExports(spec);
    case 'stream': {
      const stop = new AbortController();
      const reports = Array.from({ length: spec.streams }, newStreamReport);
      process.on('message', (m) => {
        if (m === 'stop') stop.abort();
        if (m === 'progress') {
          const streams = reports.map((r) => ({
            firstConnectedAt: r.firstConnectedAt,
            received: r.received.length,
          }));
          process.send!({ type: 'progress', streams } satisfies ClientMessage);
        }
      });
      return Promise.all(
        reports.map((report) => holdStream(spec.url, spec.key, spec.orgId, stop.signal, report)),
      ).then((streams) => ({ role: 'stream', streams }));
    }
  }
}

process.once('message', (spec: ClientSpec) => {
  run(spec).then(
    (result) => process.send!({ type: 'result', result } satisfies ClientMessage, () => process.exit(0)),
    (err: Error) =>
      process.send!({ type: 'error', message: err.stack ?? err.message } satisfies ClientMessage, () =>
        process.exit(1),
      ),
  );
});
