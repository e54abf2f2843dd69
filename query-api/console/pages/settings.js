// Settings: the org's settings, the form built from the API's own schema (bounds and types); org_admin changes them.
import { api } from '../lib/api.js';
import { useAction, useApi } from '../lib/hooks.js';
import { html, useState } from '../lib/html.js';
import { Field, Problem } from '../lib/ui.js';

export function Settings({ me, meta }) {
  const settings = useApi('/api/telemetry/settings');
  const save = useAction();
  const admin = me.role === 'org_admin';
  // The changes typed so far; the form shows them over the stored settings.
  const [draft, setDraft] = useState({});
  const values = { ...settings.data, ...draft };
  const fields = meta.properties('OrgSettingsPatch');
  const submit = async (e) => {
    e.preventDefault();
    const changed = Object.fromEntries(Object.entries(draft).filter(([k, v]) => v !== settings.data[k]));
    const after = await save.run(() => api('/api/telemetry/settings', { method: 'PUT', body: changed }));
    if (after) {
      setDraft({});
      settings.reload();
    }
  };
  return html`<h1>Settings</h1>
    <${Problem} error=${settings.error} />
    ${!admin ? html`<p class="notice" id="settings-read-only">Read only: changing settings needs an <code>org_admin</code> key; you are signed in as <code>${me.role}</code>.</p>` : null}
    ${
      settings.data
        ? html`<form id="settings-form" onSubmit=${submit}>
          ${fields.map(([name, schema]) => {
            const id = `setting-${name}`;
            if (schema.type === 'boolean')
              return html`<div class="field checkbox"><input id=${id} type="checkbox" disabled=${!admin} checked=${values[name]}
                onChange=${(e) => setDraft({ ...draft, [name]: e.currentTarget.checked })} /><label for=${id}>${name}</label></div>`;
            const choices = meta.values(schema);
            if (choices.length)
              return html`<${Field} id=${id} label=${name}>
                <select id=${id} disabled=${!admin} value=${values[name] ?? ''} onChange=${(e) => setDraft({ ...draft, [name]: e.currentTarget.value })}>
                  ${choices.map((v) => html`<option value=${v}>${v}</option>`)}
                </select></${Field}>`;
            if (schema.type !== 'integer' && schema.type !== 'number')
              return html`<${Field} id=${id} label=${name}>
                <input id=${id} disabled=${!admin} value=${values[name] ?? ''} onInput=${(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} /></${Field}>`;
            return html`<${Field} id=${id} label=${`${name}${schema.minimum != null ? ` (${schema.minimum}–${schema.maximum})` : ''}`}>
              <input id=${id} type="number" min=${schema.minimum} max=${schema.maximum} disabled=${!admin} value=${values[name] ?? ''}
                onInput=${(e) => setDraft({ ...draft, [name]: Number(e.currentTarget.value) })} /></${Field}>`;
          })}
          ${admin ? html`<button type="submit" class="primary" disabled=${save.busy}>Save settings</button>` : null}
        </form>`
        : null
    }
    ${save.done ? html`<p role="status" id="settings-saved">Saved.</p>` : null}
    <${Problem} error=${save.error} id="settings-error" />`;
}
