/**
 * When the next scheduled backup is due: the daily slot after the last run, or sooner when the
 * last run failed and a retry is owed (schedule.ts). One computation for the backup service's
 * timer and for the lazy start-up's check (services/lazy-start.ts), which must agree without
 * loading the backup service.
 */
import type { BackupsStore } from '../../storage/backups-store.ts';
import { nextRunAt, retryAt, slotStart } from './schedule.ts';
import type { EffectiveSettings } from './settings.ts';

/** ms since the epoch, or null when backups are not set up or the schedule is off. */
export async function nextScheduledBackup(store: BackupsStore, settings: EffectiveSettings, now: number): Promise<number | null> {
  if (!settings.repo || !settings.hasPassphrase) return null;
  const last = await store.lastRun('backup');
  let next = nextRunAt(settings.schedule, now, last?.started_ts ?? null);
  if (next !== null && last?.status === 'failed') {
    const since = slotStart(settings.schedule, now);
    const failures = since === null ? 0 : await store.countRunsSince('backup', ['failed'], since);
    const retry = retryAt(settings.schedule, now, last.started_ts, failures);
    if (retry !== null && retry < next) next = retry;
  }
  return next;
}
