/**
 * Restore onto this or other hardware (an ODROID's backup onto a Graviton): list the snapshots
 * of a repository, then restore one into a data directory. Used by `hearth restore` and the
 * wizard's "Restore from a backup".
 *
 * Order, so that a failure overwrites nothing: refuse a target that holds a configured server;
 * refuse a snapshot from a newer schema (from its tags, before downloading anything); download
 * into DATA_DIR/restore-pending/ with restic's content verification; check the manifest (the
 * database checksum, integrity, row counts); migrate an older schema forward and apply the
 * post-restore hooks; only then switch the data in (pending-restore.ts).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { lchown, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Database } from '../../storage/db.ts';
import { migrate } from '../../storage/migrate.ts';
import { SCHEMA_VERSION } from '../../storage/migrations/index.ts';
import { BackupsStore } from '../../storage/backups-store.ts';
import { DB_FILE, listDataSet, STAGING_DIR } from './data-set.ts';
import { integrityCheck, readSnapshotFacts } from './db-snapshot.ts';
import { BackupError } from './errors.ts';
import { compareCounts, readManifestFile, verifyFiles } from './manifest.ts';
import { applyPendingRestore, markStaged, PENDING_DIR, type PendingState } from './pending-restore.ts';
import { runPostRestoreHooks } from './post-restore.ts';
import { acquireLock } from './lock.ts';
import { PASSPHRASE_FILE, savePassphrase, SECRETS_DIR } from './secrets.ts';
import type { Restic, ResticSnapshot } from './restic.ts';
import { inspectTarget } from './target.ts';

export interface SnapshotInfo {
  id: string;
  short_id: string;
  time: string;
  server_name: string | null;
  hearth_version: string | null;
  schema_version: number | null;
  /** Bytes of the data set when it was backed up. */
  size: number | null;
  restorable: boolean;
  /** Why not, when not restorable. */
  reason: string | null;
}

export const TAG = {
  marker: 'hearth',
  server: 'hearth-server:',
  version: 'hearth-version:',
  schema: 'hearth-schema:',
  size: 'hearth-size:',
};

function tagValue(s: ResticSnapshot, prefix: string): string | null {
  const t = s.tags?.find((x) => x.startsWith(prefix));
  return t ? t.slice(prefix.length) : null;
}

export function newerSchemaMessage(schema: number): string {
  return (
    `this backup was made by a newer Hearth (database schema ${schema}; this Hearth knows up to ${SCHEMA_VERSION}): ` +
    `update Hearth first, then restore`
  );
}

export function describeSnapshot(s: ResticSnapshot): SnapshotInfo {
  const schemaTag = tagValue(s, TAG.schema);
  const sizeTag = tagValue(s, TAG.size);
  const schema = schemaTag === null ? null : Number(schemaTag);
  const tooNew = schema !== null && schema > SCHEMA_VERSION;
  return {
    id: s.id,
    short_id: s.short_id,
    time: s.time,
    server_name: tagValue(s, TAG.server),
    hearth_version: tagValue(s, TAG.version),
    schema_version: schema,
    size: sizeTag === null ? null : Number(sizeTag),
    restorable: !tooNew,
    reason: tooNew ? newerSchemaMessage(schema) : null,
  };
}

/** Hearth snapshots in the repository, newest first. */
export async function listSnapshots(restic: Restic): Promise<SnapshotInfo[]> {
  const all = await restic.snapshots();
  return all.filter((s) => s.tags?.includes(TAG.marker)).map(describeSnapshot).reverse();
}

export type RestorePhase = 'checking' | 'downloading' | 'verifying' | 'preparing' | 'switching' | 'done';

