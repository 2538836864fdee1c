/** Media repository metadata (tables media, media_thumbnails, url_previews). */
import type { Database } from './db.ts';

export interface MediaRow {
  server_name: string;
  media_id: string;
  sha256: string | null;
  size: number | null;
  content_type: string;
  sniffed_type: string | null;
  upload_name: string | null;
  user_id: string | null;
  created_ts: number;
  uploaded_ts: number | null;
  unused_expires_ts: number | null;
  last_access_ts: number | null;
  is_remote: number;
  legacy_access: number;
}

export interface ThumbnailRow {
  sha256: string;
  box_width: number;
  box_height: number;
  method: 'crop' | 'scale';
  animated: number;
  width: number;
  height: number;
  content_type: string;
  size: number;
  file_name: string;
  created_ts: number;
}

export interface NewMedia {
  serverName: string;
  mediaId: string;
  sha256: string;
  size: number;
  contentType: string;
  sniffedType: string | null;
  uploadName: string | null;
  userId: string | null;
  isRemote: boolean;
  legacyAccess: boolean;
  now: number;
}

export type CompleteResult = 'ok' | 'missing' | 'already-uploaded' | 'expired' | 'quota';

export class MediaStore {
  constructor(private readonly db: Database) {}

  get(serverName: string, mediaId: string): Promise<MediaRow | undefined> {
    return this.db.get<MediaRow>('SELECT * FROM media WHERE server_name = ? AND media_id = ? LIMIT 1', [serverName, mediaId]);
  }

  /**
   * Records stored bytes under an mxc. With `quota`, the uploader's total (this upload
   * included) is checked in the same transaction, so concurrent uploads cannot overshoot it.
   */
  insert(m: NewMedia, quota = 0): Promise<'ok' | 'quota'> {
    return this.db.write(async (tx) => {
      if (quota > 0 && m.userId) {
        const used = await tx.get<{ n: number | null }>('SELECT sum(size) AS n FROM media WHERE user_id = ? AND is_remote = 0', [m.userId]);
        if ((used?.n ?? 0) + m.size > quota) return 'quota';
      }
      await tx.run(
        `INSERT INTO media (server_name, media_id, sha256, size, content_type, sniffed_type, upload_name, user_id,
                            created_ts, uploaded_ts, is_remote, legacy_access)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (server_name, media_id) DO UPDATE SET
           sha256 = excluded.sha256, size = excluded.size, content_type = excluded.content_type,
           sniffed_type = excluded.sniffed_type, upload_name = excluded.upload_name,
           uploaded_ts = excluded.uploaded_ts, legacy_access = excluded.legacy_access`,
        [m.serverName, m.mediaId, m.sha256, m.size, m.contentType, m.sniffedType, m.uploadName, m.userId, m.now, m.now, m.isRemote ? 1 : 0, m.legacyAccess ? 1 : 0],
      );
      return 'ok';
    });
  }

