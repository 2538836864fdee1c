/**
 * The resident side of membership handshakes (server-server-api "Joining Rooms", "Restricted
 * rooms", "Knocking upon a room", "Inviting to a room", "Leaving Rooms"): make_join /
 * make_leave / make_knock templates, send_join (v2) / send_leave (v2) / send_knock, and signing
 * invites for our users (invite v2).
 */
import type { Logger } from '../../logging.ts';
import type { JsonObject, Pdu } from '../../protocol/pdu-types.ts';
import { getRoomVersion, type RoomVersion } from '../../protocol/room-versions.ts';
import { checkAuth, getNamedLevel, getPowerLevel, type AuthOptions } from '../../protocol/auth/index.ts';
import { addEventSignature } from '../../protocol/hashing.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import type { SigningKey } from '../../protocol/signing.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { StateSnapshot } from '../state/state-cache.ts';
import { MatrixError, badJson, forbidden, notFound } from '../../http/errors.ts';
import type { Ingest } from './ingest.ts';
import { checkReceivedPdu, PduCheckError } from './pdu-checks.ts';
import { authIds, authMapFromState, type RemoteEvents } from './remote-events.ts';
import { buildEvent } from './event-builder.ts';
import type { RoomServers } from './room-servers.ts';
import type { FederationSender } from './sender.ts';
import { strippedStateOf, toStripped } from './stripped-state.ts';

export interface InboundDeps {
  core: RoomCore;
  ingest: Ingest;
  remote: RemoteEvents;
  rooms: RoomServers;
  sender: FederationSender;
  log: Logger;
  serverName: () => string;
  signingKey: () => SigningKey;
  authOptions: (version: RoomVersion) => AuthOptions;
  userExists: (userId: string) => Promise<boolean>;
  keys: import('./keys.ts').KeyRing;
}

type Kind = 'join' | 'leave' | 'knock';

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export const incompatibleVersion = (v: string) =>
  new MatrixError(400, 'M_INCOMPATIBLE_ROOM_VERSION', `Your server does not support room version ${v}`, { room_version: v });

/** Event IDs of the auth chains of `ids` (not including `ids` themselves unless reached). */
export async function authChainOf(core: RoomCore, ids: Iterable<string>): Promise<string[]> {
  const seen = new Set<string>();
  let frontier = [...new Set(ids)];
  while (frontier.length) {
    const evs = await core.eventCache.getMany(frontier);
    const next: string[] = [];
    for (const ev of evs.values()) {
      for (const a of authIds(ev.pdu)) if (!seen.has(a)) (seen.add(a), next.push(a));
    }
    frontier = next;
  }
  return [...seen];
}

export class InboundMembership {
  constructor(private readonly d: InboundDeps) {}

  /** The room as we know it, if we are resident in it (a local user is joined), and the origin passes the ACL. */
  private async residentRoom(origin: string, roomId: string): Promise<{ version: RoomVersion; state: StateSnapshot }> {
    const version = await this.d.core.maybeVersionOf(roomId);
    const state = await this.d.core.currentState(roomId);
    if (!version || !state || state.localWith(this.d.serverName(), 'join').length === 0) throw notFound('This server is not in that room');
    await this.d.rooms.assertAllowed(roomId, origin);
    return { version, state };
  }

  /** GET /make_{join,leave,knock}/{roomId}/{userId}. */
  async make(kind: Kind, origin: string, roomId: string, userId: string, versions: string[] | null): Promise<JsonObject> {
    if (serverNameOf(userId) !== origin) throw forbidden('The user does not belong to the requesting server');
    const { version, state } = await this.residentRoom(origin, roomId);
    if (versions !== null && !versions.includes(version.id)) throw incompatibleVersion(version.id);
    if (kind === 'knock' && !version.knock) throw incompatibleVersion(version.id);
    const content: JsonObject = { membership: kind };
    if (kind === 'join') {
      const via = await this.restrictedVia(roomId, version, state, userId);
      if (via) content.join_authorised_via_users_server = via;
    }
    const built = await buildEvent(this.d.core, roomId, { type: 'm.room.member', stateKey: userId, sender: userId, content }, origin);
    // Would the event pass the rules if it were signed? Signatures are checked on send_*.
    const auth = await authMapFromState(this.d.core, built.template, version, state);
    const res = checkAuth({ ...built.template, event_id: '$template' }, auth, version, { ...this.d.authOptions(version), isSignedBy: () => true });
    if (!res.ok) throw forbidden(`You are not allowed to ${kind} this room: ${res.reason}`);
    return { event: built.template as unknown as JsonObject, room_version: version.id };
  }

