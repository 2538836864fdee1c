/** Flags and output shared by `hearth backup` and `hearth restore`. */
import { resolve } from 'node:path';
import { UsageError } from './args.ts';
import type { Config } from '../config/schema.ts';
import { credentialsFromEnv, parseRepo, type BucketLookup, type Destination } from '../appliance/backups/destination.ts';
import { BackupError } from '../appliance/backups/errors.ts';
import { loadS3Keys } from '../appliance/backups/secrets.ts';
import type { EffectiveSettings } from '../appliance/backups/settings.ts';
import type { SnapshotInfo, RestoreProgress } from '../appliance/backups/restore.ts';
import type { BackupJobProgress } from '../appliance/backups/backup-job.ts';
import { existsSync } from 'node:fs';

export const REPO_OPTIONS = {
  repo: { type: 'string' },
  'passphrase-file': { type: 'string' },
  'ca-cert': { type: 'string' },
  's3-bucket-lookup': { type: 'string' },
  's3-region': { type: 'string' },
} as const;

export const REPO_USAGE = `  --repo REPO          s3:https://HOST/BUCKET/PREFIX or a local directory (restic syntax)
  --passphrase-file F  file holding the backup passphrase
  --ca-cert FILE       extra CA certificate for a self-hosted S3 endpoint
  --s3-bucket-lookup M auto|dns|path (path for MinIO-style servers)
  --s3-region R        S3 region, when the endpoint needs one`;

export interface RepoFlags {
  repo?: string;
  'passphrase-file'?: string;
  'ca-cert'?: string;
  's3-bucket-lookup'?: string;
  's3-region'?: string;
}

/** The destination from flags, falling back to what this server has set up. */
export function resticDestination(config: Config, flags: RepoFlags, settings: EffectiveSettings | null): Destination {
  const repo = flags.repo ?? settings?.repo ?? null;
  if (!repo) throw new UsageError('--repo is required (no backup destination is set up for this server)');
  try {
    parseRepo(repo);
  } catch (e) {
    throw new UsageError((e as BackupError).message);
  }
  const lookup = flags['s3-bucket-lookup'] ?? settings?.bucketLookup ?? 'auto';
  if (!['auto', 'dns', 'path'].includes(lookup)) throw new UsageError('--s3-bucket-lookup must be auto, dns or path');
  const ca = flags['ca-cert'] ?? config.backup_ca_cert;
  if (ca && !existsSync(ca)) throw new UsageError(`CA certificate ${ca} does not exist`);
  // Keys saved for this server's destination, else AWS_*; with an explicit --repo, AWS_* first.
  const savedKeys = existsSync(config.data_dir) ? loadS3Keys(config.data_dir) : null;
  const envKeys = credentialsFromEnv(process.env);
  return {
    repo,
    caCert: ca ? resolve(ca) : null,
    bucketLookup: lookup as BucketLookup,
    region: flags['s3-region'] ?? settings?.region ?? null,
    credentials: flags.repo ? (envKeys ?? savedKeys) : (savedKeys ?? envKeys),
    uploadLimitKiB: config.backup_upload_limit_kib,
  };
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function printSnapshots(snaps: SnapshotInfo[]): void {
  if (snaps.length === 0) {
    console.log('no Hearth backups in this repository');
    return;
  }
  console.log(`${'ID'.padEnd(10)}${'DATE'.padEnd(22)}${'SIZE'.padEnd(11)}${'SERVER'.padEnd(28)}NOTE`);
  for (const s of snaps) {
    const date = s.time.replace('T', ' ').slice(0, 19);
    console.log(
      `${s.short_id.padEnd(10)}${date.padEnd(22)}${formatBytes(s.size).padEnd(11)}${(s.server_name ?? '?').padEnd(28)}` +
        `${s.restorable ? `Hearth ${s.hearth_version ?? '?'}` : s.reason}`,
    );
  }
}

/** Progress on stderr: one updating line on a terminal, a line per phase otherwise. */
export function progressPrinter(quiet: boolean) {
  const tty = process.stderr.isTTY === true;
  let lastPhase = '';
  let lastPct = -1;
  const show = (phase: string, pct: number, extra: string) => {
    if (quiet) return;
    const p = Math.floor(pct * 100);
    if (tty) process.stderr.write(`\r${phase.padEnd(12)} ${String(p).padStart(3)}% ${extra}`.padEnd(70));
    else if (phase !== lastPhase || p >= lastPct + 25) process.stderr.write(`${phase} ${p}% ${extra}\n`);
    if (phase !== lastPhase) lastPct = -1;
    if (!tty && (phase !== lastPhase || p >= lastPct + 25)) lastPct = p;
    lastPhase = phase;
  };
  return {
    backup: (p: BackupJobProgress) => show(p.phase, p.percent, p.bytesTotal ? `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}` : ''),
    restore: (p: RestoreProgress) => show(p.phase, p.percent, p.bytesTotal ? `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}` : ''),
    end: () => {
      if (!quiet && tty) process.stderr.write('\n');
    },
  };
}
