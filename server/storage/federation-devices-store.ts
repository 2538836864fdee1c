/**
 * E2EE over federation (tables of migration 0008-federation-p2): the cache of remote users'
 * device lists, our outbound m.device_list_update sequence, and to-device message IDs already
 * delivered. Room membership is only read (current_state, rooms area).
 */
import type { Database, WriteTx } from './db.ts';

export interface RemoteListRow {
  user_id: string;
  server_name: string;
  stream_id: number;
  stale: number;
}

export interface RemoteDeviceRow {
  user_id: string;
  device_id: string;
  key_json: string | null;
  display_name: string | null;
}

export interface OutboundRow {
  last_stream_id: number;
  last_edu_id: number | null;
}

const CHUNK = 400;
const marks = (n: number) => new Array(n).fill('?').join(',');

export class FederationDevicesStore {
  constructor(private readonly db: Database) {}

  // --- remote device list cache ---------------------------------------------------------------

  async lists(userIds: string[]): Promise<Map<string, RemoteListRow>> {
    const out = new Map<string, RemoteListRow>();
    for (let i = 0; i < userIds.length; i += CHUNK) {
      const part = userIds.slice(i, i + CHUNK);
      const rows = await this.db.all<RemoteListRow>(
        `SELECT user_id, server_name, stream_id, stale FROM federation_remote_device_lists WHERE user_id IN (${marks(part.length)})`,
        part,
      );
      for (const r of rows) out.set(r.user_id, r);
    }
    return out;
  }

  listTx(tx: WriteTx, userId: string): Promise<RemoteListRow | undefined> {
    return tx.get<RemoteListRow>('SELECT user_id, server_name, stream_id, stale FROM federation_remote_device_lists WHERE user_id = ? LIMIT 1', [userId]);
  }

  async devices(userIds: string[]): Promise<RemoteDeviceRow[]> {
    const out: RemoteDeviceRow[] = [];
    for (let i = 0; i < userIds.length; i += CHUNK) {
      const part = userIds.slice(i, i + CHUNK);
      out.push(
        ...(await this.db.all<RemoteDeviceRow>(
          `SELECT user_id, device_id, key_json, display_name FROM federation_remote_devices WHERE user_id IN (${marks(part.length)})`,
          part,
        )),
      );
    }
    return out;
  }

  devicesTx(tx: WriteTx, userId: string): Promise<RemoteDeviceRow[]> {
    return tx.all<RemoteDeviceRow>('SELECT user_id, device_id, key_json, display_name FROM federation_remote_devices WHERE user_id = ?', [userId]);
  }

  /** Replaces a user's cached list with a snapshot (GET /user/devices). */
  async replaceList(tx: WriteTx, userId: string, server: string, streamId: number, devices: Array<{ deviceId: string; keyJson: string | null; displayName: string | null }>, now: number): Promise<void> {
    await tx.run('DELETE FROM federation_remote_devices WHERE user_id = ?', [userId]);
    for (let i = 0; i < devices.length; i += 200) {
      const part = devices.slice(i, i + 200);
      const params: Array<string | null> = [];
      for (const d of part) params.push(userId, d.deviceId, d.keyJson, d.displayName);
      await tx.run(`INSERT INTO federation_remote_devices (user_id, device_id, key_json, display_name) VALUES ${part.map(() => '(?, ?, ?, ?)').join(',')}`, params);
    }
    await tx.run(
      `INSERT INTO federation_remote_device_lists (user_id, server_name, stream_id, stale, fetched_ts) VALUES (?, ?, ?, 0, ?)
       ON CONFLICT (user_id) DO UPDATE SET server_name = excluded.server_name, stream_id = excluded.stream_id, stale = 0, fetched_ts = excluded.fetched_ts`,
      [userId, server, streamId, now],
    );
  }

