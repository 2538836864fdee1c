/**
 * Room state: state groups (`state_groups`, `state_group_entries`) and the current state
 * (`current_state`). A group is its prev_group plus its own entries (later entries win); a group
 * without prev_group holds the full state. Deltas only add or replace entries: a state that lacks
 * a key its predecessor had must be stored as a full snapshot.
 */
import type { Database, SqlValue, WriteTx } from './db.ts';

export interface StateEntry {
  type: string;
  stateKey: string;
  eventId: string;
  /** content.membership for m.room.member entries, else null. */
  membership: string | null;
}

export interface GroupRow {
  type: string;
  state_key: string;
  event_id: string;
  membership: string | null;
  /** Distance from the requested group (0 = the group itself); entries with smaller n win. */
  n: number;
}

export interface MembershipRow {
  room_id: string;
  membership: string;
  event_id: string;
}

export interface MembershipStreamRow extends MembershipRow {
  stream_ordering: number;
}

const CHUNK = 300;

export class StateStore {
  constructor(private readonly db: Database) {}

  async maxGroupId(): Promise<number> {
    const row = await this.db.get<{ m: number | null }>('SELECT max(id) AS m FROM state_groups');
    return row?.m ?? 0;
  }

  async insertGroup(
    tx: WriteTx,
    g: { id: number; roomId: string; prevGroup: number | null; deltaDepth: number; entries: readonly StateEntry[] },
  ): Promise<void> {
    await tx.run('INSERT INTO state_groups (id, room_id, prev_group, delta_depth) VALUES (?, ?, ?, ?)', [
      g.id,
      g.roomId,
      g.prevGroup,
      g.deltaDepth,
    ]);
    for (let i = 0; i < g.entries.length; i += CHUNK) {
      const part = g.entries.slice(i, i + CHUNK);
      const params: SqlValue[] = [];
      for (const e of part) params.push(g.id, e.type, e.stateKey, e.eventId, e.membership);
      await tx.run(
        'INSERT OR REPLACE INTO state_group_entries (state_group, type, state_key, event_id, membership) VALUES ' +
          part.map(() => '(?, ?, ?, ?, ?)').join(', '),
        params,
      );
    }
  }

  /** Every entry on the group's delta chain; apply in descending `n` so nearer groups win. */
  loadGroupRows(id: number, tx?: WriteTx): Promise<GroupRow[]> {
    return (tx ?? this.db).all<GroupRow>(
      `WITH RECURSIVE chain(id, prev, n) AS (
         SELECT id, prev_group, 0 FROM state_groups WHERE id = ?
         UNION ALL SELECT g.id, g.prev_group, c.n + 1 FROM state_groups g JOIN chain c ON g.id = c.prev)
       SELECT e.type, e.state_key, e.event_id, e.membership, c.n
         FROM chain c JOIN state_group_entries e ON e.state_group = c.id ORDER BY c.n DESC`,
      [id],
    );
  }

  async groupMeta(id: number, tx?: WriteTx): Promise<{ prev_group: number | null; delta_depth: number; room_id: string } | undefined> {
    return (tx ?? this.db).get('SELECT prev_group, delta_depth, room_id FROM state_groups WHERE id = ? LIMIT 1', [id]);
  }

  // --- current state ------------------------------------------------------------------------

  /** Sets (inserts or replaces) current-state entries of a room. */
  async upsertCurrent(tx: WriteTx, roomId: string, entries: readonly StateEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += CHUNK) {
      const part = entries.slice(i, i + CHUNK);
      const params: SqlValue[] = [];
      for (const e of part) params.push(roomId, e.type, e.stateKey, e.eventId, e.membership);
      await tx.run(
        'INSERT OR REPLACE INTO current_state (room_id, type, state_key, event_id, membership) VALUES ' +
          part.map(() => '(?, ?, ?, ?, ?)').join(', '),
        params,
      );
    }
  }

  /** Replaces the whole current state of a room (after state resolution changed it arbitrarily). */
  async replaceCurrent(tx: WriteTx, roomId: string, entries: readonly StateEntry[]): Promise<void> {
    await tx.run('DELETE FROM current_state WHERE room_id = ?', [roomId]);
    await this.upsertCurrent(tx, roomId, entries);
  }

  /** The rooms a user has a membership in (any membership), from the current state. */
  roomsOfUser(userId: string): Promise<MembershipRow[]> {
    return this.db.all<MembershipRow>(
      `SELECT room_id, membership, event_id FROM current_state WHERE type = 'm.room.member' AND state_key = ?`,
      [userId],
    );
  }

  /** The user's current memberships with the stream position of each membership event. */
  roomsOfUserWithStream(userId: string): Promise<MembershipStreamRow[]> {
    return this.db.all<MembershipStreamRow>(
      `SELECT cs.room_id, cs.membership, cs.event_id, e.stream_ordering FROM current_state cs
         JOIN events e ON e.event_id = cs.event_id
        WHERE cs.type = 'm.room.member' AND cs.state_key = ?`,
      [userId],
    );
  }

  /** Users with `membership` in a room now. */
  async membersWith(roomId: string, membership: string): Promise<string[]> {
    const rows = await this.db.all<{ state_key: string }>(
      `SELECT state_key FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = ?`,
      [roomId, membership],
    );
    return rows.map((r) => r.state_key);
  }

  /** Current-state event ID of (room, type, state_key). */
  async currentEventId(roomId: string, type: string, stateKey: string): Promise<string | undefined> {
    const row = await this.db.get<{ event_id: string }>(
      'SELECT event_id FROM current_state WHERE room_id = ? AND type = ? AND state_key = ? LIMIT 1',
      [roomId, type, stateKey],
    );
    return row?.event_id;
  }

  /** Users that share a joined room with `userId` (user directory, presence). */
  async usersSharingRooms(userId: string): Promise<string[]> {
    const rows = await this.db.all<{ u: string }>(
      `SELECT DISTINCT b.state_key AS u FROM current_state a JOIN current_state b
          ON b.room_id = a.room_id AND b.type = 'm.room.member' AND b.membership = 'join'
        WHERE a.type = 'm.room.member' AND a.state_key = ? AND a.membership = 'join'`,
      [userId],
    );
    return rows.map((r) => r.u);
  }
}
