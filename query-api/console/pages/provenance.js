// Provenance timeline: each model's versions, deployments and version changes with the figures before and after
// (the rollback preview). Shown only where the API serves it.
import { queryOf } from '../lib/api.js';
import { fmtInt, fmtMs, fmtTime, pct, usd } from '../lib/format.js';
import { useApi } from '../lib/hooks.js';
import { html, useState } from '../lib/html.js';
import { navigate, paramsObject } from '../lib/router.js';
import { Field, Loading, Problem, Table } from '../lib/ui.js';

const PATH = '/api/telemetry/model-versions';

const figures = (f) =>
  f
    ? `${fmtInt(f.calls)} calls · ${pct(f.error_rate)} errors · p95 ${fmtMs(f.p95_latency_ms)} · ${f.cost_per_call_usd == null ? 'unpriced' : `${usd(f.cost_per_call_usd)}/call`}`
    : '—';

function Timeline({ m }) {
  return html`<section class="model-timeline" data-model=${m.model_name}>
    <h2>${m.model_name}</h2>
    <${Table} caption="Versions, oldest first" rows=${m.versions}
      columns=${[
        ['Version', (v) => v.version],
        ['First seen', (v) => fmtTime(v.first_seen)],
        ['Last seen', (v) => fmtTime(v.last_seen)],
        ['While current', (v) => figures(v.figures)],
      ]} />
    <${Table} caption="Version changes: before and after" rows=${m.changes} empty="No version changes."
      columns=${[
        ['At', (c) => fmtTime(c.at)],
        ['Change', (c) => `${c.from_version ?? '—'} → ${c.to_version}`],
        ['Before', (c) => figures(c.before)],
        ['After', (c) => figures(c.after)],
      ]} />
    <${Table} caption="Deployments" rows=${m.deployments} empty="No deployments recorded."
      columns=${[
        ['Deployed', (d) => fmtTime(d.deployed_at)],
        ['Version', (d) => d.version],
        ['By', (d) => d.deployed_by],
        ['Note', (d) => d.note ?? ''],
      ]} />
  </section>`;
}

export function Provenance({ route, meta }) {
  const p = paramsObject(route.params);
  const [model, setModel] = useState(p.model_name ?? '');
  const available = meta.hasPath(PATH);
  const timeline = useApi(available ? `${PATH}?${queryOf({ model_name: p.model_name })}` : null);
  if (!available)
    return html`<h1>Provenance</h1><p class="notice" id="not-available">Not available: this Observatory does not serve model versions yet.</p>`;
  return html`<h1>Provenance</h1>
    <form class="toolbar" onSubmit=${(e) => {
      e.preventDefault();
      navigate('provenance', undefined, queryOf({ model_name: model }));
    }}>
      <${Field} id="provenance-model" label="Model"><input id="provenance-model" value=${model} onInput=${(e) => setModel(e.currentTarget.value)} placeholder="every model" /></${Field}>
      <button type="submit" class="primary">Show</button>
    </form>
    <${Problem} error=${timeline.error} id="provenance-error" />
    <${Loading} when=${timeline.loading} />
    <div id="provenance">
      ${timeline.data?.models.length === 0 ? html`<p class="muted">No model versions seen in the last 90 days.</p>` : null}
      ${timeline.data?.models.map((m) => html`<${Timeline} m=${m} />`)}
    </div>`;
}
