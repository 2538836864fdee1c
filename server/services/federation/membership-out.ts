/**
 * Membership changes that need another server (server-server-api "Joining Rooms", "Knocking
 * upon a room", "Inviting to a room", "Leaving Rooms (Rejecting Invites)"): the rooms area's
 * Membership calls these through its `remote` hook.
 *
 * Join: make_join on a resident server, fill in and sign the template, send_join (v2), check the
 * returned state and auth chain (signatures, hashes, auth rules in depth order), store them as
 * outliers and the join as the first timeline event of our copy of the room.
 */
import type { Logger } from '../../logging.ts';
import type { JsonObject, Pdu } from '../../protocol/pdu-types.ts';
import { getRoomVersion, ROOM_VERSIONS, type RoomVersion } from '../../protocol/room-versions.ts';
import { checkAuth, stateKeyOf, type AuthOptions } from '../../protocol/auth/index.ts';
import { computeEventId, signEvent } from '../../protocol/hashing.ts';
import { parseRoomAlias, serverNameOf } from '../../protocol/identifiers.ts';
import type { SigningKey } from '../../protocol/signing.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { RemoteMembership } from '../rooms/membership.ts';
import { MatrixError, forbidden, notFound } from '../../http/errors.ts';
import { FederationError, type FederationClient } from './client.ts';
import type { Ingest } from './ingest.ts';
import { checkReceivedPdu, hasValidSignature } from './pdu-checks.ts';
import { authMapFromState, type RemoteEvents } from './remote-events.ts';
import { buildEvent } from './event-builder.ts';
import { strippedStateOf, toStripped } from './stripped-state.ts';

export interface OutboundDeps {
  core: RoomCore;
  client: FederationClient;
  ingest: Ingest;
  remote: RemoteEvents;
  log: Logger;
  serverName: () => string;
  signingKey: () => SigningKey;
  authOptions: (version: RoomVersion) => AuthOptions;
  /** Event IDs the outbound hook must not queue (the resident server distributes them). */
  suppressOutbound: Set<string>;
  rooms: import('./room-servers.ts').RoomServers;
  /** Invites this class delivers itself (the outbound hook must not send /invite again). */
  invitedViaApi: Set<string>;
  keys: import('./keys.ts').KeyRing;
}

const SUPPORTED_VERSIONS = [...ROOM_VERSIONS.keys()];

function mapRemoteError(e: unknown): MatrixError {
  if (e instanceof FederationError && e.status >= 400 && e.status < 500 && e.errcode) {
    return new MatrixError(e.status === 401 ? 403 : e.status, e.errcode, (e.body as { error?: string })?.error ?? e.message);
  }
  return new MatrixError(502, 'M_UNKNOWN', `Remote server failed: ${(e as Error).message}`);
}

export class OutboundMembership implements RemoteMembership {
  constructor(private readonly d: OutboundDeps) {}

  async resolveAlias(alias: string): Promise<{ room_id: string; servers: string[] } | undefined> {
    const parsed = parseRoomAlias(alias);
    if (!parsed || parsed.serverName === this.d.serverName()) return undefined;
    try {
      const r = await this.d.client.request<{ room_id?: unknown; servers?: unknown }>(parsed.serverName, 'GET', '/_matrix/federation/v1/query/directory', {
        query: { room_alias: alias },
      });
      if (typeof r.room_id !== 'string') return undefined;
      const servers = Array.isArray(r.servers) ? r.servers.filter((x): x is string => typeof x === 'string') : [];
      return { room_id: r.room_id, servers: servers.length ? servers : [parsed.serverName] };
    } catch (e) {
      if (e instanceof FederationError && e.status === 404) return undefined;
      throw mapRemoteError(e);
    }
  }

