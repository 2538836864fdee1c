/**
 * Cheap "is there background work?" questions a server started with only its core services asks
 * before loading the code that does the work (services/lazy-start.ts). Each mirrors the queries
 * of the store that does the work (federation-queue-store.ts, media-store.ts / media retention).
 */
import type { Database } from './db.ts';

export class LazyStartStore {
  constructor(private readonly db: Database) {}

  /** Queued PDUs or EDUs for another server (FederationSender resumes them). */
  async federationOutboxHasWork(): Promise<boolean> {
    return !!(await this.db.get('SELECT 1 AS one FROM federation_outbox LIMIT 1'));
  }

  /** A backup repository saved by the wizard, dashboard or `hearth backup setup` (backups-store.ts getSettings). */
  async backupRepoSaved(): Promise<boolean> {
    return !!(await this.db.get("SELECT 1 AS one FROM backup_settings WHERE id = 1 AND repo IS NOT NULL AND repo <> '' LIMIT 1"));
  }

  /**
   * Media housekeeping has something to delete (services/media/retention.ts `maintain`): expired
   * async-upload reservations, remote media older than `remoteBefore` (null: kept forever),
   * expired URL previews, preview images older than `previewImagesBefore`.
   */
  async mediaMaintenanceHasWork(now: number, remoteBefore: number | null, previewImagesBefore: number): Promise<boolean> {
    const row = await this.db.get<{ work: number }>(
      `SELECT EXISTS(SELECT 1 FROM media WHERE sha256 IS NULL AND unused_expires_ts < ?)
           OR (? IS NOT NULL AND EXISTS(SELECT 1 FROM media WHERE is_remote = 1 AND uploaded_ts < ?))
           OR EXISTS(SELECT 1 FROM url_previews WHERE expires_ts < ?)
           OR EXISTS(SELECT 1 FROM media WHERE is_remote = 0 AND uploaded_ts < ? AND user_id IS NULL) AS work`,
      [now, remoteBefore, remoteBefore, now, previewImagesBefore],
    );
    return !!row?.work;
  }
}
