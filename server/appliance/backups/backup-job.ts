/**
 * One backup, start to finish, shared by the schedule, the dashboard's "Back up now" and
 * `hearth backup now`:
 *   lock → database snapshot (online backup API) → manifest → restic backup (progress from
 *   --json) → retention (forget --prune) → weekly data check → restore drill → history row.
 * The lock makes a second start fail fast with BUSY instead of running twice.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../logging.ts';
import type { BackupsStore } from '../../storage/backups-store.ts';
import { HEARTH_VERSION } from '../../version.ts';
import { DB_FILE, excludePatterns, MANIFEST_FILE, STAGING_DIR } from './data-set.ts';
import { readSnapshotFacts, snapshotDatabase } from './db-snapshot.ts';
import type { Destination } from './destination.ts';
import { restoreDrill, type DrillResult } from './drill.ts';
import { BackupError } from './errors.ts';
import { acquireLock } from './lock.ts';
import { buildManifest } from './manifest.ts';
import { TAG } from './restore.ts';
import { Restic } from './restic.ts';
import { checkDue, checkSubset, type Retention } from './schedule.ts';

export type BackupPhase = 'snapshot' | 'upload' | 'retention' | 'check' | 'drill' | 'done';

export interface BackupJobProgress {
  phase: BackupPhase;
  /** 0..1 within the upload phase; phases before it report 0, after it 1. */
  percent: number;
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export interface BackupJobOptions {
  dataDir: string;
  /** The live database file. */
  dbPath: string;
  destination: Destination;
  passphrase: string;
  store: BackupsStore;
  trigger: 'schedule' | 'manual' | 'cli';
  retention: Retention;
  /** The configured server name, used when the database has not recorded one yet. */
  serverName?: string | null;
  now: () => number;
  log?: Logger;
  signal?: AbortSignal;
  onProgress?: (p: BackupJobProgress) => void;
  onRunStarted?: (runId: number) => void;
  resticBinary?: string;
  env?: NodeJS.ProcessEnv;
}

export interface BackupOutcome {
  runId: number;
  snapshotId: string;
  status: 'ok' | 'warning';
  files: number;
  bytes: number;
  bytesAdded: number;
  repoBytes: number | null;
  drill: DrillResult;
  check: { ran: boolean; ok: boolean; detail: string } | null;
  warnings: string[];
}

/** restic's cache (disposable; systemd's CacheDirectory when set) and temp dir for a data dir. */
export function resticDirs(dataDir: string, env: NodeJS.ProcessEnv = process.env): { cacheDir: string; tmpDir: string } {
  return { cacheDir: env.RESTIC_CACHE_DIR || join(dataDir, 'cache', 'restic'), tmpDir: join(dataDir, 'tmp', 'restic') };
}

export function makeRestic(dataDir: string, destination: Destination, passphrase: string, o: { signal?: AbortSignal; binary?: string; env?: NodeJS.ProcessEnv } = {}): Restic {
  return new Restic({ destination, passphrase, ...resticDirs(dataDir, o.env), signal: o.signal, binary: o.binary, env: o.env });
}

