/**
 * A server started with only its core services (`hearth serve`; main.ts `lazy`) still owes the
 * background work the other parts do on their own once loaded. Here are the cheap checks, run
 * from the core, that load a part when it has work:
 * - federation: PDUs/EDUs queued for other servers by the last run → load everything (the
 *   sender resumes them);
 * - backups: the next scheduled run, computed as the backup service's timer does
 *   (appliance/backups/next-run.ts) → load the backup service when it is due (its own timer then runs it);
 * - media: something for the hourly housekeeping to delete → load the media service (its
 *   housekeeping then runs).
 * A request for any route beyond the core loads everything (server/http/routes.ts).
 */
import type { Services, ServicePart } from './container.ts';
import { LazyStartStore } from '../storage/lazy-start-store.ts';
import { PREVIEW_IMAGE_KEEP_MS } from './media/retention.ts';

const HOUR_MS = 3600_000;
/** When media housekeeping first runs after a start (as in media/retention.ts). */
export const MEDIA_FIRST_CHECK_MS = 30_000;

/**
 * The next scheduled backup (ms since the epoch), or null when backups are not set up. The
 * backup settings code (destinations, secrets, schedules) is imported only when a repository is
 * configured or saved: without one there is no schedule (next-run.ts), and most boxes have none
 * (issue 2: idle memory).
 */
export async function nextBackupDue(s: Services, store = new LazyStartStore(s.db)): Promise<number | null> {
  if (!s.config.backup_repo && !(await store.backupRepoSaved())) return null;
  const [{ BackupsStore }, { effectiveSettings }, { nextScheduledBackup }] = await Promise.all([
    import('../storage/backups-store.ts'),
    import('../appliance/backups/settings.ts'),
    import('../appliance/backups/next-run.ts'),
  ]);
  const backups = new BackupsStore(s.db);
  return nextScheduledBackup(backups, effectiveSettings(s.config, await backups.getSettings()), s.now());
}

export function armLazyStart(s: Services, o: { mediaFirstCheckMs?: number } = {}): void {
  const store = new LazyStartStore(s.db);
  // Unreferenced timers that do nothing once shutdown began (no abort listener: the signal has
  // enough of those).
  const later = (ms: number, fn: () => Promise<void>) => {
    setTimeout(() => {
      if (s.shutdown.aborted) return;
      fn().catch((err: unknown) => s.log.error({ err }, 'background check failed'));
    }, ms).unref();
  };
  const loaded = (part: ServicePart) => s.loadedParts().includes(part);
  const load = async (part: ServicePart, why: string) => {
    if (loaded(part) || s.shutdown.aborted) return;
    s.log.info({ part, why }, 'loading services for background work');
    await s.load(part);
  };

  later(0, async () => {
    if (await store.federationOutboxHasWork()) await load('full', 'federation queue');
  });

  const checkBackups = async () => {
    if (loaded('backups')) return;
    const due = await nextBackupDue(s, store);
    const now = s.now();
    if (due !== null && due <= now) return load('backups', 'scheduled backup');
    // At least hourly: settings may change (`hearth backup setup`), clocks jump.
    later(due === null ? HOUR_MS : Math.min(due - now, HOUR_MS), checkBackups);
  };
  later(0, checkBackups);

  const checkMedia = async () => {
    if (loaded('media')) return;
    const now = s.now();
    const days = s.config.media_remote_retention_days;
    if (await store.mediaMaintenanceHasWork(now, days > 0 ? now - days * 86_400_000 : null, now - PREVIEW_IMAGE_KEEP_MS)) {
      return load('media', 'media housekeeping');
    }
    later(HOUR_MS, checkMedia);
  };
  later(o.mediaFirstCheckMs ?? MEDIA_FIRST_CHECK_MS, checkMedia);
}
