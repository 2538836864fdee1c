/**
 * The backup settings in effect: an option set in the config file (or HEARTH_* / flags) wins;
 * otherwise what the wizard or dashboard saved in the database; otherwise the default. Secrets
 * come from DATA_DIR/secrets/, S3 keys falling back to the standard AWS_* environment.
 */
import { resolve } from 'node:path';
import type { Config } from '../../config/schema.ts';
import type { BackupSettingsRow } from '../../storage/backups-store.ts';
import { credentialsFromEnv, type BucketLookup, type Destination } from './destination.ts';
import { loadPassphrase, loadS3Keys } from './secrets.ts';
import { DEFAULT_SCHEDULE, formatRetention, parseRetention, type Retention } from './schedule.ts';

export interface EffectiveSettings {
  repo: string | null;
  bucketLookup: BucketLookup;
  region: string | null;
  schedule: string;
  retention: Retention;
  /** Which settings the config file fixes (the dashboard shows them read-only). */
  fromConfig: string[];
  hasPassphrase: boolean;
  /** 'secrets' (saved keys), 'environment' (AWS_*), or null. */
  credentialsSource: 'secrets' | 'environment' | null;
}

export function effectiveSettings(config: Config, row: BackupSettingsRow | undefined, env: NodeJS.ProcessEnv = process.env): EffectiveSettings {
  const fromConfig: string[] = [];
  const pick = <T>(key: keyof Config, configValue: T | null, dbValue: T | null | undefined, def: T): T => {
    if (configValue !== null && configValue !== undefined) {
      fromConfig.push(key);
      return configValue;
    }
    return dbValue ?? def;
  };
  const repo = pick<string | null>('backup_repo', config.backup_repo, row?.repo, null);
  const bucketLookup = pick<BucketLookup>('backup_s3_bucket_lookup', config.backup_s3_bucket_lookup, row?.bucket_lookup, 'auto');
  const region = pick<string | null>('backup_s3_region', config.backup_s3_region, row?.region, null);
  const schedule = pick<string>('backup_schedule', config.backup_schedule, row?.schedule, DEFAULT_SCHEDULE);
  const dbRetention =
    row && row.keep_daily !== null && row.keep_weekly !== null && row.keep_monthly !== null
      ? formatRetention({ daily: row.keep_daily, weekly: row.keep_weekly, monthly: row.keep_monthly })
      : null;
  const retention = parseRetention(pick<string | null>('backup_retention', config.backup_retention, dbRetention, null));
  let hasPassphrase = false;
  try {
    hasPassphrase = loadPassphrase(config.data_dir) !== null;
  } catch {
    hasPassphrase = false;
  }
  const credentialsSource = loadS3Keys(config.data_dir) ? 'secrets' : credentialsFromEnv(env) ? 'environment' : null;
  return { repo, bucketLookup, region, schedule, retention, fromConfig, hasPassphrase, credentialsSource };
}

/** The destination for `repo` with this server's S3 options and credentials. */
export function destinationFor(config: Config, s: Pick<EffectiveSettings, 'repo' | 'bucketLookup' | 'region'>, env: NodeJS.ProcessEnv = process.env): Destination {
  if (!s.repo) throw new Error('no backup destination is set up');
  return {
    repo: s.repo,
    caCert: config.backup_ca_cert ? resolve(config.backup_ca_cert) : null,
    bucketLookup: s.bucketLookup,
    region: s.region,
    credentials: loadS3Keys(config.data_dir) ?? credentialsFromEnv(env),
    uploadLimitKiB: config.backup_upload_limit_kib,
  };
}
