// Sessions: the list (most recently active first) and one session's timeline of traces.
import { queryOf } from '../lib/api.js';
import { fmtCost, fmtInt, fmtMs, fmtTime } from '../lib/format.js';
import { useApi } from '../lib/hooks.js';
import { html } from '../lib/html.js';
import { filterFields, filtersOf, ListFilters } from '../lib/list-filters.js';
import { href, navigate, paramsObject } from '../lib/router.js';
import { Loading, Problem, Table } from '../lib/ui.js';
import { Waterfall } from '../lib/waterfall.js';
import { LIST_PRESETS, traceColumns, useWindowedList } from './traces.js';

export function Sessions({ route, meta }) {
  const p = paramsObject(route.params);
  const fields = filterFields(meta, 'listSessions');
  const list = useWindowedList('/api/telemetry/sessions', fields, p, route.params.toString());
  return html`<h1>Sessions</h1>
    <${ListFilters} id="session-filters" fields=${fields} meta=${meta} presets=${LIST_PRESETS}
      labels=${{ 'has_errors:values': ['with errors', 'without errors'] }}
      value=${{ ...filtersOf(fields, p), range: p.range ?? '', date_from: p.date_from ?? '', date_to: p.date_to ?? '' }}
      onApply=${(draft) => navigate('sessions', undefined, queryOf(draft))} />
    <${Problem} error=${list.error} id="sessions-error" />
    <${Table} id="session-list" rows=${list.items} empty=${list.loading ? 'Loading…' : 'No sessions match.'}
      rowProps=${(s) => ({ 'data-session': s.session_id })}
      columns=${[
        ['Session', (s) => html`<a href=${href('sessions', s.session_id)}>${s.session_id}</a>`],
        ['First seen', (s) => fmtTime(s.first_seen)],
        ['Last seen', (s) => fmtTime(s.last_seen)],
        ['Traces', (s) => fmtInt(s.traces)],
        ['Model calls', (s) => fmtInt(s.model_calls)],
        ['Tokens in / out', (s) => `${fmtInt(s.input_tokens)} / ${fmtInt(s.output_tokens)}`],
        ['Cost', (s) => fmtCost(s.cost_usd)],
        ['Errors', (s) => fmtInt(s.errors + s.failed_spans)],
        ['Users', (s) => fmtInt(s.users)],
      ]} />
    ${list.cursor ? html`<button type="button" disabled=${list.loading} onClick=${list.more}>Older sessions</button>` : null}`;
}

export function SessionPage({ route }) {
  const { data: s, error, loading } = useApi(`/api/telemetry/sessions/${encodeURIComponent(route.id)}`);
  return html`<h1>Session</h1>
    <p><a href="#sessions">All sessions</a> · <code>${route.id}</code></p>
    <${Problem} error=${error} id="session-error" />
    <${Loading} when=${loading} />
    ${
      s
        ? html`<dl class="totals" id="session-totals">
            <dt>Traces</dt><dd>${fmtInt(s.traces)}</dd>
            <dt>Model calls</dt><dd>${fmtInt(s.model_calls)}</dd>
            <dt>Tokens in / out</dt><dd>${fmtInt(s.input_tokens)} / ${fmtInt(s.output_tokens)}</dd>
            <dt>Cost</dt><dd>${fmtCost(s.cost_usd)}</dd>
            <dt>Duration</dt><dd>${fmtMs(Date.parse(s.last_seen) - Date.parse(s.first_seen))}</dd>
          </dl>
          ${s.traces_truncated ? html`<p class="notice">This session has more traces than are shown.</p>` : null}
          <h2>Timeline</h2>
          <${Waterfall} id="session-timeline" label="Traces of this session in time order"
            rows=${s.items.map((t) => ({ key: t.trace_id, label: t.root_name, href: href('traces', t.trace_id), start: Date.parse(t.started_at), duration: t.duration_ms, detail: `${fmtInt(t.model_calls)} model calls · ${fmtCost(t.cost_usd)}` }))} />
          <${Table} id="session-traces" rows=${s.items} columns=${traceColumns} />`
        : null
    }`;
}
