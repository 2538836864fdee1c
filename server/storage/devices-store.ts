/** Devices (table `devices`). Access and refresh tokens hang off a device and cascade with it. */
import type { Database, WriteTx } from './db.ts';

export interface DeviceRow {
  user_id: string;
  device_id: string;
  display_name: string | null;
  created_ts: number;
  last_seen_ts: number | null;
  last_seen_ip: string | null;
  last_seen_user_agent: string | null;
}

export class DevicesStore {
  constructor(private readonly db: Database) {}

  get(userId: string, deviceId: string): Promise<DeviceRow | undefined> {
    return this.db.get<DeviceRow>('SELECT * FROM devices WHERE user_id = ? AND device_id = ? LIMIT 1', [userId, deviceId]);
  }

  list(userId: string): Promise<DeviceRow[]> {
    return this.db.all<DeviceRow>('SELECT * FROM devices WHERE user_id = ? ORDER BY created_ts, device_id', [userId]);
  }

  /** Creates the device if missing; returns true if it was created. */
  async ensure(tx: WriteTx, userId: string, deviceId: string, displayName: string | null, now: number): Promise<boolean> {
    const r = await tx.run(
      'INSERT INTO devices (user_id, device_id, display_name, created_ts, last_seen_ts) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [userId, deviceId, displayName, now, now],
    );
    return r.changes > 0;
  }

  async rename(tx: WriteTx, userId: string, deviceId: string, displayName: string | null): Promise<boolean> {
    const r = await tx.run('UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?', [displayName, userId, deviceId]);
    return r.changes > 0;
  }

  touch(userId: string, deviceId: string, ts: number, ip: string | null, userAgent: string | null): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('UPDATE devices SET last_seen_ts = ?, last_seen_ip = ?, last_seen_user_agent = ? WHERE user_id = ? AND device_id = ?', [
        ts,
        ip,
        userAgent,
        userId,
        deviceId,
      ]);
    });
  }

  /** Deletes the given devices (their tokens cascade); returns the IDs that existed. */
  async delete(tx: WriteTx, userId: string, deviceIds: string[]): Promise<string[]> {
    if (deviceIds.length === 0) return [];
    const marks = deviceIds.map(() => '?').join(',');
    const rows = await tx.all<{ device_id: string }>(
      `DELETE FROM devices WHERE user_id = ? AND device_id IN (${marks}) RETURNING device_id`,
      [userId, ...deviceIds],
    );
    return rows.map((r) => r.device_id);
  }

  /** IDs of every device of the user except `keep` (null: all), inside a transaction. */
  async idsExcept(tx: WriteTx, userId: string, keep: string | null): Promise<string[]> {
    const rows = await tx.all<{ device_id: string }>('SELECT device_id FROM devices WHERE user_id = ? AND device_id IS NOT ?', [userId, keep]);
    return rows.map((r) => r.device_id);
  }
}
