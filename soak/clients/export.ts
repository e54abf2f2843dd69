import type { ClientSpec, ExportJob, ExportResult } from '../protocol.ts';
import { bearer, Recorder, sleep } from './http.ts';

/**
 * Creates an export of the last 30 seconds' events, waits for it (through whichever replica answers), downloads
 * it and counts its lines; again and again until `until`. A job not finished by `giveUpAt` is reported as it is.
 */
/** The file's lines, retried while the replicas cannot answer (the database down, a replica gone). */
async function download(recorder: Recorder, url: string, giveUpAt: number): Promise<number | undefined> {
  while (Date.now() < giveUpAt) {
    const file = await recorder.call('GET /api/telemetry/export/{id}/download', url);
    if (file.status === 200) return file.body.split('\n').filter(Boolean).length;
    await sleep(500);
  }
  return undefined;
}

export async function runExports(spec: Extract<ClientSpec, { role: 'export' }>): Promise<ExportResult> {
  const recorder = new Recorder();
  const jobs: ExportJob[] = [];
  const json = { 'content-type': 'application/json' };
  while (Date.now() < spec.until) {
    const created = await recorder.call('POST /api/telemetry/export', `${spec.url}/api/telemetry/export`, {
      method: 'POST',
      headers: bearer(spec.key, json),
      body: JSON.stringify({
        format: 'jsonl',
        gzip: false,
        filters: { date_from: new Date(Date.now() - 30_000).toISOString() },
      }),
    });
    if (created.status !== 202) {
      await sleep(1000);
      continue;
    }
    const job: ExportJob = { id: JSON.parse(created.body).job_id, createdAt: Date.now(), status: 'pending' };
    jobs.push(job);
    while (Date.now() < spec.giveUpAt) {
      const res = await recorder.call(
        'GET /api/telemetry/export/{id}',
        `${spec.url}/api/telemetry/export/${job.id}`,
        {
          headers: bearer(spec.key),
        },
      );
      if (res.status === 200) {
        const body = JSON.parse(res.body) as {
          status: string;
          row_count: number | null;
          download_url: string;
        };
        job.status = body.status;
        if (body.status === 'failed') break;
        if (body.status === 'completed') {
          job.completedAt = Date.now();
          job.rowCount = body.row_count ?? undefined;
          job.downloadedRows = await download(recorder, body.download_url, spec.giveUpAt);
          break;
        }
      }
      await sleep(500);
    }
    await sleep(1000);
  }
  return { role: 'export', jobs, timings: recorder.timings, statuses: recorder.statuses };
}
