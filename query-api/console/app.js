// The Observatory console: plain ES module, no build step. It signs in by exchanging an API key for an HttpOnly
// session cookie (the key is never stored by the page) and then uses the public API like any other client.
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const state = {
  me: null,
  config: { trace_url_template: '' },
  source: null,
  paused: false,
  events: [],
  ticks: [],
};
const HEADERS = { 'x-requested-with': 'observatory', 'content-type': 'application/json' };

const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat())
    el.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return el;
};

async function api(path, init = {}) {
  const res = await fetch(path, {
    credentials: 'same-origin',
    ...init,
    headers: { ...HEADERS, ...(init.headers ?? {}) },
  });
  if (res.status === 401) {
    showSignIn();
    throw new Error('signed out');
  }
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
  if (!res.ok) throw new Error(body?.detail ?? `HTTP ${res.status}`);
  return body;
}

const fmtMs = (ms) =>
  ms == null ? '—' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
// Generation speed after the first token; only for streamed calls (ttft_ms) that report output tokens.
const tokensPerSecond = (e) =>
  e.ttft_ms != null && e.output_tokens != null && e.latency_ms > e.ttft_ms
    ? e.output_tokens / ((e.latency_ms - e.ttft_ms) / 1000)
    : null;
const fmtUsd = (v) => (v == null ? 'unpriced' : `$${Number(v).toFixed(6)}`);
const pct = (v) => `${(100 * (v ?? 0)).toFixed(1)} %`;

