// Decision tracer (#tracer/<event id>): what a model call was given and answered — messages, tool calls, rationale,
// confidence — when the org captures content. Shown only where the API serves it.
import { fmtTime } from '../lib/format.js';
import { useApi } from '../lib/hooks.js';
import { html, useState } from '../lib/html.js';
import { href, navigate } from '../lib/router.js';
import { Field, Loading, Problem } from '../lib/ui.js';

export const TRACER_PATH = '/api/telemetry/events/{id}/trace';

const Capped = ({ value }) =>
  html`${value.text}${value.truncated ? html` <span class="badge">cut</span>` : null}`;

function Message({ m }) {
  return html`<li class=${`message role-${m.role}`}>
    <strong>${m.role}</strong>${m.tool_call_id ? html` <span class="muted">answers ${m.tool_call_id}</span>` : null}
    ${m.content.map((part) => (part.type === 'text' ? html`<p class="message-text"><${Capped} value=${part} /></p>` : html`<p class="muted">[${part.kind}]</p>`))}
    ${m.tool_calls.map((t) => html`<p class="tool-call">calls <code>${t.name}</code>(<code><${Capped} value=${t.arguments} /></code>)</p>`)}
  </li>`;
}

function Decision({ id }) {
  const { data: d, error, loading } = useApi(`/api/telemetry/events/${encodeURIComponent(id)}/trace`);
  return html`<${Problem} error=${error} id="tracer-error" />
    <${Loading} when=${loading} />
    ${
      d
        ? html`<div id="decision">
          <p><a href=${href('events', d.event_id)}>${d.model_name} at ${fmtTime(d.created_at)}</a>
            ${d.trace_id ? html` · <a href=${href('traces', d.trace_id)}>trace</a>` : null}
            · kept until ${fmtTime(d.expires_at)} · read as ${d.sources.join(', ') || '—'}</p>
          ${d.truncated ? html`<p class="notice">Some fields were cut at capture.</p>` : null}
          <h2>Input</h2><ol class="messages" id="decision-input">${d.input.map((m) => html`<${Message} m=${m} />`)}</ol>
          <h2>Output</h2><ol class="messages" id="decision-output">${d.output.map((m) => html`<${Message} m=${m} />`)}</ol>
          <h2>Decision</h2>
          <dl class="fields">
            <dt>Rationale</dt><dd id="decision-rationale">${d.rationale ? html`<${Capped} value=${d.rationale} />` : '—'}</dd>
            <dt>Confidence</dt><dd id="decision-confidence">${d.confidence == null ? '—' : d.confidence.toFixed(2)}</dd>
            <dt>Tools offered</dt><dd>${d.tool_definitions ? html`<code><${Capped} value=${d.tool_definitions} /></code>` : '—'}</dd>
          </dl>
        </div>`
        : null
    }`;
}

export function Tracer({ route, meta }) {
  const [draft, setDraft] = useState(route.id ?? '');
  if (!meta.hasPath(TRACER_PATH))
    return html`<h1>Decision tracer</h1><p class="notice" id="not-available">Not available: this Observatory does not serve decision traces yet.</p>`;
  return html`<h1>Decision tracer</h1>
    <form class="toolbar" onSubmit=${(e) => {
      e.preventDefault();
      navigate('tracer', draft.trim());
    }}>
      <${Field} id="tracer-event" label="Event id"><input id="tracer-event" value=${draft} onInput=${(e) => setDraft(e.currentTarget.value)} required /></${Field}>
      <button type="submit" class="primary">Show</button>
    </form>
    ${route.id ? html`<${Decision} id=${route.id} />` : html`<p class="muted">Open an event and follow “Decision trace”, or paste its id.</p>`}`;
}
