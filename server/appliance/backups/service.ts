/**
 * Backups inside the running server: the daily timer, "Back up now" with live progress, the
 * dashboard's view (last backup, next run, size, drill result, history), setting up a
 * destination, and the wizard's restore path. At most one job runs (in-process state here,
 * across processes the lock file).
 */
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../logging.ts';
import type { Database } from '../../storage/db.ts';
import { BackupsStore, type BackupRunRow } from '../../storage/backups-store.ts';
import { runBackupJob, type BackupJobProgress, type BackupOutcome } from './backup-job.ts';
import { describeRepo } from './destination.ts';
import { BackupError } from './errors.ts';
import { activeLock } from './lock.ts';
import { loadPassphrase } from './secrets.ts';
import { nextScheduledBackup } from './next-run.ts';
import { destinationFor, effectiveSettings, type EffectiveSettings } from './settings.ts';
import { RestoreFlow } from './restore-flow.ts';
import { setupDestination, type DestinationInput } from './setup.ts';

export interface BackupServiceDeps {
  config: Config;
  log: Logger;
  db: Database;
  now: () => number;
  shutdown: AbortSignal;
  env?: NodeJS.ProcessEnv;
  resticBinary?: string;
}

export interface JobView {
  kind: 'backup';
  trigger: string;
  run_id: number | null;
  started_ts: number;
  progress: BackupJobProgress;
  finished: boolean;
  error: string | null;
  error_code: string | null;
}

/** Longest single timer wait: the next run is recomputed at least hourly (clock changes, DST). */
const MAX_TIMER_MS = 3600_000;

export class BackupService {
  readonly store: BackupsStore;
  readonly restore: RestoreFlow;
  private job: JobView | null = null;
  private running: Promise<BackupOutcome | null> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private nextRun: number | null = null;
  /** Called with every progress update of a running backup (the UI polls status; tests listen here). */
  readonly progressListeners = new Set<(p: BackupJobProgress) => void>();

  constructor(private readonly d: BackupServiceDeps) {
    this.store = new BackupsStore(d.db);
    this.restore = new RestoreFlow(d);
  }

  async settings(): Promise<EffectiveSettings> {
    return effectiveSettings(this.d.config, await this.store.getSettings(), this.d.env);
  }

