// Logs: search the history (newest first, pages by cursor) and tail new lines live over the stream.
import { queryOf } from '../lib/api.js';
import { useCursorList, useEventSource } from '../lib/hooks.js';
import { html, useEffect, useState } from '../lib/html.js';
import { filterFields, filtersOf, ListFilters } from '../lib/list-filters.js';
import { navigate, paramsObject } from '../lib/router.js';
import { Problem, StatusDot } from '../lib/ui.js';
import { LogLine } from './event.js';

const LABELS = {
  min_severity: 'Severity at least',
  service: 'Service',
  q: 'Text',
  trace_id: 'Trace',
  span_id: 'Span',
};

export function Logs({ route, meta }) {
  const p = paramsObject(route.params);
  const fields = filterFields(meta, 'listLogs');
  const filters = filtersOf(fields, p);
  const tail = p.tail === '1';
  const list = useCursorList(`/api/telemetry/logs?${queryOf({ ...filters, limit: 100 })}`);
  const [arrived, setArrived] = useState([]);
  useEffect(() => setArrived([]), [route.params.toString()]);
  const streamNames = new Set(meta.params('streamTelemetry').map((x) => x.name));
  const streamFilters = Object.fromEntries(Object.entries(filters).filter(([k]) => streamNames.has(k)));
  const status = useEventSource(
    tail ? `/api/telemetry/stream?${queryOf({ ...streamFilters, logs: 'true', telemetry: 'false' })}` : null,
    {
      log: (line) => setArrived((a) => [line, ...a].slice(0, 1000)),
    },
  );
  return html`<h1>Logs</h1>
    <${ListFilters} id="logs" fields=${fields} meta=${meta} labels=${LABELS} value=${filters}
      onApply=${(draft) => navigate('logs', undefined, queryOf({ ...draft, tail: p.tail }))} />
    <div class="toolbar">
      <button type="button" id="logs-tail" aria-pressed=${tail ? 'true' : 'false'}
        onClick=${() => navigate('logs', undefined, queryOf({ ...p, tail: tail ? '' : '1' }))}>Live tail</button>
      <${StatusDot} id="logs-conn" status=${tail ? status : 'not live'} />
    </div>
    <${Problem} error=${list.error} id="logs-error" />
    <ol class="log-lines" id="log-list" aria-label="Log lines, newest first">
      ${[...arrived, ...list.items].map((l) => html`<${LogLine} line=${l} />`)}
    </ol>
    ${!list.loading && !arrived.length && !list.items.length ? html`<p class="muted">No log lines match.</p>` : null}
    ${list.cursor ? html`<button type="button" id="logs-more" disabled=${list.loading} onClick=${list.more}>Older lines</button>` : null}`;
}
