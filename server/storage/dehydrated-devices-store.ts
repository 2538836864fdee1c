/** MSC3814 dehydrated devices (e2e_dehydrated_devices): one per user, the device_data blob. */
import type { Database, WriteTx } from './db.ts';

export interface DehydratedDeviceRow {
  device_id: string;
  device_data: string;
}

export class DehydratedDevicesStore {
  constructor(private readonly db: Database) {}

  get(userId: string, tx?: WriteTx): Promise<DehydratedDeviceRow | undefined> {
    const sql = 'SELECT device_id, device_data FROM e2e_dehydrated_devices WHERE user_id = ? LIMIT 1';
    return tx ? tx.get<DehydratedDeviceRow>(sql, [userId]) : this.db.get<DehydratedDeviceRow>(sql, [userId]);
  }

  async put(tx: WriteTx, userId: string, deviceId: string, deviceData: string, now: number): Promise<void> {
    await tx.run(
      `INSERT INTO e2e_dehydrated_devices (user_id, device_id, device_data, created_ts) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET device_id = excluded.device_id, device_data = excluded.device_data,
         created_ts = excluded.created_ts`,
      [userId, deviceId, deviceData, now],
    );
  }

  /** Forgets the user's dehydrated device if it is one of `deviceIds` (the device was deleted). */
  async deleteIfAmong(tx: WriteTx, userId: string, deviceIds: string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    await tx.run(
      `DELETE FROM e2e_dehydrated_devices WHERE user_id = ? AND device_id IN (${deviceIds.map(() => '?').join(',')})`,
      [userId, ...deviceIds],
    );
  }
}
