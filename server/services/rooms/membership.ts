/**
 * Membership changes by local users (client-server-api "Room membership"): join, invite, leave,
 * kick, ban, unban, knock, forget. The auth rules decide what is allowed; these functions shape
 * the member event (profile, reason) and map rule failures to the spec's errors.
 *
 * Rooms this server does not know (remote joins and knocks) need federation: `remote` is the hook
 * the federation area fills in; without it such requests get 404 M_NOT_FOUND.
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { parseRoomAlias, parseRoomId, parseUserId } from '../../protocol/identifiers.ts';
import { MatrixError, badJson, forbidden, invalidParam, notFound } from '../../http/errors.ts';
import type { RoomCore } from './core.ts';
import type { Profiles } from '../profile.ts';

export interface RemoteMembership {
  /** Join a room this server is not in, via `servers`. Returns the room ID. */
  join(userId: string, roomIdOrAlias: string, servers: string[], content: JsonObject): Promise<string>;
  knock(userId: string, roomIdOrAlias: string, servers: string[], content: JsonObject): Promise<string>;
  /** Resolve a remote alias. */
  resolveAlias?(alias: string): Promise<{ room_id: string; servers: string[] } | undefined>;
  /** Invite a user of another server (their server signs the invite first). Returns the event ID. */
  invite?(sender: string, roomId: string, target: string, content: JsonObject): Promise<string>;
  /** Leave a room no local user is joined to: reject a remote invite, retract a knock (make_leave/send_leave). */
  leave?(userId: string, roomId: string, content: JsonObject): Promise<void>;
}

export class Membership {
  /** Set by the federation area. */
  remote: RemoteMembership | null = null;

  constructor(
    private readonly core: RoomCore,
    private readonly profiles: Profiles,
  ) {}

  /** Resolves `!room` or `#alias` to a room ID (and servers to try). 404 if unknown. */
  async resolve(roomIdOrAlias: string): Promise<{ roomId: string; servers: string[] }> {
    if (roomIdOrAlias.startsWith('#')) {
      if (!parseRoomAlias(roomIdOrAlias)) throw invalidParam('Invalid room alias');
      const local = await this.core.rooms.getAlias(roomIdOrAlias);
      if (local) return { roomId: local.room_id, servers: [this.core.serverName()] };
      const remote = this.remote?.resolveAlias ? await this.remote.resolveAlias(roomIdOrAlias) : undefined;
      if (remote) return { roomId: remote.room_id, servers: remote.servers };
      throw notFound('Room alias not found');
    }
    if (!roomIdOrAlias.startsWith('!') || !parseRoomId(roomIdOrAlias)) throw invalidParam('Invalid room ID or alias');
    return { roomId: roomIdOrAlias, servers: [] };
  }

  private async change(sender: string, roomId: string, target: string, content: JsonObject): Promise<string> {
    if (!parseUserId(target)) throw invalidParam('Invalid user ID');
    const membership = content.membership as string;
    const a = await this.core.writer.write(async (b) => {
      const appended = await this.core.writer.append(b, roomId, { type: 'm.room.member', stateKey: target, content, sender });
      if ((membership === 'join' || membership === 'invite' || membership === 'knock') && this.core.isLocalUser(target)) {
        b.onFlush((tx) => this.core.rooms.unforget(tx, target, roomId));
      }
      return appended;
    });
    return a.event.eventId;
  }

  private async known(roomId: string): Promise<boolean> {
    return (await this.core.maybeVersionOf(roomId)) !== undefined;
  }

  private static withReason(content: JsonObject, reason: unknown): JsonObject {
    if (reason === undefined) return content;
    if (typeof reason !== 'string') throw badJson('reason must be a string');
    return { ...content, reason };
  }

  async join(userId: string, roomIdOrAlias: string, opts: { servers?: string[]; reason?: unknown } = {}): Promise<string> {
    const { roomId, servers } = await this.resolve(roomIdOrAlias);
    const content = Membership.withReason({ ...(await this.profiles.memberContent(userId)), membership: 'join' }, opts.reason);
    if (!(await this.known(roomId)) || !(await this.isParticipating(roomId))) {
      if (this.remote) return this.remote.join(userId, roomIdOrAlias, [...servers, ...(opts.servers ?? [])], content);
      throw notFound('No known servers for this room');
    }
    const state = await this.core.currentState(roomId);
    // Already joined: re-sending the join only refreshes the profile; nothing to do if unchanged.
    if (state?.membership(userId) === 'join') {
      const cur = await this.core.stateEvent(state, 'm.room.member', userId);
      if (cur && sameContent(cur.pdu.content, content)) return roomId;
    }
    await this.change(userId, roomId, userId, content);
    return roomId;
  }

  /**
   * Whether a local user is joined (else the room exists here only as a remote invite, a knock or
   * history we no longer receive events for: joining again goes through federation).
   */
  private async isParticipating(roomId: string): Promise<boolean> {
    const state = await this.core.currentState(roomId);
    return !!state && state.localWith(this.core.serverName(), 'join').length > 0;
  }