  /** Servers to try for a room: the given ones, the room ID's server (before v12), the inviter's. */
  private async candidates(roomId: string, userId: string, given: string[]): Promise<string[]> {
    const out = [...given];
    const idServer = serverNameOf(roomId);
    if (idServer) out.push(idServer);
    const state = await this.d.core.currentState(roomId);
    if (state) {
      const mine = state.get('m.room.member', userId);
      const ev = mine ? await this.d.core.eventCache.get(mine) : undefined;
      if (ev) out.push(serverNameOf(ev.sender) ?? '');
      const stripped = ev?.unsignedExtra?.invite_room_state ?? ev?.unsignedExtra?.knock_room_state;
      if (Array.isArray(stripped)) for (const s of stripped as JsonObject[]) if (typeof s?.sender === 'string') out.push(serverNameOf(s.sender) ?? '');
      for (const [u, m] of state.members) if (m === 'join') out.push(serverNameOf(u) ?? '');
    }
    const me = this.d.serverName();
    const list = [...new Set(out)].filter((s) => s && s !== me);
    // Servers the room's ACL denies are not asked (when we know the room's state).
    if (!state) return list;
    const allowed: string[] = [];
    for (const s of list) if (await this.d.rooms.allowed(roomId, s, state)) allowed.push(s);
    return allowed;
  }

  private async resolveRoom(roomIdOrAlias: string, servers: string[]): Promise<{ roomId: string; servers: string[] }> {
    if (!roomIdOrAlias.startsWith('#')) return { roomId: roomIdOrAlias, servers };
    const r = await this.resolveAlias(roomIdOrAlias);
    if (!r) throw notFound('Room alias not found');
    return { roomId: r.room_id, servers: [...r.servers, ...servers] };
  }

  /** make_X on `server`: the template and room version, checked against what we asked for. */
  private async make(server: string, kind: 'join' | 'knock' | 'leave', roomId: string, userId: string): Promise<{ template: JsonObject; version: RoomVersion }> {
    const path = `/_matrix/federation/v1/make_${kind}/${encodeURIComponent(roomId)}/${encodeURIComponent(userId)}`;
    const r = await this.d.client.request<{ event?: unknown; room_version?: unknown }>(server, 'GET', path, {
      query: kind === 'leave' ? undefined : { ver: SUPPORTED_VERSIONS },
    });
    const version = getRoomVersion(typeof r.room_version === 'string' ? r.room_version : '1');
    if (!version) throw new MatrixError(400, 'M_INCOMPATIBLE_ROOM_VERSION', `Unsupported room version ${String(r.room_version)}`);
    const t = r.event as JsonObject | undefined;
    // "The joining server MUST also verify that the type, room_id, sender, state_key and
    // content.membership fields have the expected values."
    if (
      !t ||
      typeof t !== 'object' ||
      t.type !== 'm.room.member' ||
      t.room_id !== roomId ||
      t.sender !== userId ||
      t.state_key !== userId ||
      typeof t.content !== 'object' ||
      t.content === null ||
      (t.content as JsonObject).membership !== kind
    ) {
      throw new FederationError(`${server} sent a bad make_${kind} template`, 502);
    }
    return { template: t, version };
  }

  /** Fills in and signs a template: our content (keeping the resident's authorising user), time, origin. */
  private sign(template: JsonObject, version: RoomVersion, content: JsonObject): { pdu: Pdu; eventId: string } {
    const { signatures: _s, hashes: _h, unsigned: _u, event_id: _e, ...rest } = template;
    const via = (template.content as JsonObject).join_authorised_via_users_server;
    const pdu: JsonObject = {
      ...rest,
      content: { ...content, ...(typeof via === 'string' && { join_authorised_via_users_server: via }) },
      origin_server_ts: this.d.core.now(),
      ...(!version.implicitCreator && { origin: this.d.serverName() }),
      ...(version.eventIdFormat === 'v1' && { event_id: `$${Math.random().toString(36).slice(2)}${Date.now().toString(36)}:${this.d.serverName()}` }),
    };
    const key = this.d.signingKey();
    const signed = signEvent(pdu, version, this.d.serverName(), key.keyId, key.seed) as unknown as Pdu;
    return { pdu: signed, eventId: computeEventId(signed, version) };
  }

