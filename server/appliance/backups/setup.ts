/**
 * Setting up a backup destination (wizard step "Backups", dashboard settings): the owner's
 * input is checked for real before anything is saved — the repository is opened with the
 * passphrase, or created when the bucket/directory holds none yet. Then the passphrase and keys
 * go to DATA_DIR/secrets/ (0600) and the rest to the backup_settings row.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../../config/schema.ts';
import type { BackupsStore } from '../../storage/backups-store.ts';
import { makeRestic } from './backup-job.ts';
import { credentialsFromEnv, parseRepo, repoFromS3Fields, type BucketLookup, type Destination, type S3Credentials } from './destination.ts';
import { BackupError } from './errors.ts';
import { listSnapshots } from './restore.ts';
import { loadS3Keys, normalizePassphrase, saveS3Keys, savePassphrase } from './secrets.ts';
import { DEFAULT_RETENTION, parseSchedule, type Retention } from './schedule.ts';

/** What the wizard/dashboard sends (JSON field names). */
export interface DestinationInput {
  type?: 's3' | 'local';
  /** restic repository syntax, instead of the fields below. */
  repo?: string;
  endpoint?: string;
  bucket?: string;
  prefix?: string;
  region?: string;
  bucket_lookup?: BucketLookup;
  access_key_id?: string;
  secret_access_key?: string;
  path?: string;
  passphrase?: string;
  schedule?: string;
  retention?: Partial<Retention>;
}

export const MIN_NEW_PASSPHRASE = 12;

function str(v: unknown, name: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new BackupError('BAD_DESTINATION', `${name} must be a string`);
  return v.trim();
}

/** Validates the input into a destination (credentials: given, else saved, else AWS_*). */
export function destinationFromInput(config: Config, input: DestinationInput, env: NodeJS.ProcessEnv = process.env): { destination: Destination; keys: S3Credentials | null } {
  let repo = str(input.repo, 'repo');
  if (!repo) {
    if (input.type === 'local') {
      const path = str(input.path, 'path');
      if (!path) throw new BackupError('BAD_DESTINATION', 'give the directory to back up into');
      repo = path;
    } else {
      const endpoint = str(input.endpoint, 'endpoint');
      const bucket = str(input.bucket, 'bucket');
      if (!endpoint || !bucket) throw new BackupError('BAD_DESTINATION', 'give the S3 endpoint and bucket');
      repo = repoFromS3Fields({ endpoint, bucket, prefix: str(input.prefix, 'prefix') ?? null });
    }
  }
  const parsed = parseRepo(repo);
  const accessKeyId = str(input.access_key_id, 'access_key_id');
  const secretAccessKey = str(input.secret_access_key, 'secret_access_key');
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new BackupError('BAD_DESTINATION', 'give both the access key ID and the secret access key (or neither, to use the environment)');
  }
  const keys = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : null;
  const lookup = input.bucket_lookup ?? config.backup_s3_bucket_lookup ?? 'auto';
  if (!['auto', 'dns', 'path'].includes(lookup)) throw new BackupError('BAD_DESTINATION', 'bucket_lookup must be auto, dns or path');
  return {
    keys,
    destination: {
      repo,
      caCert: config.backup_ca_cert,
      bucketLookup: lookup,
      region: str(input.region, 'region') ?? config.backup_s3_region,
      credentials: parsed.kind === 's3' ? (keys ?? loadS3Keys(config.data_dir) ?? credentialsFromEnv(env)) : null,
      uploadLimitKiB: config.backup_upload_limit_kib,
    },
  };
}

export function passphraseFromInput(input: DestinationInput): string {
  if (typeof input.passphrase !== 'string' || !normalizePassphrase(input.passphrase)) {
    throw new BackupError('BAD_DESTINATION', 'give the backup passphrase');
  }
  return normalizePassphrase(input.passphrase);
}

export async function setupDestination(
  d: { config: Config; now: () => number; env?: NodeJS.ProcessEnv; resticBinary?: string; shutdown?: AbortSignal },
  store: BackupsStore,
  input: DestinationInput,
): Promise<{ created: boolean; snapshots: number }> {
  const { destination, keys } = destinationFromInput(d.config, input, d.env);
  const passphrase = passphraseFromInput(input);
  const schedule = input.schedule ?? null;
  if (schedule !== null) parseSchedule(schedule);
  const r = input.retention ?? {};
  for (const [k, v] of Object.entries(r)) {
    if (!['daily', 'weekly', 'monthly'].includes(k) || !Number.isInteger(v) || (v as number) < 0 || (v as number) > 999) {
      throw new BackupError('BAD_DESTINATION', `retention.${k} must be a whole number from 0 to 999`);
    }
  }
  const hasRetention = Object.keys(r).length > 0;
  const parsed = parseRepo(destination.repo);
  if (parsed.kind === 'local' && !existsSync(dirname(parsed.path))) {
    throw new BackupError('BAD_DESTINATION', `${dirname(parsed.path)} does not exist (is the disk plugged in and mounted?)`);
  }
  const restic = makeRestic(d.config.data_dir, destination, passphrase, { binary: d.resticBinary, env: d.env, signal: d.shutdown });
  let created = false;
  let snapshots = 0;
  if ((await restic.probe()) === 'missing') {
    if (passphrase.length < MIN_NEW_PASSPHRASE) {
      throw new BackupError('BAD_DESTINATION', `choose a passphrase of at least ${MIN_NEW_PASSPHRASE} characters (a few unrelated words work well)`);
    }
    await restic.init();
    created = true;
  } else {
    snapshots = (await listSnapshots(restic)).length;
  }
  savePassphrase(d.config.data_dir, passphrase);
  if (parsed.kind === 's3' && keys) saveS3Keys(d.config.data_dir, keys);
  await store.saveSettings(
    {
      repo: destination.repo,
      bucket_lookup: destination.bucketLookup,
      region: destination.region,
      schedule,
      // A partial retention is completed with the defaults; none given keeps the default policy.
      keep_daily: hasRetention ? (r.daily ?? DEFAULT_RETENTION.daily) : null,
      keep_weekly: hasRetention ? (r.weekly ?? DEFAULT_RETENTION.weekly) : null,
      keep_monthly: hasRetention ? (r.monthly ?? DEFAULT_RETENTION.monthly) : null,
    },
    d.now(),
  );
  return { created, snapshots };
}
