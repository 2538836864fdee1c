/**
 * Device identity keys (table e2e_device_keys). One-time and fallback keys are in
 * one-time-keys-store.ts.
 */
import type { Database, WriteTx } from './db.ts';

export interface DeviceKeysRow {
  user_id: string;
  device_id: string;
  ed25519: string;
  key_json: string;
  /** The device's display name (from `devices`; null for remote devices or unnamed ones). */
  display_name: string | null;
}

/** Largest IN (…) list per statement (SQLite's default limit on parameters is 32766). */
const CHUNK = 500;

export class E2eKeysStore {
  constructor(private readonly db: Database) {}

  getDevice(userId: string, deviceId: string): Promise<{ ed25519: string; key_json: string } | undefined> {
    return this.db.get('SELECT ed25519, key_json FROM e2e_device_keys WHERE user_id = ? AND device_id = ? LIMIT 1', [
      userId,
      deviceId,
    ]);
  }

  getDeviceTx(tx: WriteTx, userId: string, deviceId: string): Promise<{ ed25519: string; key_json: string } | undefined> {
    return tx.get('SELECT ed25519, key_json FROM e2e_device_keys WHERE user_id = ? AND device_id = ? LIMIT 1', [
      userId,
      deviceId,
    ]);
  }

  /**
   * Device keys of the given users: all devices for users mapped to null, else only the listed
   * devices. Display names come from the local `devices` table.
   */
  async query(wanted: Map<string, string[] | null>): Promise<DeviceKeysRow[]> {
    const all = [...wanted].filter(([, d]) => d === null).map(([u]) => u);
    const some = [...wanted].filter(([, d]) => d !== null && d.length > 0) as Array<[string, string[]]>;
    const out: DeviceKeysRow[] = [];
    const select = `SELECT k.user_id, k.device_id, k.ed25519, k.key_json, d.display_name
      FROM e2e_device_keys k LEFT JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id`;
    for (let i = 0; i < all.length; i += CHUNK) {
      const part = all.slice(i, i + CHUNK);
      out.push(
        ...(await this.db.all<DeviceKeysRow>(`${select} WHERE k.user_id IN (${part.map(() => '?').join(',')})`, part)),
      );
    }
    for (const [userId, devices] of some) {
      for (let i = 0; i < devices.length; i += CHUNK) {
        const part = devices.slice(i, i + CHUNK);
        out.push(
          ...(await this.db.all<DeviceKeysRow>(
            `${select} WHERE k.user_id = ? AND k.device_id IN (${part.map(() => '?').join(',')})`,
            [userId, ...part],
          )),
        );
      }
    }
    return out;
  }

  /** Stores (or replaces) a device's keys; returns false when the stored JSON was identical. */
  async put(tx: WriteTx, userId: string, deviceId: string, ed25519: string, keyJson: string, now: number): Promise<boolean> {
    const r = await tx.run(
      `INSERT INTO e2e_device_keys (user_id, device_id, ed25519, key_json, added_ts) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, device_id) DO UPDATE SET ed25519 = excluded.ed25519, key_json = excluded.key_json,
         added_ts = excluded.added_ts
       WHERE e2e_device_keys.key_json IS NOT excluded.key_json`,
      [userId, deviceId, ed25519, keyJson, now],
    );
    return r.changes > 0;
  }

  /** Removes devices' identity, one-time and fallback keys; returns the IDs that had identity keys. */
  async deleteDevices(tx: WriteTx, userId: string, deviceIds: string[]): Promise<string[]> {
    const had: string[] = [];
    for (let i = 0; i < deviceIds.length; i += CHUNK) {
      const part = deviceIds.slice(i, i + CHUNK);
      const marks = part.map(() => '?').join(',');
      const rows = await tx.all<{ device_id: string }>(
        `DELETE FROM e2e_device_keys WHERE user_id = ? AND device_id IN (${marks}) RETURNING device_id`,
        [userId, ...part],
      );
      had.push(...rows.map((r) => r.device_id));
      await tx.run(`DELETE FROM e2e_one_time_keys WHERE user_id = ? AND device_id IN (${marks})`, [userId, ...part]);
      await tx.run(`DELETE FROM e2e_fallback_keys WHERE user_id = ? AND device_id IN (${marks})`, [userId, ...part]);
    }
    return had;
  }

  /** Does `userId` have a device whose ID equals `id` (cross-signing keys must not collide)? */
  async deviceIdExists(userId: string, id: string): Promise<boolean> {
    const row = await this.db.get(
      `SELECT 1 FROM devices WHERE user_id = ? AND device_id = ?
       UNION ALL SELECT 1 FROM e2e_device_keys WHERE user_id = ? AND device_id = ? LIMIT 1`,
      [userId, id, userId, id],
    );
    return row !== undefined;
  }
}
