/** Backup history and settings (tables `backup_runs`, `backup_settings`, migration 0006). */
import type { Database } from './db.ts';

export type RunKind = 'backup' | 'check' | 'restore';
export type RunStatus = 'running' | 'ok' | 'warning' | 'failed' | 'interrupted';

export interface BackupRunRow {
  run_id: number;
  kind: RunKind;
  trigger: string;
  repo: string;
  started_ts: number;
  finished_ts: number | null;
  status: RunStatus;
  error: string | null;
  snapshot_id: string | null;
  snapshot_ts: number | null;
  files: number | null;
  bytes: number | null;
  bytes_added: number | null;
  repo_bytes: number | null;
  drill_status: 'ok' | 'failed' | null;
  drill_detail: string | null;
  drill_ts: number | null;
}

export interface BackupSettingsRow {
  repo: string | null;
  bucket_lookup: 'auto' | 'dns' | 'path' | null;
  region: string | null;
  schedule: string | null;
  keep_daily: number | null;
  keep_weekly: number | null;
  keep_monthly: number | null;
  updated_ts: number;
}

export type RunUpdate = Partial<Omit<BackupRunRow, 'run_id' | 'kind' | 'trigger' | 'repo' | 'started_ts'>>;

const UPDATABLE = new Set([
  'finished_ts', 'status', 'error', 'snapshot_id', 'snapshot_ts', 'files', 'bytes', 'bytes_added', 'repo_bytes',
  'drill_status', 'drill_detail', 'drill_ts',
]);

export class BackupsStore {
  constructor(private readonly db: Database) {}

  startRun(r: { kind: RunKind; trigger: string; repo: string; now: number }): Promise<number> {
    return this.db.write(async (tx) => {
      const res = await tx.run(
        "INSERT INTO backup_runs (kind, trigger, repo, started_ts, status) VALUES (?, ?, ?, ?, 'running')",
        [r.kind, r.trigger, r.repo, r.now],
      );
      return res.lastID;
    });
  }

  /** Records a finished run in one statement (used for restores written into a restored database). */
  insertFinished(r: Omit<BackupRunRow, 'run_id' | 'files' | 'bytes' | 'bytes_added' | 'repo_bytes' | 'drill_status' | 'drill_detail' | 'drill_ts'>): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run(
        `INSERT INTO backup_runs (kind, trigger, repo, started_ts, finished_ts, status, error, snapshot_id, snapshot_ts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [r.kind, r.trigger, r.repo, r.started_ts, r.finished_ts, r.status, r.error, r.snapshot_id, r.snapshot_ts],
      );
    });
  }

  updateRun(runId: number, u: RunUpdate): Promise<void> {
    const keys = Object.keys(u).filter((k) => UPDATABLE.has(k) && (u as Record<string, unknown>)[k] !== undefined);
    if (keys.length === 0) return Promise.resolve();
    const values = keys.map((k) => (u as Record<string, string | number | null>)[k]!);
    return this.db.write(async (tx) => {
      await tx.run(`UPDATE backup_runs SET ${keys.map((k) => `${k} = ?`).join(', ')} WHERE run_id = ?`, [...values, runId]);
    });
  }

  /** Runs left 'running' by a process that stopped (crash, restart, or a restored snapshot). */
  markInterrupted(now: number): Promise<number> {
    return this.db.write(async (tx) => {
      const res = await tx.run(
        "UPDATE backup_runs SET status = 'interrupted', finished_ts = ?, error = 'the server stopped while this ran' WHERE status = 'running'",
        [now],
      );
      return res.changes;
    });
  }

  getRun(runId: number): Promise<BackupRunRow | undefined> {
    return this.db.get<BackupRunRow>('SELECT * FROM backup_runs WHERE run_id = ? LIMIT 1', [runId]);
  }

  /** The most recent run of `kind` (optionally only with one of `statuses`). */
  lastRun(kind: RunKind, statuses?: RunStatus[]): Promise<BackupRunRow | undefined> {
    if (!statuses?.length) {
      return this.db.get<BackupRunRow>('SELECT * FROM backup_runs WHERE kind = ? ORDER BY started_ts DESC, run_id DESC LIMIT 1', [kind]);
    }
    return this.db.get<BackupRunRow>(
      `SELECT * FROM backup_runs WHERE kind = ? AND status IN (${statuses.map(() => '?').join(',')})
       ORDER BY started_ts DESC, run_id DESC LIMIT 1`,
      [kind, ...statuses],
    );
  }

  countRuns(kind: RunKind, statuses: RunStatus[]): Promise<number> {
    return this.db
      .get<{ n: number }>(
        `SELECT count(*) AS n FROM backup_runs WHERE kind = ? AND status IN (${statuses.map(() => '?').join(',')})`,
        [kind, ...statuses],
      )
      .then((r) => r?.n ?? 0);
  }

  countRunsSince(kind: RunKind, statuses: RunStatus[], sinceTs: number): Promise<number> {
    return this.db
      .get<{ n: number }>(
        `SELECT count(*) AS n FROM backup_runs WHERE kind = ? AND started_ts >= ? AND status IN (${statuses.map(() => '?').join(',')})`,
        [kind, sinceTs, ...statuses],
      )
      .then((r) => r?.n ?? 0);
  }

  history(limit: number): Promise<BackupRunRow[]> {
    return this.db.all<BackupRunRow>('SELECT * FROM backup_runs ORDER BY started_ts DESC, run_id DESC LIMIT ?', [limit]);
  }

  getSettings(): Promise<BackupSettingsRow | undefined> {
    return this.db.get<BackupSettingsRow>('SELECT * FROM backup_settings WHERE id = 1 LIMIT 1');
  }

  saveSettings(s: Omit<BackupSettingsRow, 'updated_ts'>, now: number): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run(
        `INSERT INTO backup_settings (id, repo, bucket_lookup, region, schedule, keep_daily, keep_weekly, keep_monthly, updated_ts)
         VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET repo = excluded.repo, bucket_lookup = excluded.bucket_lookup, region = excluded.region,
           schedule = excluded.schedule, keep_daily = excluded.keep_daily, keep_weekly = excluded.keep_weekly,
           keep_monthly = excluded.keep_monthly, updated_ts = excluded.updated_ts`,
        [s.repo, s.bucket_lookup, s.region, s.schedule, s.keep_daily, s.keep_weekly, s.keep_monthly, now],
      );
    });
  }
}
