/**
 * Room aliases and the published room directory (directory.yaml, list_public_rooms.yaml) and the
 * user directory (users.yaml: users who share a room with the searcher or are in a public room).
 */
import type { JsonObject } from '../protocol/pdu-types.ts';
import { getPowerLevel, getRequiredPowerLevel } from '../protocol/auth/index.ts';
import { parseRoomAlias } from '../protocol/identifiers.ts';
import { MatrixError, forbidden, invalidParam, notFound } from '../http/errors.ts';
import type { RoomCore } from './rooms/core.ts';
import type { StateSnapshot } from './state/state-cache.ts';
import type { ProfileStore } from '../storage/profile-store.ts';

export const MAX_PUBLIC_ROOMS_PAGE = 500;

export class Directory {
  constructor(
    private readonly core: RoomCore,
    private readonly profiles: ProfileStore,
  ) {}

  private checkLocalAlias(alias: string): void {
    const parsed = parseRoomAlias(alias);
    if (!parsed) throw invalidParam('Invalid room alias');
    if (parsed.serverName !== this.core.serverName()) throw invalidParam('Room alias must be on this server');
  }

  async resolve(alias: string): Promise<{ room_id: string; servers: string[] }> {
    if (!parseRoomAlias(alias)) throw invalidParam('Invalid room alias');
    const row = await this.core.rooms.getAlias(alias);
    if (!row) throw notFound('Room alias not found');
    return { room_id: row.room_id, servers: [this.core.serverName()] };
  }

  async create(userId: string, alias: string, roomId: unknown): Promise<void> {
    this.checkLocalAlias(alias);
    if (typeof roomId !== 'string' || !roomId.startsWith('!')) throw invalidParam('room_id is required');
    const state = await this.core.currentState(roomId);
    if (!state) throw notFound('Unknown room');
    if (state.membership(userId) !== 'join') throw forbidden('You must be joined to the room to give it an alias');
    const ok = await this.core.db.write((tx) => this.core.rooms.insertAlias(tx, alias, roomId, userId));
    if (!ok) throw new MatrixError(409, 'M_UNKNOWN', 'Room alias already exists');
  }

  /** The alias creator, a room member allowed to change m.room.canonical_alias, or a server admin. */
  async delete(userId: string, isAdmin: boolean, alias: string): Promise<void> {
    this.checkLocalAlias(alias);
    const row = await this.core.rooms.getAlias(alias);
    if (!row) throw notFound('Room alias not found');
    if (!isAdmin && row.creator !== userId) {
      const state = await this.core.currentState(row.room_id);
      if (!state || !(await this.mayChangeState(state, userId, 'm.room.canonical_alias'))) throw forbidden('You may not remove this alias');
    }
    await this.core.rooms.deleteAlias(alias);
  }

  async aliasesOf(userId: string, roomId: string): Promise<string[]> {
    const state = await this.core.currentState(roomId);
    if (!state) throw notFound('Unknown room');
    const hv = (await this.core.stateContent(state, 'm.room.history_visibility'))?.history_visibility;
    if (state.membership(userId) !== 'join' && hv !== 'world_readable') throw forbidden('You are not in this room');
    return this.core.rooms.aliasesOf(roomId);
  }

  private async mayChangeState(state: StateSnapshot, userId: string, type: string): Promise<boolean> {
    if (state.membership(userId) !== 'join') return false;
    const version = await this.core.versionOf(state.roomId);
    const pl = await this.core.stateEvent(state, 'm.room.power_levels');
    const create = await this.core.stateEvent(state, 'm.room.create');
    return getPowerLevel(userId, pl?.pdu, create?.pdu, version) >= getRequiredPowerLevel(type, true, pl?.pdu, version);
  }

  async visibility(roomId: string): Promise<'public' | 'private'> {
    const row = await this.core.rooms.get(roomId);
    if (!row) throw notFound('Unknown room');
    return row.is_public ? 'public' : 'private';
  }