  async join(userId: string, roomIdOrAlias: string, given: string[], content: JsonObject): Promise<string> {
    const { roomId, servers } = await this.resolveRoom(roomIdOrAlias, given);
    const candidates = await this.candidates(roomId, userId, servers);
    if (candidates.length === 0) {
      // Nobody else to ask: a room of ours that every local user left can be rejoined locally.
      if (await this.d.core.maybeVersionOf(roomId)) {
        await this.d.core.writer.write((b) => this.d.core.writer.append(b, roomId, { type: 'm.room.member', stateKey: userId, content, sender: userId }));
        return roomId;
      }
      throw notFound('No known servers for this room');
    }
    let last: unknown = notFound('No server could help us join');
    for (const server of candidates) {
      try {
        await this.joinVia(server, roomId, userId, content);
        return roomId;
      } catch (e) {
        last = e;
        this.d.log.info({ server, roomId, err: (e as Error).message }, 'remote join attempt failed');
        if (e instanceof MatrixError && (e.status === 403 || e.errcode === 'M_INCOMPATIBLE_ROOM_VERSION')) break;
        if (e instanceof FederationError && e.status === 403) break;
      }
    }
    throw last instanceof MatrixError ? last : mapRemoteError(last);
  }

  private async joinVia(server: string, roomId: string, userId: string, content: JsonObject): Promise<void> {
    const { template, version } = await this.make(server, 'join', roomId, userId);
    const { pdu, eventId } = this.sign(template, version, { ...content, membership: 'join' });
    this.d.suppressOutbound.add(eventId);
    try {
      const r = await this.d.client.request<{ state?: unknown[]; auth_chain?: unknown[]; event?: unknown }>(
        server,
        'PUT',
        `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`,
        { body: pdu, timeoutMs: 300_000, maxBytes: 128 * 1024 * 1024 },
      );
      let joinPdu = pdu;
      if (r.event && typeof r.event === 'object') {
        // Restricted joins: the resident countersigned the event; it must still be our event.
        const c = await checkReceivedPdu(r.event, version, this.d.keys).catch(() => undefined);
        if (c && c.eventId === eventId && !c.redacted) joinPdu = c.pdu;
      }
      await this.completeJoin(server, roomId, version, eventId, joinPdu, r);
    } finally {
      this.d.suppressOutbound.delete(eventId);
    }
  }

