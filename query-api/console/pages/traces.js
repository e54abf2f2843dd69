// Traces: the list (newest first, filters from the API, pages by cursor) and one trace's tree as a waterfall of
// every stored span (agent, tool, retriever, model), its critical path and totals.
import { queryOf } from '../lib/api.js';
import { fmtCost, fmtInt, fmtMs, fmtTime } from '../lib/format.js';
import { useApi, useCursorList } from '../lib/hooks.js';
import { html, useMemo } from '../lib/html.js';
import { filterFields, filtersOf, ListFilters } from '../lib/list-filters.js';
import { href, navigate, paramsObject } from '../lib/router.js';
import { Loading, PRESETS, Problem, Table, windowOf } from '../lib/ui.js';
import { Waterfall } from '../lib/waterfall.js';
import { TraceLink } from './event.js';

/** The trace and session lists read at most 7 days at once. */
export const LIST_PRESETS = PRESETS.filter(([name]) => name !== '30d');
const LABELS = { has_errors: 'Errors', 'has_errors:values': ['with errors', 'without errors'] };

/** The cursor list of a trace or session list page, its window fixed when the URL changes. */
export function useWindowedList(path, fields, p, key) {
  const query = useMemo(() => {
    const w = windowOf(p, LIST_PRESETS);
    return queryOf({ ...filtersOf(fields, p), date_from: w.date_from, date_to: w.date_to });
  }, [key]);
  return useCursorList(`${path}?${query}`);
}

export const traceColumns = [
  ['Trace', (t) => html`<a href=${href('traces', t.trace_id)}>${t.root_name}</a>`],
  ['Started', (t) => fmtTime(t.started_at)],
  ['Service', (t) => t.service_name ?? ''],
  ['Duration', (t) => fmtMs(t.duration_ms)],
  ['Spans', (t) => fmtInt(t.spans)],
  ['Model calls', (t) => fmtInt(t.model_calls)],
  ['Tokens in / out', (t) => `${fmtInt(t.input_tokens)} / ${fmtInt(t.output_tokens)}`],
  ['Cost', (t) => fmtCost(t.cost_usd)],
  ['Errors', (t) => (t.has_errors ? html`<span class="bad">yes</span>` : 'no')],
];

export function Traces({ route, meta }) {
  const p = paramsObject(route.params);
  const fields = filterFields(meta, 'listTraces');
  const list = useWindowedList('/api/telemetry/traces', fields, p, route.params.toString());
  return html`<h1>Traces</h1>
    <${ListFilters} id="trace-filters" fields=${fields} meta=${meta} presets=${LIST_PRESETS} labels=${LABELS}
      value=${{ ...filtersOf(fields, p), range: p.range ?? '', date_from: p.date_from ?? '', date_to: p.date_to ?? '' }}
      onApply=${(draft) => navigate('traces', undefined, queryOf(draft))} />
    <${Problem} error=${list.error} id="traces-error" />
    <${Table} id="trace-list" rows=${list.items} columns=${traceColumns} empty=${list.loading ? 'Loading…' : 'No traces match.'}
      rowProps=${(t) => ({ 'data-trace': t.trace_id })} />
    ${list.cursor ? html`<button type="button" disabled=${list.loading} onClick=${list.more}>Older traces</button>` : null}`;
}

function spanDetail(s) {
  const parts = [];
  if (s.model_name && s.kind !== 'model') parts.push(s.model_name);
  if (s.input_tokens != null || s.output_tokens != null)
    parts.push(`${fmtInt(s.input_tokens)} / ${fmtInt(s.output_tokens)} tokens`);
  if (s.cost_usd != null) parts.push(fmtCost(s.cost_usd));
  if (!s.success) parts.push(`failed${s.error_code ? `: ${s.error_code}` : ''}`);
  return parts.join(' · ');
}

export function TracePage({ route, config }) {
  const { data: tree, error, loading } = useApi(`/api/telemetry/traces/${encodeURIComponent(route.id)}`);
  const sessions = tree ? [...new Set(tree.spans.map((s) => s.session_id).filter(Boolean))] : [];
  const rows = tree
    ? tree.spans.map((s) => ({
        key: s.id,
        kind: s.kind,
        label: s.name,
        href: s.kind === 'model' ? href('events', s.id) : undefined,
        detail: spanDetail(s),
        start: Date.parse(s.created_at),
        duration: s.latency_ms,
        depth: s.depth,
        critical: s.on_critical_path,
      }))
    : [];
  return html`<h1>Trace</h1>
    <p><a href="#traces">All traces</a> · <code>${route.id}</code> <${TraceLink} config=${config} traceId=${route.id} /></p>
    <${Problem} error=${error} id="trace-error" />
    <${Loading} when=${loading} />
    ${
      tree
        ? html`<dl class="totals" id="trace-totals">
            <dt>Spans</dt><dd>${fmtInt(tree.totals.spans)}</dd>
            <dt>Model calls</dt><dd>${fmtInt(tree.totals.model_calls)}</dd>
            <dt>Tokens in / out</dt><dd>${fmtInt(tree.totals.input_tokens)} / ${fmtInt(tree.totals.output_tokens)}</dd>
            <dt>Cost</dt><dd>${fmtCost(tree.totals.cost_usd)}</dd>
            <dt>Errors</dt><dd>${fmtInt(tree.totals.errors)}</dd>
          </dl>
          ${sessions.map((s) => html`<p>Session <a href=${href('sessions', s)}>${s}</a></p>`)}
          ${tree.truncated ? html`<p class="notice">This trace has more spans than are shown.</p>` : null}
          <p class="muted">Bars on the critical path are outlined.</p>
          <${Waterfall} rows=${rows} label="Spans of this trace" />`
        : null
    }`;
}
