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
import { Appliance } from '../appliance/appliance.ts';
import type { TlsProvider } from '../http/listeners.ts';
import type { LogRing } from '../appliance/log-ring.ts';
import { TokenService } from './tokens.ts';
import { DevicesService, newDeviceHooks, type DeviceHooks } from './devices.ts';
import { AuthService, newAccountHooks, type AccountHooks } from './auth.ts';
import { UiaService } from './uia.ts';
import { RegistrationService } from './registration.ts';
import { RateLimiter } from './rate-limiter.ts';
import { E2eeService } from './e2ee/index.ts';
import { installE2eeSync } from './e2ee/sync-source.ts';
import { MediaService } from './media/media-service.ts';
import { PushRulesService } from './push-rules.ts';
import { ReportsService } from './reports.ts';
import { buildRoomServices, type RoomServices } from './rooms/build.ts';
import { BackupService } from '../appliance/backups/service.ts';
import { FederationService } from './federation/index.ts';

/** Rooms, events, sync and their streams: see rooms/build.ts. */
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
}

export async function buildServices(o: BuildOptions): Promise<Services> {
  const now = o.now ?? Date.now;
  const s = {
    config: o.config,
    log: o.log,
    db: o.db,
    users: new UsersStore(o.db),
    meta: new MetaStore(o.db),
    machine: o.machine ?? null,
    startedAt: now(),
    shutdown: o.shutdown ?? new AbortController().signal,
    now,
    deviceHooks: newDeviceHooks(),
    accountHooks: newAccountHooks(),
  } as Services;
  // Rate limiting reads the clock through `s` so tests can move time.
  s.rateLimiter = new RateLimiter(o.config.rate_limits, () => s.now());
  s.tokens = new TokenService(s);
  s.devices = new DevicesService(s);
  s.auth = new AuthService(s);
  s.uia = new UiaService(s);
  s.registration = new RegistrationService(s);
  s.e2ee = await E2eeService.create({
    db: o.db,
    log: o.log,
    now: () => s.now(),
    serverName: () => s.config.server_name,
    deviceHooks: s.deviceHooks,
    accountHooks: s.accountHooks,
    devices: () => s.devices,
  });
  s.pushRules = new PushRulesService(s);
  s.reports = new ReportsService(s);
  s.appliance = new Appliance(s, { tls: o.tls, logRing: o.logRing });
  s.media = new MediaService({ config: o.config, log: o.log, db: o.db, now: () => s.now(), shutdown: s.shutdown });
  s.media.startMaintenance();
  s.backups = new BackupService({ config: o.config, log: o.log, db: o.db, now: () => s.now(), shutdown: s.shutdown });
  Object.assign(
    s,
    await buildRoomServices({
      config: o.config,
      db: o.db,
      log: o.log,
      now: () => s.now(),
      shutdown: s.shutdown,
      getPushRules: (userId) => s.pushRules.getPushRules(userId),
      pushRulesChanged: s.pushRules.onChanged,
      onDeactivate: s.accountHooks.onDeactivate,
      reportChecks: s.reports.checks,
    }),
  );
  installE2eeSync(s.e2ee, s);
  s.federation = new FederationService(s);
  // Reservations by UIA sessions of an earlier run are gone with that process.
  await s.registration.tokens.resetPending();
  return s;
}
