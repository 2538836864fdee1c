/**
 * Profiles (client-server-api "Profiles"): displayname and avatar_url of local users, copied into
 * the m.room.member events of rooms they join, and — when changed — propagated to every room the
 * user is joined to with a new member event ("Events on Change of Profile Information").
 */
import type { JsonObject } from '../protocol/pdu-types.ts';
import type { ProfileStore } from '../storage/profile-store.ts';
import { notFound } from '../http/errors.ts';
import type { RoomCore } from './rooms/core.ts';

export interface Profile {
  displayname?: string;
  avatar_url?: string;
}

export class Profiles {
  constructor(
    private readonly core: RoomCore,
    private readonly store: ProfileStore,
  ) {}

  /** Set by the federation area: a remote user's profile, asked of their server (/query/profile). */
  remote: ((userId: string) => Promise<Profile | undefined>) | null = null;

  /** The profile of a local user (or, through federation, a remote one), or undefined if there is no such (active) user. */
  async get(userId: string): Promise<Profile | undefined> {
    if (!this.core.isLocalUser(userId)) return this.remote ? this.remote(userId) : undefined;
    const row = await this.store.get(userId);
    if (!row || row.deactivated) return undefined;
    const p: Profile = {};
    if (row.displayname !== null) p.displayname = row.displayname;
    if (row.avatar_url !== null) p.avatar_url = row.avatar_url;
    return p;
  }

  /** displayname/avatar_url for a member event of `userId` (empty for unknown or remote users). */
  async memberContent(userId: string): Promise<JsonObject> {
    if (!this.core.isLocalUser(userId)) return {};
    return ((await this.get(userId)) ?? {}) as JsonObject;
  }

  /** Sets one field and updates the member event in every joined room (one write job for all). */
  async set(userId: string, field: 'displayname' | 'avatar_url', value: string | null): Promise<void> {
    if (!(await this.store.set(userId, field, value))) throw notFound('Unknown user');
    const rooms = (await this.core.state.roomsOfUser(userId)).filter((r) => r.membership === 'join');
    if (rooms.length === 0) return;
    await this.core.writer.write(async (b) => {
      for (const r of rooms) {
        const head = await this.core.writer.head(b, r.room_id);
        if (!head || head.state.membership(userId) !== 'join') continue;
        const currentId = head.state.get('m.room.member', userId);
        const current = currentId ? await this.core.eventCache.get(currentId, b.tx) : undefined;
        const content: JsonObject = { ...(current?.pdu.content ?? {}), membership: 'join' };
        if (value === null) delete content[field];
        else content[field] = value;
        try {
          await this.core.writer.append(b, r.room_id, { type: 'm.room.member', stateKey: userId, content, sender: userId });
        } catch {
          // A room whose rules refuse the update (e.g. the user was banned meanwhile) is skipped.
        }
      }
    });
  }
}