  /** Applies one m.device_list_update to a cached list. */
  async applyUpdate(tx: WriteTx, userId: string, deviceId: string, deleted: boolean, keyJson: string | null, displayName: string | null, streamId: number): Promise<void> {
    if (deleted) {
      await tx.run('DELETE FROM federation_remote_devices WHERE user_id = ? AND device_id = ?', [userId, deviceId]);
    } else {
      await tx.run(
        `INSERT INTO federation_remote_devices (user_id, device_id, key_json, display_name) VALUES (?, ?, ?, ?)
         ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json, display_name = excluded.display_name`,
        [userId, deviceId, keyJson, displayName],
      );
    }
    await tx.run('UPDATE federation_remote_device_lists SET stream_id = ? WHERE user_id = ?', [streamId, userId]);
  }

  /** Marks cached lists as needing a refetch (a gap in the EDU sequence, a membership change). */
  async markStale(tx: WriteTx, userIds: string[]): Promise<void> {
    for (let i = 0; i < userIds.length; i += CHUNK) {
      const part = userIds.slice(i, i + CHUNK);
      await tx.run(`UPDATE federation_remote_device_lists SET stale = 1 WHERE stale = 0 AND user_id IN (${marks(part.length)})`, part);
    }
  }

  /** Does any user of `serverName` share a joined room with `userId`? */
  async sharesRoomWithLocal(userId: string, serverName: string): Promise<boolean> {
    const suffix = `:${serverName}`;
    const row = await this.db.get(
      `SELECT 1 FROM current_state a
       JOIN current_state b ON b.room_id = a.room_id AND b.type = 'm.room.member' AND b.membership = 'join'
       WHERE a.type = 'm.room.member' AND a.state_key = ? AND a.membership = 'join'
         AND substr(b.state_key, -?) = ? LIMIT 1`,
      [userId, suffix.length, suffix],
    );
    return row !== undefined;
  }

  // --- outbound sequence ----------------------------------------------------------------------

  outbound(userId: string): Promise<OutboundRow | undefined> {
    return this.db.get<OutboundRow>('SELECT last_stream_id, last_edu_id FROM federation_device_list_outbound WHERE user_id = ? LIMIT 1', [userId]);
  }

  setOutbound(tx: WriteTx, userId: string, lastStreamId: number, lastEduId: number | null): Promise<unknown> {
    return tx.run(
      `INSERT INTO federation_device_list_outbound (user_id, last_stream_id, last_edu_id) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET last_stream_id = excluded.last_stream_id, last_edu_id = excluded.last_edu_id`,
      [userId, lastStreamId, lastEduId],
    );
  }

  /** Changes of a user's device list (everyone may see) after `after`, oldest first. */
  changesAfter(userId: string, after: number): Promise<Array<{ stream_id: number; device_id: string | null }>> {
    return this.db.all(
      'SELECT stream_id, device_id FROM e2e_device_list_stream WHERE user_id = ? AND only_for IS NULL AND stream_id > ? ORDER BY stream_id LIMIT 1000',
      [userId, after],
    );
  }

  /** Users on `serverName` with device list changes not yet turned into EDUs (after a crash). */
  async pendingLocalUsers(serverName: string): Promise<string[]> {
    const suffix = `:${serverName}`;
    const rows = await this.db.all<{ user_id: string }>(
      `SELECT s.user_id FROM e2e_device_list_stream s
       LEFT JOIN federation_device_list_outbound o ON o.user_id = s.user_id
       WHERE s.only_for IS NULL AND s.stream_id > COALESCE(o.last_stream_id, 0) AND substr(s.user_id, -?) = ?
       GROUP BY s.user_id`,
      [suffix.length, suffix],
    );
    return rows.map((r) => r.user_id);
  }

  // --- inbound to-device ----------------------------------------------------------------------

  /** Records a message ID; false when it was seen before (the EDU is a retry). */
  async claimMessage(tx: WriteTx, origin: string, messageId: string, now: number): Promise<boolean> {
    const r = await tx.run('INSERT OR IGNORE INTO federation_to_device_seen (origin, message_id, received_ts) VALUES (?, ?, ?)', [origin, messageId, now]);
    return r.changes > 0;
  }

  pruneMessages(tx: WriteTx, before: number): Promise<unknown> {
    return tx.run('DELETE FROM federation_to_device_seen WHERE received_ts < ?', [before]);
  }
}