  async setVisibility(userId: string, isAdmin: boolean, roomId: string, visibility: unknown): Promise<void> {
    if (visibility !== 'public' && visibility !== 'private') throw invalidParam("visibility must be 'public' or 'private'");
    const state = await this.core.currentState(roomId);
    if (!state) throw notFound('Unknown room');
    if (!isAdmin && !(await this.mayChangeState(state, userId, 'm.room.canonical_alias'))) {
      throw forbidden('You may not change the directory visibility of this room');
    }
    await this.core.rooms.setPublic(roomId, visibility === 'public');
  }

  /** One public room entry (PublishedRoomsChunk). */
  async entry(roomId: string): Promise<JsonObject | undefined> {
    const state = await this.core.currentState(roomId);
    if (!state) return undefined;
    const get = async (type: string, key: string) => {
      const v = (await this.core.stateContent(state, type))?.[key];
      return typeof v === 'string' ? v : undefined;
    };
    const out: JsonObject = {
      room_id: roomId,
      num_joined_members: state.joined().length,
      world_readable: (await get('m.room.history_visibility', 'history_visibility')) === 'world_readable',
      guest_can_join: (await get('m.room.guest_access', 'guest_access')) === 'can_join',
      join_rule: (await get('m.room.join_rules', 'join_rule')) ?? 'invite',
    };
    for (const [field, type, key] of [
      ['name', 'm.room.name', 'name'],
      ['topic', 'm.room.topic', 'topic'],
      ['canonical_alias', 'm.room.canonical_alias', 'alias'],
      ['avatar_url', 'm.room.avatar', 'url'],
      ['room_type', 'm.room.create', 'type'],
    ] as const) {
      const v = await get(type, key);
      if (v) out[field] = v;
    }
    return out;
  }

  /** GET/POST /publicRooms: search term filter, offset pagination (`since` = "p<offset>"). */
  async publicRooms(o: { limit?: number; since?: string; term?: string }): Promise<JsonObject> {
    const ids = await this.core.rooms.publicRoomIds();
    const entries: JsonObject[] = [];
    const term = o.term?.toLowerCase();
    for (const id of ids) {
      const e = await this.entry(id);
      if (!e) continue;
      if (term) {
        const hay = [e.name, e.topic, e.canonical_alias, e.room_id].filter((x) => typeof x === 'string').join(' ').toLowerCase();
        if (!hay.includes(term)) continue;
      }
      entries.push(e);
    }
    // Biggest rooms first, as clients expect.
    entries.sort((a, b) => (b.num_joined_members as number) - (a.num_joined_members as number) || String(a.room_id).localeCompare(String(b.room_id)));
    let offset = 0;
    if (o.since !== undefined) {
      const m = /^p(\d+)$/.exec(o.since);
      if (!m) throw invalidParam('Invalid since token');
      offset = Number(m[1]);
    }
    const limit = Math.max(1, Math.min(o.limit ?? MAX_PUBLIC_ROOMS_PAGE, MAX_PUBLIC_ROOMS_PAGE));
    const chunk = entries.slice(offset, offset + limit);
    const out: JsonObject = { chunk, total_room_count_estimate: entries.length };
    if (offset + limit < entries.length) out.next_batch = `p${offset + limit}`;
    if (offset > 0) out.prev_batch = `p${Math.max(0, offset - limit)}`;
    return out;
  }

  /** POST /user_directory/search. */
  async searchUsers(searcher: string, term: string, limit: number): Promise<JsonObject> {
    const visible = new Set(await this.core.state.usersSharingRooms(searcher));
    for (const roomId of await this.core.rooms.publicRoomIds()) {
      const state = await this.core.currentState(roomId);
      for (const u of state?.joined() ?? []) visible.add(u);
    }
    const needle = term.toLowerCase();
    const results: JsonObject[] = [];
    // Local users by profile, then remote members by their member events.
    for (const row of await this.profiles.search(term, 200)) {
      if (!visible.has(row.user_id)) continue;
      const r: JsonObject = { user_id: row.user_id };
      if (row.displayname) r.display_name = row.displayname;
      if (row.avatar_url) r.avatar_url = row.avatar_url;
      results.push(r);
    }
    for (const u of visible) {
      if (this.core.isLocalUser(u) || !u.toLowerCase().includes(needle)) continue;
      results.push({ user_id: u });
    }
    return { results: results.slice(0, limit), limited: results.length > limit };
  }
}
