// Explore: the org's events with every filter the events API takes (read from its OpenAPI parameters), cursor
// pagination, a column choice, the CSV of the current filter, and the live feed on top of the history.
import { queryOf } from '../lib/api.js';
import { eventCost, fmtInt, fmtMs, fmtTime, shortId } from '../lib/format.js';
import { useCursorList, useEventSource } from '../lib/hooks.js';
import { html, useEffect, useMemo, useState } from '../lib/html.js';
import { filterFields, filtersOf, ListFilters } from '../lib/list-filters.js';
import { href, navigate, paramsObject } from '../lib/router.js';
import { PRESETS, Problem, StatusDot, Table, windowOf } from '../lib/ui.js';

const LABELS = {
  success: 'Status',
  fallback_used: 'Fallback',
  'success:values': ['ok', 'failed'],
  'fallback_used:values': ['fell back', 'no fallback'],
  request_id: 'Request id',
  trace_id: 'Trace id',
  error_code: 'Error code',
};

const COLUMNS = {
  time: ['Time', (e) => html`<a href=${href('events', e.id)}>${fmtTime(e.created_at)}</a>`],
  model: ['Model', (e) => e.model_name],
  endpoint: ['Endpoint', (e) => e.endpoint ?? ''],
  service: ['Service', (e) => e.service_name ?? ''],
  user: ['User', (e) => e.user_id ?? ''],
  latency: ['Latency', (e) => fmtMs(e.latency_ms)],
  ttft: ['First token', (e) => fmtMs(e.ttft_ms)],
  tokens: ['Tokens in / out', (e) => `${fmtInt(e.input_tokens)} / ${fmtInt(e.output_tokens)}`],
  cost: ['Cost', eventCost],
  status: [
    'Status',
    (
      e,
    ) => html`${e.success ? html`<span class="ok">ok</span>` : html`<span class="bad">${e.error_code ?? 'error'}</span>`}
      ${e.fallback_used ? html` <span class="badge">fallback → ${e.fallback_model ?? ''}</span>` : null}`,
  ],
  trace: [
    'Trace',
    (e) => (e.trace_id ? html`<a href=${href('traces', e.trace_id)}>${shortId(e.trace_id)}</a>` : ''),
  ],
  session: [
    'Session',
    (e) => (e.session_id ? html`<a href=${href('sessions', e.session_id)}>${shortId(e.session_id)}</a>` : ''),
  ],
  request: ['Request id', (e) => e.request_id ?? ''],
};
const DEFAULT_COLUMNS = ['time', 'model', 'endpoint', 'latency', 'tokens', 'cost', 'status'];

/** Whether a live event passes the filters the stream could not apply itself. */
function matches(event, filters) {
  return Object.entries(filters).every(([k, v]) =>
    v === 'true' || v === 'false' ? event[k] === (v === 'true') : String(event[k] ?? '') === v,
  );
}

export function Explore({ route, meta }) {
  const p = paramsObject(route.params);
  const fields = filterFields(meta, 'listEvents');
  const filters = filtersOf(fields, p);
  const columns = (p.cols ? p.cols.split(',') : DEFAULT_COLUMNS).filter((c) => COLUMNS[c]);
  const live = p.live === '1';
  const go = (changes) => navigate('explore', undefined, queryOf({ ...p, ...changes }));

  // The window is fixed when the filters change (a preset means "until now" as of then).
  const key = route.params.toString();
  const query = useMemo(() => {
    const w = windowOf(p);
    return queryOf({ ...filters, date_from: w.date_from, date_to: w.date_to });
  }, [key]);

  const history = useCursorList(`/api/telemetry/events?${query}&limit=50`);
  const [arrived, setArrived] = useState([]);
  useEffect(() => setArrived([]), [query]);

  // Live: the stream applies the filters it knows; the rest are applied here. A closed window cannot grow.
  const streamNames = new Set(meta.params('streamTelemetry').map((x) => x.name));
  const streamFilters = Object.fromEntries(Object.entries(filters).filter(([k]) => streamNames.has(k)));
  const localFilters = Object.fromEntries(Object.entries(filters).filter(([k]) => !streamNames.has(k)));
  const liveBlocked = p.date_to ? 'the time range ends in the past' : undefined;
  const status = useEventSource(
    live && !liveBlocked ? `/api/telemetry/stream?${queryOf(streamFilters)}` : null,
    {
      telemetry: (event) => {
        if (!matches(event, localFilters)) return;
        setArrived((a) => (a.some((x) => x.id === event.id) ? a : [event, ...a].slice(0, 1000)));
      },
    },
  );
  const seen = new Set(arrived.map((e) => e.id));
  const rows = [...arrived, ...history.items.filter((e) => !seen.has(e.id))];

  const csv = `/api/telemetry/events/stream?${query}&limit=100000`;
  return html`<h1>Explore</h1>
    <${ListFilters} id="explore-filters" fields=${fields} meta=${meta} presets=${PRESETS} labels=${LABELS}
      value=${{ ...filters, range: p.range ?? '', date_from: p.date_from ?? '', date_to: p.date_to ?? '' }}
      onApply=${(draft) => {
        const kept = Object.fromEntries(Object.entries(p).filter(([k]) => k === 'cols' || k === 'live'));
        navigate('explore', undefined, queryOf({ ...kept, ...draft }));
      }} />
    <div class="toolbar">
      <button type="button" id="live-toggle" aria-pressed=${live ? 'true' : 'false'} disabled=${Boolean(liveBlocked)}
        onClick=${() => go({ live: live ? '' : '1' })}>Live</button>
      <${StatusDot} id="conn" status=${liveBlocked ? `not live: ${liveBlocked}` : status} />
      <a class="button" id="csv-download" href=${csv} download="ai-events.csv">Download CSV</a>
      <details class="columns">
        <summary>Columns</summary>
        <fieldset>
          <legend>Columns shown</legend>
          ${Object.entries(COLUMNS).map(
            ([
              name,
              [title],
            ]) => html`<label><input type="checkbox" name="cols" value=${name} checked=${columns.includes(name)}
              onChange=${(e) => {
                const next = e.currentTarget.checked ? [...columns, name] : columns.filter((c) => c !== name);
                go({
                  cols: Object.keys(COLUMNS)
                    .filter((c) => next.includes(c))
                    .join(','),
                });
              }} /> ${title}</label>`,
          )}
        </fieldset>
      </details>
    </div>
    <p id="explore-count" aria-live="polite">
      ${history.page ? `${history.page.total_is_estimate ? 'about ' : ''}${fmtInt(history.page.total)} events match` : ''}
      ${arrived.length ? `, ${arrived.length} arrived live` : ''}
    </p>
    <${Problem} error=${history.error} id="explore-error" />
    <${Table} id="event-list" rows=${rows} empty=${history.loading ? 'Loading…' : 'No events match.'}
      columns=${columns.map((c) => COLUMNS[c])}
      rowProps=${(e) => ({ 'data-id': e.id, class: seen.has(e.id) ? 'arrived' : undefined })} />
    ${
      history.cursor
        ? html`<button type="button" id="explore-more" disabled=${history.loading} onClick=${history.more}>Older events</button>`
        : null
    }`;
}
