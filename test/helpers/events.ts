/**
 * Test builders for rooms and events: properly hashed and signed PDUs in any room version, with
 * auth_events chosen as server-server-api.md "Auth events selection" says and prev_events chained
 * to the room's forward extremities. Deterministic: fixed keys per server, a fixed clock.
 *
 *   const room = makeRoom('@alice:a.test', { version: '12' });
 *   const join = room.event('m.room.member', { membership: 'join' }, { sender: '@bob:b.test', state_key: '@bob:b.test' });
 *   room.state().get('m.room.member\u0000@bob:b.test') === join.eventId;
 */
import { createHash } from 'node:crypto';
import { computeEventId, computeRoomIdFromCreateEvent, eventReference, signEvent } from '../../server/protocol/hashing.ts';
import { parseUserId } from '../../server/protocol/identifiers.ts';
import { DEFAULT_ROOM_VERSION, getRoomVersion, type RoomVersion } from '../../server/protocol/room-versions.ts';
import { signingKeyFromSeed, type SigningKey } from '../../server/protocol/signing.ts';
import type { EventReference, Json, JsonObject, Pdu } from '../../server/protocol/pdu-types.ts';

/** The key ID every test server signs with. */
export const TEST_KEY_ID = 'ed25519:test';

/** The deterministic signing key of a test server: seed = sha256("hearth test key " + serverName). */
export function testSigningKey(serverName: string): SigningKey {
  const seed = createHash('sha256').update(`hearth test key ${serverName}`).digest();
  return signingKeyFromSeed(new Uint8Array(seed), TEST_KEY_ID);
}

/** A built event: the federation-format PDU and its event ID (v3+ PDUs do not contain it). */
export interface TestEvent {
  readonly eventId: string;
  readonly pdu: Pdu;
}

/** `type + "\u0000" + state_key`: the key of room.state(). */
export function stateKeyOf(type: string, stateKey: string): string {
  return `${type}\u0000${stateKey}`;
}

/** Options of makeRoom. */
export interface MakeRoomOptions {
  /** Room version ID, default DEFAULT_ROOM_VERSION. */
  version?: string;
  /** Domain of the room ID in v1–v11 (default: the creator's server). */
  serverName?: string;
  /** Extra m.room.create content, e.g. `{ additional_creators: [...] }` (v12) or `{ 'm.federate': false }`. */
  createContent?: JsonObject;
  /** Merged over the default power levels; `null` sends no m.room.power_levels event. */
  powerLevels?: JsonObject | null;
  /** Join rule to set (default 'public'), or full content (for `allow`), or `null` for none. */
  joinRule?: string | JsonObject | null;
  /** Only send m.room.create (for tests that build the rest themselves). */
  bare?: boolean;
  /** origin_server_ts of the first event; each later event is 1 ms after the previous. */
  startTs?: number;
}

/** Options of room.event() / room.build(). */
export interface EventOptions {
  /** Default: the room creator. Events are signed by the sender's server's test key. */
  sender?: string;
  /** Makes it a state event. */
  state_key?: string;
  /** prev_events as event IDs; default: the room's current forward extremities. */
  prev?: string[];
  /** auth_events as event IDs; default: selected from the state before the event. */
  auth?: string[];
  /** origin_server_ts; default: the room clock (advances 1 ms per event). */
  ts?: number;
  /** For m.room.redaction: top level before v11, content.redacts from v11. */
  redacts?: string;
  /** Extra top-level keys (e.g. `{ unsigned: {...} }` or malformed fields for negative tests). */
  extra?: JsonObject;
}

let roomCounter = 0;
let eventCounter = 0;

/** The default power levels content (v12: creators are not listed — they have infinite power). */
export function defaultPowerLevels(creator: string, version: RoomVersion): JsonObject {
  return {
    users: version.privilegedCreators ? {} : { [creator]: 100 },
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      'm.room.tombstone': 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
  };
}

/** A room under construction. All methods are synchronous and deterministic. */
export class TestRoom {
  readonly version: RoomVersion;
  readonly creator: string;
  /** Every added event, in the order added. */
  readonly events: TestEvent[] = [];
  private readonly byId = new Map<string, TestEvent>();
  private readonly stateAfter = new Map<string, Map<string, string>>();
  private readonly children = new Set<string>();
  private clock: number;
  private _roomId: string | undefined;

