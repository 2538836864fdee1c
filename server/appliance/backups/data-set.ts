/**
 * What a backup holds: the data directory, generically — so files other parts of Hearth add
 * later (keys, certificates, media, config) are included without changes here — minus what must
 * not or need not travel:
 * - the live database files (hearth.db, -wal, -shm): a raw copy of a database being written is
 *   not consistent; the snapshot made by the SQLite online backup API goes in instead, as
 *   backup-staging/hearth.db next to the manifest;
 * - machine.json: a cache of this machine's hardware profile (data only, never
 *   architecture-specific files, so an armhf backup restores onto arm64);
 * - caches and temporary files: `cache/`, `tmp/` at the top or one level down (media/tmp holds
 *   uploads in progress), any directory tagged with CACHEDIR.TAG, `*.tmp` and `*.partial` files;
 * - this feature's own working files (lock, pending restores, replaced data);
 * - the wizard's setup token (a one-time secret for this box: a restored box that still needs
 *   setup makes and shows its own).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, type Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Where the database snapshot and the manifest sit inside the data directory and the snapshot. */
export const STAGING_DIR = 'backup-staging';
export const DB_FILE = 'hearth.db';
export const MANIFEST_FILE = 'manifest.json';

/** Top-level names of the data directory that are never backed up. */
export const EXCLUDED_TOP_LEVEL = [
  'hearth.db',
  'hearth.db-wal',
  'hearth.db-shm',
  'hearth.db-journal',
  'machine.json',
  'cache',
  'tmp',
  'backup.lock',
  'restore-pending',
  'setup-token',
  // HTTP-01 answers, valid for minutes while a certificate is ordered.
  'acme-challenge',
];
/** Top-level name prefixes never backed up (data moved aside by earlier restores). */
export const EXCLUDED_PREFIXES = ['replaced-'];
/** Directories named so one level below the top are never backed up (media/tmp). */
export const EXCLUDED_SUBDIRS = ['tmp'];
/** File name suffixes never backed up, at any depth. */
export const EXCLUDED_SUFFIXES = ['.tmp', '.partial'];

/** Big, append-mostly stores: sizes and counts go in the manifest; restic checks their content. */
export const LARGE_STORES = ['media'];

export function isExcludedTopLevel(name: string): boolean {
  return EXCLUDED_TOP_LEVEL.includes(name) || EXCLUDED_PREFIXES.some((p) => name.startsWith(p));
}

/** restic matches exclude patterns with Go's filepath.Match: escape its metacharacters. */
function escapePattern(p: string): string {
  return p.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/**
 * restic --exclude patterns for `dataDir`. All anchored at the data directory: an unanchored
 * pattern such as `tmp` would also match an ancestor (/tmp/…) and exclude everything.
 */
export function excludePatterns(dataDir: string): string[] {
  const base = escapePattern(dataDir.replace(/\/+$/, ''));
  return [
    ...EXCLUDED_TOP_LEVEL.map((n) => `${base}/${n}`),
    ...EXCLUDED_PREFIXES.map((p) => `${base}/${p}*`),
    ...EXCLUDED_SUBDIRS.map((n) => `${base}/*/${n}`),
    ...EXCLUDED_SUFFIXES.map((s) => `${base}/**/*${s}`),
  ];
}

export interface DataFile {
  /** Path relative to the data directory, with `/` separators. */
  path: string;
  size: number;
  /** In a large store (sizes only in the manifest). */
  large: boolean;
}

/**
 * Every file a backup of `dataDir` holds (same rules as the restic excludes above). Async on
 * purpose: a media store of 100,000 files takes seconds to stat on an SD card, and the server
 * keeps answering meanwhile (each directory read and stat yields to the event loop).
 */
export async function listDataSet(dataDir: string): Promise<DataFile[]> {
  const out: DataFile[] = [];
  const walk = async (dir: string, rel: string, large: boolean): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // vanished while walking (a media file deleted meanwhile)
    }
    // The Cache Directory Tagging Standard (restic --exclude-caches).
    if (rel && entries.some((e) => e.name === 'CACHEDIR.TAG')) return;
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const name = e.name;
      if (!rel && isExcludedTopLevel(name)) continue;
      if (EXCLUDED_SUFFIXES.some((x) => name.endsWith(x))) continue;
      const abs = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (e.isDirectory()) {
        if (rel && !rel.includes('/') && EXCLUDED_SUBDIRS.includes(name)) continue;
        await walk(abs, r, large || (!rel && LARGE_STORES.includes(name)));
      } else if (e.isFile()) {
        try {
          out.push({ path: r, size: (await lstat(abs)).size, large });
        } catch {
          // Deleted meanwhile.
        }
      }
    }
  };
  if (existsSync(dataDir)) await walk(dataDir, '', false);
  return out;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
