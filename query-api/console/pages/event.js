// One event (#events/<id>): every field, tokens per second, its trace's calls as a waterfall, and its log lines.
import { queryOf } from '../lib/api.js';
import { eventCost, fmtClock, tokensPerSecond } from '../lib/format.js';
import { useApi } from '../lib/hooks.js';
import { html } from '../lib/html.js';
import { href } from '../lib/router.js';
import { Loading, Problem } from '../lib/ui.js';
import { Waterfall } from '../lib/waterfall.js';
import { TRACER_PATH } from './tracer.js';

const SEVERITY_NAMES = ['', 'TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const severityName = (n) => (n ? SEVERITY_NAMES[Math.ceil(n / 4)] : 'UNSET');

/** One log line; its trace id links to the trace. */
export function LogLine({ line }) {
  const sev = severityName(line.severity_number);
  return html`<li class=${`log-line sev-${sev.toLowerCase()}`} data-id=${line.id}>
    <time datetime=${line.time}>${fmtClock(line.time)}</time>
    <span class="severity">${line.severity_text || sev}</span>
    <span class="service">${line.service_name ?? ''}</span>
    <span class="body">${line.body}</span>
    ${line.trace_id ? html`<a class="trace-link" href=${href('traces', line.trace_id)}>trace ${line.trace_id.slice(0, 8)}…</a>` : null}
  </li>`;
}

/** An hour either side of a moment: a trace lasts minutes, and a bounded window keeps lookups on the index. */
const around = (iso) => {
  const at = Date.parse(iso);
  return {
    date_from: new Date(at - 3_600_000).toISOString(),
    date_to: new Date(at + 3_600_000).toISOString(),
  };
};

export function TraceLink({ config, traceId }) {
  if (!config.trace_url_template || !traceId) return null;
  return html`<a id="external-trace" href=${config.trace_url_template.replace('{trace_id}', traceId)} target="_blank" rel="noopener"
    >Open in the trace viewer</a>`;
}

function Related({ event }) {
  const window = around(event.created_at);
  const calls = useApi(
    `/api/telemetry/events?${queryOf({ trace_id: event.trace_id, ...window, limit: 1000 })}`,
  );
  const logs = useApi(`/api/telemetry/logs?${queryOf({ trace_id: event.trace_id, ...window, limit: 500 })}`);
  const lines = [...(logs.data?.items ?? [])].reverse();
  const mine = lines.filter((l) => l.span_id === event.span_id);
  const others = lines.filter((l) => l.span_id !== event.span_id);
  const rows = [...(calls.data?.items ?? [])]
    .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at))
    .map((e) => ({
      key: e.id,
      label: e.model_name,
      href: href('events', e.id),
      start: Date.parse(e.created_at),
      duration: e.latency_ms,
      ttft: e.ttft_ms,
      current: e.id === event.id,
    }));
  return html`
    <h2>AI calls of the trace</h2>
    <p><a href=${href('traces', event.trace_id)}>The whole trace</a></p>
    <${Problem} error=${calls.error} />
    ${calls.data ? html`<${Waterfall} rows=${rows} label="AI calls of this trace" />` : html`<${Loading} when=${calls.loading} />`}
    <${Problem} error=${logs.error} />
    <h2>Logs of this call</h2>
    <ol class="log-lines" id="event-logs">${mine.length ? mine.map((l) => html`<${LogLine} line=${l} />`) : html`<li>No log lines.</li>`}</ol>
    <h2>Other logs of the trace</h2>
    <ol class="log-lines" id="trace-logs">${others.length ? others.map((l) => html`<${LogLine} line=${l} />`) : html`<li>No log lines.</li>`}</ol>`;
}

export function EventPage({ route, config, meta }) {
  const { data: event, error, loading } = useApi(`/api/telemetry/events/${encodeURIComponent(route.id)}`);
  const speed = event ? tokensPerSecond(event) : null;
  return html`<h1>Event</h1>
    <p><a href="#explore">All events</a></p>
    <${Problem} error=${error} id="event-error" />
    <${Loading} when=${loading} />
    ${
      event
        ? html`<div id="inspector">
          <p class="summary">${event.model_name} · ${event.success ? 'ok' : (event.error_code ?? 'error')} · ${eventCost(event)}
            ${meta.hasPath(TRACER_PATH) ? html` · <a href=${href('tracer', event.id)}>Decision trace</a>` : null}
            <${TraceLink} config=${config} traceId=${event.trace_id} /></p>
          <dl class="fields">
            ${Object.entries(event).map(
              ([k, v]) =>
                html`<dt>${k}</dt><dd>${
                  k === 'trace_id' && v
                    ? html`<a href=${href('traces', v)}>${v}</a>`
                    : k === 'session_id' && v
                      ? html`<a href=${href('sessions', v)}>${v}</a>`
                      : k === 'cost_usd'
                        ? eventCost(event)
                        : typeof v === 'object' && v !== null
                          ? JSON.stringify(v)
                          : String(v ?? '')
                }</dd>`,
            )}
            ${speed != null ? html`<dt>output tokens/s (after the first token)</dt><dd id="tokens-per-second">${speed.toFixed(1)}</dd>` : null}
          </dl>
          ${event.trace_id ? html`<${Related} event=${event} />` : html`<p>This event has no trace id.</p>`}
        </div>`
        : null
    }`;
}
