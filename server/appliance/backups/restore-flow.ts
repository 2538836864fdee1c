/**
 * The wizard's "Restore from a backup", inside the running server: enter the destination and
 * passphrase → list snapshots (date, size, server name) → pick one → watch progress → the
 * restored data is staged in DATA_DIR/restore-pending/ and the server restarts onto it (the
 * database cannot be swapped under a running process; pending-restore.ts switches it in before
 * the database opens).
 *
 * Only a fresh, unused install can be restored over (target.ts); a server in use is refused.
 */
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../logging.ts';
import { makeRestic } from './backup-job.ts';
import { describeRepo } from './destination.ts';
import { BackupError } from './errors.ts';
import { activeLock } from './lock.ts';
import { listSnapshots, restoreSnapshot, type RestoreOutcome, type RestoreProgress, type SnapshotInfo } from './restore.ts';
import { destinationFromInput, passphraseFromInput, type DestinationInput } from './setup.ts';
import { inspectTarget } from './target.ts';

export interface RestoreFlowDeps {
  config: Config;
  log: Logger;
  now: () => number;
  shutdown: AbortSignal;
  env?: NodeJS.ProcessEnv;
  resticBinary?: string;
}

export interface RestoreView {
  snapshot: string;
  repo: string;
  started_ts: number;
  progress: RestoreProgress;
  finished: boolean;
  error: string | null;
  error_code: string | null;
  result: {
    server_name: string | null;
    snapshot_time: string;
    notice: string;
    warnings: string[];
    /** The server restarts onto the restored data (automatically under systemd). */
    restart_required: boolean;
  } | null;
}

export class RestoreFlow {
  private view: RestoreView | null = null;
  private running = false;
  /**
   * Called once a restore is staged: the process should restart so the data is switched in
   * before the database opens. Set by whoever runs the server (serve.ts exits with code 75,
   * systemd starts it again); tests restart the server themselves.
   */
  onStaged: ((outcome: RestoreOutcome) => void) | null = null;
  /** Pause between "staged" and the restart, so the wizard (polling each second) can show the result. */
  restartDelayMs = 3000;

  constructor(private readonly d: RestoreFlowDeps) {}

  get busy(): boolean {
    return this.running;
  }

  status(): RestoreView | null {
    return this.view;
  }

  private async assertTargetFree(): Promise<void> {
    const t = await inspectTarget(this.d.config.data_dir);
    if (t.kind === 'in-use') throw new BackupError('TARGET_NOT_EMPTY', t.reason);
  }

  private restic(input: DestinationInput) {
    const { destination } = destinationFromInput(this.d.config, input, this.d.env);
    const passphrase = passphraseFromInput(input);
    return {
      destination,
      passphrase,
      restic: makeRestic(this.d.config.data_dir, destination, passphrase, { binary: this.d.resticBinary, env: this.d.env, signal: this.d.shutdown }),
    };
  }

  /** Snapshots in the given repository, newest first (wrong passphrase etc. → BackupError). */
  async listSnapshots(input: DestinationInput): Promise<{ repo: string; description: string; snapshots: SnapshotInfo[] }> {
    const { restic, destination } = this.restic(input);
    const snapshots = await listSnapshots(restic);
    return { repo: destination.repo, description: describeRepo(destination.repo), snapshots };
  }

  /** Starts restoring `snapshot` in the background; rejects at once when it cannot start. */
  async start(input: DestinationInput & { snapshot?: string }): Promise<RestoreView> {
    if (this.running) throw new BackupError('BUSY', 'a restore is already running');
    const held = activeLock(this.d.config.data_dir);
    if (held) throw new BackupError('BUSY', `a ${held.what} is running (process ${held.pid})`);
    if (typeof input.snapshot !== 'string' || !input.snapshot) throw new BackupError('NO_SNAPSHOT', 'choose a snapshot to restore');
    await this.assertTargetFree();
    const { restic, destination, passphrase } = this.restic(input);
    const view: RestoreView = {
      snapshot: input.snapshot,
      repo: destination.repo,
      started_ts: this.d.now(),
      progress: { phase: 'checking', percent: 0, bytesDone: 0, bytesTotal: 0 },
      finished: false,
      error: null,
      error_code: null,
      result: null,
    };
    this.view = view;
    this.running = true;
    void restoreSnapshot({
      restic,
      snapshot: input.snapshot,
      dataDir: this.d.config.data_dir,
      repo: destination.repo,
      trigger: 'wizard',
      now: this.d.now,
      passphrase,
      applyNowIfEmpty: false,
      onProgress: (p) => (view.progress = p),
    })
      .then(
        (outcome) => {
          view.result = {
            server_name: outcome.serverName,
            snapshot_time: outcome.snapshot.time,
            notice: outcome.notice,
            warnings: outcome.warnings,
            restart_required: !outcome.applied,
          };
          this.d.log.warn({ snapshot: outcome.snapshot.id, server_name: outcome.serverName }, 'restore staged; restarting onto the restored data');
          setTimeout(() => {
            try {
              this.onStaged?.(outcome);
            } catch (e) {
              this.d.log.error({ err: e }, 'restart after restore failed');
            }
          }, this.restartDelayMs).unref();
        },
        (e: unknown) => {
          view.error = (e as Error).message;
          view.error_code = e instanceof BackupError ? e.code : null;
          this.d.log.warn({ err: view.error }, 'restore failed; nothing was changed');
        },
      )
      .finally(() => {
        view.finished = true;
        this.running = false;
      });
    return view;
  }
}
