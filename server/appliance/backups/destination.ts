/**
 * Where backups go: a restic repository string (`s3:https://host/bucket/prefix` or a local
 * directory such as a USB disk), plus the S3 options that do not fit in it. Credentials are never
 * part of the repository string, so it can be shown, logged and stored in the database.
 */
import { isAbsolute } from 'node:path';
import { BackupError } from './errors.ts';

export type BucketLookup = 'auto' | 'dns' | 'path';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Destination {
  /** restic repository: `s3:https://host[:port]/bucket[/prefix]` or an absolute local path. */
  repo: string;
  /** Extra CA certificate (PEM file) for a self-hosted S3 endpoint; null = system roots. */
  caCert: string | null;
  /** S3 addressing: `path` for MinIO-style servers, `auto` lets restic choose. */
  bucketLookup: BucketLookup;
  region: string | null;
  /** S3 keys; null = the standard AWS_* environment variables (or an instance role). */
  credentials: S3Credentials | null;
  /** Upload bandwidth cap in KiB/s, 0 = unlimited. */
  uploadLimitKiB: number;
}

export type ParsedRepo =
  | { kind: 's3'; endpoint: string; bucket: string; prefix: string }
  | { kind: 'local'; path: string };

export function parseRepo(repo: string): ParsedRepo {
  const r = repo.trim();
  if (r.startsWith('s3:')) {
    let url: URL;
    try {
      url = new URL(r.slice(3));
    } catch {
      throw new BackupError('BAD_DESTINATION', `'${repo}' is not a valid S3 location; expected s3:https://host/bucket/prefix`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new BackupError('BAD_DESTINATION', `'${repo}': the S3 endpoint must be an https:// URL`);
    }
    if (url.username || url.password) {
      throw new BackupError('BAD_DESTINATION', 'put S3 keys in the credentials, not in the repository URL');
    }
    const [bucket, ...rest] = url.pathname.split('/').filter(Boolean);
    if (!bucket) throw new BackupError('BAD_DESTINATION', `'${repo}' names no bucket; expected s3:https://host/bucket/prefix`);
    return { kind: 's3', endpoint: `${url.protocol}//${url.host}`, bucket, prefix: rest.join('/') };
  }
  if (/^[a-z0-9]+:/i.test(r) && !isAbsolute(r)) {
    throw new BackupError('BAD_DESTINATION', `'${repo}': only S3-compatible storage (s3:https://…) and local directories are supported`);
  }
  if (!isAbsolute(r)) throw new BackupError('BAD_DESTINATION', `'${repo}': a local backup directory must be an absolute path`);
  return { kind: 'local', path: r };
}

/** The repository as the owner should read it in messages (no credentials ever appear here). */
export function describeRepo(repo: string): string {
  try {
    const p = parseRepo(repo);
    if (p.kind === 'local') return `local directory ${p.path}`;
    return `bucket '${p.bucket}'${p.prefix ? ` (folder '${p.prefix}')` : ''} at ${p.endpoint}`;
  } catch {
    return repo;
  }
}

/** The S3 form the wizard and dashboard use, turned into restic's repository syntax. */
export function repoFromS3Fields(f: { endpoint: string; bucket: string; prefix?: string | null }): string {
  let endpoint = f.endpoint.trim().replace(/\/+$/, '');
  if (!/^https?:\/\//i.test(endpoint)) endpoint = `https://${endpoint}`;
  const bucket = f.bucket.trim().replace(/^\/+|\/+$/g, '');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new BackupError('BAD_DESTINATION', `'${f.bucket}' is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)`);
  }
  const prefix = (f.prefix ?? '').trim().replace(/^\/+|\/+$/g, '');
  const repo = `s3:${endpoint}/${bucket}${prefix ? `/${prefix}` : ''}`;
  parseRepo(repo);
  return repo;
}

/** S3 keys from the standard environment variables, when the owner configured none. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): S3Credentials | null {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : null;
}
