/**
 * Applies pending migrations in order, each in its own write transaction together with the
 * `PRAGMA user_version` bump, so a crash mid-upgrade leaves the previous version intact.
 */
import { DatabaseError, type Database } from './db.ts';
import { MIGRATIONS, type Migration } from './migrations/index.ts';

export async function schemaVersion(db: Database): Promise<number> {
  const row = await db.get<{ user_version: number }>('PRAGMA user_version');
  return row?.user_version ?? 0;
}

/** Returns the migrations applied (empty when already current). */
export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<Migration[]> {
  const target = migrations.length;
  const current = await schemaVersion(db);
  if (current > target) {
    throw new DatabaseError(
      `database ${db.path} has schema version ${current}, newer than this Hearth knows (${target})`,
      'DB_TOO_NEW',
    );
  }
  const applied: Migration[] = [];
  for (const m of migrations.slice(current)) {
    await db.write(async (tx) => {
      // Re-check inside the write lock: another process (the CLI) may have migrated meanwhile.
      const row = await tx.get<{ user_version: number }>('PRAGMA user_version');
      if ((row?.user_version ?? 0) >= m.version) return;
      await tx.exec(m.sql);
      await tx.exec(`PRAGMA user_version = ${m.version}`);
    });
    applied.push(m);
  }
  return applied;
}
