/**
 * `hearth backup now|list|check|drill|setup`: the same operations as the dashboard, scriptable.
 * Works whether or not the server runs (the database snapshot is an online backup; a lock file
 * keeps the CLI and the server's schedule from running two backups at once).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, UsageError } from './args.ts';
import { loadConfig } from '../config/loader.ts';
import type { Config } from '../config/schema.ts';
import { databasePath } from '../storage/data-dir.ts';
import { openDatabaseForCli } from './open-db.ts';
import { BackupsStore } from '../storage/backups-store.ts';
import { makeRestic, runBackupJob } from '../appliance/backups/backup-job.ts';
import { restoreDrill } from '../appliance/backups/drill.ts';
import { acquireLock } from '../appliance/backups/lock.ts';
import { listSnapshots } from '../appliance/backups/restore.ts';
import { loadPassphrase, readPassphraseFile } from '../appliance/backups/secrets.ts';
import { effectiveSettings } from '../appliance/backups/settings.ts';
import { setupDestination } from '../appliance/backups/setup.ts';
import { Restic } from '../appliance/backups/restic.ts';
import { resticDestination, formatBytes, printSnapshots, progressPrinter, REPO_OPTIONS, REPO_USAGE } from './backup-common.ts';

export const usage = `Usage: hearth backup now|list|check|drill|setup [options]

  now     back up the data directory now (database snapshot, media, keys, config),
          then apply retention, run the weekly check when due, and a restore drill
  list    list the backups in the repository (date, size, server name)
  check   verify the repository; --subset N/T or P% also re-reads that part of the data
  drill   restore a backup's database into a temporary directory and verify it
  setup   save --repo and the passphrase as this server's backup destination
          (creates the repository when empty), like the wizard's backup step

Options:
${REPO_USAGE}
  --snapshot ID        drill: which backup (default latest)
  --subset N/T|P%      check: also re-read this part of the stored data
  --schedule HH:MM     setup: daily backup time, or 'off' (default 03:30)
  --data-dir DIR       data directory (default ./data)
  --config FILE        config file (default DATA_DIR/config.yaml or config.json)
  --json               machine-readable output
  -h, --help           show this help

Without --repo and --passphrase-file the destination and passphrase set up for this server are
used. S3 keys come from DATA_DIR/secrets/backup-s3.json, else AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY.`;

const OPTIONS = {
  ...REPO_OPTIONS,
  snapshot: { type: 'string' },
  subset: { type: 'string' },
  schedule: { type: 'string' },
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, 'backup', true);
  if (values.help || positionals.length === 0) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const [sub, ...rest] = positionals;
  if (rest.length) throw new UsageError(`backup ${sub}: unexpected argument '${rest[0]}'`);
  if (values.subset !== undefined && !/^(\d+\/\d+|\d+(\.\d+)?%)$/.test(values.subset)) {
    throw new UsageError(`backup check: --subset expects N/T (e.g. 1/8) or a percentage (e.g. 5%)`);
  }
  const { config } = await loadConfig({ flags: { data_dir: values['data-dir'] }, configFile: values.config }).catch((e) => {
    throw new UsageError((e as Error).message);
  });
  switch (sub) {
    case 'now':
      return backupNow(config, values);
    case 'list':
      return withRepo(config, values, async (restic) => {
        const snaps = await listSnapshots(restic);
        if (values.json) console.log(JSON.stringify(snaps, null, 2));
        else printSnapshots(snaps);
        return 0;
      });
    case 'check':
      return withRepo(config, values, async (restic) => {
        await restic.check(values.subset ?? null);
        console.log(values.json ? JSON.stringify({ ok: true }) : `repository ok${values.subset ? ` (data subset ${values.subset} re-read)` : ''}`);
        return 0;
      });
    case 'drill':
      return withRepo(config, values, async (restic, tmp) => {
        const snap = await restic.resolveSnapshot(values.snapshot ?? 'latest');
        const result = await restoreDrill(restic, snap.id, tmp);
        if (values.json) console.log(JSON.stringify({ snapshot: snap.id, ok: result.ok, detail: result.detail }));
        else console.log(`${result.ok ? 'drill ok' : 'DRILL FAILED'}: snapshot ${snap.short_id} (${snap.time}): ${result.detail}`);
        return result.ok ? 0 : 1;
      });
    case 'setup':
      return setup(config, values);
    default:
      throw new UsageError(`backup: unknown subcommand '${sub}' (now, list, check, drill, setup)`);
  }
}

function passphraseFor(config: Config, values: Values): string {
  if (values['passphrase-file']) return readPassphraseFile(values['passphrase-file']);
  const saved = existsSync(config.data_dir) ? loadPassphrase(config.data_dir) : null;
  if (!saved) throw new UsageError('backup: --passphrase-file is required (no passphrase is saved for this server)');
  return saved;
}

/** Runs `fn` with a restic for the repository (no database needed: list, check, drill). */
async function withRepo(config: Config, values: Values, fn: (restic: Restic, tmp: string) => Promise<number>): Promise<number> {
  const hasData = existsSync(databasePath(config.data_dir));
  const settings = hasData ? await readSettings(config) : effectiveSettings(config, undefined);
  const destination = resticDestination(config, values, settings);
  const passphrase = passphraseFor(config, values);
  // Outside a data directory, restic's cache and temp files go to a throwaway directory.
  const scratch = hasData ? null : mkdtempSync(join(tmpdir(), 'hearth-backup-'));
  const base = scratch ?? config.data_dir;
  const release = hasData ? acquireLock(config.data_dir, 'backup check') : () => undefined;
  try {
    return await fn(makeRestic(base, destination, passphrase), join(base, 'tmp'));
  } finally {
    release();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

async function readSettings(config: Config) {
  const db = await openDatabaseForCli(config.data_dir, { mustExist: true });
  try {
    return effectiveSettings(config, await new BackupsStore(db).getSettings());
  } finally {
    await db.close();
  }
}

async function backupNow(config: Config, values: Values): Promise<number> {
  const db = await openDatabaseForCli(config.data_dir, { mustExist: true });
  try {
    const store = new BackupsStore(db);
    const settings = effectiveSettings(config, await store.getSettings());
    const destination = resticDestination(config, values, settings);
    const passphrase = passphraseFor(config, values);
    const printer = progressPrinter(values.json === true);
    const outcome = await runBackupJob({
      dataDir: config.data_dir,
      dbPath: db.path,
      destination,
      passphrase,
      store,
      trigger: 'cli',
      retention: settings.retention,
      serverName: config.server_name,
      now: Date.now,
      onProgress: printer.backup,
    });
    printer.end();
    if (values.json) {
      console.log(JSON.stringify(outcome));
    } else {
      console.log(
        `backup ${outcome.status}: snapshot ${outcome.snapshotId.slice(0, 8)}, ${outcome.files} files, ` +
          `${formatBytes(outcome.bytes)} backed up, ${formatBytes(outcome.bytesAdded)} new` +
          (outcome.repoBytes !== null ? `, repository ${formatBytes(outcome.repoBytes)}` : ''),
      );
      console.log(`restore drill ${outcome.drill.ok ? 'ok' : 'FAILED'}: ${outcome.drill.detail}`);
      if (outcome.check) console.log(`weekly check ${outcome.check.ok ? 'ok' : 'FAILED'}: ${outcome.check.detail}`);
      for (const w of outcome.warnings) console.log(`warning: ${w}`);
    }
    return outcome.drill.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

async function setup(config: Config, values: Values): Promise<number> {
  if (!values.repo) throw new UsageError('backup setup: --repo is required');
  if (!values['passphrase-file']) throw new UsageError('backup setup: --passphrase-file is required');
  const db = await openDatabaseForCli(config.data_dir, { mustExist: true });
  try {
    const store = new BackupsStore(db);
    const result = await setupDestination({ config: withRepoFlags(config, values), now: Date.now }, store, {
      repo: values.repo,
      region: values['s3-region'],
      bucket_lookup: values['s3-bucket-lookup'] as 'auto' | 'dns' | 'path' | undefined,
      passphrase: readPassphraseFile(values['passphrase-file']),
      schedule: values.schedule,
    });
    console.log(
      result.created
        ? `created a new backup repository; backups will run daily`
        : `connected to the existing repository (${result.snapshots} backups in it); backups will run daily`,
    );
    return 0;
  } finally {
    await db.close();
  }
}

/** The config with the CA flag applied (setupDestination reads the CA from the config). */
function withRepoFlags(config: Config, values: Values): Config {
  return values['ca-cert'] ? { ...config, backup_ca_cert: values['ca-cert'] } : config;
}
