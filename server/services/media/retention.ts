/**
 * Media retention: files of deleted media are removed once nothing references their bytes;
 * cached remote media is purged after media_remote_retention_days (it is fetched again on
 * demand); expired async-upload reservations, URL previews and their images are dropped.
 */
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../logging.ts';
import type { MediaStore } from '../../storage/media-store.ts';
import type { BlobFiles } from './blob-files.ts';

/** How long images stored for URL previews are kept. */
export const PREVIEW_IMAGE_KEEP_MS = 2 * 86_400_000;

export interface RetentionDeps {
  store: MediaStore;
  files: BlobFiles;
  now: () => number;
  config: Config;
  log: Logger;
  shutdown: AbortSignal;
}

/** Removes the files (and thumbnails) of these digests where no media row references them any more. */
export async function collectUnreferenced(d: RetentionDeps, shas: string[]): Promise<void> {
  for (const sha of shas) {
    if (await d.files.removeIfUnreferenced(sha, () => d.store.isShaReferenced(sha))) {
      await d.store.deleteThumbnailsOf(sha);
    }
  }
}

/** Deletes cached remote media fetched more than `olderThanMs` ago; returns how many items went. */
export async function purgeRemote(d: RetentionDeps, olderThanMs: number): Promise<number> {
  const before = d.now() - olderThanMs;
  let total = 0;
  for (;;) {
    const batch = await d.store.remoteOlderThan(before, 200);
    if (batch.length === 0) return total;
    await collectUnreferenced(d, await d.store.deleteMedia(batch.map((b) => ({ serverName: b.server_name, mediaId: b.media_id }))));
    total += batch.length;
  }
}

/** One housekeeping pass. */
export async function maintain(d: RetentionDeps): Promise<void> {
  const now = d.now();
  // Spec (POST /create): unused media IDs may be deleted once unused_expires_at has passed.
  const expired = await d.store.expiredPending(now, 1000);
  if (expired.length) await d.store.deleteMedia(expired.map((e) => ({ serverName: e.server_name, mediaId: e.media_id })));
  const days = d.config.media_remote_retention_days;
  if (days > 0) await purgeRemote(d, days * 86_400_000);
  await d.store.deleteExpiredPreviews(now);
  // Preview images are re-fetched with their page once the preview cache expires; clients only
  // need the old ones for a little while.
  for (;;) {
    const old = await d.store.previewImagesOlderThan(now - PREVIEW_IMAGE_KEEP_MS, 200);
    if (old.length === 0) break;
    await collectUnreferenced(d, await d.store.deleteMedia(old.map((o) => ({ serverName: o.server_name, mediaId: o.media_id }))));
  }
}

/** Runs `maintain` 30 s after start and hourly after that, until shutdown. */
export function startMaintenance(d: RetentionDeps): void {
  const run = () => void maintain(d).catch((err: unknown) => d.log.warn({ err }, 'media maintenance failed'));
  const first = setTimeout(run, 30_000);
  const timer = setInterval(run, 60 * 60 * 1000);
  first.unref();
  timer.unref();
  d.shutdown.addEventListener('abort', () => {
    clearTimeout(first);
    clearInterval(timer);
  });
}
