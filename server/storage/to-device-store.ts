/**
 * The to-device inbox (e2e_to_device) and /sendToDevice transaction IDs (e2e_to_device_txns).
 * send_to_device.md "Server behaviour": messages are stored until delivered, listed in order of
 * arrival, and deleted once the client syncs with the `next_batch` that carried them.
 */
import type { Database, WriteTx } from './db.ts';

export interface ToDeviceRow {
  stream_id: number;
  sender: string;
  type: string;
  content: string;
}

export interface NewToDevice {
  userId: string;
  deviceId: string;
  content: string;
}

const CHUNK = 150;

export class ToDeviceStore {
  constructor(private readonly db: Database) {}

  /** Records a transaction ID; false if this device already used it (the request is a retry). */
  async claimTxn(tx: WriteTx, userId: string, deviceId: string, txnId: string, now: number): Promise<boolean> {
    const r = await tx.run(
      'INSERT INTO e2e_to_device_txns (user_id, device_id, txn_id, ts) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [userId, deviceId, txnId, now],
    );
    return r.changes > 0;
  }

  async pruneTxns(tx: WriteTx, olderThan: number): Promise<void> {
    await tx.run('DELETE FROM e2e_to_device_txns WHERE ts < ?', [olderThan]);
  }

  /** Appends messages in the given order; returns the stream position of the last one (0 if none). */
  async enqueue(tx: WriteTx, sender: string, type: string, msgs: NewToDevice[], now: number): Promise<number> {
    let last = 0;
    for (let i = 0; i < msgs.length; i += CHUNK) {
      const part = msgs.slice(i, i + CHUNK);
      const params: Array<string | number> = [];
      for (const m of part) params.push(m.userId, m.deviceId, sender, type, m.content, now);
      const r = await tx.run(
        `INSERT INTO e2e_to_device (user_id, device_id, sender, type, content, ts)
         VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?)').join(',')}`,
        params,
      );
      last = r.lastID;
    }
    return last;
  }

  /** Messages for a device after `after`, up to `upTo`, oldest first. */
  pending(userId: string, deviceId: string, after: number, upTo: number, limit: number): Promise<ToDeviceRow[]> {
    return this.db.all<ToDeviceRow>(
      `SELECT stream_id, sender, type, content FROM e2e_to_device
       WHERE user_id = ? AND device_id = ? AND stream_id > ? AND stream_id <= ? ORDER BY stream_id LIMIT ?`,
      [userId, deviceId, after, upTo, limit],
    );
  }

  /** Is there anything at or below `upTo` still stored for the device (i.e. to delete on ack)? */
  async hasUpTo(userId: string, deviceId: string, upTo: number): Promise<boolean> {
    const row = await this.db.get('SELECT 1 FROM e2e_to_device WHERE user_id = ? AND device_id = ? AND stream_id <= ? LIMIT 1', [
      userId,
      deviceId,
      upTo,
    ]);
    return row !== undefined;
  }

  /** Deletes the messages the device acknowledged (everything up to `upTo`). */
  async ack(tx: WriteTx, userId: string, deviceId: string, upTo: number): Promise<number> {
    const r = await tx.run('DELETE FROM e2e_to_device WHERE user_id = ? AND device_id = ? AND stream_id <= ?', [
      userId,
      deviceId,
      upTo,
    ]);
    return r.changes;
  }

  /** The last position ever handed out (AUTOINCREMENT's counter survives deletions). */
  async maxStreamId(): Promise<number> {
    const row = await this.db.get<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'e2e_to_device' LIMIT 1");
    return row?.seq ?? 0;
  }

  async deleteDevices(tx: WriteTx, userId: string, deviceIds: string[]): Promise<void> {
    for (let i = 0; i < deviceIds.length; i += 500) {
      const part = deviceIds.slice(i, i + 500);
      await tx.run(`DELETE FROM e2e_to_device WHERE user_id = ? AND device_id IN (${part.map(() => '?').join(',')})`, [
        userId,
        ...part,
      ]);
    }
  }
}
