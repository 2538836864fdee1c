/**
 * "Never two at once": one backup, check, drill or restore per data directory, whether started
 * by the server's schedule, the dashboard or `hearth backup` in a shell. A lock file created with
 * O_EXCL holds the owner's pid; a lock whose process is gone (crash, power cut) is taken over.
 */
import { openSync, closeSync, writeSync, readFileSync, unlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { BackupError } from './errors.ts';

export const LOCK_FILE = 'backup.lock';

/** Lock files this process holds: a file naming our own pid but not in here is stale (pid reuse). */
const heldHere = new Set<string>();

export interface LockInfo {
  pid: number;
  what: string;
  since: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // After a reboot the pid may belong to something else: only a node/hearth process counts.
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|hearth/.test(cmd);
  } catch {
    return true;
  }
}

export function readLock(dataDir: string): LockInfo | null {
  try {
    return JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as LockInfo;
  } catch {
    return null;
  }
}

/** The lock if a live process holds it (a stale one, from a crash, counts as none). */
export function activeLock(dataDir: string): LockInfo | null {
  const held = readLock(dataDir);
  if (!held) return null;
  if (held.pid === process.pid) return heldHere.has(join(dataDir, LOCK_FILE)) ? held : null;
  return alive(held.pid) ? held : null;
}

/** Takes the lock or throws BUSY naming what holds it. Returns the release function. */
export function acquireLock(dataDir: string, what: string, now = Date.now()): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, what, since: now } satisfies LockInfo));
      closeSync(fd);
      heldHere.add(path);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldHere.delete(path);
        try {
          const held = readLock(dataDir);
          if (!held || held.pid === process.pid) unlinkSync(path);
        } catch {
          // Already gone.
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = readLock(dataDir);
      const ours = held?.pid === process.pid;
      if (held && ((ours && heldHere.has(path)) || (!ours && alive(held.pid)))) {
        throw new BackupError(
          'BUSY',
          `a ${held.what} is already running (process ${held.pid}, since ${new Date(held.since).toISOString()}); only one runs at a time`,
        );
      }
      // Stale: the process that held it is gone.
      if (existsSync(path)) unlinkSync(path);
    }
  }
  throw new BackupError('BUSY', 'could not take the backup lock');
}
