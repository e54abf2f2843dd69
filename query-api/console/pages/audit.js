// Audit (org_admin): the org's audit trail, newest first, filtered, older pages by cursor.
import { queryOf } from '../lib/api.js';
import { fmtTime } from '../lib/format.js';
import { useCursorList } from '../lib/hooks.js';
import { html } from '../lib/html.js';
import { filterFields, filtersOf, ListFilters } from '../lib/list-filters.js';
import { navigate, paramsObject } from '../lib/router.js';
import { NotAllowed, Problem, Table } from '../lib/ui.js';

export function Audit({ me, route, meta }) {
  const p = paramsObject(route.params);
  const fields = filterFields(meta, 'listAudit');
  const filters = filtersOf(fields, p);
  const list = useCursorList(
    me.role === 'org_admin' ? `/api/audit?${queryOf({ ...filters, limit: 50 })}` : null,
  );
  if (me.role !== 'org_admin') return html`<h1>Audit</h1><${NotAllowed} me=${me} what="The audit trail" />`;
  return html`<h1>Audit</h1>
    <${ListFilters} id="audit" fields=${fields} meta=${meta} value=${filters} labels=${{ actor: 'Actor', action: 'Action' }}
      onApply=${(draft) => navigate('audit', undefined, queryOf(draft))} />
    <${Problem} error=${list.error} id="audit-error" />
    <${Table} id="audit-list" rows=${list.items} empty=${list.loading ? 'Loading…' : 'No audit rows match.'}
      rowProps=${(r) => ({ 'data-audit': r.id })}
      columns=${[
        ['#', (r) => r.seq ?? '—'],
        ['Time', (r) => fmtTime(r.created_at)],
        ['Actor', (r) => r.actor],
        ['Action', (r) => r.action],
        ['Target', (r) => r.target ?? ''],
        ['Address', (r) => r.ip ?? ''],
        ['Details', (r) => (Object.keys(r.details ?? {}).length ? JSON.stringify(r.details) : '')],
      ]} />
    ${list.cursor ? html`<button type="button" id="audit-more" disabled=${list.loading} onClick=${list.more}>Older</button>` : null}`;
}