  constructor(creator: string, version: RoomVersion, roomId: string | undefined, startTs: number) {
    this.creator = creator;
    this.version = version;
    this._roomId = roomId;
    this.clock = startTs;
  }

  /** The room ID (for v12, derived from the create event once it exists). */
  get roomId(): string {
    if (this._roomId === undefined) throw new Error('no m.room.create event yet');
    return this._roomId;
  }

  /** Look up an added event by ID (throws if unknown). */
  get(eventId: string): TestEvent {
    const ev = this.byId.get(eventId);
    if (!ev) throw new Error(`unknown event ${eventId}`);
    return ev;
  }

  /** Events that no other added event cites in prev_events. */
  extremities(): string[] {
    return this.events.filter((e) => !this.children.has(e.eventId)).map((e) => e.eventId);
  }

  /**
   * State (`type\u0000state_key` → event ID) after the given events; default after the current
   * extremities. With several events, their states are merged naively (later wins) — no state
   * resolution; pass explicit `auth` to room.event() when a fork's auth events matter.
   */
  state(after: string[] = this.extremities()): Map<string, string> {
    const out = new Map<string, string>();
    for (const id of after) for (const [k, v] of this.stateAfter.get(id) ?? []) out.set(k, v);
    return out;
  }

  /** The state event for (type, state_key) after the current extremities, if any. */
  stateEvent(type: string, stateKey = ''): TestEvent | undefined {
    const id = this.state().get(stateKeyOf(type, stateKey));
    return id === undefined ? undefined : this.get(id);
  }

  /**
   * auth_events for an event per "Auth events selection": create (before v12), power levels,
   * the sender's membership, and for m.room.member the target's membership, join rules (join,
   * invite, knock), the third-party invite (by token) and the authorising user's membership
   * (restricted joins, v8+).
   */
  selectAuthEvents(type: string, content: JsonObject, sender: string, stateKey: string | undefined, state: Map<string, string>): string[] {
    if (type === 'm.room.create') return [];
    const keys: string[] = [];
    if (!this.version.roomIdFromCreateEvent) keys.push(stateKeyOf('m.room.create', ''));
    keys.push(stateKeyOf('m.room.power_levels', ''), stateKeyOf('m.room.member', sender));
    if (type === 'm.room.member' && stateKey !== undefined) {
      keys.push(stateKeyOf('m.room.member', stateKey));
      const membership = content.membership;
      if (membership === 'join' || membership === 'invite' || membership === 'knock') keys.push(stateKeyOf('m.room.join_rules', ''));
      const tpi = content.third_party_invite as Json | undefined;
      if (membership === 'invite' && isObject(tpi) && isObject(tpi.signed) && typeof tpi.signed.token === 'string') {
        keys.push(stateKeyOf('m.room.third_party_invite', tpi.signed.token));
      }
      const via = content.join_authorised_via_users_server;
      if (membership === 'join' && typeof via === 'string' && this.version.restrictedJoinRule) keys.push(stateKeyOf('m.room.member', via));
    }
    const ids: string[] = [];
    for (const k of keys) {
      const id = state.get(k);
      if (id !== undefined && !ids.includes(id)) ids.push(id);
    }
    return ids;
  }

  private reference(id: string): EventReference {
    return eventReference(this.get(id).pdu, this.version);
  }

