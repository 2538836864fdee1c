/**
 * Backup secrets live in DATA_DIR/secrets/ as files readable only by the service user (mode
 * 0600 in a 0700 directory), never in the config or the database: the passphrase (restic's
 * repository password) and the S3 keys. They are written atomically (temp file + rename) so a
 * crash never leaves half a passphrase.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Credentials } from './destination.ts';

export const SECRETS_DIR = 'secrets';
export const PASSPHRASE_FILE = 'backup-passphrase';
export const S3_KEYS_FILE = 'backup-s3.json';

export function secretsDir(dataDir: string): string {
  return join(dataDir, SECRETS_DIR);
}

function writeSecret(dataDir: string, name: string, content: string): void {
  const dir = secretsDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = join(dir, name);
  const tmp = `${path}.${process.pid}.new`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * Passphrases are compared as restic compares a password file: surrounding whitespace (a
 * trailing newline from an editor) does not count, so one typed in the wizard and the same one
 * saved in a file open the same repository.
 */
export function normalizePassphrase(p: string): string {
  return p.trim();
}

export function readPassphraseFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the passphrase file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const p = normalizePassphrase(text);
  if (!p) throw new Error(`the passphrase file ${path} is empty`);
  return p;
}

export function loadPassphrase(dataDir: string): string | null {
  const path = join(secretsDir(dataDir), PASSPHRASE_FILE);
  return existsSync(path) ? readPassphraseFile(path) : null;
}

export function savePassphrase(dataDir: string, passphrase: string): void {
  writeSecret(dataDir, PASSPHRASE_FILE, normalizePassphrase(passphrase) + '\n');
}

export function loadS3Keys(dataDir: string): S3Credentials | null {
  const path = join(secretsDir(dataDir), S3_KEYS_FILE);
  if (!existsSync(path)) return null;
  const v = JSON.parse(readFileSync(path, 'utf8')) as { access_key_id?: string; secret_access_key?: string };
  return v.access_key_id && v.secret_access_key ? { accessKeyId: v.access_key_id, secretAccessKey: v.secret_access_key } : null;
}

/** Saves the S3 keys, or removes them (null) so the AWS_* environment is used. */
export function saveS3Keys(dataDir: string, keys: S3Credentials | null): void {
  if (!keys) {
    rmSync(join(secretsDir(dataDir), S3_KEYS_FILE), { force: true });
    return;
  }
  writeSecret(dataDir, S3_KEYS_FILE, JSON.stringify({ access_key_id: keys.accessKeyId, secret_access_key: keys.secretAccessKey }) + '\n');
}
