// Alerts (acknowledge: org_admin) and the built-in alert rules (org_admin). #alerts/<id> opens on one alert.
import { api, queryOf } from '../lib/api.js';
import { fmtTime } from '../lib/format.js';
import { useAction, useApi } from '../lib/hooks.js';
import { html, useEffect, useState } from '../lib/html.js';
import { navigate, paramsObject } from '../lib/router.js';
import { Field, Problem, Select, Table } from '../lib/ui.js';

function Rules({ meta }) {
  const rules = useApi('/api/telemetry/alert-rules');
  const action = useAction();
  const values = (prop) => meta.propertyValues('AlertRuleInput', prop);
  const byDefault = (prop) => meta.property('AlertRuleInput', prop)?.default ?? values(prop)[0];
  const [draft, setDraft] = useState({
    name: '',
    metric: values('metric')[0],
    operator: byDefault('operator'),
    threshold: '0.05',
    window_seconds: '300',
    severity: byDefault('severity'),
    model_name: '',
  });
  const set = (k) => (v) => setDraft({ ...draft, [k]: v });
  const input = (k) => (e) => set(k)(e.currentTarget.value);
  const create = async (e) => {
    e.preventDefault();
    const done = await action.run(() =>
      api('/api/telemetry/alert-rules', {
        method: 'POST',
        body: {
          name: draft.name,
          metric: draft.metric,
          operator: draft.operator,
          threshold: Number(draft.threshold),
          window_seconds: Number(draft.window_seconds),
          severity: draft.severity,
          model_name: draft.model_name || null,
        },
      }),
    );
    if (done) rules.reload();
  };
  const remove = async (rule) => {
    if (
      await action.run(() =>
        api(`/api/telemetry/alert-rules/${rule.id}`, { method: 'DELETE' }).then(() => true),
      )
    )
      rules.reload();
  };
  return html`<h2>Built-in alert rules</h2>
    <form id="rule-form" class="toolbar" onSubmit=${create}>
      <${Field} id="rule-name" label="Name"><input id="rule-name" required value=${draft.name} onInput=${input('name')} placeholder="High error rate" /></${Field}>
      <${Select} id="rule-metric" label="Metric" any=${null} value=${draft.metric} options=${values('metric')} onChange=${set('metric')} />
      <${Select} id="rule-operator" label="Operator" any=${null} value=${draft.operator} options=${values('operator')} onChange=${set('operator')} />
      <${Field} id="rule-threshold" label="Threshold"><input id="rule-threshold" type="number" step="any" required value=${draft.threshold} onInput=${input('threshold')} /></${Field}>
      <${Field} id="rule-window" label="Window (s)"><input id="rule-window" type="number" required value=${draft.window_seconds} onInput=${input('window_seconds')} /></${Field}>
      <${Field} id="rule-model" label="Model (optional)"><input id="rule-model" value=${draft.model_name} onInput=${input('model_name')} /></${Field}>
      <${Select} id="rule-severity" label="Severity" any=${null} value=${draft.severity} options=${values('severity')} onChange=${set('severity')} />
      <button type="submit" class="primary" disabled=${action.busy}>Add rule</button>
    </form>
    <${Problem} error=${action.error} id="rule-error" />
    <${Problem} error=${rules.error} />
    <${Table} id="rule-list" rows=${rules.data?.rules} empty="No built-in rules."
      rowProps=${(r) => ({ 'data-rule': r.id })}
      columns=${[
        ['Name', (r) => r.name],
        [
          'Condition',
          (r) => `${r.metric}${r.model_name ? ` of ${r.model_name}` : ''} ${r.operator} ${r.threshold}`,
        ],
        ['Window', (r) => `${r.window_seconds} s`],
        ['Severity', (r) => r.severity],
        ['', (r) => html`<button type="button" onClick=${() => remove(r)}>Delete ${r.name}</button>`],
      ]} />`;
}

export function Alerts({ me, route, meta }) {
  const p = paramsObject(route.params);
  const status = p.status || 'active';
  const alerts = useApi(`/api/telemetry/alerts?${queryOf({ status: route.id ? '' : status })}`);
  const ack = useAction();
  const admin = me.role === 'org_admin';
  useEffect(() => {
    if (alerts.data && route.id)
      document.querySelector(`tr[data-alert="${route.id}"]`)?.scrollIntoView({ block: 'center' });
  }, [alerts.data]);
  const acknowledge = async (a) => {
    const done = await ack.run(() =>
      api(`/api/telemetry/alerts/${a.id}/ack`, {
        method: 'POST',
        body: { note: 'acknowledged in the console' },
      }),
    );
    if (done) alerts.reload();
  };
  return html`<h1>Alerts</h1>
    <form class="toolbar" onSubmit=${(e) => e.preventDefault()}>
      <${Select} id="alert-status" label="Status" any=${route.id ? 'any' : null} value=${route.id ? '' : status}
        options=${meta.paramValues('listAlerts', 'status')} onChange=${(v) => navigate('alerts', undefined, queryOf({ status: v }))} />
    </form>
    <${Problem} error=${alerts.error} id="alerts-error" />
    <${Problem} error=${ack.error} id="ack-error" />
    <div id="alert-list">
      <${Table} rows=${alerts.data?.alerts} empty=${`No ${route.id ? '' : status} alerts.`}
        rowProps=${(a) => ({ 'data-alert': a.id, 'aria-current': a.id === route.id ? 'true' : undefined })}
        columns=${[
          ['Severity', (a) => a.severity],
          ['Alert', (a) => html`<a href=${`#alerts/${a.id}`}>${a.name}</a>`],
          ['Summary', (a) => a.summary ?? ''],
          ['Started', (a) => fmtTime(a.started_at)],
          ['Status', (a) => a.status],
          [
            'Acknowledged',
            (a) => (a.acknowledged_at ? `by ${a.acknowledged_by} at ${fmtTime(a.acknowledged_at)}` : ''),
          ],
          ...(admin
            ? [
                [
                  '',
                  (a) =>
                    a.status === 'active'
                      ? html`<button type="button" class="ack" onClick=${() => acknowledge(a)}>Ack</button>`
                      : '',
                ],
              ]
            : []),
        ]} />
    </div>
    ${admin ? html`<${Rules} meta=${meta} />` : html`<p class="notice" id="rules-not-allowed">Acknowledging alerts and editing alert rules needs an <code>org_admin</code> key; you are signed in as <code>${me.role}</code>.</p>`}`;
}
