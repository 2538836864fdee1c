/**
 * May a restore go into this data directory? Only when it holds nothing worth keeping: it does
 * not exist, is empty, or holds a fresh install nobody has used yet (no accounts, no rooms) —
 * the appliance on its first boot, where the wizard offers "Restore from a backup". A directory
 * with a configured server is refused: a restore never overwrites a server in use.
 */
import { existsSync, readdirSync } from 'node:fs';
import sqlite3 from 'sqlite3';
import { databasePath } from '../../storage/data-dir.ts';

export type TargetState = { kind: 'empty' } | { kind: 'fresh-install' } | { kind: 'in-use'; reason: string };

/** Names that do not make a directory "used": disposable, machine-specific or our own. */
const IGNORED = new Set(['lost+found', 'machine.json', 'cache', 'tmp', 'backup.lock', 'restore-pending']);

/** Tables whose rows mean somebody used the server (checked when they exist). */
const USE_TABLES = ['users', 'rooms', 'events'];

async function usedRows(dbFile: string): Promise<Record<string, number>> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(dbFile, sqlite3.OPEN_READONLY, (e) => (e ? reject(e) : resolve(d)));
  });
  const all = <T>(sql: string) =>
    new Promise<T[]>((resolve, reject) => db.all(sql, (e: Error | null, rows: T[]) => (e ? reject(e) : resolve(rows))));
  try {
    await all('PRAGMA busy_timeout = 5000');
    const tables = new Set((await all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table'")).map((t) => t.name));
    const out: Record<string, number> = {};
    for (const t of USE_TABLES) {
      if (!tables.has(t)) continue;
      out[t] = (await all<{ n: number }>(`SELECT count(*) AS n FROM ${t}`))[0]?.n ?? 0;
    }
    return out;
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
}

export async function inspectTarget(dataDir: string): Promise<TargetState> {
  if (!existsSync(dataDir)) return { kind: 'empty' };
  let names: string[];
  try {
    names = readdirSync(dataDir).filter((n) => !IGNORED.has(n) && !n.startsWith('replaced-'));
  } catch (e) {
    return { kind: 'in-use', reason: `${dataDir} is not a readable directory (${(e as NodeJS.ErrnoException).code ?? e})` };
  }
  if (names.length === 0) return { kind: 'empty' };
  const dbFile = databasePath(dataDir);
  if (!existsSync(dbFile)) {
    return { kind: 'in-use', reason: `${dataDir} is not empty and holds no Hearth server; restore into an empty directory (nothing was changed)` };
  }
  let rows: Record<string, number>;
  try {
    rows = await usedRows(dbFile);
  } catch (e) {
    return { kind: 'in-use', reason: `${dataDir} holds a database that cannot be read (${(e as Error).message}); nothing was changed` };
  }
  const used = Object.entries(rows).filter(([, n]) => n > 0);
  if (used.length) {
    return {
      kind: 'in-use',
      reason:
        `${dataDir} already holds a Hearth server in use (${used.map(([t, n]) => `${n} ${t}`).join(', ')}); ` +
        `a restore never overwrites a server: restore into an empty directory (nothing was changed)`,
    };
  }
  return { kind: 'fresh-install' };
}

