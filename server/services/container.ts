/**
 * The services one Hearth process runs, built once by main.ts (or a test) and passed to the
 * HTTP layer. No singletons: two Hearth instances can live in one test process.
 */
import type { Config } from '../config/schema.ts';
import type { Logger } from '../logging.ts';
import type { Database } from '../storage/db.ts';
import { MetaStore } from '../storage/meta-store.ts';
import { UsersStore } from '../storage/users-store.ts';
import type { MachineProfile } from '../appliance/machine-profile.ts';

export interface Services {
  config: Config;
  log: Logger;
  db: Database;
  users: UsersStore;
  meta: MetaStore;
  machine: MachineProfile | null;
  /** Date.now() at start, for /health uptime. */
  startedAt: number;
  /** Aborted when shutdown begins: long-polling requests return early so draining is quick. */
  shutdown: AbortSignal;
  /** Current time in ms; tests may replace it. */
  now: () => number;
}

export interface BuildOptions {
  config: Config;
  log: Logger;
  db: Database;
  machine?: MachineProfile | null;
  shutdown?: AbortSignal;
  now?: () => number;
}

export async function buildServices(o: BuildOptions): Promise<Services> {
  const now = o.now ?? Date.now;
  return {
    config: o.config,
    log: o.log,
    db: o.db,
    users: new UsersStore(o.db),
    meta: new MetaStore(o.db),
    machine: o.machine ?? null,
    startedAt: now(),
    shutdown: o.shutdown ?? new AbortController().signal,
    now,
  };
}
