/** Opens the data directory's config and database for a CLI command (migrating it like the server would). */
import { existsSync } from 'node:fs';
import { UsageError } from './args.ts';
import { loadConfig } from '../config/loader.ts';
import type { Config } from '../config/schema.ts';
import { ensureDataDir, databasePath } from '../storage/data-dir.ts';
import { machineProfile, pragmasFor } from '../appliance/machine-profile.ts';
import { Database } from '../storage/db.ts';
import { migrate } from '../storage/migrate.ts';
import { SCHEMA_VERSION } from '../storage/migrations/index.ts';

/**
 * The config a data command works with, from its --data-dir and --config (DATA_DIR_OPTIONS) and
 * any other `flags`; a config that does not load is the user's to fix, so a usage error.
 */
export async function loadConfigForCli(values: { 'data-dir'?: string; config?: string }, flags: Partial<Config> = {}): Promise<Config> {
  const { config } = await loadConfig({ flags: { data_dir: values['data-dir'], ...flags }, configFile: values.config }).catch((e) => {
    throw new UsageError((e as Error).message);
  });
  return config;
}

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
