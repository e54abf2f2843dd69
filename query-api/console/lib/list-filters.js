// The filter form of a list page, built from the list operation's query parameters in the OpenAPI document.
import { html, useEffect, useState } from './html.js';
import { Field, TimeRange } from './ui.js';

const LABELS = {
  model_name: 'Model',
  endpoint: 'Endpoint',
  service_name: 'Service',
  user_id: 'User',
  session_id: 'Session id',
  has_errors: 'Errors',
  actor: 'Actor',
  action: 'Action',
};
const NOT_FILTERS = new Set(['limit', 'offset', 'cursor', 'org_id', 'date_from', 'date_to']);

/** The filter parameters of `operationId`: [{ name, schema, description }]. */
export const filterFields = (meta, operationId) =>
  meta.params(operationId).filter((f) => !NOT_FILTERS.has(f.name));

/** The filters of the URL's params that the operation takes. */
export const filtersOf = (fields, p) =>
  Object.fromEntries(fields.filter((f) => p[f.name]).map((f) => [f.name, p[f.name]]));

export function ListFilters({ id, fields, meta, value, onApply, presets, labels = {} }) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [JSON.stringify(value)]);
  const set = (k) => (e) => setDraft({ ...draft, [k]: e.currentTarget.value });
  return html`<form class="filters" id=${id} onSubmit=${(e) => {
    e.preventDefault();
    onApply(draft);
  }}>
    ${presets ? html`<${TimeRange} value=${draft} presets=${presets} onChange=${(v) => setDraft({ ...draft, ...v })} idPrefix=${`${id}-range`} />` : null}
    <div class="toolbar">
      ${fields.map(({ name, schema, description }) => {
        const fid = `${id}-${name}`;
        const label = labels[name] ?? LABELS[name] ?? name;
        const values = meta.values(schema);
        if (values.includes('true') && values.includes('false')) {
          const [yes, no] = labels[`${name}:values`] ?? ['yes', 'no'];
          return html`<${Field} id=${fid} label=${label}>
            <select id=${fid} value=${draft[name] ?? ''} onChange=${set(name)}>
              <option value="">any</option><option value="true">${yes}</option><option value="false">${no}</option>
            </select></${Field}>`;
        }
        if (values.length)
          return html`<${Field} id=${fid} label=${label}>
            <select id=${fid} value=${draft[name] ?? ''} onChange=${set(name)}>
              <option value="">any</option>${values.map((v) => html`<option value=${v}>${v}</option>`)}
            </select></${Field}>`;
        return html`<${Field} id=${fid} label=${label}>
          <input id=${fid} value=${draft[name] ?? ''} onInput=${set(name)} placeholder="any" title=${description ?? ''} /></${Field}>`;
      })}
      <button type="submit" class="primary">Apply</button>
      <button type="button" onClick=${() => onApply({})}>Clear</button>
    </div>
  </form>`;
}
