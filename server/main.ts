/**
 * `hearth serve`: the only place with process side effects — config, data dir, database,
 * listeners, signals. Order matters for "nothing written on failure": config is validated and
 * ports are bound before the data directory or database is touched.
 */
import type { Config } from './config/schema.ts';
import type { Logger } from './logging.ts';
import { startListeners, type Listeners } from './http/listeners.ts';
import { ensureDataDir, databasePath } from './storage/data-dir.ts';
import { machineProfile, pragmasFor } from './appliance/machine-profile.ts';
import { Database } from './storage/db.ts';
import { migrate } from './storage/migrate.ts';
import { SCHEMA_VERSION } from './storage/migrations/index.ts';
import { buildCoreServices, type Services } from './services/container.ts';
import { armLazyStart } from './services/lazy-start.ts';
import { createApp } from './app.ts';
import { createTlsProvider } from './appliance/tls/provider.ts';
import { HEARTH_VERSION } from './version.ts';
import { applyPendingRestore } from './appliance/backups/pending-restore.ts';
import { LogRing, createRingLogger } from './appliance/log-ring.ts';

export class StartupError extends Error {}

export interface RunningServer {
  services: Services;
  listeners: Listeners;
  log: Logger;
  /** Stops accepting, drains requests and writes, closes the database. */
  stop(): Promise<void>;
}

/** Checks the database's recorded server name against the configured one (server names are permanent). */
async function bindServerName(s: Services): Promise<void> {
  const stored = await s.meta.get('server_name');
  const wanted = s.config.server_name;
  if (stored && wanted && stored !== wanted) {
    throw new StartupError(
      `this data directory belongs to server name '${stored}', but the configuration says '${wanted}'; ` +
        `a server name cannot change once chosen`,
    );
  }
  if (!stored && wanted) await s.meta.setIfAbsent('server_name', wanted);
  if (stored && !wanted) s.config.server_name = stored;
}

export interface StartOptions {
  log?: Logger;
  logRing?: LogRing;
  /**
   * Start with the core services only and load the rest when a request or background work first
   * needs it (`hearth serve`: issue 2's start time and idle memory). Default: everything is
   * loaded and started before startServer resolves (tests, benchmarks reach into `services`).
   */
  lazy?: boolean;
  /** A restore staged by the wizard asks for a restart (see BackupService.restore). */
  onRestoreStaged?: () => void;
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  // The dashboard's log tail: the default logger also writes into this ring.
  const logRing = opts.logRing ?? new LogRing();
  const log = opts.log ?? createRingLogger(config.log_level, logRing);
  const tls = await createTlsProvider(config);
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  let app: ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) | null = null;

  const listeners = await startListeners({
    listen: config.listen,
    listenTls: config.listen_tls,
    tls,
    handler: (req, res) => void ready.then(() => app!(req, res)),
  });

  let db: Database | undefined;
  try {
    ensureDataDir(config.data_dir);
    // A restore staged by the wizard switches in before the database opens (appliance/backups).
    applyPendingRestore(config.data_dir, log);
    const machine = await machineProfile(config.data_dir);
    db = await Database.open(databasePath(config.data_dir), pragmasFor(machine), { maxSchemaVersion: SCHEMA_VERSION });
    const applied = await migrate(db);
    if (applied.length) log.info({ schema: SCHEMA_VERSION, applied: applied.map((m) => m.name) }, 'database migrated');
    const shutdown = new AbortController();
    const services = buildCoreServices(
      { config, log, db, machine, shutdown: shutdown.signal, tls, logRing, onRestoreStaged: opts.onRestoreStaged },
      { start: true },
    );
    await bindServerName(services);
    await services.appliance.start();
    // The signing key exists from the first start (the appliance's first boot makes it, so a
    // backup taken before any room or federation traffic already carries it); reading it is cheap.
    services.appliance.signingKeys();
    if (opts.lazy) armLazyStart(services);
    else await services.load('full');
    const koa = createApp(services);
    app = koa.callback();
    listeners.setHandler(app);
    resolveReady();
    log.info(
      { version: HEARTH_VERSION, listen: listeners.all.map((l) => `${l.kind}://${l.address().host}:${l.address().port}`), server_name: config.server_name, board: machine.board },
      'hearth ready',
    );

    let stopping: Promise<void> | null = null;
    const stop = () =>
      (stopping ??= (async () => {
        shutdown.abort();
        await listeners.close(config.shutdown_timeout_ms);
        await db!.close();
        log.info('hearth stopped');
      })());
    return { services, listeners, log, stop };
  } catch (e) {
    await listeners.close(0);
    await db?.close().catch(() => undefined);
    throw e;
  }
}
