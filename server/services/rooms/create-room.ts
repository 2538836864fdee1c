/**
 * POST /createRoom (client-server-api "Creation", create_room.yaml). Every event of the new room
 * is written in ONE write job, in the order the spec prescribes: create, creator's join, power
 * levels, canonical alias, preset events, initial_state, name/topic, invites.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject, Json } from '../../protocol/pdu-types.ts';
import { DEFAULT_ROOM_VERSION, getRoomVersion, type RoomVersion } from '../../protocol/room-versions.ts';
import { parseUserId } from '../../protocol/identifiers.ts';
import { MatrixError, badJson, invalidParam } from '../../http/errors.ts';
import type { RoomCore } from './core.ts';
import type { Profiles } from '../profile.ts';

export interface CreateRoomRequest {
  visibility?: unknown;
  room_alias_name?: unknown;
  name?: unknown;
  topic?: unknown;
  invite?: unknown;
  invite_3pid?: unknown;
  room_version?: unknown;
  creation_content?: unknown;
  initial_state?: unknown;
  preset?: unknown;
  is_direct?: unknown;
  power_level_content_override?: unknown;
}

const PRESETS: Record<string, { join_rule: string; history: string; guest: string; trusted: boolean }> = {
  private_chat: { join_rule: 'invite', history: 'shared', guest: 'can_join', trusted: false },
  trusted_private_chat: { join_rule: 'invite', history: 'shared', guest: 'can_join', trusted: true },
  public_chat: { join_rule: 'public', history: 'shared', guest: 'forbidden', trusted: false },
};

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Default power levels (client-server-api "Creation" step 3; m.room.power_levels defaults). */
export function defaultPowerLevels(creator: string, v: RoomVersion, trustedInvitees: string[]): JsonObject {
  const users: JsonObject = {};
  if (!v.privilegedCreators) {
    users[creator] = 100;
    for (const u of trustedInvitees) users[u] = 100;
  }
  return {
    users,
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      // v12: "the power level for sending m.room.tombstone events MUST explicitly be higher than state_default".
      'm.room.tombstone': v.privilegedCreators ? 150 : 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    historical: 100,
    notifications: { room: 50 },
  };
}

export interface CreateRoomResult {
  roomId: string;
  alias?: string;
}

