/**
 * Switching a data directory over to restored data. A restore is first staged, complete and
 * verified, in DATA_DIR/restore-pending/; then, with no database open (right here when the
 * target was empty, or at the next server start when a fresh, unconfigured install was running
 * in it — the wizard's "Restore from a backup"), its entries are moved into place.
 *
 * Nothing is overwritten: what was in the directory moves to DATA_DIR/replaced-<time>/. Every
 * step is a rename on one filesystem, and the phase is recorded in a state file first, so a
 * power cut in the middle is finished by the next start instead of leaving a mix.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../logging.ts';
import { LOCK_FILE } from './lock.ts';

export const PENDING_DIR = 'restore-pending';
export const STATE_FILE = '.restore-state.json';

/** Entries of the data directory left in place by a switch-over (disposable or our own). */
const KEEP_IN_PLACE = new Set([PENDING_DIR, 'cache', 'tmp', LOCK_FILE, 'machine.json']);

export interface PendingState {
  phase: 'staged' | 'moving-aside' | 'moving-in';
  snapshot_id: string;
  snapshot_time: string;
  server_name: string | null;
  /** Directory (relative to the data dir) receiving what was there before. */
  replaced: string;
}

export function pendingStatePath(dataDir: string): string {
  return join(dataDir, PENDING_DIR, STATE_FILE);
}

export function readPendingState(dataDir: string): PendingState | null {
  try {
    return JSON.parse(readFileSync(pendingStatePath(dataDir), 'utf8')) as PendingState;
  } catch {
    return null;
  }
}

function writeState(dataDir: string, s: PendingState): void {
  const p = pendingStatePath(dataDir);
  writeFileSync(`${p}.new`, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${p}.new`, p);
}

/** Marks a fully staged and verified restore as ready to switch over. */
export function markStaged(dataDir: string, s: Omit<PendingState, 'phase' | 'replaced'>, now: number): PendingState {
  const state: PendingState = { ...s, phase: 'staged', replaced: `replaced-${new Date(now).toISOString().replace(/[:.]/g, '-')}` };
  writeState(dataDir, state);
  return state;
}

function keptInPlace(name: string): boolean {
  return KEEP_IN_PLACE.has(name) || name.startsWith('replaced-');
}

/**
 * Finishes a staged restore in `dataDir` if there is one; returns its state (null when there was
 * nothing to do). Must run before the database is opened. Safe to re-run after a crash.
 */
export function applyPendingRestore(dataDir: string, log?: Logger): PendingState | null {
  const state = readPendingState(dataDir);
  if (!state) {
    // A staging directory without a state file is an unfinished download: never applied.
    return null;
  }
  const pending = join(dataDir, PENDING_DIR);
  if (state.phase === 'staged' || state.phase === 'moving-aside') {
    writeState(dataDir, { ...state, phase: 'moving-aside' });
    const aside = readdirSync(dataDir).filter((n) => !keptInPlace(n));
    if (aside.length) {
      const replaced = join(dataDir, state.replaced);
      mkdirSync(replaced, { recursive: true, mode: 0o700 });
      for (const name of aside) renameSync(join(dataDir, name), join(replaced, name));
    }
    state.phase = 'moving-in';
    writeState(dataDir, state);
  }
  for (const name of readdirSync(pending)) {
    if (name === STATE_FILE || name === `${STATE_FILE}.new`) continue;
    // An entry the staged copy has but the directory already holds again can only come from a
    // crash between these renames repeating work; the staged one is the one wanted.
    if (existsSync(join(dataDir, name))) rmSync(join(dataDir, name), { recursive: true, force: true });
    renameSync(join(pending, name), join(dataDir, name));
  }
  rmSync(pending, { recursive: true, force: true });
  log?.info({ snapshot: state.snapshot_id, snapshot_time: state.snapshot_time, replaced: state.replaced }, 'restored data switched in');
  return state;
}
