/**
 * The services one Hearth process runs, built once by main.ts (or a test) and passed to the
 * HTTP layer. No singletons: two Hearth instances can live in one test process.
 */
import { setMaxListeners } from 'node:events';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../logging.ts';
import type { Database } from '../storage/db.ts';
import { MetaStore } from '../storage/meta-store.ts';
import { UsersStore } from '../storage/users-store.ts';
import type { MachineProfile } from '../appliance/machine-profile.ts';
import { Appliance } from '../appliance/appliance.ts';
import type { TlsProvider } from '../http/listeners.ts';
import type { LogRing } from '../appliance/log-ring.ts';
import type { TokenService } from './tokens.ts';
import type { DevicesService, DeviceHooks } from './devices.ts';
import type { AuthService, AccountHooks } from './auth.ts';
import type { UiaService } from './uia.ts';
import type { RegistrationService } from './registration.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { E2eeService } from './e2ee/index.ts';
import type { MediaService } from './media/media-service.ts';
import type { PushRulesService } from './push-rules.ts';
import type { ReportsService } from './reports.ts';
import type { RoomServices } from './rooms/build.ts';
import type { BackupService } from '../appliance/backups/service.ts';
import type { FederationService } from './federation/index.ts';

/**
 * Parts of the services beyond the core that are loaded on demand (see `Services.load`):
 * 'media' (the media repository), 'backups' (schedule and runs) and 'full' (everything: accounts,
 * E2EE, rooms and sync, federation; includes media and backups).
 */
export type ServicePart = 'media' | 'backups' | 'full';

/**
 * Rooms, events, sync and their streams: see rooms/build.ts.
 *
 * The core (config, log, db, users, meta, machine, startedAt, shutdown, now, appliance) exists
 * from the start. Every other field exists once its part is loaded: `buildServices` loads all
 * of them; `hearth serve` starts with the core only and loads the rest with `load()` when a
 * request or background work first needs it (server/http/routes.ts, services/lazy-start.ts).
 */
export interface Services extends RoomServices {
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
  /** Setup wizard, certificates, system info, log tail (server/appliance). */
  appliance: Appliance;
  // Accounts (client-server): tokens, devices, login, UIA, registration, rate limits.
  tokens: TokenService;
  devices: DevicesService;
  auth: AuthService;
  uia: UiaService;
  registration: RegistrationService;
  rateLimiter: RateLimiter;
  /** Per-user push rules; getPushRules(userId) for evaluators and /sync. */
  pushRules: PushRulesService;
  /** Content reports; the rooms area sets reports.checks. */
  reports: ReportsService;
  /** Other areas observe device creation/deletion here (run inside the write transaction). */
  deviceHooks: DeviceHooks;
  /** Other areas react to account deactivation here (e.g. leave every room). */
  accountHooks: AccountHooks;
  /** End-to-end encryption: keys, device lists, cross-signing, to-device, key backup (services/e2ee). */
  e2ee: E2eeService;
  /** Media repository: uploads, downloads, thumbnails, URL previews (services/media). */
  media: MediaService;
  /** Backups: daily schedule, "back up now", dashboard status, the wizard's restore (appliance/backups). */
  backups: BackupService;
  /** Federation: keys, signed requests, the outbound queue, inbound handlers (services/federation). */
  federation: FederationService;
  /**
   * Imports, builds and (in a running server) starts a part of the services; resolves at once
   * when it is there already. Concurrent calls share one load; a failed load is tried again by
   * the next call.
   */
  load(part: ServicePart): Promise<void>;
  /** Names of the parts loaded so far (tests, diagnostics). */
  loadedParts(): ServicePart[];
}

export interface BuildOptions {
  /** The HTTPS listeners' certificate source, so a new certificate is served without a restart. */
  tls?: TlsProvider;
  /** Recent log lines for the dashboard. */
  logRing?: LogRing;
  config: Config;
  log: Logger;
  db: Database;
  machine?: MachineProfile | null;
  shutdown?: AbortSignal;
  now?: () => number;
  /** A restore staged by the wizard asks for a restart (hearth serve exits 75); see BackupService.restore. */
  onRestoreStaged?: () => void;
}

/**
 * Every service, built but not started (CLI commands that need them). A server uses
 * buildCoreServices and starts parts as it loads them.
 */
export async function buildServices(o: BuildOptions): Promise<Services> {
  const s = buildCoreServices(o, { start: false });
  await s.load('full');
  return s;
}

/**
 * The core services; `s.load(part)` adds the others. With `start`, a loaded part also starts its
 * background work (backup schedule, media housekeeping, federation queue) as a server's must.
 */
export function buildCoreServices(o: BuildOptions, opts: { start: boolean }): Services {
  const now = o.now ?? Date.now;
  const shutdown = o.shutdown ?? new AbortController().signal;
  // Each long-lived service (federation sender and client, backups, media retention, TLS, the
  // dashboard sampler, long-polls…) adds one once-listener to the shared shutdown signal: over a
  // dozen once everything is loaded. Node warns past 10, which would read as a leak; it is not.
  setMaxListeners(64, shutdown);
  const s = {
    config: o.config,
    log: o.log,
    db: o.db,
    users: new UsersStore(o.db),
    meta: new MetaStore(o.db),
    machine: o.machine ?? null,
    startedAt: now(),
    shutdown,
    now,
  } as Services;
  s.appliance = new Appliance(s, { tls: o.tls, logRing: o.logRing });
  const parts = new Map<ServicePart, Promise<void>>();
  s.load = (part) => {
    let p = parts.get(part);
    if (!p) {
      p = loadPart(s, part, { ...opts, onRestoreStaged: o.onRestoreStaged });
      p.catch(() => parts.delete(part));
      parts.set(part, p);
    }
    return p;
  };
  s.loadedParts = () => [...parts.keys()];
  return s;
}

/** Each part's code is imported here, not at the top of the file: it is read when first needed. */
async function loadPart(s: Services, part: ServicePart, o: { start: boolean; onRestoreStaged?: () => void }): Promise<void> {
  const deps = { config: s.config, log: s.log, db: s.db, now: () => s.now(), shutdown: s.shutdown };
  if (part === 'media') {
    const { MediaService } = await import('./media/media-service.ts');
    s.media = new MediaService(deps);
    if (o.start) s.media.startMaintenance();
  } else if (part === 'backups') {
    const { BackupService } = await import('../appliance/backups/service.ts');
    s.backups = new BackupService(deps);
    if (o.onRestoreStaged) s.backups.restore.onStaged = o.onRestoreStaged;
    if (o.start) await s.backups.start();
  } else {
    // Federation (discovery, CAs) and the wizard's and dashboard's routes use these.
    await s.appliance.loadNet();
    await s.load('media');
    await s.load('backups');
    const { buildFullServices } = await import('../full-part.ts');
    await buildFullServices(s);
    if (o.start) await s.federation.start();
  }
}
