/**
 * One-time keys (e2e_one_time_keys) and fallback keys (e2e_fallback_keys).
 *
 * Claims run inside the caller's write transaction: the single writer connection serialises
 * them, and `DELETE … RETURNING` takes a key and removes it in one statement, so a one-time key
 * is handed to at most one claimer (keys.yaml: "Servers must ensure that each one-time key is
 * returned at most once").
 */
import type { Database, WriteTx } from './db.ts';

export interface NewKey {
  algorithm: string;
  keyId: string;
  json: string;
}

export interface ClaimedKey {
  key_id: string;
  key_json: string;
}

/** Rows per multi-row INSERT (5 parameters each, well under SQLite's parameter limit). */
const INSERT_CHUNK = 200;

export class OneTimeKeysStore {
  constructor(private readonly db: Database) {}

  /** Existing one-time keys of a device among `keyIds` (any algorithm), for conflict checks. */
  async existing(tx: WriteTx, userId: string, deviceId: string, keyIds: string[]): Promise<Array<NewKey>> {
    const out: NewKey[] = [];
    for (let i = 0; i < keyIds.length; i += INSERT_CHUNK) {
      const part = keyIds.slice(i, i + INSERT_CHUNK);
      const rows = await tx.all<{ algorithm: string; key_id: string; key_json: string }>(
        `SELECT algorithm, key_id, key_json FROM e2e_one_time_keys
         WHERE user_id = ? AND device_id = ? AND key_id IN (${part.map(() => '?').join(',')})`,
        [userId, deviceId, ...part],
      );
      out.push(...rows.map((r) => ({ algorithm: r.algorithm, keyId: r.key_id, json: r.key_json })));
    }
    return out;
  }

  /** Adds one-time keys (already-stored identical keys are skipped by the unique index). */
  async add(tx: WriteTx, userId: string, deviceId: string, keys: NewKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += INSERT_CHUNK) {
      const part = keys.slice(i, i + INSERT_CHUNK);
      const params: string[] = [];
      for (const k of part) params.push(userId, deviceId, k.algorithm, k.keyId, k.json);
      await tx.run(
        `INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json)
         VALUES ${part.map(() => '(?, ?, ?, ?, ?)').join(',')} ON CONFLICT DO NOTHING`,
        params,
      );
    }
  }

  /**
   * Sets the fallback key for an algorithm. Re-uploading the same key keeps its `used` flag;
   * a different key replaces it and starts unused.
   */
  async setFallback(tx: WriteTx, userId: string, deviceId: string, key: NewKey): Promise<void> {
    await tx.run(
      `INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used) VALUES (?, ?, ?, ?, ?, 0)
       ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id,
         key_json = excluded.key_json, used = 0
       WHERE e2e_fallback_keys.key_id IS NOT excluded.key_id OR e2e_fallback_keys.key_json IS NOT excluded.key_json`,
      [userId, deviceId, key.algorithm, key.keyId, key.json],
    );
  }

  /** Takes the oldest one-time key of the algorithm (removing it), or undefined if none is left. */
  async claimOne(tx: WriteTx, userId: string, deviceId: string, algorithm: string): Promise<ClaimedKey | undefined> {
    return tx.get<ClaimedKey>(
      `DELETE FROM e2e_one_time_keys WHERE id = (
         SELECT id FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? AND algorithm = ? ORDER BY id LIMIT 1
       ) RETURNING key_id, key_json`,
      [userId, deviceId, algorithm],
    );
  }

  /** Returns the fallback key of the algorithm, marking it used (it stays until replaced). */
  async claimFallback(tx: WriteTx, userId: string, deviceId: string, algorithm: string): Promise<ClaimedKey | undefined> {
    return tx.get<ClaimedKey>(
      `UPDATE e2e_fallback_keys SET used = 1 WHERE user_id = ? AND device_id = ? AND algorithm = ?
       RETURNING key_id, key_json`,
      [userId, deviceId, algorithm],
    );
  }

  /** Unclaimed one-time keys per algorithm. */
  async counts(userId: string, deviceId: string, tx?: WriteTx): Promise<Record<string, number>> {
    const sql = 'SELECT algorithm, count(*) AS n FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? GROUP BY algorithm';
    const rows = tx
      ? await tx.all<{ algorithm: string; n: number }>(sql, [userId, deviceId])
      : await this.db.all<{ algorithm: string; n: number }>(sql, [userId, deviceId]);
    const out: Record<string, number> = {};
    for (const r of rows) out[r.algorithm] = r.n;
    return out;
  }

  /** Algorithms whose fallback key has not been handed out by a claim yet. */
  async unusedFallbackTypes(userId: string, deviceId: string): Promise<string[]> {
    const rows = await this.db.all<{ algorithm: string }>(
      'SELECT algorithm FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0 ORDER BY algorithm',
      [userId, deviceId],
    );
    return rows.map((r) => r.algorithm);
  }
}