  /**
   * Restricted join rules (client-server-api "Restricted rooms"): when the user is neither invited
   * nor joined and the rule is restricted, one of the allowed rooms must have them joined; a local
   * user who may invite then authorises the join.
   */
  private async restrictedVia(roomId: string, version: RoomVersion, state: StateSnapshot, userId: string): Promise<string | undefined> {
    if (!version.restrictedJoinRule) return undefined;
    const jr = await this.d.core.stateContent(state, 'm.room.join_rules');
    const rule = jr?.join_rule;
    if (rule !== 'restricted' && !(rule === 'knock_restricted' && version.knockRestrictedJoinRule)) return undefined;
    const m = state.membership(userId);
    if (m === 'join' || m === 'invite') return undefined;
    const allow = Array.isArray(jr?.allow) ? (jr.allow as unknown[]) : [];
    let unknownRoom = false;
    let satisfied = false;
    for (const a of allow) {
      if (!isObject(a) || a.type !== 'm.room_membership' || typeof a.room_id !== 'string') continue;
      const other = await this.d.core.currentState(a.room_id);
      if (!other) {
        unknownRoom = true;
        continue;
      }
      if (other.membership(userId) === 'join') satisfied = true;
    }
    if (!satisfied) {
      if (rule === 'knock_restricted') return undefined; // knocking stays possible
      if (unknownRoom) throw new MatrixError(400, 'M_UNABLE_TO_AUTHORISE_JOIN', 'This server cannot check the conditions of this restricted room');
      throw forbidden('You do not satisfy any of the conditions of this restricted room');
    }
    const pl = await this.d.core.stateEvent(state, 'm.room.power_levels');
    const create = await this.d.core.stateEvent(state, 'm.room.create');
    const inviteLevel = getNamedLevel('invite', pl?.pdu, version);
    for (const u of state.localWith(this.d.serverName(), 'join').sort()) {
      if (getPowerLevel(u, pl?.pdu, create?.pdu, version) >= inviteLevel) return u;
    }
    throw new MatrixError(400, 'M_UNABLE_TO_GRANT_JOIN', 'No user on this server may invite you; try another server');
  }

  /** PUT /send_{join,leave,knock}: checks the event, takes it into the room and forwards it. */
  async send(kind: Kind, origin: string, roomId: string, eventId: string, body: JsonObject): Promise<{ pdu: Pdu; stateBefore: StateSnapshot; signedByUs: boolean }> {
    const t0 = Date.now();
    const { version } = await this.residentRoom(origin, roomId);
    let raw = body;
    const content = isObject(raw.content) ? raw.content : {};
    if (raw.type !== 'm.room.member' || content.membership !== kind) throw badJson(`Not a ${kind} event`);
    if (typeof raw.sender !== 'string' || raw.state_key !== raw.sender || serverNameOf(raw.sender) !== origin) {
      throw forbidden('The event must be about a user of the requesting server, sent by that user');
    }
    if (raw.room_id !== roomId) throw badJson('room_id does not match');
    let signedByUs = false;
    const via = content.join_authorised_via_users_server;
    if (kind === 'join' && typeof via === 'string' && version.restrictedJoinRule) {
      // "The resident server which owns the provided user ID must have a valid signature on the event."
      if (serverNameOf(via) !== this.d.serverName()) throw forbidden('join_authorised_via_users_server is not a user of this server');
      const key = this.d.signingKey();
      raw = addEventSignature(raw, version, this.d.serverName(), key.keyId, key.seed);
      signedByUs = true;
    }
    let checked;
    try {
      checked = await checkReceivedPdu(raw, version, this.d.keys);
    } catch (e) {
      throw badJson((e as PduCheckError).message);
    }
    if (checked.eventId !== eventId) throw badJson('The event ID does not match the event');
    if (checked.redacted) throw badJson('The event content does not match its hash');
    const me = this.d.serverName();
    const result = await this.d.ingest.lock.run(roomId, () =>
      this.d.ingest.processTimeline(origin, roomId, version, checked, {
        fetchMissing: true,
        // "The resident server must also send the event to other servers participating in the room."
        stage: async (b, current) => {
          const servers = this.d.rooms.serversIn(current).filter((x) => x !== origin && x !== me);
          b.onFlush((tx) => this.d.sender.queuePdu(tx, servers, eventId));
        },
      }),
    );
    if (result.error) throw forbidden(result.error);
    if (result.rejected) throw forbidden(`The event does not pass the room's auth rules: ${result.rejected}`);
    if (result.softFailed) throw forbidden('The event does not pass the auth rules against the current state');
    this.d.log.debug({ roomId, kind, ms: Date.now() - t0 }, 'send_* processed');
    const stored = await this.d.core.eventCache.get(eventId);
    if (!stored?.stateBefore) throw new MatrixError(500, 'M_UNKNOWN', 'The event was not stored');
    return { pdu: stored.pdu, stateBefore: await this.d.core.stateCache.get(stored.stateBefore), signedByUs };
  }

