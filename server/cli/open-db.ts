/** Opens the data directory's database for a CLI command (migrating it like the server would). */
import { existsSync } from 'node:fs';
import { ensureDataDir, databasePath } from '../storage/data-dir.ts';
import { machineProfile, pragmasFor } from '../appliance/machine-profile.ts';
import { Database } from '../storage/db.ts';
import { migrate } from '../storage/migrate.ts';
import { SCHEMA_VERSION } from '../storage/migrations/index.ts';

export async function openDatabaseForCli(dataDir: string, opts: { mustExist?: boolean } = {}): Promise<Database> {
  if (opts.mustExist && !existsSync(databasePath(dataDir))) {
    throw new Error(`no Hearth database in ${dataDir}`);
  }
  ensureDataDir(dataDir);
  const machine = await machineProfile(dataDir);
  const db = await Database.open(databasePath(dataDir), pragmasFor(machine), { maxSchemaVersion: SCHEMA_VERSION });
  try {
    await migrate(db);
  } catch (e) {
    await db.close();
    throw e;
  }
  return db;
}