  /** Checks and stores the state and auth chain from send_join, then the join event itself. */
  private async completeJoin(server: string, roomId: string, version: RoomVersion, eventId: string, joinPdu: Pdu, r: { state?: unknown[]; auth_chain?: unknown[] }): Promise<void> {
    const t0 = Date.now();
    const lap = (what: string) => this.d.log.debug({ roomId, what, ms: Date.now() - t0 }, 'join timing');
    const checkedState = await this.d.ingest.checkAll(Array.isArray(r.state) ? r.state : [], version, 'send_join state');
    const checkedChain = await this.d.ingest.checkAll(Array.isArray(r.auth_chain) ? r.auth_chain : [], version, 'send_join auth_chain');
    // The parsed answer is not needed any more (a big room's is tens of MB): let it go.
    r.state = undefined;
    r.auth_chain = undefined;
    const inRoom = (p: Pdu) => p.room_id === roomId || (version.roomIdFromCreateEvent && p.type === 'm.room.create' && `!${computeEventId(p, version).slice(1)}` === roomId);
    const all = [...checkedChain, ...checkedState].filter((c) => inRoom(c.pdu));
    const create = all.find((c) => c.pdu.type === 'm.room.create' && c.pdu.state_key === '');
    if (!create) throw new MatrixError(502, 'M_UNKNOWN', `${server} sent no m.room.create event`);
    lap('checked');
    const verdicts = await this.d.ingest.storeOutliers(server, roomId, version, all);
    lap('outliers stored');

    const stateMap = new Map<string, string>();
    const memberships = new Map<string, string>();
    let rejected = 0;
    for (const c of checkedState) {
      if (c.pdu.state_key === undefined || !inRoom(c.pdu)) continue;
      if (verdicts.get(c.eventId)) {
        rejected++;
        continue;
      }
      stateMap.set(stateKeyOf(c.pdu.type, c.pdu.state_key), c.eventId);
      if (c.pdu.type === 'm.room.member') memberships.set(c.eventId, typeof c.pdu.content.membership === 'string' ? c.pdu.content.membership : 'leave');
    }
    if (rejected) this.d.log.warn({ roomId, server, rejected }, 'send_join state held events that fail auth');
    const auth = await authMapFromState(this.d.core, joinPdu, version, stateMap);
    const res = checkAuth({ ...joinPdu, event_id: eventId }, auth, version, this.d.authOptions(version));
    if (!res.ok) throw forbidden(`The join does not pass the room's auth rules: ${res.reason}`);
    lap('join checked');
    await this.d.core.writer.write(async (b) => {
      await this.d.remote.persistTimeline(b, { eventId, pdu: joinPdu, roomId, version, before: { map: stateMap, memberships }, rejected: null }, { noSoftFail: true, newRoom: { creator: create.pdu.sender } });
      b.onFlush((tx) => this.d.core.rooms.unforget(tx, joinPdu.sender, roomId));
    });
    lap('join persisted');
  }

  async knock(userId: string, roomIdOrAlias: string, given: string[], content: JsonObject): Promise<string> {
    const { roomId, servers } = await this.resolveRoom(roomIdOrAlias, given);
    const candidates = await this.candidates(roomId, userId, servers);
    if (candidates.length === 0) throw notFound('No known servers for this room');
    let last: unknown = notFound('No server could take the knock');
    for (const server of candidates) {
      try {
        const { template, version } = await this.make(server, 'knock', roomId, userId);
        if (!version.knock) throw new MatrixError(403, 'M_FORBIDDEN', `Room version ${version.id} does not support knocking`);
        const { pdu, eventId } = this.sign(template, version, { ...content, membership: 'knock' });
        this.d.suppressOutbound.add(eventId);
        try {
          const r = await this.d.client.request<{ knock_room_state?: unknown[] }>(
            server,
            'PUT',
            `/_matrix/federation/v1/send_knock/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`,
            { body: pdu },
          );
          const stripped = toStripped(Array.isArray(r.knock_room_state) ? r.knock_room_state : []);
          const creator = (stripped.find((s) => s.type === 'm.room.create')?.sender as string | undefined) ?? userId;
          await this.d.core.writer.write((b) => this.d.remote.persistOutOfBand(b, roomId, version, { eventId, pdu }, { knock_room_state: stripped }, creator));
          return roomId;
        } finally {
          this.d.suppressOutbound.delete(eventId);
        }
      } catch (e) {
        last = e;
        if (e instanceof MatrixError || (e instanceof FederationError && e.status === 403)) break;
      }
    }
    throw last instanceof MatrixError ? last : mapRemoteError(last);
  }