  /** Build a signed event without adding it to the room (for events meant to be rejected). */
  build(type: string, content: JsonObject, opts: EventOptions = {}): TestEvent {
    const v = this.version;
    const sender = opts.sender ?? this.creator;
    const server = parseUserId(sender)?.serverName;
    if (!server) throw new Error(`bad sender ${sender}`);
    const prev = opts.prev ?? this.extremities();
    const stateBefore = this.state(prev);
    const auth = opts.auth ?? this.selectAuthEvents(type, content, sender, opts.state_key, stateBefore);
    const depth = prev.reduce((d, id) => Math.max(d, this.get(id).pdu.depth), 0) + 1;
    const ts = opts.ts ?? this.clock++;
    const isV12Create = v.roomIdFromCreateEvent && type === 'm.room.create';
    let body: JsonObject = { ...content };
    if (opts.redacts !== undefined && v.redactsInContent) body = { ...body, redacts: opts.redacts };
    const pdu: JsonObject = {
      ...(isV12Create ? {} : { room_id: this.roomId }),
      sender,
      type,
      ...(opts.state_key !== undefined && { state_key: opts.state_key }),
      content: body,
      origin_server_ts: ts,
      depth,
      prev_events: prev.map((id) => this.reference(id)),
      auth_events: auth.map((id) => this.reference(id)),
      ...(opts.redacts !== undefined && !v.redactsInContent && { redacts: opts.redacts }),
      ...(v.eventIdFormat === 'v1' && { event_id: `$e${++eventCounter}:${server}` }),
      hashes: {},
      signatures: {},
      ...opts.extra,
    };
    const key = testSigningKey(server);
    const signed = signEvent(pdu, v, server, key.keyId, key.seed) as unknown as Pdu;
    return { eventId: computeEventId(signed, v), pdu: signed };
  }

  /** Add a built event: records it, its state, and (for the create event in v12) the room ID. */
  add(ev: TestEvent): TestEvent {
    if (this.byId.has(ev.eventId)) throw new Error(`duplicate event ${ev.eventId}`);
    const pdu = ev.pdu;
    const prevIds = pdu.prev_events.map((r) => (typeof r === 'string' ? r : r[0]));
    const after = this.state(prevIds);
    if (pdu.state_key !== undefined) after.set(stateKeyOf(pdu.type, pdu.state_key), ev.eventId);
    if (pdu.type === 'm.room.create' && this._roomId === undefined) {
      this._roomId = computeRoomIdFromCreateEvent(pdu, this.version);
    }
    for (const id of prevIds) this.children.add(id);
    this.stateAfter.set(ev.eventId, after);
    this.byId.set(ev.eventId, ev);
    this.events.push(ev);
    return ev;
  }

  /** Build, sign and add an event; returns it. */
  event(type: string, content: JsonObject, opts: EventOptions = {}): TestEvent {
    return this.add(this.build(type, content, opts));
  }

  /** Shorthand for an m.room.member event: `sender` sets `target`'s membership. */
  member(sender: string, target: string, membership: string, content: JsonObject = {}, opts: EventOptions = {}): TestEvent {
    return this.event('m.room.member', { membership, ...content }, { ...opts, sender, state_key: target });
  }

  /** Shorthand: `user` joins. */
  join(user: string, content: JsonObject = {}): TestEvent {
    return this.member(user, user, 'join', content);
  }

  /** Shorthand: an m.room.message text event. */
  message(sender: string, body: string, opts: EventOptions = {}): TestEvent {
    return this.event('m.room.message', { msgtype: 'm.text', body }, { ...opts, sender });
  }
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Create a test room as `creator`: m.room.create, the creator's join, power levels and join rules
 * (unless `bare`), all signed by the creator's server's test key.
 */
export function makeRoom(creator: string, options: MakeRoomOptions = {}): TestRoom {
  const version = getRoomVersion(options.version ?? DEFAULT_ROOM_VERSION);
  if (!version) throw new Error(`unknown room version ${options.version}`);
  const creatorServer = parseUserId(creator)?.serverName;
  if (!creatorServer) throw new Error(`bad creator ${creator}`);
  const roomId = version.roomIdFromCreateEvent ? undefined : `!room${++roomCounter}:${options.serverName ?? creatorServer}`;
  const room = new TestRoom(creator, version, roomId, options.startTs ?? 1_700_000_000_000);
  room.event('m.room.create', {
    ...(version.implicitCreator ? {} : { creator }),
    room_version: version.id,
    ...options.createContent,
  }, { state_key: '' });
  if (options.bare) return room;
  room.join(creator);
  if (options.powerLevels !== null) {
    room.event('m.room.power_levels', { ...defaultPowerLevels(creator, version), ...options.powerLevels }, { state_key: '' });
  }
  const jr = options.joinRule === undefined ? 'public' : options.joinRule;
  if (jr !== null) room.event('m.room.join_rules', typeof jr === 'string' ? { join_rule: jr } : jr, { state_key: '' });
  return room;
}
