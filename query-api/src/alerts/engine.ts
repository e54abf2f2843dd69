import { randomUUID } from 'node:crypto';
import { ADVISORY_LOCKS } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { isConnectionError } from '../db/connection-errors.ts';
import { backoffMs } from '../db/retry.ts';
import { withTransaction } from '../db/transaction.ts';
import type { DriftFeature } from '../drift/schema.ts';
import { latestPsi } from '../drift/sql.ts';
import type { Logger } from '../log.ts';
import type { AlertEvents } from './events.ts';
import {
  DEFAULT_DELIVERY,
  type DeliveryOptions,
  deliver,
  type NotificationEvent,
  notificationBody,
} from './notify.ts';

import type { AlertRule, AlertView, Operator, RuleMetric } from './schema.ts';
import * as sql from './sql.ts';

const RULES_PER_PASS = 200;

export interface RuleEngineDeps {
  pool: pg.Pool;
  logger: Logger;
  events?: AlertEvents | undefined;
  delivery?: Partial<DeliveryOptions> | undefined;
}

interface PendingNotification {
  alert: AlertView;
  orgId: string;
  rule: AlertRule;
  event: NotificationEvent;
}

type Measurements = Record<RuleMetric, number | null>;

// psi_* metrics read the drift runner's stored daily PSI of a feature, not the events of the rule's window.
const PSI_FEATURES: Partial<Record<RuleMetric, DriftFeature>> = {
  psi_latency: 'latency_ms',
  psi_input_tokens: 'input_tokens',
  psi_output_tokens: 'output_tokens',
  psi_cost: 'cost_usd',
};

function holds(value: number | null, operator: Operator, threshold: number): value is number {
  if (value === null || Number.isNaN(value)) return false;
  switch (operator) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
  }
}

function describe(rule: AlertRule, value: number): { summary: string; description: string } {
  const scope = rule.model_name ? `${rule.model_name} in org ${rule.org_id}` : `org ${rule.org_id}`;
  const shown = rule.metric.endsWith('_rate') ? `${(value * 100).toFixed(2)}%` : value.toFixed(2);
  const limit = rule.metric.endsWith('_rate') ? `${rule.threshold * 100}%` : String(rule.threshold);
  if (PSI_FEATURES[rule.metric]) {
    return {
      summary: `${rule.name}: ${rule.metric} ${shown} for ${scope}`,
      description: `${rule.metric}, the latest daily PSI (last 24 h against the 7 days before) computed in the last ${rule.window_seconds}s, is ${shown} for ${scope}${rule.model_name ? '' : ' (the largest over its models)'}; the rule fires when it is ${rule.operator} ${limit}.`,
    };
  }
  return {
    summary: `${rule.name}: ${rule.metric} ${shown} for ${scope}`,
    description: `${rule.metric} over the last ${rule.window_seconds}s is ${shown} for ${scope}; the rule fires when it is ${rule.operator} ${limit}.`,
  };
}

function inCooldown(rule: AlertRule, now: number): boolean {
  return rule.last_fired_at !== null && now - rule.last_fired_at.getTime() < rule.cooldown_seconds * 1000;
}

/**
 * One evaluator: `evaluate()` checks every due rule once (when this process holds the engine lock),
 * opening and resolving alerts; notifications run in the background and never hold up evaluation.
 */
export class RuleEngine {
  private readonly deliveries = new Set<Promise<void>>();
  private readonly delivery: DeliveryOptions;

  constructor(private readonly deps: RuleEngineDeps) {
    this.delivery = { ...DEFAULT_DELIVERY, ...deps.delivery };
  }