  /** Rejects a remote invite or retracts a knock: make_leave / send_leave (v2) via the room's servers. */
  async leave(userId: string, roomId: string, content: JsonObject): Promise<void> {
    const candidates = await this.candidates(roomId, userId, []);
    const version = await this.d.core.maybeVersionOf(roomId);
    let last: unknown = notFound('No server could take the leave');
    for (const server of candidates) {
      try {
        const made = await this.make(server, 'leave', roomId, userId);
        const { pdu, eventId } = this.sign(made.template, made.version, { ...content, membership: 'leave' });
        this.d.suppressOutbound.add(eventId);
        try {
          await this.d.client.request(server, 'PUT', `/_matrix/federation/v2/send_leave/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`, { body: pdu });
          await this.d.core.writer.write((b) => this.d.remote.persistOutOfBand(b, roomId, version ?? made.version, { eventId, pdu }, null, userId));
          return;
        } finally {
          this.d.suppressOutbound.delete(eventId);
        }
      } catch (e) {
        last = e;
        this.d.log.info({ server, roomId, err: (e as Error).message }, 'remote leave attempt failed');
      }
    }
    // The inviting server is gone: the invite is rejected locally so the user is not stuck with it.
    const pdu = { type: 'm.room.member', state_key: userId, sender: userId, room_id: roomId, content: { ...content, membership: 'leave' }, origin_server_ts: this.d.core.now(), depth: 0, prev_events: [], auth_events: [], hashes: { sha256: '' }, signatures: {} } as Pdu;
    const v = version ?? getRoomVersion('10')!;
    this.d.log.warn({ roomId, err: (last as Error).message }, 'could not reach a server to reject the invite; rejecting locally only');
    const eventId = `$local-reject-${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
    await this.d.core.writer.write((b) => this.d.remote.persistOutOfBand(b, roomId, v, { eventId, pdu }, null, userId));
  }

  /** Invites a user of another server: their server signs the event, then it joins our room graph. */
  async invite(sender: string, roomId: string, target: string, content: JsonObject): Promise<string> {
    const server = serverNameOf(target);
    if (!server) throw forbidden('Invalid user ID');
    const built = await buildEvent(this.d.core, roomId, { type: 'm.room.member', stateKey: target, sender, content }, this.d.serverName());
    const { version, state } = built;
    const key = this.d.signingKey();
    const signed = signEvent(built.template, version, this.d.serverName(), key.keyId, key.seed) as unknown as Pdu;
    const eventId = computeEventId(signed, version);
    const auth = await authMapFromState(this.d.core, signed, version, state);
    const pre = checkAuth({ ...signed, event_id: eventId }, auth, version, this.d.authOptions(version));
    if (!pre.ok) throw forbidden(pre.reason);
    let r: { event?: unknown };
    try {
      r = await this.d.client.request(server, 'PUT', `/_matrix/federation/v2/invite/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`, {
        body: { room_version: version.id, event: signed, invite_room_state: await strippedStateOf(this.d.core, state, true) },
      });
    } catch (e) {
      throw mapRemoteError(e);
    }
    const c = await checkReceivedPdu(r.event, version, this.d.keys).catch((e: Error) => {
      throw new MatrixError(502, 'M_UNKNOWN', `${server} returned a bad invite: ${e.message}`);
    });
    if (c.eventId !== eventId || c.redacted || !(await hasValidSignature(c.pdu, version, server, this.d.keys))) {
      throw new MatrixError(502, 'M_UNKNOWN', `${server} did not sign the invite`);
    }
    this.d.invitedViaApi.add(eventId);
    try {
      const res = await this.d.ingest.lock.run(roomId, () => this.d.ingest.processTimeline(this.d.serverName(), roomId, version, c));
      if (res.error || res.rejected) throw forbidden(res.error ?? res.rejected ?? 'invite rejected');
    } finally {
      this.d.invitedViaApi.delete(eventId);
    }
    return eventId;
  }

  /** /invite for an invite event already in our room (appended locally, e.g. by createRoom). */
  async deliverStoredInvite(roomId: string, eventId: string): Promise<void> {
    const ev = await this.d.core.eventCache.get(eventId);
    const version = await this.d.core.maybeVersionOf(roomId);
    const state = await this.d.core.currentState(roomId);
    if (!ev || !version || !state || !ev.stateKey) return;
    const server = serverNameOf(ev.stateKey);
    if (!server) return;
    await this.d.client.request(server, 'PUT', `/_matrix/federation/v2/invite/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`, {
      body: { room_version: version.id, event: ev.pdu, invite_room_state: await strippedStateOf(this.d.core, state, true) },
    });
  }
}