  /** The send_join (v2) response: the state before the join and its auth chain. */
  async sendJoinResponse(r: { pdu: Pdu; stateBefore: StateSnapshot; signedByUs: boolean }, eventId: string): Promise<JsonObject> {
    const t0 = Date.now();
    const stateIds = [...r.stateBefore.map.values()];
    const chain = await authChainOf(this.d.core, [...stateIds, eventId]);
    this.d.log.debug({ ms: Date.now() - t0, chain: chain.length }, 'send_join auth chain');
    const evs = await this.d.core.eventCache.getMany([...stateIds, ...chain]);
    this.d.log.debug({ ms: Date.now() - t0 }, 'send_join events loaded');
    const pdus = (ids: string[]) => ids.map((id) => evs.get(id)?.pdu).filter((p): p is Pdu => !!p) as unknown as JsonObject[];
    const servers = new Set(this.d.rooms.serversIn(r.stateBefore));
    servers.add(this.d.serverName());
    return {
      origin: this.d.serverName(),
      state: pdus(stateIds),
      auth_chain: pdus(chain),
      members_omitted: false,
      servers_in_room: [...servers],
      ...(r.signedByUs && { event: r.pdu as unknown as JsonObject }),
    };
  }

  /** The send_knock response: stripped state for the knocking user. */
  async knockResponse(roomId: string): Promise<JsonObject> {
    const state = await this.d.core.currentState(roomId);
    return { knock_room_state: state ? await strippedStateOf(this.d.core, state, true) : [] };
  }

  /** PUT /v2/invite: sign an invite for one of our users (and remember it if we are not in the room). */
  async invite(origin: string, roomId: string, eventId: string, body: JsonObject): Promise<JsonObject> {
    const versionId = typeof body.room_version === 'string' ? body.room_version : '1';
    const version = getRoomVersion(versionId);
    if (!version) throw incompatibleVersion(versionId);
    const ev = body.event;
    if (!isObject(ev)) throw badJson('event is required');
    const content = isObject(ev.content) ? ev.content : {};
    if (ev.type !== 'm.room.member' || content.membership !== 'invite' || typeof ev.state_key !== 'string') throw badJson('Not an invite event');
    if (ev.room_id !== roomId) throw badJson('room_id does not match');
    if (serverNameOf(ev.state_key) !== this.d.serverName()) throw badJson('The invited user is not on this server');
    if (typeof ev.sender !== 'string' || serverNameOf(ev.sender) !== origin) throw forbidden('The invite must come from the inviter’s server');
    if (!(await this.d.userExists(ev.state_key))) throw notFound('No such user');
    if (await this.d.core.maybeVersionOf(roomId)) await this.d.rooms.assertAllowed(roomId, origin);
    let checked;
    try {
      checked = await checkReceivedPdu(ev, version, this.d.keys);
    } catch (e) {
      throw forbidden((e as Error).message);
    }
    if (checked.eventId !== eventId) throw badJson('The event ID does not match the event');
    if (checked.redacted) throw badJson('The event content does not match its hash');
    const state = await this.d.core.currentState(roomId);
    const cur = state?.membership(ev.state_key);
    if (cur === 'ban') throw forbidden('The user is banned from the room');
    const key = this.d.signingKey();
    const signed = addEventSignature(checked.pdu, version, this.d.serverName(), key.keyId, key.seed);
    const resident = !!state && state.localWith(this.d.serverName(), 'join').length > 0;
    if (!resident) {
      const stripped = toStripped(Array.isArray(body.invite_room_state) ? body.invite_room_state : []);
      const creator = (stripped.find((s) => s.type === 'm.room.create')?.sender as string | undefined) ?? ev.sender;
      await this.d.core.writer.write((b) => this.d.remote.persistOutOfBand(b, roomId, version, { eventId, pdu: signed }, { invite_room_state: stripped }, creator));
    }
    // A resident server receives the invite again through /send once the inviter persisted it.
    return { event: signed as unknown as JsonObject };
  }
}
