/**
 * The manifest travels inside every backup (backup-staging/manifest.json): which Hearth and
 * schema made it, for which server name, the row counts of every table and checksums, so a
 * restore (and the automatic drill after each backup) can prove the copy is whole before it is
 * trusted.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { HEARTH_VERSION } from '../../version.ts';
import { DB_FILE, listDataSet, sha256File, STAGING_DIR } from './data-set.ts';
import type { SnapshotFacts } from './db-snapshot.ts';

export const MANIFEST_FORMAT = 1;

export interface Manifest {
  format: number;
  hearth_version: string;
  schema_version: number;
  server_name: string | null;
  created_ts: number;
  /** Informational only: a backup restores onto any architecture. */
  made_on: { arch: string; platform: string };
  /** Row count of every table in the database snapshot. */
  counts: Record<string, number>;
  database: { path: string; size: number; sha256: string };
  /** sha256 of every other file outside the large stores (keys, certificates, config, …). */
  files: Record<string, { size: number; sha256: string }>;
  /** Large stores (media): file count and bytes. */
  stores: Record<string, { files: number; bytes: number }>;
}

/** Builds the manifest for the data directory whose database snapshot is already staged. */
export async function buildManifest(dataDir: string, facts: SnapshotFacts, now: number): Promise<Manifest> {
  const dbPath = join(dataDir, STAGING_DIR, DB_FILE);
  const files: Manifest['files'] = {};
  const stores: Manifest['stores'] = {};
  for (const f of await listDataSet(dataDir)) {
    if (f.path.startsWith(`${STAGING_DIR}/`)) continue;
    if (f.large) {
      const store = f.path.split('/')[0]!;
      const s = (stores[store] ??= { files: 0, bytes: 0 });
      s.files++;
      s.bytes += f.size;
      continue;
    }
    try {
      files[f.path] = { size: f.size, sha256: await sha256File(join(dataDir, f.path)) };
    } catch {
      // Deleted between listing and hashing: not part of this backup.
    }
  }
  return {
    format: MANIFEST_FORMAT,
    hearth_version: HEARTH_VERSION,
    schema_version: facts.schemaVersion,
    server_name: facts.serverName,
    created_ts: now,
    made_on: { arch: os.arch(), platform: os.platform() },
    counts: facts.counts,
    database: { path: `${STAGING_DIR}/${DB_FILE}`, size: statSync(dbPath).size, sha256: await sha256File(dbPath) },
    files,
    stores,
  };
}

export function parseManifest(text: string): Manifest {
  const m = JSON.parse(text) as Manifest;
  if (typeof m !== 'object' || m === null || typeof m.schema_version !== 'number' || typeof m.database?.sha256 !== 'string') {
    throw new Error('manifest is malformed');
  }
  return m;
}

export interface Verification {
  /** Problems that make the copy untrustworthy (database checksum, counts, integrity). */
  errors: string[];
  /** Differences that are expected when files change while a backup runs (e.g. a new upload). */
  warnings: string[];
}

/**
 * Checks a restored tree against its manifest: the database snapshot's checksum must match
 * exactly (it is immutable once staged); other files were read live by restic a moment after
 * hashing, so a difference there is a warning.
 */
export async function verifyFiles(root: string, m: Manifest, opts: { databaseOnly?: boolean } = {}): Promise<Verification> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const dbPath = join(root, m.database.path);
  if (!existsSync(dbPath)) errors.push('the database snapshot is missing from the backup');
  else if ((await sha256File(dbPath)) !== m.database.sha256) errors.push('the database snapshot does not match its checksum');
  if (opts.databaseOnly) return { errors, warnings };
  for (const [path, f] of Object.entries(m.files)) {
    const p = join(root, path);
    if (!existsSync(p)) warnings.push(`${path} is missing`);
    else if ((await sha256File(p)) !== f.sha256) warnings.push(`${path} changed while the backup ran`);
  }
  const restored = await listDataSet(root);
  for (const [store, s] of Object.entries(m.stores)) {
    const got = restored.filter((f) => f.large && f.path.startsWith(`${store}/`));
    const bytes = got.reduce((a, f) => a + f.size, 0);
    if (got.length !== s.files || bytes !== s.bytes) {
      warnings.push(`${store}: ${got.length} files / ${bytes} bytes restored, manifest says ${s.files} / ${s.bytes}`);
    }
  }
  return { errors, warnings };
}

/** Compares the row counts of a restored database with the manifest's. */
export function compareCounts(expected: Record<string, number>, got: Record<string, number>): string[] {
  const problems: string[] = [];
  for (const [table, n] of Object.entries(expected)) {
    if (got[table] !== n) problems.push(`table ${table}: ${got[table] ?? 'missing'} rows, manifest says ${n}`);
  }
  return problems;
}

export function readManifestFile(root: string): Manifest | null {
  const p = join(root, STAGING_DIR, 'manifest.json');
  if (!existsSync(p)) return null;
  return parseManifest(readFileSync(p, 'utf8'));
}
