// Small shared components: error boxes, tables, status, the time range picker.
import { html, useState } from './html.js';

/** A failed request as the page shows it: the problem's title, detail and each named field. */
export function Problem({ error, id }) {
  if (!error) return null;
  const p = error.problem ?? { title: String(error.message ?? error) };
  return html`<div class="problem" role="alert" id=${id}>
    <strong>${p.title ?? 'Request failed'}${error.status ? ` (${error.status})` : ''}</strong>
    ${p.detail && p.detail !== p.title ? html`<p>${p.detail}</p>` : null}
    ${
      p.errors?.length
        ? html`<ul>${p.errors.map((e) => html`<li><code>${e.field}</code>: ${e.message}</li>`)}</ul>`
        : null
    }
  </div>`;
}

export const Loading = ({ when }) => (when ? html`<p class="muted" aria-live="polite">Loading…</p>` : null);

export const StatusDot = ({ status, id }) =>
  html`<span id=${id} class=${`status-dot ${status === 'live' ? 'connected' : 'disconnected'}`} aria-live="polite"
    >${status}</span
  >`;

/**
 * A table of `rows`; `columns` are [header, (row) => cell] pairs. `rowProps(row)` adds attributes to a row (a link's
 * data, aria-current).
 */
export function Table({ columns, rows, id, caption, rowProps = () => ({}), empty = 'Nothing to show.' }) {
  if (!rows?.length) return html`<p class="muted" id=${id}>${empty}</p>`;
  return html`<div class="table-wrap">
    <table>
      ${caption ? html`<caption>${caption}</caption>` : null}
      <thead>
        <tr>${columns.map(([title]) => html`<th scope="col">${title}</th>`)}</tr>
      </thead>
      <tbody id=${id}>
        ${rows.map((row) => html`<tr ...${rowProps(row)}>${columns.map(([, cell]) => html`<td>${cell(row)}</td>`)}</tr>`)}
      </tbody>
    </table>
  </div>`;
}

/** A labelled input; `id` ties the label to it. */
export const Field = ({ id, label, children }) =>
  html`<div class="field"><label for=${id}>${label}</label>${children}</div>`;

export const Select = ({ id, label, value, options, onChange, any = 'any' }) =>
  html`<${Field} id=${id} label=${label}>
    <select id=${id} value=${value ?? ''} onChange=${(e) => onChange(e.currentTarget.value)}>
      ${any !== null ? html`<option value="">${any}</option>` : null}
      ${options.map((o) => (Array.isArray(o) ? html`<option value=${o[0]}>${o[1]}</option>` : html`<option value=${o}>${o}</option>`))}
    </select>
  </${Field}>`;

export const PRESETS = [
  ['15m', 15 * 60_000],
  ['1h', 3_600_000],
  ['24h', 86_400_000],
  ['7d', 7 * 86_400_000],
  ['30d', 30 * 86_400_000],
];

/** `YYYY-MM-DDTHH:mm` in local time, as a datetime-local input holds it. */
const localInput = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

/**
 * A time range: a preset (`range`, relative to now) or absolute `date_from`/`date_to`. `value` and `onChange` use
 * those three keys, as the URL holds them.
 */
export function TimeRange({ value, onChange, presets = PRESETS, idPrefix = 'range' }) {
  const [custom, setCustom] = useState(Boolean(value.date_from || value.date_to));
  const choose = (range) => {
    setCustom(range === 'custom');
    if (range !== 'custom') onChange({ range, date_from: '', date_to: '' });
  };
  const absolute = (key) => (e) =>
    onChange({
      ...value,
      range: '',
      [key]: e.currentTarget.value ? new Date(e.currentTarget.value).toISOString() : '',
    });
  return html`<fieldset class="time-range">
    <legend>Time range</legend>
    <div class="presets" role="group" aria-label="Presets">
      ${presets.map(
        ([name]) =>
          html`<button type="button" aria-pressed=${!custom && (value.range || presets[2][0]) === name ? 'true' : 'false'}
            onClick=${() => choose(name)}>${name}</button>`,
      )}
      <button type="button" aria-pressed=${custom ? 'true' : 'false'} onClick=${() => choose('custom')}>Absolute</button>
    </div>
    ${
      custom
        ? html`<${Field} id=${`${idPrefix}-from`} label="From">
            <input id=${`${idPrefix}-from`} type="datetime-local" value=${localInput(value.date_from)} onChange=${absolute('date_from')} />
          </${Field}>
          <${Field} id=${`${idPrefix}-to`} label="To">
            <input id=${`${idPrefix}-to`} type="datetime-local" value=${localInput(value.date_to)} onChange=${absolute('date_to')} />
          </${Field}>`
        : null
    }
  </fieldset>`;
}

/** The window a range value stands for, as `date_from`/`date_to` ISO strings (now for an open end). */
export function windowOf(value, presets = PRESETS) {
  if (value.date_from || value.date_to) {
    const to = value.date_to || new Date().toISOString();
    return {
      date_from: value.date_from || new Date(new Date(to).getTime() - 86_400_000).toISOString(),
      date_to: value.date_to || '',
    };
  }
  const ms = (presets.find(([n]) => n === value.range) ?? presets[2])[1];
  return { date_from: new Date(Date.now() - ms).toISOString(), date_to: '' };
}

/** A page that the caller's role may not use: says so and why, instead of an empty page and a hidden 403. */
export const NotAllowed = ({ me, what }) =>
  html`<p class="notice" role="status" id="not-allowed">
    ${what} needs an <code>org_admin</code> key; you are signed in as <code>${me.role}</code>.
  </p>`;
