// API keys (org_admin): create with a role (and scopes, when the API takes them), list, revoke.
import { api } from '../lib/api.js';
import { fmtTime } from '../lib/format.js';
import { useAction, useApi } from '../lib/hooks.js';
import { html, useState } from '../lib/html.js';
import { Field, NotAllowed, Problem, Select, Table } from '../lib/ui.js';

function KeyAdmin({ meta }) {
  const keys = useApi('/api/keys');
  const action = useAction();
  const roles = meta.propertyValues('CreateKeyRequest', 'role');
  // Scopes exist only once the API takes them (issue 16); the page offers what the request schema lists.
  const scopes = meta.propertyValues('CreateKeyRequest', 'scopes');
  const [role, setRole] = useState('viewer');
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState([]);
  const [created, setCreated] = useState(undefined);
  const submit = async (e) => {
    e.preventDefault();
    const body = {
      role,
      ...(name ? { name } : {}),
      ...(scopes.length && chosen.length ? { scopes: chosen } : {}),
    };
    const key = await action.run(() => api('/api/keys', { method: 'POST', body }));
    if (key) {
      setCreated(key);
      keys.reload();
    }
  };
  const revoke = async (k) => {
    setCreated(undefined);
    if (await action.run(() => api(`/api/keys/${k.id}`, { method: 'DELETE' }))) keys.reload();
  };
  return html`<form class="toolbar" id="key-form" onSubmit=${submit}>
      <${Select} id="key-role" label="Role" any=${null} value=${role} options=${roles} onChange=${setRole} />
      <${Field} id="key-name" label="Name"><input id="key-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} placeholder="what it is for" /></${Field}>
      ${
        scopes.length
          ? html`<fieldset><legend>Scopes</legend>${scopes.map(
              (s) => html`<label><input type="checkbox" checked=${chosen.includes(s)}
              onChange=${(e) => setChosen(e.currentTarget.checked ? [...chosen, s] : chosen.filter((x) => x !== s))} /> ${s}</label>`,
            )}</fieldset>`
          : null
      }
      <button type="submit" class="primary" disabled=${action.busy}>Create key</button>
    </form>
    ${
      created
        ? html`<div class="notice" role="status" id="created-key">
          <p>Key for ${created.role} created. Copy it now: it is shown once and only its hash is kept.</p>
          <code>${created.key}</code>
        </div>`
        : null
    }
    <${Problem} error=${action.error} id="key-error" />
    <${Problem} error=${keys.error} />
    <${Table} id="key-list" rows=${keys.data?.items} rowProps=${(k) => ({ 'data-key': k.id })}
      columns=${[
        ['Name', (k) => k.name || '—'],
        ['Role', (k) => k.role],
        ['Prefix', (k) => html`<code>${k.key_prefix}</code>`],
        ['Created', (k) => fmtTime(k.created_at)],
        ['Last used', (k) => fmtTime(k.last_used_at)],
        ['State', (k) => (k.revoked_at ? `revoked ${fmtTime(k.revoked_at)}` : 'active')],
        [
          '',
          (k) =>
            k.revoked_at
              ? ''
              : html`<button type="button" onClick=${() => revoke(k)}>Revoke ${k.key_prefix}</button>`,
        ],
      ]} />`;
}

export function Keys({ me, meta }) {
  return html`<h1>API keys</h1>
    ${me.role === 'org_admin' ? html`<${KeyAdmin} meta=${meta} />` : html`<${NotAllowed} me=${me} what="Managing API keys" />`}`;
}
