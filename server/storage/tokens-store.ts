/** Access, refresh and login tokens (tables access_tokens, refresh_tokens, login_tokens), by SHA-256 hash. */
import type { Database, WriteTx } from './db.ts';

export interface AccessTokenRow {
  token_hash: string;
  user_id: string;
  device_id: string;
  created_ts: number;
  expires_ts: number | null;
  refresh_hash: string | null;
  prev_refresh_hash: string | null;
  is_admin: number;
  deactivated: number;
}

export interface RefreshTokenRow {
  token_hash: string;
  user_id: string;
  device_id: string;
  created_ts: number;
  prev_hash: string | null;
}

export class TokensStore {
  constructor(private readonly db: Database) {}

  /** The token with its user's admin/deactivated flags, in one read. */
  getAccess(hash: string): Promise<AccessTokenRow | undefined> {
    return this.db.get<AccessTokenRow>(
      `SELECT t.*, u.is_admin, u.deactivated FROM access_tokens t JOIN users u ON u.user_id = t.user_id
       WHERE t.token_hash = ? LIMIT 1`,
      [hash],
    );
  }

  async insertAccess(
    tx: WriteTx,
    t: {
      hash: string;
      userId: string;
      deviceId: string;
      now: number;
      expiresTs: number | null;
      refreshHash: string | null;
      prevRefreshHash: string | null;
    },
  ): Promise<void> {
    await tx.run(
      `INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, refresh_hash, prev_refresh_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [t.hash, t.userId, t.deviceId, t.now, t.expiresTs, t.refreshHash, t.prevRefreshHash],
    );
  }

  async deleteAccess(tx: WriteTx, hash: string): Promise<void> {
    await tx.run('DELETE FROM access_tokens WHERE token_hash = ?', [hash]);
  }

  /** Deletes every access and refresh token of one device; returns the access-token hashes removed. */
  async deleteForDevice(tx: WriteTx, userId: string, deviceId: string): Promise<string[]> {
    await tx.run('DELETE FROM refresh_tokens WHERE user_id = ? AND device_id = ?', [userId, deviceId]);
    const rows = await tx.all<{ token_hash: string }>(
      'DELETE FROM access_tokens WHERE user_id = ? AND device_id = ? RETURNING token_hash',
      [userId, deviceId],
    );
    return rows.map((r) => r.token_hash);
  }

  /** Hashes of every access token of the given devices (read before a cascade delete). */
  async accessHashesForDevices(tx: WriteTx, userId: string, deviceIds: string[] | null): Promise<string[]> {
    if (deviceIds && deviceIds.length === 0) return [];
    const rows = deviceIds
      ? await tx.all<{ token_hash: string }>(
          `SELECT token_hash FROM access_tokens WHERE user_id = ? AND device_id IN (${deviceIds.map(() => '?').join(',')})`,
          [userId, ...deviceIds],
        )
      : await tx.all<{ token_hash: string }>('SELECT token_hash FROM access_tokens WHERE user_id = ?', [userId]);
    return rows.map((r) => r.token_hash);
  }

  /** First use of an access token obtained by refreshing: the refresh token it replaced dies now. */
  async consumePrevRefresh(tx: WriteTx, accessHash: string, refreshHash: string): Promise<void> {
    await tx.run('DELETE FROM refresh_tokens WHERE token_hash = ?', [refreshHash]);
    await tx.run('UPDATE access_tokens SET prev_refresh_hash = NULL WHERE token_hash = ?', [accessHash]);
  }

  async insertRefresh(
    tx: WriteTx,
    t: { hash: string; userId: string; deviceId: string; now: number; prevHash: string | null },
  ): Promise<void> {
    await tx.run('INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts, prev_hash) VALUES (?, ?, ?, ?, ?)', [
      t.hash,
      t.userId,
      t.deviceId,
      t.now,
      t.prevHash,
    ]);
  }

  getRefresh(tx: WriteTx, hash: string): Promise<RefreshTokenRow | undefined> {
    return tx.get<RefreshTokenRow>('SELECT * FROM refresh_tokens WHERE token_hash = ? LIMIT 1', [hash]);
  }

  async deleteRefresh(tx: WriteTx, hash: string): Promise<void> {
    await tx.run('DELETE FROM refresh_tokens WHERE token_hash = ?', [hash]);
  }

  /** Deletes the access token issued together with this refresh token (it is being replaced). */
  async deleteAccessPairedWith(tx: WriteTx, refreshHash: string): Promise<string[]> {
    const rows = await tx.all<{ token_hash: string }>(
      'DELETE FROM access_tokens WHERE refresh_hash = ? RETURNING token_hash',
      [refreshHash],
    );
    return rows.map((r) => r.token_hash);
  }

  /** Removes access tokens that expired long ago (soft-logout answers no longer needed). */
  async pruneExpired(before: number): Promise<string[]> {
    return this.db.write(async (tx) => {
      const rows = await tx.all<{ token_hash: string }>(
        'DELETE FROM access_tokens WHERE expires_ts IS NOT NULL AND expires_ts < ? RETURNING token_hash',
        [before],
      );
      await tx.run('DELETE FROM login_tokens WHERE expires_ts < ?', [before]);
      return rows.map((r) => r.token_hash);
    });
  }

  async insertLogin(tx: WriteTx, hash: string, userId: string, expiresTs: number): Promise<void> {
    await tx.run('INSERT INTO login_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)', [hash, userId, expiresTs]);
  }

  /** Single use: deletes the login token and returns its user if it was still valid. */
  async consumeLogin(tx: WriteTx, hash: string, now: number): Promise<string | null> {
    const row = await tx.get<{ user_id: string; expires_ts: number }>(
      'DELETE FROM login_tokens WHERE token_hash = ? RETURNING user_id, expires_ts',
      [hash],
    );
    return row && row.expires_ts > now ? row.user_id : null;
  }
}
