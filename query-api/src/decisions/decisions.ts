import {
  ContentCapture,
  DataKeys,
  LocalMasterKeys,
  type MasterKeyProvider,
} from '@observatory/exporter-postgres';
import type pg from 'pg';
import { CapturePolicyCache } from './capture-policies.ts';

/** What capturing and reading decision traces share in one process: the data keys and the capture policies. */
export interface Decisions {
  keys: DataKeys;
  policies: CapturePolicyCache;
  /** For the ingest path (`new Ingest({ content })`). */
  capture: ContentCapture;
}

/** Without a master key provider (tests, benchmarks): a random one, whose traces are readable nowhere else. */
export function createDecisions(
  pool: pg.Pool,
  master: MasterKeyProvider = LocalMasterKeys.ephemeral(),
): Decisions {
  const keys = new DataKeys(master);
  const policies = new CapturePolicyCache(pool);
  return { keys, policies, capture: new ContentCapture(pool, policies.policies, keys) };
}