  /** POST /create: an mxc with no bytes yet. */
  insertPending(p: { serverName: string; mediaId: string; userId: string; now: number; expiresTs: number }): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run(
        'INSERT INTO media (server_name, media_id, user_id, created_ts, unused_expires_ts) VALUES (?, ?, ?, ?, ?)',
        [p.serverName, p.mediaId, p.userId, p.now, p.expiresTs],
      );
    });
  }

  /** Fills a pending mxc; only the first completed upload wins (spec: M_CANNOT_OVERWRITE_MEDIA). */
  complete(m: Omit<NewMedia, 'isRemote' | 'userId'>, userId: string, quota = 0): Promise<CompleteResult> {
    return this.db.write(async (tx) => {
      const row = await tx.get<{ sha256: string | null; unused_expires_ts: number | null }>(
        'SELECT sha256, unused_expires_ts FROM media WHERE server_name = ? AND media_id = ? LIMIT 1',
        [m.serverName, m.mediaId],
      );
      if (!row) return 'missing';
      if (row.sha256 !== null) return 'already-uploaded';
      if (row.unused_expires_ts !== null && row.unused_expires_ts < m.now) return 'expired';
      if (quota > 0) {
        const used = await tx.get<{ n: number | null }>('SELECT sum(size) AS n FROM media WHERE user_id = ? AND is_remote = 0', [userId]);
        if ((used?.n ?? 0) + m.size > quota) return 'quota';
      }
      await tx.run(
        `UPDATE media SET sha256 = ?, size = ?, content_type = ?, sniffed_type = ?, upload_name = ?, uploaded_ts = ?,
                unused_expires_ts = NULL, legacy_access = ?
         WHERE server_name = ? AND media_id = ?`,
        [m.sha256, m.size, m.contentType, m.sniffedType, m.uploadName, m.now, m.legacyAccess ? 1 : 0, m.serverName, m.mediaId],
      );
      return 'ok';
    });
  }

  /** Bytes a user has stored (deduplicated uploads count for each upload: that is what they asked to keep). */
  async usedBytes(userId: string): Promise<number> {
    const row = await this.db.get<{ n: number | null }>('SELECT sum(size) AS n FROM media WHERE user_id = ? AND is_remote = 0', [userId]);
    return row?.n ?? 0;
  }

  async pendingCount(userId: string, now: number): Promise<number> {
    const row = await this.db.get<{ n: number }>(
      'SELECT count(*) AS n FROM media WHERE user_id = ? AND sha256 IS NULL AND unused_expires_ts > ?',
      [userId, now],
    );
    return row?.n ?? 0;
  }

  touch(serverName: string, mediaId: string, now: number): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('UPDATE media SET last_access_ts = ? WHERE server_name = ? AND media_id = ?', [now, serverName, mediaId]);
    });
  }

  async isShaReferenced(sha256: string): Promise<boolean> {
    return (await this.db.get('SELECT 1 AS x FROM media WHERE sha256 = ? LIMIT 1', [sha256])) !== undefined;
  }

  /** Deletes media rows; returns the sha256 digests they referenced (candidates for file removal). */
  deleteMedia(keys: Array<{ serverName: string; mediaId: string }>): Promise<string[]> {
    return this.db.write(async (tx) => {
      const shas = new Set<string>();
      for (const k of keys) {
        const row = await tx.get<{ sha256: string | null }>(
          'DELETE FROM media WHERE server_name = ? AND media_id = ? RETURNING sha256',
          [k.serverName, k.mediaId],
        );
        if (row?.sha256) shas.add(row.sha256);
      }
      return [...shas];
    });
  }

  /** Remote media cached before `beforeTs` (oldest first), for retention. */
  remoteOlderThan(beforeTs: number, limit: number): Promise<Array<{ server_name: string; media_id: string }>> {
    return this.db.all(
      'SELECT server_name, media_id FROM media WHERE is_remote = 1 AND uploaded_ts < ? ORDER BY uploaded_ts LIMIT ?',
      [beforeTs, limit],
    );
  }

  /** Images stored for URL previews (local media with no uploader) created before `beforeTs`. */
  previewImagesOlderThan(beforeTs: number, limit: number): Promise<Array<{ server_name: string; media_id: string }>> {
    return this.db.all(
      'SELECT server_name, media_id FROM media WHERE is_remote = 0 AND uploaded_ts < ? AND user_id IS NULL LIMIT ?',
      [beforeTs, limit],
    );
  }

  /** Pending async uploads whose time ran out. */
  expiredPending(now: number, limit: number): Promise<Array<{ server_name: string; media_id: string }>> {
    return this.db.all(
      'SELECT server_name, media_id FROM media WHERE sha256 IS NULL AND unused_expires_ts < ? LIMIT ?',
      [now, limit],
    );
  }

  getThumbnail(sha256: string, box: { width: number; height: number; method: string }, animated: boolean): Promise<ThumbnailRow | undefined> {
    return this.db.get<ThumbnailRow>(
      'SELECT * FROM media_thumbnails WHERE sha256 = ? AND box_width = ? AND box_height = ? AND method = ? AND animated = ? LIMIT 1',
      [sha256, box.width, box.height, box.method, animated ? 1 : 0],
    );
  }

  putThumbnail(t: ThumbnailRow): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run(
        `INSERT INTO media_thumbnails (sha256, box_width, box_height, method, animated, width, height, content_type, size, file_name, created_ts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET width = excluded.width, height = excluded.height, content_type = excluded.content_type,
           size = excluded.size, file_name = excluded.file_name, created_ts = excluded.created_ts`,
        [t.sha256, t.box_width, t.box_height, t.method, t.animated, t.width, t.height, t.content_type, t.size, t.file_name, t.created_ts],
      );
    });
  }

  deleteThumbnail(sha256: string, fileName: string): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('DELETE FROM media_thumbnails WHERE sha256 = ? AND file_name = ?', [sha256, fileName]);
    });
  }

  deleteThumbnailsOf(sha256: string): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('DELETE FROM media_thumbnails WHERE sha256 = ?', [sha256]);
    });
  }

  async getPreview(url: string, now: number): Promise<string | undefined> {
    const row = await this.db.get<{ og_json: string }>('SELECT og_json FROM url_previews WHERE url = ? AND expires_ts > ? LIMIT 1', [url, now]);
    return row?.og_json;
  }

  putPreview(url: string, ogJson: string, now: number, expiresTs: number): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run(
        `INSERT INTO url_previews (url, fetched_ts, expires_ts, og_json) VALUES (?, ?, ?, ?)
         ON CONFLICT (url) DO UPDATE SET fetched_ts = excluded.fetched_ts, expires_ts = excluded.expires_ts, og_json = excluded.og_json`,
        [url, now, expiresTs, ogJson],
      );
    });
  }

  deleteExpiredPreviews(now: number): Promise<number> {
    return this.db.write(async (tx) => (await tx.run('DELETE FROM url_previews WHERE expires_ts < ?', [now])).changes);
  }

  async stats(): Promise<{ local: number; remote: number; localBytes: number; remoteBytes: number; pending: number }> {
    const row = await this.db.get<{ local: number; remote: number; lb: number | null; rb: number | null; pending: number }>(
      `SELECT sum(is_remote = 0 AND sha256 IS NOT NULL) AS local, sum(is_remote = 1) AS remote,
              sum(CASE WHEN is_remote = 0 THEN size END) AS lb, sum(CASE WHEN is_remote = 1 THEN size END) AS rb,
              sum(sha256 IS NULL) AS pending FROM media`,
    );
    return { local: row?.local ?? 0, remote: row?.remote ?? 0, localBytes: row?.lb ?? 0, remoteBytes: row?.rb ?? 0, pending: row?.pending ?? 0 };
  }
}