export async function createRoom(core: RoomCore, profiles: Profiles, creator: string, req: CreateRoomRequest): Promise<CreateRoomResult> {
  const server = core.serverName();
  // --- validate the request before writing anything -------------------------------------------
  const versionId = req.room_version === undefined ? DEFAULT_ROOM_VERSION : req.room_version;
  if (typeof versionId !== 'string') throw badJson('room_version must be a string');
  const version = getRoomVersion(versionId);
  if (!version) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${versionId} is not supported`);
  if (req.visibility !== undefined && req.visibility !== 'public' && req.visibility !== 'private') {
    throw badJson("visibility must be 'public' or 'private'");
  }
  const presetName = req.preset === undefined ? (req.visibility === 'public' ? 'public_chat' : 'private_chat') : req.preset;
  if (typeof presetName !== 'string' || !PRESETS[presetName]) throw badJson('Unknown preset');
  const preset = PRESETS[presetName]!;
  const invites = req.invite === undefined ? [] : req.invite;
  if (!Array.isArray(invites) || !invites.every((u) => typeof u === 'string' && parseUserId(u))) {
    throw badJson('invite must be a list of user IDs');
  }
  if (req.invite_3pid !== undefined && (!Array.isArray(req.invite_3pid) || req.invite_3pid.length > 0)) {
    // Third-party (identity server) invites need an identity server, which an appliance has not.
    throw new MatrixError(400, 'M_UNRECOGNIZED', 'Third-party invites are not supported by this server');
  }
  for (const k of ['name', 'topic', 'room_alias_name'] as const) {
    if (req[k] !== undefined && typeof req[k] !== 'string') throw badJson(`${k} must be a string`);
  }
  if (req.creation_content !== undefined && !isObject(req.creation_content)) throw badJson('creation_content must be an object');
  if (req.power_level_content_override !== undefined && !isObject(req.power_level_content_override)) {
    throw badJson('power_level_content_override must be an object');
  }
  const initialState = req.initial_state === undefined ? [] : req.initial_state;
  if (!Array.isArray(initialState)) throw badJson('initial_state must be a list');
  for (const e of initialState) {
    if (!isObject(e) || typeof e.type !== 'string' || !isObject(e.content) || (e.state_key !== undefined && typeof e.state_key !== 'string')) {
      throw badJson('initial_state entries need type, content and an optional string state_key');
    }
  }
  if (req.is_direct !== undefined && typeof req.is_direct !== 'boolean') throw badJson('is_direct must be a boolean');

  let alias: string | undefined;
  if (typeof req.room_alias_name === 'string') {
    const local = req.room_alias_name;
    if (!local || /[:\s#]/.test(local)) throw invalidParam('room_alias_name must be a local part without ":" or whitespace');
    alias = `#${local}:${server}`;
    if (Buffer.byteLength(alias) > 255) throw invalidParam('room alias too long');
    if (await core.rooms.getAlias(alias)) throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
  }

  const creatorProfile = await profiles.memberContent(creator);
  const inviteeProfiles = new Map<string, JsonObject>();
  for (const u of invites as string[]) inviteeProfiles.set(u, await profiles.memberContent(u));

  // --- the events ----------------------------------------------------------------------------
  const createContent: JsonObject = { ...((req.creation_content as JsonObject | undefined) ?? {}) };
  delete createContent.creator;
  createContent.room_version = version.id;
  if (!version.implicitCreator) createContent.creator = creator;
  const trusted = preset.trusted ? (invites as string[]).filter((u) => u !== creator) : [];
  if (version.privilegedCreators) {
    const extra = createContent.additional_creators;
    if (extra !== undefined && (!Array.isArray(extra) || !extra.every((u) => typeof u === 'string' && parseUserId(u)))) {
      throw badJson('additional_creators must be a list of user IDs');
    }
    const all = new Set<string>([...((extra as string[] | undefined) ?? []), ...trusted]);
    all.delete(creator);
    if (all.size) createContent.additional_creators = [...all];
  } else {
    delete createContent.additional_creators;
  }

  let power = defaultPowerLevels(creator, version, trusted);
  if (req.power_level_content_override) power = { ...power, ...(req.power_level_content_override as JsonObject) };

  const roomId = version.roomIdFromCreateEvent ? undefined : `!${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}:${server}`;

  return core.writer.write(async (b) => {
    const created = await core.writer.appendCreate(b, version, roomId, {
      type: 'm.room.create',
      stateKey: '',
      content: createContent,
      sender: creator,
    });
    const id = created.event.roomId;
    const send = async (type: string, stateKey: string, content: JsonObject) => {
      try {
        await core.writer.append(b, id, { type, stateKey, content, sender: creator });
      } catch (e) {
        if (e instanceof MatrixError && e.errcode === 'M_FORBIDDEN') {
          throw new MatrixError(400, 'M_INVALID_ROOM_STATE', `Cannot set ${type} in the new room: ${e.message}`);
        }
        throw e;
      }
    };
    await send('m.room.member', creator, { ...creatorProfile, membership: 'join' });
    await send('m.room.power_levels', '', power);
    if (alias) {
      if (!(await core.rooms.insertAlias(b.tx, alias, id, creator))) throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
      await send('m.room.canonical_alias', '', { alias });
    }
    const initial = new Map<string, [string, string, JsonObject]>();
    const put = (type: string, stateKey: string, content: JsonObject) => {
      const k = `${type}\u0000${stateKey}`;
      initial.delete(k);
      initial.set(k, [type, stateKey, content]);
    };
    put('m.room.join_rules', '', { join_rule: preset.join_rule });
    put('m.room.history_visibility', '', { history_visibility: preset.history });
    put('m.room.guest_access', '', { guest_access: preset.guest });
    for (const e of initialState as JsonObject[]) {
      // The create event and power levels are not overridable through initial_state here:
      // power levels go through power_level_content_override.
      if (e.type === 'm.room.create' || e.type === 'm.room.member') continue;
      put(e.type as string, (e.state_key as string | undefined) ?? '', e.content as JsonObject);
    }
    if (typeof req.name === 'string') put('m.room.name', '', { name: req.name });
    if (typeof req.topic === 'string') {
      put('m.room.topic', '', { topic: req.topic, 'm.topic': [{ mimetype: 'text/plain', body: req.topic }] as Json });
    }
    for (const [type, stateKey, content] of initial.values()) await send(type, stateKey, content);
    for (const u of invites as string[]) {
      if (u === creator) continue;
      const content: JsonObject = { ...inviteeProfiles.get(u)!, membership: 'invite' };
      if (req.is_direct === true) content.is_direct = true;
      await send('m.room.member', u, content);
    }
    if (req.visibility === 'public') b.onFlush((tx) => core.rooms.setPublicTx(tx, id, true));
    return { roomId: id, ...(alias && { alias }) };
  });
}
