// Exports (org_admin): create an export of the current filters, watch it complete, download it. Other roles are
// told why the page is not theirs instead of seeing an empty table.
import { api } from '../lib/api.js';
import { fmtInt, fmtTime } from '../lib/format.js';
import { useAction, useApi, useInterval } from '../lib/hooks.js';
import { html, useEffect, useRef, useState } from '../lib/html.js';
import { Field, NotAllowed, Problem, Select, Table } from '../lib/ui.js';

/** A completed job's download link is signed per request: fetch each completed job once for it. */
function useDownloadLinks(jobs) {
  const [links, setLinks] = useState({});
  const [error, setError] = useState(undefined);
  const asked = useRef(new Set());
  useEffect(() => {
    for (const j of jobs ?? []) {
      if (j.status !== 'completed' || asked.current.has(j.job_id)) continue;
      asked.current.add(j.job_id);
      api(`/api/telemetry/export/${j.job_id}`).then(
        (full) => setLinks((l) => ({ ...l, [j.job_id]: full.download_url })),
        setError,
      );
    }
  }, [jobs]);
  return { links, error };
}

function ExportJobs({ meta }) {
  const jobs = useApi('/api/telemetry/exports');
  const create = useAction();
  const formats = meta.propertyValues('ExportRequest', 'format');
  const [format, setFormat] = useState(formats[0]);
  const [model, setModel] = useState('');
  // A job is settled once it completed or failed with an error; until then its row is polled.
  const pending = jobs.data?.items.some((j) => !j.completed_at && !j.error);
  useInterval(jobs.reload, pending ? 1000 : 0);
  const { links, error: linkError } = useDownloadLinks(jobs.data?.items);
  const submit = async (e) => {
    e.preventDefault();
    const done = await create.run(() =>
      api('/api/telemetry/export', {
        method: 'POST',
        body: { format, gzip: false, filters: model ? { model_name: model } : {} },
      }),
    );
    if (done) jobs.reload();
  };
  return html`<form class="toolbar" onSubmit=${submit}>
      <${Select} id="export-format" label="Format" any=${null} value=${format} options=${formats} onChange=${setFormat} />
      <${Field} id="export-model" label="Model"><input id="export-model" value=${model} onInput=${(e) => setModel(e.currentTarget.value)} placeholder="any model" /></${Field}>
      <button type="submit" class="primary" id="export-create" disabled=${create.busy}>Create export</button>
    </form>
    ${create.done ? html`<p role="status" id="export-message">Export ${create.done.job_id} queued.</p>` : null}
    <${Problem} error=${create.error} id="export-error" />
    <${Problem} error=${jobs.error} />
    <${Problem} error=${linkError} />
    <${Table} id="export-list" rows=${jobs.data?.items} empty="No exports yet." rowProps=${(j) => ({ 'data-job': j.job_id })}
      columns=${[
        ['Job', (j) => j.job_id.slice(0, 8)],
        ['Format', (j) => j.format],
        ['Status', (j) => html`<span class="job-status">${j.status}</span>`],
        ['Rows', (j) => fmtInt(j.row_count)],
        ['Created', (j) => fmtTime(j.created_at)],
        [
          '',
          (j) =>
            links[j.job_id]
              ? html`<a class="download" href=${links[j.job_id]}>Download</a>`
              : (j.error ?? ''),
        ],
      ]} />`;
}

export function Exports({ me, meta }) {
  return html`<h1>Exports</h1>
    ${me.role === 'org_admin' ? html`<${ExportJobs} meta=${meta} />` : html`<${NotAllowed} me=${me} what="Creating and downloading exports" />`}`;
}