  async invite(sender: string, roomId: string, target: unknown, reason?: unknown): Promise<void> {
    if (typeof target !== 'string' || !parseUserId(target)) throw badJson('user_id must be a user ID');
    if (!(await this.known(roomId))) throw notFound('Unknown room');
    const state = await this.core.currentState(roomId);
    const current = state?.membership(target);
    if (current === 'join') throw forbidden(`${target} is already in the room`);
    if (current === 'ban') throw forbidden(`${target} is banned from the room`);
    if (state?.membership(sender) !== 'join') throw forbidden('You are not in this room');
    const content = Membership.withReason({ ...(await this.profiles.memberContent(target)), membership: 'invite' }, reason);
    if (!this.core.isLocalUser(target) && this.remote?.invite) {
      await this.remote.invite(sender, roomId, target, content);
      return;
    }
    await this.change(sender, roomId, target, content);
  }

  async leave(userId: string, roomId: string, reason?: unknown): Promise<void> {
    if (!(await this.known(roomId))) throw notFound('Unknown room');
    const state = await this.core.currentState(roomId);
    const m = state?.membership(userId);
    if (m === undefined || m === 'leave') {
      // Leaving a room one is not in is a no-op for a room one has left (clients retry),
      // otherwise the spec's 403.
      if (m === 'leave') return;
      throw forbidden('You are not in this room');
    }
    if (m === 'ban') throw forbidden('You are banned from this room');
    if (this.remote?.leave && !(await this.isParticipating(roomId))) {
      await this.remote.leave(userId, roomId, Membership.withReason({ membership: 'leave' }, reason));
      return;
    }
    await this.change(userId, roomId, userId, Membership.withReason({ membership: 'leave' }, reason));
  }

  async kick(sender: string, roomId: string, target: unknown, reason?: unknown): Promise<void> {
    if (typeof target !== 'string' || !parseUserId(target)) throw badJson('user_id must be a user ID');
    if (!(await this.known(roomId))) throw notFound('Unknown room');
    const state = await this.core.currentState(roomId);
    const m = state?.membership(target);
    if (m !== 'join' && m !== 'invite' && m !== 'knock') throw forbidden(`${target} is not in the room`);
    await this.change(sender, roomId, target, Membership.withReason({ membership: 'leave' }, reason));
  }

  async ban(sender: string, roomId: string, target: unknown, reason?: unknown): Promise<void> {
    if (typeof target !== 'string' || !parseUserId(target)) throw badJson('user_id must be a user ID');
    if (!(await this.known(roomId))) throw notFound('Unknown room');
    await this.change(sender, roomId, target, Membership.withReason({ membership: 'ban' }, reason));
  }

  async unban(sender: string, roomId: string, target: unknown, reason?: unknown): Promise<void> {
    if (typeof target !== 'string' || !parseUserId(target)) throw badJson('user_id must be a user ID');
    if (!(await this.known(roomId))) throw notFound('Unknown room');
    const state = await this.core.currentState(roomId);
    if (state?.membership(target) !== 'ban') throw forbidden(`${target} is not banned`);
    await this.change(sender, roomId, target, Membership.withReason({ membership: 'leave' }, reason));
  }

  async knock(userId: string, roomIdOrAlias: string, opts: { servers?: string[]; reason?: unknown } = {}): Promise<string> {
    const { roomId, servers } = await this.resolve(roomIdOrAlias);
    const content = Membership.withReason({ ...(await this.profiles.memberContent(userId)), membership: 'knock' }, opts.reason);
    const version = await this.core.maybeVersionOf(roomId);
    if (!version || !(await this.isParticipating(roomId))) {
      if (this.remote) return this.remote.knock(userId, roomIdOrAlias, [...servers, ...(opts.servers ?? [])], content);
      throw notFound('No known servers for this room');
    }
    if (!version.knock) throw forbidden(`Room version ${version.id} does not support knocking`);
    await this.change(userId, roomId, userId, content);
    return roomId;
  }

  /** POST /forget: the user must have left (400 otherwise, per the spec). */
  async forget(userId: string, roomId: string): Promise<void> {
    const state = await this.core.currentState(roomId);
    const m = state?.membership(userId);
    if (m === 'join' || m === 'invite' || m === 'knock') {
      throw new MatrixError(400, 'M_UNKNOWN', 'You must leave the room before forgetting it');
    }
    await this.core.rooms.forget(userId, roomId);
    this.core.forgetChanged(userId);
  }

  /** PUT /state/m.room.member/{user}: routed here so profile updates and leaves keep their checks. */
  async setMemberState(sender: string, roomId: string, target: string, content: JsonObject): Promise<string> {
    if (typeof content.membership !== 'string') throw badJson('membership is required');
    return this.change(sender, roomId, target, content);
  }
}

function sameContent(a: JsonObject, b: JsonObject): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}