  /** Returns how many rules were evaluated; 0 when another replica holds the lock. */
  async evaluate(): Promise<number> {
    const notifications: PendingNotification[] = [];
    const changes: { change: 'opened' | 'resolved'; orgId: string; alert: AlertView }[] = [];
    const evaluated = await withTransaction(this.deps.pool, async (client) => {
      // Only the evaluator holding the lock in its transaction evaluates, so replicas never double-fire.
      const { rows: lock } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [ADVISORY_LOCKS.alertEngine],
      );
      if (!lock[0]?.locked) return 0;
      const { rows: rules } = await client.query<AlertRule>(sql.claimDueRules(RULES_PER_PASS));
      for (const rule of rules) await this.evaluateRule(client, rule, notifications, changes);
      return rules.length;
    });
    for (const change of changes) this.deps.events?.publish(change);
    for (const n of notifications) this.track(this.notify(n));
    return evaluated;
  }

  /** Resolves when every notification started so far has finished (delivered or given up). */
  async settled(): Promise<void> {
    while (this.deliveries.size > 0) await Promise.all(this.deliveries);
  }

  private async evaluateRule(
    client: pg.PoolClient,
    rule: AlertRule,
    notifications: PendingNotification[],
    changes: { change: 'opened' | 'resolved'; orgId: string; alert: AlertView }[],
  ): Promise<void> {
    const value = await this.measure(client, rule);
    const firing = holds(value, rule.operator, rule.threshold);
    const { rows: open } = await client.query<AlertView>(sql.openRuleAlert(rule.id));
    const current = open[0];
    let fired = false;
    if (current && firing) {
      await client.query(sql.updateAlertValue(current.id, value));
    } else if (current && !firing) {
      const { rows: resolved } = await client.query<AlertView>(sql.resolveAlert(current.id, value));
      changes.push({ change: 'resolved', orgId: rule.org_id, alert: resolved[0]! });
      if (rule.channels.length > 0) {
        notifications.push({ alert: resolved[0]!, orgId: rule.org_id, rule, event: 'resolved' });
      }
    } else if (firing && !inCooldown(rule, Date.now())) {
      const text = describe(rule, value);
      const { rows: opened } = await client.query<AlertView>(
        sql.insertBuiltinAlert(
          randomUUID(),
          rule,
          text.summary,
          text.description,
          value,
          rule.channels.length > 0,
        ),
      );
      fired = true;
      changes.push({ change: 'opened', orgId: rule.org_id, alert: opened[0]! });
      if (rule.channels.length > 0) {
        notifications.push({ alert: opened[0]!, orgId: rule.org_id, rule, event: 'firing' });
      }
    }
    await client.query(sql.recordEvaluation(rule.id, value, fired));
  }

  private async measure(client: pg.PoolClient, rule: AlertRule): Promise<number | null> {
    const feature = PSI_FEATURES[rule.metric];
    if (feature) {
      const { rows } = await client.query<{ value: number | null }>(
        latestPsi(rule.org_id, rule.model_name, feature, rule.window_seconds),
      );
      return rows[0]?.value ?? null;
    }
    const { rows } = await client.query<Measurements>(
      sql.measureWindow(rule.org_id, rule.model_name, rule.window_seconds),
    );
    return rows[0]?.[rule.metric] ?? null;
  }

  private track(delivery: Promise<void>): void {
    this.deliveries.add(delivery);
    void delivery.finally(() => this.deliveries.delete(delivery));
  }

  private async notify({ alert, orgId, rule, event }: PendingNotification): Promise<void> {
    try {
      const outcomes = await Promise.all(
        rule.channels.map(async (channel) => {
          const outcome = await deliver(
            channel,
            notificationBody(channel, event, alert, orgId),
            this.delivery,
          );
          await this.deps.pool.query(
            sql.insertNotification(randomUUID(), alert.id, orgId, channel, event, outcome),
          );
          if (!outcome.ok) {
            this.deps.logger.warn(
              {
                alertId: alert.id,
                ruleId: rule.id,
                channel: channel.type,
                attempts: outcome.attempts,
                error: outcome.error,
              },
              'alert notification failed',
            );
          }
          return outcome.ok;
        }),
      );
      await this.deps.pool.query(sql.recordNotificationOutcome(alert.id, outcomes.every(Boolean)));
    } catch (err) {
      this.deps.logger.error({ err, alertId: alert.id }, 'could not record an alert notification');
    }
  }
}

export interface RunningRuleEngine {
  engine: RuleEngine;
  stop(): Promise<void>;
}

// After failing passes in a row (the database unreachable), the engine waits longer and longer, up to this.
const MAX_BACKOFF_MS = 10_000;

/**
 * Evaluates due rules every `tickMs` until stopped. A failing pass is logged and the next one runs anyway, later
 * while passes keep failing: a lost connection fails that pass only.
 */
export function startRuleEngine(deps: RuleEngineDeps & { tickMs?: number }): RunningRuleEngine {
  const engine = new RuleEngine(deps);
  const tickMs = deps.tickMs ?? 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  let failures = 0;
  const tick = () => {
    pass = engine
      .evaluate()
      .then(() => {
        failures = 0;
      })
      .catch((err: unknown) => {
        failures++;
        if (isConnectionError(err)) {
          deps.logger.warn(
            { err: (err as Error).message, failures },
            'alert rule evaluation: database unavailable',
          );
        } else deps.logger.error({ err }, 'alert rule evaluation failed');
      })
      .finally(() => {
        if (!stopped)
          timer = setTimeout(tick, failures ? backoffMs(failures, tickMs, MAX_BACKOFF_MS) : tickMs);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    engine,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pass;
      await engine.settled();
    },
  };
}
