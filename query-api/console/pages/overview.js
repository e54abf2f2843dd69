// Overview: the org's figures for a window, their time series (action=series), breakdowns with cost attribution,
// drift per model, and the latest events and traces, each a link.
import { queryOf } from '../lib/api.js';
import { Chart, compact as compactNumber } from '../lib/chart.js';
import { eventCost, fmtClock, fmtCost, fmtInt, fmtMs, pct, usd } from '../lib/format.js';
import { useApi } from '../lib/hooks.js';
import { html, useMemo } from '../lib/html.js';
import { href, navigate, paramsObject } from '../lib/router.js';
import { Loading, Problem, Select, Table, TimeRange } from '../lib/ui.js';

/** The interval that draws a window in a few dozen to a few hundred points. */
const DEFAULT_INTERVAL = { '1h': '1m', '24h': '1h', '7d': '1h', '30d': '1d' };

const LABELS = {
  model_name: 'Model',
  endpoint: 'Endpoint',
  service_name: 'Service',
  user_id: 'User',
  provider: 'Provider',
};

function Kpi({ id, label, value }) {
  return html`<div class="kpi" id=${id}><div>${label}</div><div class="value">${value}</div></div>`;
}

function Charts({ points }) {
  const charts = useMemo(() => {
    const times = points.map((p) => Date.parse(p.bucket));
    const col = (f) => points.map(f);
    const rate = (k) => col((p) => (p.requests ? p[k] / p.requests : null));
    const unpriced = points.reduce((s, p) => s + p.unpriced_calls, 0);
    return [
      {
        id: 'chart-requests',
        title: 'Requests',
        times,
        series: [{ label: 'requests', values: col((p) => p.requests) }],
        format: fmtInt,
      },
      {
        id: 'chart-rates',
        title: 'Error and fallback rate',
        times,
        series: [
          { label: 'errors', values: rate('errors') },
          { label: 'fallbacks', values: rate('fallbacks') },
        ],
        format: pct,
        axis: (v) => `${Math.round(100 * v)} %`,
      },
      {
        id: 'chart-latency',
        title: 'Latency',
        times,
        series: ['p50', 'p95', 'p99'].map((q) => ({ label: q, values: col((p) => p[`${q}_latency_ms`]) })),
        format: fmtMs,
        axis: fmtMs,
      },
      {
        id: 'chart-ttft',
        title: 'Time to first token',
        times,
        series: ['p50', 'p95'].map((q) => ({ label: q, values: col((p) => p[`${q}_ttft_ms`]) })),
        format: fmtMs,
        axis: fmtMs,
      },
      {
        id: 'chart-tokens',
        title: 'Tokens',
        times,
        series: [
          { label: 'input', values: col((p) => p.input_tokens) },
          { label: 'output', values: col((p) => p.output_tokens) },
        ],
        format: fmtInt,
      },
      {
        id: 'chart-cost',
        title: 'Cost (priced calls)',
        // A bucket whose every call is unpriced has no cost, not a cost of zero: a gap.
        times,
        series: [
          {
            label: 'USD',
            values: col((p) => (p.requests && p.unpriced_calls === p.requests ? null : Number(p.cost_usd))),
          },
        ],
        format: (v) => usd(v),
        axis: (v) => `$${compactNumber(v)}`,
        note: unpriced ? `${fmtInt(unpriced)} unpriced calls are not in it` : undefined,
      },
    ];
  }, [points]);
  return html`<div class="charts">${charts.map((c) => html`<${Chart} ...${c} />`)}</div>`;
}

function Breakdown({ data }) {
  const { by, items, others, totals } = data;
  const priced = Number(totals.cost_usd);
  const share = (row) =>
    priced > 0 && row.calls > row.unpriced_calls ? pct(Number(row.cost_usd) / priced) : '—';
  const rows = [
    ...items,
    ...(others.calls ? [{ [by]: `${others.groups} others`, ...others, others: true }] : []),
  ];
  return html`<${Table}
    id="breakdown-list"
    caption=${`By ${LABELS[by] ?? by}, most cost first`}
    rows=${rows}
    columns=${[
      [
        LABELS[by] ?? by,
        (r) =>
          r.others || r[by] == null
            ? (r[by] ?? '(none)')
            : html`<a href=${href('explore', undefined, { [by]: r[by] })}>${r[by]}</a>`,
      ],
      ['Calls', (r) => fmtInt(r.calls)],
      ['Error rate', (r) => pct(r.error_rate)],
      ['p95 latency', (r) => fmtMs(r.p95_latency_ms)],
      ['p95 first token', (r) => fmtMs(r.p95_ttft_ms)],
      ['Input tokens', (r) => fmtInt(r.input_tokens)],
      ['Output tokens', (r) => fmtInt(r.output_tokens)],
      ['Cost', (r) => fmtCost(r.cost_usd, r.unpriced_calls, r.calls)],
      ['Share of cost', share],
    ]}
  />`;
}

function Drift({ data }) {
  if (!data.items.length)
    return html`<p class="muted" id="drift-list">${data.note ?? 'No drift computed in this window.'}</p>`;
  return html`<${Table}
    id="drift-list"
    rows=${data.items}
    columns=${[
      ['Model', (d) => d.model_name],
      ['Feature', (d) => d.feature],
      ['PSI', (d) => (d.psi == null ? '—' : d.psi.toFixed(3))],
      ['Reading', (d) => html`<span class=${`reading ${d.reading}`}>${d.reading.replace('_', ' ')}</span>`],
      ['Calls (baseline / last 24 h)', (d) => `${fmtInt(d.baseline_n)} / ${fmtInt(d.current_n)}`],
      ['Computed', (d) => new Date(d.computed_at).toLocaleString()],
    ]}
  />`;
}