export interface RestoreProgress {
  phase: RestorePhase;
  percent: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface RestoreOutcome {
  snapshot: SnapshotInfo;
  serverName: string | null;
  /** true: switched in now; false: staged, applied at the next server start. */
  applied: boolean;
  warnings: string[];
  hooks: string[];
  /** What the owner must be told (messages after the snapshot are not in it). */
  notice: string;
}

export function afterSnapshotNotice(time: string): string {
  return (
    `Restored the backup taken ${time}. Messages, uploads and changes made after that moment are not in it; ` +
    `people may need to re-send recent messages, and their devices will refresh their encryption keys.`
  );
}

export interface RestoreOptions {
  restic: Restic;
  /** Snapshot ID (or a unique prefix) or 'latest'. */
  snapshot: string;
  /** The data directory to restore into. */
  dataDir: string;
  /** The repository string recorded in the restored history. */
  repo: string;
  trigger: 'cli' | 'wizard';
  now: () => number;
  onProgress?: (p: RestoreProgress) => void;
  /** Saved into the restored secrets when the backup holds none, so backups can continue. */
  passphrase?: string;
  /** Switch in right away when the target held nothing (the CLI); the wizard restarts instead. */
  applyNowIfEmpty?: boolean;
}

async function dirBytes(dir: string): Promise<number> {
  return (await listDataSet(dir)).reduce((a, f) => a + f.size, 0);
}

export async function restoreSnapshot(o: RestoreOptions): Promise<RestoreOutcome> {
  const progress = (phase: RestorePhase, bytesDone = 0, bytesTotal = 0, percent = 0) =>
    o.onProgress?.({ phase, percent, bytesDone, bytesTotal });
  progress('checking');
  // Before restic runs: its cache and temp dirs may be created inside the target.
  const createdDir = !existsSync(o.dataDir);
  const ownerOf = createdDir ? dirname(o.dataDir) : o.dataDir;
  const owner = existsSync(ownerOf) ? statSync(ownerOf) : null;
  const target = await inspectTarget(o.dataDir);
  if (target.kind === 'in-use') throw new BackupError('TARGET_NOT_EMPTY', target.reason);
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  let release: (() => void) | null = null;
  const stage = join(o.dataDir, PENDING_DIR);
  let staged = false;
  try {
    release = acquireLock(o.dataDir, 'restore', o.now());
    const snap = describeSnapshot(await o.restic.resolveSnapshot(o.snapshot));
    if (!snap.restorable) throw new BackupError('SCHEMA_TOO_NEW', snap.reason!);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { mode: 0o700 });
    const total = await o.restic.restoreSize(snap.id).catch(() => 0);
    progress('downloading', 0, total);
    let polling = false;
    let downloading = true;
    const poll = setInterval(() => {
      if (polling) return;
      polling = true;
      void dirBytes(stage)
        .then((done) => downloading && progress('downloading', done, total, total ? Math.min(0.99, done / total) : 0))
        .finally(() => (polling = false));
    }, 2000);
    try {
      await o.restic.restore(snap.id, stage, { verify: true });
    } finally {
      downloading = false;
      clearInterval(poll);
    }

    progress('verifying', total, total, 1);
    const manifest = readManifestFile(stage);
    if (!manifest) throw new BackupError('NOT_A_HEARTH_BACKUP', `snapshot ${snap.short_id} is not a Hearth backup (no manifest)`);
    if (manifest.schema_version > SCHEMA_VERSION) throw new BackupError('SCHEMA_TOO_NEW', newerSchemaMessage(manifest.schema_version));
    const files = await verifyFiles(stage, manifest);
    if (files.errors.length) throw new BackupError('VERIFY_FAILED', `the backup is damaged: ${files.errors.join('; ')}`);
    const snapDb = join(stage, STAGING_DIR, DB_FILE);
    const integrity = await integrityCheck(snapDb);
    if (integrity !== 'ok') throw new BackupError('VERIFY_FAILED', `the backed-up database is damaged: ${integrity}`);
    const counts = compareCounts(manifest.counts, (await readSnapshotFacts(snapDb)).counts);
    if (counts.length) throw new BackupError('VERIFY_FAILED', `the backed-up database does not match its manifest: ${counts.join('; ')}`);

    progress('preparing', total, total, 1);
    renameSync(snapDb, join(stage, DB_FILE));
    rmSync(join(stage, STAGING_DIR), { recursive: true, force: true });
    const hooks = await prepareDatabase(join(stage, DB_FILE), o, snap);
    if (o.passphrase && !existsSync(join(stage, SECRETS_DIR, PASSPHRASE_FILE))) savePassphrase(stage, o.passphrase);

    const state: Omit<PendingState, 'phase' | 'replaced'> = {
      snapshot_id: snap.id,
      snapshot_time: snap.time,
      server_name: manifest.server_name,
    };
    // `sudo hearth restore --data-dir /var/lib/hearth`: the files must belong to the service
    // user who owns the directory, not to root, or the server cannot open them.
    rmSync(join(o.dataDir, 'tmp', 'restic'), { recursive: true, force: true });
    if (owner && owner.uid !== 0 && process.getuid?.() === 0) {
      for (const d of [stage, join(o.dataDir, 'cache'), join(o.dataDir, 'tmp')]) {
        if (existsSync(d)) await chownTree(d, owner.uid, owner.gid);
      }
      if (createdDir) await lchown(o.dataDir, owner.uid, owner.gid);
    }
    markStaged(o.dataDir, state, o.now());
    staged = true;
    let applied = false;
    if (o.applyNowIfEmpty !== false && target.kind === 'empty') {
      progress('switching', total, total, 1);
      applyPendingRestore(o.dataDir);
      applied = true;
    }
    progress('done', total, total, 1);
    return {
      snapshot: snap,
      serverName: manifest.server_name,
      applied,
      warnings: files.warnings,
      hooks,
      notice: afterSnapshotNotice(snap.time),
    };
  } finally {
    if (!staged) {
      rmSync(stage, { recursive: true, force: true });
      if (target.kind === 'empty') {
        // Leave nothing behind but what was there: restic's cache and temp dirs go too.
        for (const d of ['cache', 'tmp']) rmSync(join(o.dataDir, d), { recursive: true, force: true });
      }
    }
    release?.();
    if (!staged && createdDir) {
      try {
        if (readdirSync(o.dataDir).length === 0) rmdirSync(o.dataDir);
      } catch {
        // Not empty (another file appeared): keep it.
      }
    }
  }
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await lchown(dir, uid, gid);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await lchown(p, uid, gid);
  }
}

/** Brings the restored database to this Hearth's schema, applies the hooks, records the restore. */
async function prepareDatabase(path: string, o: RestoreOptions, snap: SnapshotInfo): Promise<string[]> {
  const db = await Database.open(path, { cacheSizeKiB: 8192, mmapSizeBytes: 0 }, { maxSchemaVersion: SCHEMA_VERSION });
  try {
    await migrate(db);
    const now = o.now();
    const snapshotTime = Date.parse(snap.time);
    const hooks = await db.write((tx) => runPostRestoreHooks(tx, { now, snapshotTime }));
    await new BackupsStore(db).insertFinished({
      kind: 'restore',
      trigger: o.trigger,
      repo: o.repo,
      started_ts: now,
      finished_ts: now,
      status: 'ok',
      error: null,
      snapshot_id: snap.id,
      snapshot_ts: snapshotTime,
    });
    return hooks;
  } finally {
    await db.close();
  }
}