export async function runBackupJob(o: BackupJobOptions): Promise<BackupOutcome> {
  const release = acquireLock(o.dataDir, 'backup', o.now());
  const runId = await o.store.startRun({ kind: 'backup', trigger: o.trigger, repo: o.destination.repo, now: o.now() });
  o.onRunStarted?.(runId);
  const staging = join(o.dataDir, STAGING_DIR);
  const progress = (p: Partial<BackupJobProgress> & { phase: BackupPhase }) =>
    o.onProgress?.({ percent: 0, bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0, ...p });
  try {
    progress({ phase: 'snapshot' });
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { mode: 0o700 });
    await snapshotDatabase(o.dbPath, join(staging, DB_FILE));
    const facts = await readSnapshotFacts(join(staging, DB_FILE));
    facts.serverName ??= o.serverName ?? null;
    const manifest = await buildManifest(o.dataDir, facts, o.now());
    writeFileSync(join(staging, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    const dataBytes =
      manifest.database.size +
      Object.values(manifest.files).reduce((a, f) => a + f.size, 0) +
      Object.values(manifest.stores).reduce((a, s) => a + s.bytes, 0);

    const restic = makeRestic(o.dataDir, o.destination, o.passphrase, { signal: o.signal, binary: o.resticBinary, env: o.env });
    const state = await restic.probe();
    if (state === 'missing') {
      // Create the repository only for a destination that never held a backup of ours: if one
      // did and is gone now, that is a problem to report (an unmounted USB disk, a wrong prefix),
      // not a reason to start over silently.
      const earlier = await o.store.lastRun('backup', ['ok', 'warning']);
      if (earlier && earlier.repo === o.destination.repo) {
        throw new BackupError('NO_REPOSITORY', `the earlier backups at ${o.destination.repo} are gone (is the disk mounted, the bucket right?)`);
      }
      o.log?.info({ repo: o.destination.repo }, 'creating backup repository');
      await restic.init();
    } else {
      await restic.unlock();
    }

    progress({ phase: 'upload', bytesTotal: dataBytes });
    const host = manifest.server_name ?? 'hearth';
    const summary = await restic.backup(
      o.dataDir,
      {
        host,
        excludes: excludePatterns(o.dataDir),
        tags: [
          TAG.marker,
          `${TAG.server}${host}`,
          `${TAG.version}${HEARTH_VERSION}`,
          `${TAG.schema}${manifest.schema_version}`,
          `${TAG.size}${dataBytes}`,
        ],
      },
      (p) => progress({ phase: 'upload', percent: p.percent, bytesDone: p.bytesDone, bytesTotal: p.totalBytes, filesDone: p.filesDone, filesTotal: p.totalFiles }),
    );
    const warnings: string[] = [];
    if (summary.incomplete) warnings.push('some files changed or vanished while they were read (the snapshot holds the rest)');
    await o.store.updateRun(runId, {
      snapshot_id: summary.snapshotId,
      files: summary.totalFilesProcessed,
      bytes: summary.totalBytesProcessed,
      bytes_added: summary.dataAdded,
    });
    o.log?.info({ snapshot: summary.snapshotId, bytes_added: summary.dataAdded, files: summary.totalFilesProcessed }, 'backup uploaded');

    progress({ phase: 'retention', percent: 1 });
    try {
      await restic.forget({ host, ...o.retention });
    } catch (e) {
      warnings.push(`retention: ${(e as Error).message}`);
    }

    let check: BackupOutcome['check'] = null;
    const lastCheck = await o.store.lastRun('check', ['ok', 'failed', 'warning']);
    if (checkDue(lastCheck?.started_ts ?? null, o.now())) {
      progress({ phase: 'check', percent: 1 });
      check = await runCheck(restic, o);
      if (!check.ok) warnings.push(`check: ${check.detail}`);
    }

    progress({ phase: 'drill', percent: 1 });
    const drill = await restoreDrill(restic, summary.snapshotId, join(o.dataDir, 'tmp'));
    let repoBytes: number | null = null;
    try {
      repoBytes = await restic.repoSize();
    } catch {
      // Size is informational.
    }
    const status = warnings.length || !drill.ok ? 'warning' : 'ok';
    await o.store.updateRun(runId, {
      status,
      finished_ts: o.now(),
      error: warnings.length ? warnings.join('; ') : null,
      repo_bytes: repoBytes,
      drill_status: drill.ok ? 'ok' : 'failed',
      drill_detail: drill.detail,
      drill_ts: o.now(),
    });
    progress({ phase: 'done', percent: 1 });
    return {
      runId,
      snapshotId: summary.snapshotId,
      status,
      files: summary.totalFilesProcessed,
      bytes: summary.totalBytesProcessed,
      bytesAdded: summary.dataAdded,
      repoBytes,
      drill,
      check,
      warnings,
    };
  } catch (e) {
    await o.store
      .updateRun(runId, { status: 'failed', finished_ts: o.now(), error: (e as Error).message })
      .catch(() => undefined);
    throw e;
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(resticDirs(o.dataDir, o.env).tmpDir, { recursive: true, force: true });
    release();
  }
}

/** The weekly `restic check` with a rotating data subset, recorded as its own history row. */
export async function runCheck(
  restic: Restic,
  o: Pick<BackupJobOptions, 'store' | 'destination' | 'now' | 'trigger'>,
): Promise<{ ran: boolean; ok: boolean; detail: string }> {
  const done = await o.store.countRuns('check', ['ok', 'failed', 'warning']);
  const subset = checkSubset(done);
  const runId = await o.store.startRun({ kind: 'check', trigger: o.trigger, repo: o.destination.repo, now: o.now() });
  try {
    await restic.check(subset);
    const detail = `repository structure and data subset ${subset} verified`;
    await o.store.updateRun(runId, { status: 'ok', finished_ts: o.now(), error: null, drill_detail: detail });
    return { ran: true, ok: true, detail };
  } catch (e) {
    const detail = (e as Error).message;
    await o.store.updateRun(runId, { status: 'failed', finished_ts: o.now(), error: detail });
    return { ran: true, ok: false, detail };
  }
}