export function Overview({ route, meta }) {
  const p = paramsObject(route.params);
  const ranges = meta.paramValues('getAggregates', 'range');
  const presets = ranges.map((r) => [
    r,
    { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000, '30d': 2_592_000_000 }[r] ?? 86_400_000,
  ]);
  const range = p.range || '24h';
  const absolute = p.date_from || p.date_to;
  const interval = p.interval || (absolute ? '1h' : (DEFAULT_INTERVAL[range] ?? '1h'));
  const by = p.by || 'model_name';
  const windowQuery = absolute ? { date_from: p.date_from, date_to: p.date_to } : { range };
  const set = (changes) => navigate('overview', undefined, queryOf({ ...p, ...changes }), { replace: true });

  const overview = useApi(`/api/telemetry?${queryOf({ action: 'overview', ...windowQuery })}`);
  const series = useApi(`/api/telemetry?${queryOf({ action: 'series', interval, ...windowQuery })}`);
  const breakdown = useApi(`/api/telemetry?${queryOf({ action: 'breakdown', by, ...windowQuery })}`);
  const drift = useApi(`/api/telemetry?${queryOf({ action: 'drift', ...windowQuery })}`);
  const recent = useApi('/api/telemetry/events?limit=8');
  const traces = useApi('/api/telemetry/traces?limit=5');
  const ov = overview.data;

  return html`<h1>Overview</h1>
    <form class="toolbar" onSubmit=${(e) => e.preventDefault()}>
      <${TimeRange} value=${{ range: absolute ? '' : range, date_from: p.date_from, date_to: p.date_to }} presets=${presets}
        onChange=${(v) => set({ ...v, interval: '' })} idPrefix="overview-range" />
      <${Select} id="overview-interval" label="Interval" value=${interval} any=${null}
        options=${meta.paramValues('getAggregates', 'interval')} onChange=${(v) => set({ interval: v })} />
    </form>
    <${Problem} error=${overview.error} id="overview-error" />
    <${Loading} when=${overview.loading && !ov} />
    ${
      ov
        ? html`<div class="kpis" id="kpis">
          <${Kpi} id="kpi-requests" label="Requests" value=${fmtInt(ov.requests)} />
          <${Kpi} id="kpi-errors" label="Error rate" value=${pct(ov.error_rate)} />
          <${Kpi} id="kpi-fallbacks" label="Fallback rate" value=${pct(ov.fallback_rate)} />
          <${Kpi} id="kpi-p50" label="p50 latency" value=${fmtMs(ov.latency_ms.p50)} />
          <${Kpi} id="kpi-p95" label="p95 latency" value=${fmtMs(ov.latency_ms.p95)} />
          <${Kpi} id="kpi-p99" label="p99 latency" value=${fmtMs(ov.latency_ms.p99)} />
          <${Kpi} id="kpi-ttft" label="p95 first token" value=${fmtMs(ov.ttft_ms?.p95)} />
          <${Kpi} id="kpi-input-tokens" label="Input tokens" value=${fmtInt(ov.input_tokens)} />
          <${Kpi} id="kpi-output-tokens" label="Output tokens" value=${fmtInt(ov.output_tokens)} />
          <${Kpi} id="kpi-cost" label="Cost" value=${fmtCost(ov.cost_usd, ov.unpriced_calls, ov.requests)} />
          <${Kpi} id="kpi-unpriced" label="Unpriced calls" value=${fmtInt(ov.unpriced_calls)} />
        </div>`
        : null
    }
    <h2>Over time</h2>
    <${Problem} error=${series.error} id="series-error" />
    ${series.data ? html`<${Charts} points=${series.data.items} />` : html`<${Loading} when=${series.loading} />`}
    <h2>Breakdown</h2>
    <form class="toolbar" onSubmit=${(e) => e.preventDefault()}>
      <${Select} id="breakdown-by" label="By" value=${by} any=${null}
        options=${meta.paramValues('getAggregates', 'by').map((d) => [d, LABELS[d] ?? d])} onChange=${(v) => set({ by: v })} />
    </form>
    <${Problem} error=${breakdown.error} />
    ${breakdown.data ? html`<${Breakdown} data=${breakdown.data} />` : null}
    <h2>Drift per model</h2>
    <${Problem} error=${drift.error} />
    ${drift.data ? html`<${Drift} data=${drift.data} />` : null}
    <div class="two-columns">
      <section>
        <h2>Latest events</h2>
        <${Problem} error=${recent.error} />
        <${Table} id="recent-events" rows=${recent.data?.items} empty="No events yet."
          columns=${[
            ['Time', (e) => html`<a href=${href('events', e.id)}>${fmtClock(e.created_at)}</a>`],
            ['Model', (e) => e.model_name],
            ['Latency', (e) => fmtMs(e.latency_ms)],
            ['Cost', eventCost],
            ['Status', (e) => (e.success ? 'ok' : (e.error_code ?? 'error'))],
          ]} />
        <p><a href="#explore">All events</a></p>
      </section>
      <section>
        <h2>Latest traces</h2>
        <${Problem} error=${traces.error} />
        <${Table} id="recent-traces" rows=${traces.data?.items} empty="No traces in the last 24 hours."
          columns=${[
            ['Trace', (t) => html`<a href=${href('traces', t.trace_id)}>${t.root_name}</a>`],
            ['Spans', (t) => fmtInt(t.spans)],
            ['Duration', (t) => fmtMs(t.duration_ms)],
            ['Cost', (t) => fmtCost(t.cost_usd, 0)],
          ]} />
        <p><a href="#traces">All traces</a></p>
      </section>
    </div>`;
}
