/**
 * The device list stream (e2e_device_list_stream) and the shared-room lookups that decide who
 * hears about a change. Room membership is read (never written) from the rooms area's tables:
 * `current_state` (current membership) and `events` (membership events by stream position).
 *
 * "Sharing a room" means both users are joined to it (keys.yaml /keys/changes: "both users have
 * membership state join"). The spec's device_lists talk of encrypted rooms; like Synapse we use
 * every shared room, a superset the spec allows ("for the sake of simpler logic").
 */
import type { Database, WriteTx } from './db.ts';

export interface MembershipChange {
  room_id: string;
  user_id: string;
  membership: string | null;
  /** The sender's previous membership in the room (from unsigned.prev_content), if any. */
  prev_membership: string | null;
}

export class DeviceListsStore {
  constructor(private readonly db: Database) {}

  /** Appends changes; returns the stream position of the last one. */
  async append(tx: WriteTx, changes: Array<{ userId: string; deviceId: string | null; onlyFor?: string }>, now: number): Promise<number> {
    let last = 0;
    for (let i = 0; i < changes.length; i += 200) {
      const part = changes.slice(i, i + 200);
      const params: Array<string | number | null> = [];
      for (const c of part) params.push(c.userId, c.deviceId, c.onlyFor ?? null, now);
      const r = await tx.run(
        `INSERT INTO e2e_device_list_stream (user_id, device_id, only_for, ts) VALUES ${part.map(() => '(?, ?, ?, ?)').join(',')}`,
        params,
      );
      last = r.lastID;
    }
    return last;
  }

  async maxStreamId(): Promise<number> {
    const row = await this.db.get<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'e2e_device_list_stream' LIMIT 1");
    return row?.seq ?? 0;
  }

  /**
   * Users whose device list changed in the stream range (from, to], as seen by `requester`:
   * `direct` are changes only the requester may see (no shared room needed).
   */
  async changedBetween(requester: string, from: number, to: number): Promise<{ shared: string[]; direct: string[] }> {
    const rows = await this.db.all<{ user_id: string; direct: number }>(
      `SELECT user_id, only_for IS NOT NULL AS direct FROM e2e_device_list_stream
       WHERE stream_id > ? AND stream_id <= ? AND (only_for IS NULL OR only_for = ?)
       GROUP BY user_id, direct`,
      [from, to, requester],
    );
    return { shared: rows.filter((r) => !r.direct).map((r) => r.user_id), direct: rows.filter((r) => r.direct).map((r) => r.user_id) };
  }

  /** Every user joined to at least one room `userId` is joined to (including `userId` if joined anywhere). */
  async usersSharingRoomWith(userId: string): Promise<Set<string>> {
    const rows = await this.db.all<{ user_id: string }>(
      `SELECT DISTINCT b.state_key AS user_id
       FROM current_state a
       JOIN current_state b ON b.room_id = a.room_id AND b.type = 'm.room.member' AND b.membership = 'join'
       WHERE a.type = 'm.room.member' AND a.state_key = ? AND a.membership = 'join'`,
      [userId],
    );
    return new Set(rows.map((r) => r.user_id));
  }

  /** Joined members of the given rooms. */
  async joinedMembers(roomIds: string[]): Promise<Array<{ room_id: string; user_id: string }>> {
    const out: Array<{ room_id: string; user_id: string }> = [];
    for (let i = 0; i < roomIds.length; i += 500) {
      const part = roomIds.slice(i, i + 500);
      out.push(
        ...(await this.db.all<{ room_id: string; user_id: string }>(
          `SELECT room_id, state_key AS user_id FROM current_state
           WHERE room_id IN (${part.map(() => '?').join(',')}) AND type = 'm.room.member' AND membership = 'join'`,
          part,
        )),
      );
    }
    return out;
  }

  /** Membership events about `userId` itself with events-stream position in (from, to]. */
  ownMembershipChanges(userId: string, from: number, to: number): Promise<MembershipChange[]> {
    return this.db.all<MembershipChange>(
      `SELECT room_id, state_key AS user_id, json_extract(json, '$.content.membership') AS membership,
         json_extract(unsigned_json, '$.prev_content.membership') AS prev_membership
       FROM events
       WHERE type = 'm.room.member' AND state_key = ? AND stream_ordering > ? AND stream_ordering <= ?
         AND rejected IS NULL AND outlier = 0
       ORDER BY stream_ordering`,
      [userId, from, to],
    );
  }

  /** Membership events of other users in (from, to] in rooms `userId` is joined to now. */
  othersMembershipChanges(userId: string, from: number, to: number): Promise<MembershipChange[]> {
    return this.db.all<MembershipChange>(
      `SELECT e.room_id, e.state_key AS user_id, json_extract(e.json, '$.content.membership') AS membership,
         json_extract(e.unsigned_json, '$.prev_content.membership') AS prev_membership
       FROM current_state m
       JOIN events e ON e.room_id = m.room_id AND e.stream_ordering > ? AND e.stream_ordering <= ?
       WHERE m.type = 'm.room.member' AND m.state_key = ? AND m.membership = 'join'
         AND e.type = 'm.room.member' AND e.state_key != ? AND e.rejected IS NULL AND e.outlier = 0
       ORDER BY e.stream_ordering`,
      [from, to, userId, userId],
    );
  }
}