  /** Starts the daily schedule (called once the server is up); stops at shutdown. */
  async start(): Promise<void> {
    // Runs left 'running' by a stopped process — unless `hearth backup` is running right now.
    const held = activeLock(this.d.config.data_dir);
    if (!held || held.pid === process.pid) {
      const n = await this.store.markInterrupted(this.d.now());
      if (n) this.d.log.warn({ runs: n }, 'backup runs interrupted by the last stop');
    }
    this.d.shutdown.addEventListener('abort', () => this.stopTimer(), { once: true });
    await this.reschedule();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Recomputes the next run from the settings and history, and arms the timer. */
  async reschedule(): Promise<void> {
    this.stopTimer();
    if (this.d.shutdown.aborted) return;
    this.nextRun = await nextScheduledBackup(this.store, await this.settings(), this.d.now());
    if (this.nextRun === null || this.d.shutdown.aborted) return;
    const wait = Math.max(1000, Math.min(this.nextRun - this.d.now(), MAX_TIMER_MS));
    this.timer = setTimeout(() => void this.tick(), wait);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    try {
      if (this.nextRun !== null && this.d.now() >= this.nextRun && !this.running) {
        await (await this.backupNow('schedule')).done;
      }
    } catch (e) {
      this.d.log.warn({ err: (e as Error).message }, 'scheduled backup did not start');
    }
    await this.reschedule().catch((e) => this.d.log.error({ err: e }, 'backup schedule failed'));
  }

  /**
   * Starts a backup in the background; resolves once it has started (BUSY or NOT_CONFIGURED
   * reject right away). `done` settles when the backup ends (null when it failed). The promise
   * is wrapped in an object: an async function returning a promise would wait for it.
   */
  async backupNow(trigger: 'schedule' | 'manual'): Promise<{ done: Promise<BackupOutcome | null> }> {
    if (this.running) throw new BackupError('BUSY', 'a backup is already running');
    if (this.restore.busy) throw new BackupError('BUSY', 'a restore is running');
    const held = activeLock(this.d.config.data_dir);
    if (held && held.pid !== process.pid) {
      throw new BackupError('BUSY', `a ${held.what} is already running (process ${held.pid})`);
    }
    const s = await this.settings();
    if (!s.repo) throw new BackupError('NOT_CONFIGURED', 'no backup destination is set up yet');
    const passphrase = loadPassphrase(this.d.config.data_dir);
    if (!passphrase) throw new BackupError('NOT_CONFIGURED', 'no backup passphrase is saved yet');
    const destination = destinationFor(this.d.config, s, this.d.env);
    const job: JobView = {
      kind: 'backup',
      trigger,
      run_id: null,
      started_ts: this.d.now(),
      progress: { phase: 'snapshot', percent: 0, bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 },
      finished: false,
      error: null,
      error_code: null,
    };
    this.job = job;
    const run = runBackupJob({
      dataDir: this.d.config.data_dir,
      dbPath: this.d.db.path,
      destination,
      passphrase,
      store: this.store,
      trigger,
      retention: s.retention,
      serverName: this.d.config.server_name,
      now: this.d.now,
      log: this.d.log,
      signal: this.d.shutdown,
      env: this.d.env,
      resticBinary: this.d.resticBinary,
      onRunStarted: (id) => (job.run_id = id),
      onProgress: (p) => {
        job.progress = p;
        for (const l of this.progressListeners) l(p);
      },
    }).then(
      (outcome) => {
        job.finished = true;
        this.d.log.info({ snapshot: outcome.snapshotId, status: outcome.status, drill: outcome.drill.ok }, 'backup finished');
        return outcome;
      },
      (e: unknown) => {
        job.finished = true;
        job.error = (e as Error).message;
        job.error_code = e instanceof BackupError ? e.code : null;
        if (!this.d.shutdown.aborted) this.d.log.error({ err: job.error, repo: destination.repo }, 'backup failed');
        return null;
      },
    );
    const done = run.finally(() => {
      this.running = null;
      // Not while stopping: the database is closing.
      if (!this.d.shutdown.aborted) void this.reschedule().catch(() => undefined);
    });
    this.running = done;
    return { done };
  }

  /** Dashboard view: last backup, next run, size, drill result, history, the running job. */
  async status(historyLimit = 30): Promise<Record<string, unknown>> {
    const s = await this.settings();
    const [lastOk, lastAny, lastCheck, lastRestore, history] = await Promise.all([
      this.store.lastRun('backup', ['ok', 'warning']),
      this.store.lastRun('backup'),
      this.store.lastRun('check', ['ok', 'failed', 'warning']),
      this.store.lastRun('restore', ['ok']),
      this.store.history(historyLimit),
    ]);
    return {
      configured: Boolean(s.repo && s.hasPassphrase),
      destination: s.repo ? { repo: s.repo, description: describeRepo(s.repo) } : null,
      schedule: s.schedule,
      retention: s.retention,
      from_config: s.fromConfig,
      credentials: s.credentialsSource,
      next_run_ts: this.nextRun,
      last_backup: lastOk ? runView(lastOk) : null,
      last_attempt: lastAny ? runView(lastAny) : null,
      size_bytes: lastOk?.repo_bytes ?? null,
      drill: lastOk?.drill_status ? { status: lastOk.drill_status, detail: lastOk.drill_detail, ts: lastOk.drill_ts } : null,
      last_check: lastCheck ? runView(lastCheck) : null,
      restored_from: lastRestore ? { snapshot_id: lastRestore.snapshot_id, snapshot_ts: lastRestore.snapshot_ts, restored_ts: lastRestore.finished_ts } : null,
      job: this.job,
      history: history.map(runView),
    };
  }

  /** Saves a destination + passphrase after proving they work (see setup.ts). */
  async configure(input: DestinationInput): Promise<{ created: boolean; snapshots: number }> {
    if (this.running || this.restore.busy) throw new BackupError('BUSY', 'a backup or restore is running');
    const result = await setupDestination(this.d, this.store, input);
    await this.reschedule();
    return result;
  }
}

function runView(r: BackupRunRow): Record<string, unknown> {
  return {
    run_id: r.run_id,
    kind: r.kind,
    trigger: r.trigger,
    status: r.status,
    started_ts: r.started_ts,
    finished_ts: r.finished_ts,
    error: r.error,
    snapshot_id: r.snapshot_id,
    snapshot_ts: r.snapshot_ts,
    files: r.files,
    bytes: r.bytes,
    bytes_added: r.bytes_added,
    repo_bytes: r.repo_bytes,
    drill_status: r.drill_status,
    drill_detail: r.drill_detail,
  };
}
