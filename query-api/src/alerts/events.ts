import { EventEmitter } from 'node:events';
import type { AlertView } from './schema.ts';

export type AlertChange = 'opened' | 'acknowledged' | 'resolved';

export interface AlertEvent {
  change: AlertChange;
  orgId: string;
  alert: AlertView;
}

/**
 * Announces alert changes (from Alertmanager, the built-in engine and acknowledgements) to whoever
 * listens, e.g. the live stream publishing `alert` events. Listeners must not throw.
 */
export class AlertEvents extends EventEmitter<{ alert: [AlertEvent] }> {
  publish(event: AlertEvent): void {
    this.emit('alert', event);
  }
}
