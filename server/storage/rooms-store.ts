/** Rooms (table `rooms`), room aliases, forgotten rooms and the public room list. */
import type { Database, WriteTx } from './db.ts';

export interface RoomRow {
  room_id: string;
  room_version: string;
  creator: string;
  created_ts: number;
  is_public: number;
  state_group: number | null;
}

export class RoomsStore {
  constructor(private readonly db: Database) {}

  async insert(tx: WriteTx, r: { roomId: string; version: string; creator: string; now: number }): Promise<void> {
    await tx.run('INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES (?, ?, ?, ?)', [r.roomId, r.version, r.creator, r.now]);
  }

  get(roomId: string, tx?: WriteTx): Promise<RoomRow | undefined> {
    return (tx ?? this.db).get<RoomRow>('SELECT * FROM rooms WHERE room_id = ? LIMIT 1', [roomId]);
  }

  async setStateGroup(tx: WriteTx, roomId: string, stateGroup: number): Promise<void> {
    await tx.run('UPDATE rooms SET state_group = ? WHERE room_id = ?', [stateGroup, roomId]);
  }

  setPublic(roomId: string, isPublic: boolean): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('UPDATE rooms SET is_public = ? WHERE room_id = ?', [isPublic ? 1 : 0, roomId]);
    });
  }

  async setPublicTx(tx: WriteTx, roomId: string, isPublic: boolean): Promise<void> {
    await tx.run('UPDATE rooms SET is_public = ? WHERE room_id = ?', [isPublic ? 1 : 0, roomId]);
  }

  async publicRoomIds(): Promise<string[]> {
    const rows = await this.db.all<{ room_id: string }>('SELECT room_id FROM rooms WHERE is_public = 1 ORDER BY created_ts');
    return rows.map((r) => r.room_id);
  }

  async count(): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT count(*) AS n FROM rooms');
    return row?.n ?? 0;
  }

  // --- aliases -----------------------------------------------------------------------------

  async getAlias(alias: string): Promise<{ room_id: string; creator: string } | undefined> {
    return this.db.get('SELECT room_id, creator FROM room_aliases WHERE alias = ? LIMIT 1', [alias]);
  }

  /** Inserts an alias; false if it exists already. */
  async insertAlias(tx: WriteTx, alias: string, roomId: string, creator: string): Promise<boolean> {
    const r = await tx.run('INSERT OR IGNORE INTO room_aliases (alias, room_id, creator) VALUES (?, ?, ?)', [alias, roomId, creator]);
    return r.changes === 1;
  }

  deleteAlias(alias: string): Promise<boolean> {
    return this.db.write(async (tx) => (await tx.run('DELETE FROM room_aliases WHERE alias = ?', [alias])).changes === 1);
  }

  /** Points `aliases` at another room (room upgrades). */
  async moveAliases(tx: WriteTx, aliases: readonly string[], roomId: string): Promise<void> {
    for (const a of aliases) await tx.run('UPDATE room_aliases SET room_id = ? WHERE alias = ?', [roomId, a]);
  }

  async aliasesOf(roomId: string): Promise<string[]> {
    const rows = await this.db.all<{ alias: string }>('SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias', [roomId]);
    return rows.map((r) => r.alias);
  }

  // --- forgotten rooms ---------------------------------------------------------------------

  forget(userId: string, roomId: string): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('INSERT OR IGNORE INTO forgotten_rooms (user_id, room_id) VALUES (?, ?)', [userId, roomId]);
    });
  }

  /** Joining or being invited again un-forgets the room. */
  async unforget(tx: WriteTx, userId: string, roomId: string): Promise<void> {
    await tx.run('DELETE FROM forgotten_rooms WHERE user_id = ? AND room_id = ?', [userId, roomId]);
  }

  async forgottenRooms(userId: string): Promise<Set<string>> {
    const rows = await this.db.all<{ room_id: string }>('SELECT room_id FROM forgotten_rooms WHERE user_id = ?', [userId]);
    return new Set(rows.map((r) => r.room_id));
  }
}
