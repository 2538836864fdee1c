/**
 * When backups run and what they keep — pure functions of the settings and the clock.
 * Defaults: daily at 03:30 server time; keep 7 daily, 4 weekly and 6 monthly snapshots; a
 * `restic check` that re-reads one eighth of the stored data each week (a different eighth each
 * time, so all data is re-read every two months without downloading it all at once).
 */

export const DEFAULT_SCHEDULE = '03:30';
export const DEFAULT_RETENTION: Retention = { daily: 7, weekly: 4, monthly: 6 };
export const CHECK_INTERVAL_MS = 7 * 24 * 3600_000;
export const CHECK_SUBSET_PARTS = 8;
/** A slot missed while the server was off is caught up this long after the start. */
export const CATCH_UP_DELAY_MS = 10 * 60_000;

export interface Retention {
  daily: number;
  weekly: number;
  monthly: number;
}

export function parseSchedule(s: string | null | undefined): { hour: number; minute: number } | null {
  const v = s ?? DEFAULT_SCHEDULE;
  if (v === 'off') return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(v);
  if (!m) throw new Error(`backup schedule '${v}': expected HH:MM such as 03:30, or 'off'`);
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

export function parseRetention(s: string | null | undefined): Retention {
  const r = { ...DEFAULT_RETENTION };
  if (!s) return r;
  for (const part of s.split(',')) {
    const m = /^\s*(daily|weekly|monthly)\s*=\s*(\d{1,3})\s*$/.exec(part);
    if (!m) throw new Error(`backup retention '${s}': expected e.g. daily=7,weekly=4,monthly=6`);
    r[m[1] as keyof Retention] = Number(m[2]);
  }
  if (r.daily + r.weekly + r.monthly === 0) throw new Error('backup retention must keep at least one snapshot');
  return r;
}

export function formatRetention(r: Retention): string {
  return `daily=${r.daily},weekly=${r.weekly},monthly=${r.monthly}`;
}

/** The most recent local-time occurrence of hour:minute at or before `now`. */
function lastSlot(now: number, hour: number, minute: number): number {
  const d = new Date(now);
  d.setHours(hour, minute, 0, 0);
  if (d.getTime() > now) d.setDate(d.getDate() - 1);
  return d.getTime();
}

/**
 * When the next scheduled backup runs. `lastAttempt` is the start of the latest backup run (any
 * outcome), or null if none ran yet: then the first one waits for the slot (the wizard starts a
 * first backup itself). A slot missed while the server was off runs soon after the start.
 */
export function nextRunAt(schedule: string | null | undefined, now: number, lastAttempt: number | null): number | null {
  const s = parseSchedule(schedule);
  if (!s) return null;
  const slot = lastSlot(now, s.hour, s.minute);
  if (lastAttempt !== null && lastAttempt < slot && now - slot < 20 * 3600_000) return now + CATCH_UP_DELAY_MS;
  const next = new Date(slot);
  next.setDate(next.getDate() + 1);
  return next.getTime();
}

/** A failed scheduled backup (network down, disk not mounted) is retried this long after. */
export const RETRY_DELAY_MS = 3600_000;
/** Retries per daily slot. */
export const MAX_RETRIES = 3;

/**
 * When a failed backup is tried again: an hour after the failure, at most MAX_RETRIES times
 * after a slot, never past the next regular run. `failuresSinceSlot` counts failed runs that
 * started at or after the most recent slot. Null when no retry is due.
 */
export function retryAt(schedule: string | null | undefined, now: number, lastFailed: number, failuresSinceSlot: number): number | null {
  const s = parseSchedule(schedule);
  if (!s || failuresSinceSlot === 0 || failuresSinceSlot > MAX_RETRIES) return null;
  if (lastFailed < lastSlot(now, s.hour, s.minute)) return null;
  return Math.max(now + 1000, lastFailed + RETRY_DELAY_MS);
}

/** Start of the most recent daily slot (for counting today's failures). */
export function slotStart(schedule: string | null | undefined, now: number): number | null {
  const s = parseSchedule(schedule);
  return s ? lastSlot(now, s.hour, s.minute) : null;
}

/** The data subset the next weekly check re-reads ("3/8"), rotating with the count of earlier checks. */
export function checkSubset(checksDone: number): string {
  return `${(checksDone % CHECK_SUBSET_PARTS) + 1}/${CHECK_SUBSET_PARTS}`;
}

export function checkDue(lastCheck: number | null, now: number): boolean {
  return lastCheck === null || now - lastCheck >= CHECK_INTERVAL_MS;
}