function sparkline(values, label) {
  const w = 120;
  const hgt = 28;
  const max = Math.max(1, ...values);
  const points = values
    .map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${hgt - (v / max) * hgt}`)
    .join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('width', w);
  svg.setAttribute('height', hgt);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.innerHTML = `<polyline fill="none" stroke="#0b57d0" stroke-width="1.5" points="${points}"/>`;
  return svg;
}

function showSignIn(message = '') {
  state.source?.close();
  nav.hidden = true;
  who.textContent = '';
  main.replaceChildren(
    h(
      'section',
      { id: 'signin' },
      h('h2', {}, 'Sign in'),
      h(
        'form',
        { id: 'signin-form', onsubmit: signIn },
        h('label', { for: 'api-key' }, 'API key'),
        h('input', {
          id: 'api-key',
          name: 'key',
          type: 'password',
          autocomplete: 'off',
          required: true,
          placeholder: 'obs_…',
        }),
        h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
        h('p', { id: 'signin-error', role: 'alert' }, message),
      ),
    ),
  );
}

async function signIn(e) {
  e.preventDefault();
  const key = e.target.key.value.trim();
  const res = await fetch('/api/session', { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) return showSignIn('That key was not accepted.');
  await start();
}

async function start() {
  try {
    state.me = await api('/api/whoami');
  } catch {
    return showSignIn();
  }
  state.config = await api('/api/console/config');
  nav.hidden = false;
  who.replaceChildren(
    `Org ${state.me.org_id} · ${state.me.role} `,
    h('button', { type: 'button', onclick: signOut }, 'Sign out'),
  );
  show('activity');
}

async function signOut() {
  await fetch('/api/session', { method: 'DELETE' });
  showSignIn();
}

function show(page) {
  for (const b of nav.querySelectorAll('button')) b.toggleAttribute('aria-current', b.dataset.page === page);
  for (const b of nav.querySelectorAll('button'))
    if (b.dataset.page === page) b.setAttribute('aria-current', 'page');
  // Each live page opens its own stream.
  state.source?.close();
  ({ activity, logs, overview, alerts, exports })[page]();
}
nav.addEventListener('click', (e) => e.target.dataset?.page && show(e.target.dataset.page));

// Activity: live feed over SSE, counters and sparklines recomputed every second.
function activity() {
  state.events = [];
  state.ticks = [];
  const status = h('span', { class: 'status-dot disconnected', id: 'conn' }, 'connecting');
  const pause = h(
    'button',
    {
      type: 'button',
      id: 'pause',
      onclick: () => {
        state.paused = !state.paused;
        pause.textContent = state.paused ? 'Resume' : 'Pause';
      },
    },
    'Pause',
  );
  const model = h('input', { id: 'filter-model', placeholder: 'any model' });
  const endpoint = h('input', { id: 'filter-endpoint', placeholder: 'any endpoint' });
  const apply = h('button', { type: 'button', onclick: () => connect() }, 'Apply filters');
  const kpis = h('div', { class: 'kpis', id: 'kpis' });
  const rows = h('tbody', { id: 'feed' });
  main.replaceChildren(
    h('h2', {}, 'Activity'),
    h(
      'div',
      { class: 'toolbar' },
      status,
      pause,
      h('label', { for: 'filter-model' }, 'Model'),
      model,
      h('label', { for: 'filter-endpoint' }, 'Endpoint'),
      endpoint,
      apply,
    ),
    kpis,
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Time', 'Model', 'Endpoint', 'Latency', 'Tokens', 'Cost', 'Status'].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      rows,
    ),
    h('div', { id: 'inspector' }),
  );
  const connect = () => {
    state.source?.close();
    const q = new URLSearchParams();
    if (model.value) q.set('model_name', model.value);
    if (endpoint.value) q.set('endpoint', endpoint.value);
    const source = new EventSource(`/api/telemetry/stream?${q}`);
    state.source = source;
    source.addEventListener('open', () => {
      status.className = 'status-dot connected';
      status.textContent = 'live';
    });
    source.addEventListener('error', () => {
      // EventSource gives up (CLOSED) after a 401: the key was revoked or the session ended.
      const ended = source.readyState === EventSource.CLOSED;
      status.className = 'status-dot disconnected';
      status.textContent = ended ? 'stream closed: sign in again' : 'reconnecting';
    });
    // A stream past its lifetime reconnects by itself with Last-Event-ID; a revoked key or ended session does not.
    source.addEventListener('closed', (m) => {
      const { reason } = JSON.parse(m.data);
      if (reason === 'max_lifetime') return;
      source.close();
      status.className = 'status-dot disconnected';
      status.textContent = 'stream closed: sign in again';
    });
    source.addEventListener('telemetry', (m) => {
      const event = JSON.parse(m.data);
      state.events.push(event);
      if (state.events.length > 2000) state.events.shift();
      if (state.paused) return;
      const tr = h(
        'tr',
        {
          tabindex: 0,
          'data-id': event.id,
          onclick: () => inspect(event),
          onkeydown: (k) => k.key === 'Enter' && inspect(event),
        },
        h('td', {}, new Date(event.created_at).toLocaleTimeString()),
        h('td', {}, event.model_name),
        h('td', {}, event.endpoint ?? ''),
        h('td', {}, fmtMs(event.latency_ms)),
        h('td', {}, `${event.input_tokens ?? 0} / ${event.output_tokens ?? 0}`),
        h('td', {}, fmtUsd(event.cost_usd)),
        h(
          'td',
          {},
          event.success
            ? h('span', { class: 'ok' }, 'ok')
            : h('span', { class: 'bad' }, event.error_code ?? 'error'),
          event.fallback_used
            ? h('span', { class: 'badge fallback' }, ` fallback → ${event.fallback_model ?? ''}`)
            : '',
        ),
      );
      rows.prepend(tr);
      while (rows.children.length > 200) rows.lastChild.remove();
    });
  };
  connect();
  clearInterval(state.timer);
  state.timer = setInterval(() => {
    if (!document.getElementById('kpis')) return clearInterval(state.timer);
    const since = Date.now() - 60_000;
    const recent = state.events.filter((e) => new Date(e.received_at).getTime() >= since);
    const sorted = recent.map((e) => e.latency_ms).sort((a, b) => a - b);
    const tick = {
      requests: recent.length,
      errorRate: recent.length ? recent.filter((e) => !e.success).length / recent.length : 0,
      fallbackRate: recent.length ? recent.filter((e) => e.fallback_used).length / recent.length : 0,
      p95: sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))] : 0,
      cost: recent.reduce((s, e) => s + Number(e.cost_usd ?? 0), 0),
    };
    state.ticks.push(tick);
    if (state.ticks.length > 60) state.ticks.shift();
    const kpi = (id, label, value, series) =>
      h(
        'div',
        { class: 'kpi', id },
        h('div', {}, label),
        h('div', { class: 'value' }, value),
        sparkline(series, `${label} over the last minute`),
      );
    kpis.replaceChildren(
      kpi(
        'kpi-requests',
        'Requests (1 min)',
        tick.requests,
        state.ticks.map((t) => t.requests),
      ),
      kpi(
        'kpi-errors',
        'Error rate',
        pct(tick.errorRate),
        state.ticks.map((t) => t.errorRate),
      ),
      kpi(
        'kpi-fallbacks',
        'Fallback rate',
        pct(tick.fallbackRate),
        state.ticks.map((t) => t.fallbackRate),
      ),
      kpi(
        'kpi-p95',
        'p95 latency',
        fmtMs(tick.p95),
        state.ticks.map((t) => t.p95),
      ),
      kpi(
        'kpi-cost',
        'Cost (1 min)',
        `$${tick.cost.toFixed(4)}`,
        state.ticks.map((t) => t.cost),
      ),
    );
  }, 1000);
}

// Event inspector: every field, a link to the trace, and the trace's AI events as a waterfall.
async function inspect(event) {
  const box = document.getElementById('inspector');
  const traceLink = event.trace_id
    ? h(
        'a',
        {
          href: state.config.trace_url_template.replace('{trace_id}', event.trace_id),
          target: '_blank',
          rel: 'noopener',
        },
        event.trace_id,
      )
    : 'none';
  const fields = h(
    'dl',
    { class: 'fields' },
    ...Object.entries(event).flatMap(([k, v]) => [
      h('dt', {}, k),
      h(
        'dd',
        {},
        k === 'trace_id'
          ? traceLink
          : typeof v === 'object' && v !== null
            ? JSON.stringify(v)
            : String(v ?? ''),
      ),
    ]),
  );
  const speed = tokensPerSecond(event);
  if (speed != null) {
    fields.append(
      h('dt', {}, 'output tokens/s (after the first token)'),
      h('dd', { id: 'tokens-per-second' }, speed.toFixed(1)),
    );
  }
  const waterfall = h('div', {
    class: 'waterfall',
    id: 'waterfall',
    role: 'list',
    'aria-label': 'AI calls of this trace',
  });
  const callLogs = h('ol', { class: 'log-lines', id: 'event-logs', 'aria-label': 'Log lines of this call' });
  const traceLogs = h('ol', {
    class: 'log-lines',
    id: 'trace-logs',
    'aria-label': 'Other log lines of this trace',
  });
  box.replaceChildren(
    h('h3', {}, `Event ${event.id}`),
    fields,
    h('h4', {}, 'Trace'),
    waterfall,
    h('h4', {}, 'Logs of this call'),
    callLogs,
    h('h4', {}, 'Other logs of the trace'),
    traceLogs,
  );
  if (!event.trace_id) {
    callLogs.append(h('li', {}, 'This event has no trace id.'));
    return waterfall.append('This event has no trace id.');
  }
  // A trace lasts minutes at most: bounding the time keeps this lookup on the (org_id, created_at) index.
  const at = new Date(event.created_at).getTime();
  const window = `date_from=${new Date(at - 3_600_000).toISOString()}&date_to=${new Date(at + 3_600_000).toISOString()}`;
  const [{ items }, lines] = await Promise.all([
    api(`/api/telemetry/events?trace_id=${event.trace_id}&${window}&limit=1000`),
    api(`/api/telemetry/logs?trace_id=${event.trace_id}&${window}&limit=500`),
  ]);
  // Oldest first, as a story of the call.
  const ordered = [...lines.items].reverse();
  const mine = ordered.filter((l) => l.span_id === event.span_id);
  const others = ordered.filter((l) => l.span_id !== event.span_id);
  callLogs.append(...(mine.length ? mine.map((l) => logLine(l)) : [h('li', {}, 'No log lines.')]));
  traceLogs.append(...(others.length ? others.map((l) => logLine(l)) : [h('li', {}, 'No log lines.')]));
  const starts = items.map((e) => new Date(e.created_at).getTime());
  const t0 = Math.min(...starts);
  const span = Math.max(1, ...items.map((e, i) => starts[i] - t0 + e.latency_ms));
  for (const e of [...items].sort((a, b) => new Date(a.created_at) - new Date(b.created_at))) {
    const offset = new Date(e.created_at).getTime() - t0;
    waterfall.append(
      h(
        'div',
        { class: 'bar', role: 'listitem' },
        h(
          'span',
          {
            class: e.id === event.id ? 'current' : '',
            style: `left:${(100 * offset) / span}%;width:${Math.max(0.5, (100 * e.latency_ms) / span)}%`,
          },
          // The wait for the first token, shaded inside the call's bar.
          e.ttft_ms != null && e.latency_ms > 0
            ? h('i', { class: 'ttft', style: `width:${Math.min(100, (100 * e.ttft_ms) / e.latency_ms)}%` })
            : '',
        ),
        h(
          'em',
          {},
          `${e.model_name} +${fmtMs(offset)} (${fmtMs(e.latency_ms)}${e.ttft_ms != null ? `, first token ${fmtMs(e.ttft_ms)}` : ''})`,
        ),
      ),
    );
  }
}

const SEVERITY_NAMES = ['', 'TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const severityName = (n) => (n ? SEVERITY_NAMES[Math.ceil(n / 4)] : 'UNSET');

/** One log line as a list item; its trace id jumps to the trace's events (`onTrace`) when given. */
function logLine(line, onTrace) {
  const severity = line.severity_text || severityName(line.severity_number);
  return h(
    'li',
    { class: `log-line sev-${severityName(line.severity_number).toLowerCase()}`, 'data-id': line.id },
    h('time', { datetime: line.time }, new Date(line.time).toLocaleTimeString()),
    h('span', { class: 'severity' }, severity),
    h('span', { class: 'service' }, line.service_name ?? ''),
    h('span', { class: 'body' }, line.body),
    line.trace_id && onTrace
      ? h(
          'button',
          {
            type: 'button',
            class: 'link',
            onclick: () => onTrace(line),
            title: 'Show the trace of this line',
          },
          `trace ${line.trace_id.slice(0, 8)}…`,
        )
      : '',
  );
}

// Logs: search history (GET /api/telemetry/logs, newest first, by cursor) and tail new lines live over SSE.
function logs() {
  const status = h('span', { class: 'status-dot disconnected', id: 'logs-conn' }, 'not live');
  const severity = h(
    'select',
    { id: 'logs-severity' },
    ...['', 'debug', 'info', 'warn', 'error', 'fatal'].map((v) => h('option', { value: v }, v || 'any')),
  );
  const service = h('input', { id: 'logs-service', placeholder: 'any service' });
  const text = h('input', { id: 'logs-q', type: 'search', placeholder: 'words, "a phrase", -word' });
  const trace = h('input', { id: 'logs-trace', placeholder: 'any trace id' });
  const list = h('ol', { class: 'log-lines', id: 'log-list', 'aria-label': 'Log lines, newest first' });
  const more = h('button', { type: 'button', id: 'logs-more', hidden: true }, 'Older lines');
  const error = h('p', { role: 'alert', id: 'logs-error' });
  const tail = h('button', { type: 'button', id: 'logs-tail', 'aria-pressed': 'false' }, 'Live tail');
  let cursor = null;

  const filters = () => {
    const q = new URLSearchParams();
    if (severity.value) q.set('min_severity', severity.value);
    if (service.value) q.set('service', service.value);
    if (text.value) q.set('q', text.value);
    if (trace.value) q.set('trace_id', trace.value);
    return q;
  };
  const jumpToTrace = async (line) => {
    // The events of the line's trace around its time; the inspector opens on the call it was logged in.
    const at = new Date(line.time).getTime();
    const window = `date_from=${new Date(at - 3_600_000).toISOString()}&date_to=${new Date(at + 3_600_000).toISOString()}`;
    const { items } = await api(`/api/telemetry/events?trace_id=${line.trace_id}&${window}&limit=1000`);
    const event = items.find((e) => e.span_id === line.span_id) ?? items[0];
    const box = document.getElementById('inspector');
    if (event) return inspect(event);
    box.replaceChildren(
      h('h3', {}, `Trace ${line.trace_id}`),
      h('p', {}, 'No AI call of this trace is stored. '),
      h(
        'a',
        {
          href: state.config.trace_url_template.replace('{trace_id}', line.trace_id),
          target: '_blank',
          rel: 'noopener',
        },
        'Open the trace',
      ),
    );
  };
  const load = async (append) => {
    error.textContent = '';
    const q = filters();
    q.set('limit', '100');
    if (append && cursor) q.set('cursor', cursor);
    try {
      const page = await api(`/api/telemetry/logs?${q}`);
      const items = page.items.map((l) => logLine(l, jumpToTrace));
      if (append) list.append(...items);
      else list.replaceChildren(...items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const stopTail = () => {
    state.source?.close();
    state.source = null;
    tail.setAttribute('aria-pressed', 'false');
    status.className = 'status-dot disconnected';
    status.textContent = 'not live';
  };
  const startTail = () => {
    state.source?.close();
    const q = filters();
    q.set('logs', 'true');
    q.set('telemetry', 'false');
    const source = new EventSource(`/api/telemetry/stream?${q}`);
    state.source = source;
    tail.setAttribute('aria-pressed', 'true');
    source.addEventListener('open', () => {
      status.className = 'status-dot connected';
      status.textContent = 'live';
    });
    source.addEventListener('error', () => {
      status.className = 'status-dot disconnected';
      status.textContent =
        source.readyState === EventSource.CLOSED ? 'stream closed: sign in again' : 'reconnecting';
    });
    source.addEventListener('closed', (m) => {
      if (JSON.parse(m.data).reason !== 'max_lifetime') stopTail();
    });
    source.addEventListener('overflow', () => {
      status.textContent = 'too many lines: narrow the filters';
    });
    source.addEventListener('log', (m) => {
      list.prepend(logLine(JSON.parse(m.data), jumpToTrace));
      while (list.children.length > 1000) list.lastChild.remove();
    });
  };
  const search = (e) => {
    e?.preventDefault();
    load(false);
    if (tail.getAttribute('aria-pressed') === 'true') startTail();
  };
  more.addEventListener('click', () => load(true));
  tail.addEventListener('click', () =>
    tail.getAttribute('aria-pressed') === 'true' ? stopTail() : startTail(),
  );
  main.replaceChildren(
    h('h2', {}, 'Logs'),
    h(
      'form',
      { class: 'toolbar', id: 'logs-form', onsubmit: search },
      status,
      tail,
      h('label', { for: 'logs-severity' }, 'Severity at least'),
      severity,
      h('label', { for: 'logs-service' }, 'Service'),
      service,
      h('label', { for: 'logs-q' }, 'Text'),
      text,
      h('label', { for: 'logs-trace' }, 'Trace'),
      trace,
      h('button', { type: 'submit' }, 'Search'),
    ),
    error,
    list,
    more,
    h('div', { id: 'inspector' }),
  );
  load(false);
}

async function overview() {
  const range = h(
    'select',
    { id: 'range', onchange: () => load() },
    ...['1h', '24h', '7d', '30d'].map((r) => h('option', { value: r, selected: r === '24h' }, r)),
  );
  const body = h('div', { id: 'overview-body' });
  main.replaceChildren(
    h('h2', {}, 'Overview'),
    h('div', { class: 'toolbar' }, h('label', { for: 'range' }, 'Range'), range),
    body,
  );
  const table = (cols, items) =>
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...cols.map(([t]) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...items.map((it) => h('tr', {}, ...cols.map(([, f]) => h('td', {}, f(it)))))),
    );
  const load = async () => {
    const r = range.value;
    const [ov, models, errors, fallbacks] = await Promise.all(
      ['overview', 'models', 'errors', 'fallbacks'].map((a) => api(`/api/telemetry?action=${a}&range=${r}`)),
    );
    if (range.value !== r) return;
    body.replaceChildren(
      h(
        'div',
        { class: 'kpis' },
        ...[
          ['Requests', ov.requests, ov.series.map((s) => s.requests)],
          ['Error rate', pct(ov.error_rate), ov.series.map((s) => s.errors)],
          ['Fallback rate', pct(ov.fallback_rate), ov.series.map((s) => s.fallbacks)],
          ['p95 latency', fmtMs(ov.latency_ms.p95), ov.series.map((s) => s.p95_latency_ms ?? 0)],
          ['Cost', `$${Number(ov.cost_usd).toFixed(4)}`, []],
          ['Unpriced calls', ov.unpriced_calls, []],
        ].map(([label, value, series]) =>
          h(
            'div',
            { class: 'kpi' },
            h('div', {}, label),
            h('div', { class: 'value' }, value),
            series.length ? sparkline(series, `${label} per ${ov.bucket}`) : '',
          ),
        ),
      ),
      h('h3', {}, 'Models'),
      table(
        [
          ['Model', (m) => m.model_name],
          ['Calls', (m) => m.calls],
          ['Error rate', (m) => pct(m.error_rate)],
          ['Fallback rate', (m) => pct(m.fallback_rate)],
          ['p50', (m) => fmtMs(m.p50_latency_ms)],
          ['p95', (m) => fmtMs(m.p95_latency_ms)],
          ['Cost', (m) => fmtUsd(m.cost_usd)],
          ['Unpriced', (m) => m.unpriced_calls],
        ],
        models.items,
      ),
      h('h3', {}, 'Errors'),
      table(
        [
          ['Code', (e) => e.error_code],
          ['Count', (e) => e.count],
          ['Share', (e) => pct(e.share)],
          ['Last seen', (e) => new Date(e.last_seen).toLocaleString()],
          ['Example', (e) => e.example_message ?? ''],
          ['Models', (e) => e.models.join(', ')],
        ],
        errors.items,
      ),
      h('h3', {}, 'Fallbacks'),
      table(
        [
          ['Primary', (f) => f.primary_model],
          ['Fallback', (f) => f.fallback_model ?? ''],
          ['Reason', (f) => f.fallback_reason ?? ''],
          ['Count', (f) => f.count],
          ['Rate', (f) => pct(f.rate)],
        ],
        fallbacks.items,
      ),
    );
  };
  await load();
}

async function alerts() {
  const status = h(
    'select',
    { id: 'alert-status', onchange: () => load() },
    ...['active', 'acknowledged', 'resolved'].map((s) => h('option', { value: s }, s)),
  );
  const list = h('div', { id: 'alert-list' });
  main.replaceChildren(
    h('h2', {}, 'Alerts'),
    h('div', { class: 'toolbar' }, h('label', { for: 'alert-status' }, 'Status'), status),
    list,
  );
  const load = async () => {
    const wanted = status.value;
    const { alerts: items } = await api(`/api/telemetry/alerts?status=${wanted}`);
    // A slower answer for a status no longer selected must not overwrite the current list.
    if (status.value !== wanted) return;
    list.replaceChildren(
      items.length === 0
        ? h('p', {}, `No ${wanted} alerts.`)
        : h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...['Severity', 'Alert', 'Summary', 'Started', 'Acknowledged', ''].map((t) =>
                  h('th', { scope: 'col' }, t),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              ...items.map((a) =>
                h(
                  'tr',
                  { 'data-alert': a.id },
                  h('td', {}, a.severity),
                  h('td', {}, a.name),
                  h('td', {}, a.summary ?? ''),
                  h('td', {}, new Date(a.started_at).toLocaleString()),
                  h(
                    'td',
                    {},
                    a.acknowledged_at
                      ? `by ${a.acknowledged_by} at ${new Date(a.acknowledged_at).toLocaleString()}`
                      : '',
                  ),
                  h(
                    'td',
                    {},
                    a.status === 'active' && state.me.role === 'org_admin'
                      ? h(
                          'button',
                          {
                            type: 'button',
                            class: 'ack',
                            onclick: async () => {
                              await api(`/api/telemetry/alerts/${a.id}/ack`, {
                                method: 'POST',
                                body: JSON.stringify({ note: 'acknowledged in the console' }),
                              });
                              await load();
                            },
                          },
                          'Ack',
                        )
                      : '',
                  ),
                ),
              ),
            ),
          ),
    );
  };
  await load();
  if (state.me.role === 'org_admin') await ruleEditor();
}

// Built-in rules (the embedded engine): list, create, delete. org_admin only, like the API.
async function ruleEditor() {
  const rules = h('tbody', { id: 'rule-list' });
  const field = (id, label, input) => [h('label', { for: id }, label), input];
  const name = h('input', { id: 'rule-name', required: true, placeholder: 'High error rate' });
  const metric = h(
    'select',
    { id: 'rule-metric' },
    ...[
      'error_rate',
      'fallback_rate',
      'p95_latency',
      'p95_ttft',
      'cost',
      'request_count',
      'psi_latency',
      'psi_input_tokens',
      'psi_output_tokens',
      'psi_cost',
    ].map((m) => h('option', { value: m }, m)),
  );
  const operator = h(
    'select',
    { id: 'rule-operator' },
    ...['>', '>=', '<', '<='].map((o) => h('option', { value: o }, o)),
  );
  const threshold = h('input', {
    id: 'rule-threshold',
    type: 'number',
    step: 'any',
    required: true,
    value: '0.05',
  });
  const windowSeconds = h('input', {
    id: 'rule-window',
    type: 'number',
    min: 10,
    required: true,
    value: '300',
  });
  const severity = h(
    'select',
    { id: 'rule-severity' },
    ...['warning', 'critical', 'info'].map((v) => h('option', { value: v }, v)),
  );
  const message = h('p', { role: 'status', id: 'rule-message' });
  const load = async () => {
    const { rules: items } = await api('/api/telemetry/alert-rules');
    rules.replaceChildren(
      ...items.map((r) =>
        h(
          'tr',
          { 'data-rule': r.id },
          h('td', {}, r.name),
          h('td', {}, `${r.metric} ${r.operator} ${r.threshold}`),
          h('td', {}, `${r.window_seconds} s`),
          h('td', {}, r.severity),
          h(
            'td',
            {},
            h(
              'button',
              {
                type: 'button',
                onclick: async () => {
                  await api(`/api/telemetry/alert-rules/${r.id}`, { method: 'DELETE' });
                  await load();
                },
              },
              `Delete ${r.name}`,
            ),
          ),
        ),
      ),
    );
  };
  const form = h(
    'form',
    {
      id: 'rule-form',
      class: 'toolbar',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api('/api/telemetry/alert-rules', {
            method: 'POST',
            body: JSON.stringify({
              name: name.value,
              metric: metric.value,
              operator: operator.value,
              threshold: Number(threshold.value),
              window_seconds: Number(windowSeconds.value),
              severity: severity.value,
            }),
          });
          message.textContent = `Rule "${name.value}" created.`;
          await load();
        } catch (err) {
          message.textContent = err.message;
        }
      },
    },
    ...field('rule-name', 'Name', name),
    ...field('rule-metric', 'Metric', metric),
    ...field('rule-operator', 'Operator', operator),
    ...field('rule-threshold', 'Threshold', threshold),
    ...field('rule-window', 'Window (s)', windowSeconds),
    ...field('rule-severity', 'Severity', severity),
    h('button', { type: 'submit', class: 'primary' }, 'Add rule'),
  );
  main.append(
    h('h3', {}, 'Built-in alert rules'),
    form,
    message,
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Name', 'Condition', 'Window', 'Severity', ''].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      rules,
    ),
  );
  await load();
}

async function exports() {
  const format = h(
    'select',
    { id: 'export-format' },
    ...['csv', 'json', 'jsonl'].map((f) => h('option', { value: f }, f)),
  );
  const model = h('input', { id: 'export-model', placeholder: 'any model' });
  const list = h('tbody', { id: 'export-list' });
  const message = h('p', { role: 'status', id: 'export-message' });
  const create = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      id: 'export-create',
      onclick: async () => {
        const filters = model.value ? { model_name: model.value } : {};
        try {
          const job = await api('/api/telemetry/export', {
            method: 'POST',
            body: JSON.stringify({ filters, format: format.value, gzip: false }),
          });
          message.textContent = `Export ${job.job_id} queued.`;
          await load();
        } catch (err) {
          message.textContent = err.message;
        }
      },
    },
    'Create export',
  );
  main.replaceChildren(
    h('h2', {}, 'Exports'),
    h(
      'div',
      { class: 'toolbar' },
      h('label', { for: 'export-format' }, 'Format'),
      format,
      h('label', { for: 'export-model' }, 'Model'),
      model,
      create,
    ),
    message,
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Job', 'Format', 'Status', 'Rows', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      list,
    ),
  );
  const load = async () => {
    const { items } = await api('/api/telemetry/exports');
    const jobs = await Promise.all(
      items.map((j) => (j.status === 'completed' ? api(`/api/telemetry/export/${j.job_id}`) : j)),
    );
    list.replaceChildren(
      ...jobs.map((j) =>
        h(
          'tr',
          { 'data-job': j.job_id },
          h('td', {}, j.job_id.slice(0, 8)),
          h('td', {}, j.format),
          h('td', { class: 'job-status' }, j.status),
          h('td', {}, j.row_count ?? ''),
          h('td', {}, new Date(j.created_at).toLocaleString()),
          h(
            'td',
            {},
            j.download_url
              ? h('a', { href: j.download_url, class: 'download' }, 'Download')
              : (j.error ?? ''),
          ),
        ),
      ),
    );
  };
  await load();
  clearInterval(state.exportTimer);
  state.exportTimer = setInterval(
    () =>
      document.getElementById('export-list') ? load().catch(() => {}) : clearInterval(state.exportTimer),
    1000,
  );
}

document.getElementById('signin-form').addEventListener('submit', signIn);
start();
