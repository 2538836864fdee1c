/**
 * Server-side key backup (e2e_backup_versions, e2e_backup_keys). Spec: end_to_end_encryption.md
 * "Server-side key backups" and key_backup.yaml. Which key wins on conflict is decided by the
 * service (services/e2ee/backup-rules.ts); this store only reads and writes rows.
 */
import type { Database, WriteTx } from './db.ts';

export interface BackupVersionRow {
  version: number;
  algorithm: string;
  auth_data: string;
  etag: number;
  deleted: number;
}

export interface BackupKeyRow {
  room_id: string;
  session_id: string;
  first_message_index: number;
  forwarded_count: number;
  is_verified: number;
  session_data: string;
}

const KEY_COLUMNS = 'room_id, session_id, first_message_index, forwarded_count, is_verified, session_data';

export class KeyBackupStore {
  constructor(private readonly db: Database) {}

  /** The newest version that is not deleted. */
  latest(userId: string, tx?: WriteTx): Promise<BackupVersionRow | undefined> {
    const sql = `SELECT version, algorithm, auth_data, etag, deleted FROM e2e_backup_versions
      WHERE user_id = ? AND deleted = 0 ORDER BY version DESC LIMIT 1`;
    return tx ? tx.get<BackupVersionRow>(sql, [userId]) : this.db.get<BackupVersionRow>(sql, [userId]);
  }

  /** A version, deleted or not. */
  get(userId: string, version: number, tx?: WriteTx): Promise<BackupVersionRow | undefined> {
    const sql = 'SELECT version, algorithm, auth_data, etag, deleted FROM e2e_backup_versions WHERE user_id = ? AND version = ? LIMIT 1';
    return tx ? tx.get<BackupVersionRow>(sql, [userId, version]) : this.db.get<BackupVersionRow>(sql, [userId, version]);
  }

  /** Creates the next version (numbers are never reused, even after deletion). */
  async create(tx: WriteTx, userId: string, algorithm: string, authData: string): Promise<number> {
    const row = await tx.get<{ v: number | null }>('SELECT max(version) AS v FROM e2e_backup_versions WHERE user_id = ?', [userId]);
    const version = (row?.v ?? 0) + 1;
    await tx.run('INSERT INTO e2e_backup_versions (user_id, version, algorithm, auth_data) VALUES (?, ?, ?, ?)', [
      userId,
      version,
      algorithm,
      authData,
    ]);
    return version;
  }

  async updateAuthData(tx: WriteTx, userId: string, version: number, authData: string): Promise<void> {
    await tx.run('UPDATE e2e_backup_versions SET auth_data = ? WHERE user_id = ? AND version = ?', [authData, userId, version]);
  }

  async bumpEtag(tx: WriteTx, userId: string, version: number): Promise<number> {
    const row = await tx.get<{ etag: number }>(
      'UPDATE e2e_backup_versions SET etag = etag + 1 WHERE user_id = ? AND version = ? RETURNING etag',
      [userId, version],
    );
    return row?.etag ?? 0;
  }

  /** Marks a version deleted and drops its keys. */
  async markDeleted(tx: WriteTx, userId: string, version: number): Promise<void> {
    await tx.run('UPDATE e2e_backup_versions SET deleted = 1 WHERE user_id = ? AND version = ?', [userId, version]);
    await tx.run('DELETE FROM e2e_backup_keys WHERE user_id = ? AND version = ?', [userId, version]);
  }

  /** Account deactivation: every version is marked deleted and every key dropped. */
  async deleteAllForUser(tx: WriteTx, userId: string): Promise<void> {
    await tx.run('DELETE FROM e2e_backup_keys WHERE user_id = ?', [userId]);
    await tx.run('UPDATE e2e_backup_versions SET deleted = 1 WHERE user_id = ?', [userId]);
  }

  async count(userId: string, version: number, tx?: WriteTx): Promise<number> {
    const sql = 'SELECT count(*) AS n FROM e2e_backup_keys WHERE user_id = ? AND version = ?';
    const row = tx ? await tx.get<{ n: number }>(sql, [userId, version]) : await this.db.get<{ n: number }>(sql, [userId, version]);
    return row?.n ?? 0;
  }

  /** Stored keys for the given (room, session) pairs, for the replace-or-keep decision. */
  async existing(tx: WriteTx, userId: string, version: number, roomId: string, sessionIds: string[]): Promise<BackupKeyRow[]> {
    const out: BackupKeyRow[] = [];
    for (let i = 0; i < sessionIds.length; i += 500) {
      const part = sessionIds.slice(i, i + 500);
      out.push(
        ...(await tx.all<BackupKeyRow>(
          `SELECT ${KEY_COLUMNS} FROM e2e_backup_keys WHERE user_id = ? AND version = ? AND room_id = ?
           AND session_id IN (${part.map(() => '?').join(',')})`,
          [userId, version, roomId, ...part],
        )),
      );
    }
    return out;
  }

  async upsert(tx: WriteTx, userId: string, version: number, rows: BackupKeyRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 100) {
      const part = rows.slice(i, i + 100);
      const params: Array<string | number> = [];
      for (const r of part) {
        params.push(userId, version, r.room_id, r.session_id, r.first_message_index, r.forwarded_count, r.is_verified, r.session_data);
      }
      await tx.run(
        `INSERT INTO e2e_backup_keys (user_id, version, ${KEY_COLUMNS})
         VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(',')}
         ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
           first_message_index = excluded.first_message_index, forwarded_count = excluded.forwarded_count,
           is_verified = excluded.is_verified, session_data = excluded.session_data`,
        params,
      );
    }
  }

  /** Keys of a version, optionally of one room or one session. */
  keys(userId: string, version: number, roomId?: string, sessionId?: string): Promise<BackupKeyRow[]> {
    const { where, params } = keysWhere(userId, version, roomId, sessionId);
    return this.db.all<BackupKeyRow>(`SELECT ${KEY_COLUMNS} FROM e2e_backup_keys WHERE ${where} ORDER BY room_id, session_id`, params);
  }

  /** Deletes keys of a version, optionally only one room or one session; returns how many. */
  async deleteKeys(tx: WriteTx, userId: string, version: number, roomId?: string, sessionId?: string): Promise<number> {
    const { where, params } = keysWhere(userId, version, roomId, sessionId);
    return (await tx.run(`DELETE FROM e2e_backup_keys WHERE ${where}`, params)).changes;
  }
}

/** The keys of one version, or of one room in it, or one session: what the /room_keys/keys paths select. */
function keysWhere(userId: string, version: number, roomId?: string, sessionId?: string): { where: string; params: Array<string | number> } {
  let where = 'user_id = ? AND version = ?';
  const params: Array<string | number> = [userId, version];
  if (roomId !== undefined) {
    where += ' AND room_id = ?';
    params.push(roomId);
  }
  if (sessionId !== undefined) {
    where += ' AND session_id = ?';
    params.push(sessionId);
  }
  return { where, params };
}
