/**
 * The data directory: created with owner-only permissions (it holds the signing key, the ACME
 * account key and backup credentials), and checked writable before anything else is written.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirError extends Error {}

export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new DataDirError(`cannot create data directory ${dir}: ${describeFsError(e)}`);
  }
  try {
    if (!statSync(dir).isDirectory()) throw new DataDirError(`data directory ${dir} is not a directory`);
    accessSync(dir, constants.W_OK | constants.R_OK | constants.X_OK);
  } catch (e) {
    if (e instanceof DataDirError) throw e;
    throw new DataDirError(`data directory ${dir} is not writable: ${describeFsError(e)}`);
  }
}

export function databasePath(dataDir: string): string {
  return join(dataDir, 'hearth.db');
}

function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOTDIR: 'a parent path is a file, not a directory',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
  };
  return reasons[err.code ?? ''] ?? err.message;
}
