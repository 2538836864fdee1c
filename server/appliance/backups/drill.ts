/**
 * The restore drill run after every backup: "a backup that has never been restored is a hope".
 * It restores the snapshot's database and manifest from the repository (the real round trip
 * through encryption, upload and download) into a temporary directory, checks the database's
 * checksum against the manifest, runs `PRAGMA integrity_check`, and compares every table's row
 * count with the manifest. The media store is covered by restic's own data check (weekly).
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DB_FILE, STAGING_DIR } from './data-set.ts';
import { integrityCheck, readSnapshotFacts } from './db-snapshot.ts';
import { compareCounts, readManifestFile, verifyFiles, type Manifest } from './manifest.ts';
import type { Restic } from './restic.ts';

export interface DrillResult {
  ok: boolean;
  /** One line for the dashboard: what was checked, or what failed. */
  detail: string;
  manifest: Manifest | null;
}

export async function restoreDrill(restic: Restic, snapshotId: string, tmpRoot: string): Promise<DrillResult> {
  mkdirSync(tmpRoot, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(tmpRoot, 'drill-'));
  try {
    await restic.restore(snapshotId, dir, { include: [`/${STAGING_DIR}`] });
    const manifest = readManifestFile(dir);
    if (!manifest) return { ok: false, detail: 'the snapshot holds no manifest', manifest };
    const files = await verifyFiles(dir, manifest, { databaseOnly: true });
    if (files.errors.length) return { ok: false, detail: files.errors.join('; '), manifest };
    const dbPath = join(dir, STAGING_DIR, DB_FILE);
    const integrity = await integrityCheck(dbPath);
    if (integrity !== 'ok') return { ok: false, detail: `integrity check: ${integrity}`, manifest };
    const facts = await readSnapshotFacts(dbPath);
    const problems = compareCounts(manifest.counts, facts.counts);
    if (problems.length) return { ok: false, detail: problems.join('; '), manifest };
    const rows = Object.values(facts.counts).reduce((a, n) => a + n, 0);
    return {
      ok: true,
      detail: `database restored from the backup: integrity ok, ${Object.keys(facts.counts).length} tables and ${rows} rows match the manifest`,
      manifest,
    };
  } catch (e) {
    return { ok: false, detail: (e as Error).message, manifest: null };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
