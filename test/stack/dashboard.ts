import { readRepoFile } from './stack-files.ts';

export const dashboardFile = 'dashboards/observatory.json';

interface Target {
  refId: string;
  expr?: string;
  rawSql?: string;
  datasource?: { type: string; uid: string };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: {
    list: {
      name: string;
      type: string;
      query: unknown;
      allValue?: string;
      includeAll?: boolean;
      multi?: boolean;
      current?: { value: unknown };
    }[];
  };
}

export const loadDashboard = (): Dashboard => JSON.parse(readRepoFile(dashboardFile)) as Dashboard;

export interface PanelQuery {
  panel: string;
  refId: string;
  datasource: string;
  text: string;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Every query of every panel, with the datasource type that runs it. */
export function panelQueries(dashboard: Dashboard): PanelQuery[] {
  return allPanels(dashboard.panels).flatMap((panel) =>
    (panel.targets ?? []).map((t) => {
      const datasource = t.datasource?.type ?? panel.datasource?.type ?? 'unknown';
      return { panel: panel.title, refId: t.refId, datasource, text: t.expr ?? t.rawSql ?? '' };
    }),
  );
}

export const promQueries = (d: Dashboard) => panelQueries(d).filter((q) => q.datasource === 'prometheus');
export const sqlQueries = (d: Dashboard) =>
  panelQueries(d).filter((q) => q.datasource === 'grafana-postgresql-datasource');

/**
 * Expands Grafana's variables in a PromQL expression the way Grafana does before sending it: `$org_id` and
 * `$model_name` become the regex of the selection (`.*` for All), the interval variables become durations.
 */
export function expandPromQL(expr: string, selection: { org_id: string; model_name: string }): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '6h')
    .replaceAll('$org_id', selection.org_id)
    .replaceAll('$model_name', selection.model_name);
}

const sqlString = (values: string[]) => values.map((v) => `'${v.replaceAll("'", "''")}'`).join(',');

/**
 * Expands Grafana's SQL macros and variables to literal SQL the way the PostgreSQL datasource does:
 * `$__timeFilter(col)` → `col BETWEEN '…' AND '…'`, `$__timeFrom()`/`$__timeTo()` → timestamps,
 * `$__interval` → an interval, `${var:sqlstring}` → quoted, comma-separated values ('.*' for All).
 */
export function expandSql(
  sql: string,
  options: { from: Date; to: Date; org_id: string[]; model_name: string[] },
): string {
  const from = `'${options.from.toISOString()}'`;
  const to = `'${options.to.toISOString()}'`;
  const expanded = sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_, col: string) => `${col.trim()} BETWEEN ${from} AND ${to}`)
    .replaceAll('$__timeFrom()', from)
    .replaceAll('$__timeTo()', to)
    .replaceAll('$__interval', `'60s'`)
    .replace(
      /\$\{(org_id|model_name)(?::sqlstring)?\}|\$(org_id|model_name)\b/g,
      (_, a?: string, b?: string) => sqlString(options[(a ?? b) as 'org_id' | 'model_name']),
    );
  const leftover = expanded.match(/\$\{?__?\w+/);
  if (leftover) throw new Error(`unexpanded Grafana variable ${leftover[0]} in: ${sql}`);
  return expanded;
}
