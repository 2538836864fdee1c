/**
 * POST /rooms/{roomId}/upgrade (modules/room_upgrades.md "Server behaviour"):
 * 1. the user must be allowed to send m.room.tombstone in the old room;
 * 2. a new room whose m.room.create has `predecessor`, the user's join and power levels;
 * 3. transferable state copied (join rules, history visibility, guest access, name, topic,
 *    avatar, encryption, server ACL, the original power levels);
 * 4. local aliases (and the canonical alias) moved to the new room;
 * 5. m.room.tombstone sent in the old room;
 * 6. the old room's power levels raised so ordinary members can no longer talk or invite.
 * The new room is built in one write job; the old room's tombstone and restriction in a second.
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { getRoomVersion } from '../../protocol/room-versions.ts';
import { getPowerLevel, getRequiredPowerLevel } from '../../protocol/auth/index.ts';
import { parseUserId } from '../../protocol/identifiers.ts';
import { MatrixError, badJson, forbidden, notFound } from '../../http/errors.ts';
import type { RoomCore } from './core.ts';
import type { Profiles } from '../profile.ts';

const TRANSFERABLE = [
  'm.room.join_rules',
  'm.room.history_visibility',
  'm.room.guest_access',
  'm.room.name',
  'm.room.topic',
  'm.room.avatar',
  'm.room.encryption',
  'm.room.server_acl',
  'm.room.related_groups',
];

export async function upgradeRoom(
  core: RoomCore,
  profiles: Profiles,
  userId: string,
  roomId: string,
  body: Record<string, unknown>,
): Promise<string> {
  if (typeof body.new_version !== 'string') throw badJson('new_version is required');
  const version = getRoomVersion(body.new_version);
  if (!version) throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${body.new_version} is not supported`);
  const extraCreators = body.additional_creators;
  if (extraCreators !== undefined && (!Array.isArray(extraCreators) || !extraCreators.every((u) => typeof u === 'string' && parseUserId(u)))) {
    throw badJson('additional_creators must be a list of user IDs');
  }
  const oldVersion = await core.versionOf(roomId);
  const state = await core.currentState(roomId);
  if (!state) throw notFound('Unknown room');
  if (state.membership(userId) !== 'join') throw forbidden('You are not joined to this room');
  const oldPl = await core.stateEvent(state, 'm.room.power_levels');
  const oldCreate = await core.stateEvent(state, 'm.room.create');
  const myPower = getPowerLevel(userId, oldPl?.pdu, oldCreate?.pdu, oldVersion);
  if (myPower < getRequiredPowerLevel('m.room.tombstone', true, oldPl?.pdu, oldVersion)) {
    throw forbidden('You may not upgrade this room');
  }

  const copied: Array<[string, JsonObject]> = [];
  for (const type of TRANSFERABLE) {
    const ev = await core.stateEvent(state, type);
    if (ev && !ev.redactedBy) copied.push([type, ev.pdu.content]);
  }
  const createContent: JsonObject = { room_version: version.id, predecessor: { room_id: roomId } };
  if (!version.implicitCreator) createContent.creator = userId;
  const oldType = oldCreate?.pdu.content.type;
  if (typeof oldType === 'string') createContent.type = oldType;
  if (oldCreate?.pdu.content['m.federate'] === false) createContent['m.federate'] = false;
  if (version.privilegedCreators && Array.isArray(extraCreators) && extraCreators.length) {
    createContent.additional_creators = (extraCreators as string[]).filter((u) => u !== userId);
  }

  // The original power levels, adjusted to the new version's rules: v12 creators are not listed.
  const pl: JsonObject = { ...(oldPl?.pdu.content ?? {}) };
  const users: JsonObject = { ...((pl.users as JsonObject | undefined) ?? {}) };
  const creators = version.privilegedCreators ? [userId, ...((createContent.additional_creators as string[] | undefined) ?? [])] : [];
  for (const c of creators) delete users[c];
  if (version.integerPowerLevels) {
    for (const [u, v] of Object.entries(users)) if (typeof v !== 'number' || !Number.isInteger(v)) users[u] = Number.parseInt(String(v), 10) || 0;
  }
  pl.users = users;
  // While copying state the upgrader needs full power (v1–v11); the original levels follow after.
  const bootPl: JsonObject = version.privilegedCreators ? pl : { ...pl, users: { ...users, [userId]: Math.max(100, Number(users[userId] ?? 0)) } };

  const aliases = await core.rooms.aliasesOf(roomId);
  const canonical = await core.stateEvent(state, 'm.room.canonical_alias');
  const member = await profiles.memberContent(userId);

  const newRoomId = await core.writer.write(async (b) => {
    const created = await core.writer.appendCreate(b, version, version.roomIdFromCreateEvent ? undefined : `!${cryptoId()}:${core.serverName()}`, {
      type: 'm.room.create',
      stateKey: '',
      content: createContent,
      sender: userId,
    });
    const id = created.event.roomId;
    const send = (type: string, content: JsonObject) => core.writer.append(b, id, { type, stateKey: '', content, sender: userId });
    await core.writer.append(b, id, { type: 'm.room.member', stateKey: userId, content: { ...member, membership: 'join' }, sender: userId });
    await send('m.room.power_levels', bootPl);
    for (const [type, content] of copied) await send(type, content);
    if (JSON.stringify(bootPl) !== JSON.stringify(pl)) await send('m.room.power_levels', pl);
    await core.rooms.moveAliases(b.tx, aliases, id);
    if (canonical && !canonical.redactedBy) await send('m.room.canonical_alias', canonical.pdu.content);
    return id;
  });

  // The old room: tombstone, then restrict who may speak or invite.
  await core.writer.write(async (b) => {
    await core.writer.append(b, roomId, {
      type: 'm.room.tombstone',
      stateKey: '',
      content: { body: 'This room has been replaced', replacement_room: newRoomId },
      sender: userId,
    });
    const oldContent: JsonObject = { ...(oldPl?.pdu.content ?? {}) };
    const usersDefault = typeof oldContent.users_default === 'number' ? oldContent.users_default : 0;
    const restricted = Math.max(50, usersDefault + 1);
    const events_default = typeof oldContent.events_default === 'number' ? oldContent.events_default : 0;
    const invite = typeof oldContent.invite === 'number' ? oldContent.invite : 0;
    if (oldPl && (events_default < restricted || invite < restricted)) {
      try {
        await core.writer.append(b, roomId, {
          type: 'm.room.power_levels',
          stateKey: '',
          content: { ...oldContent, events_default: Math.max(events_default, restricted), invite: Math.max(invite, restricted) },
          sender: userId,
        });
      } catch {
        // The user may send tombstones but not change power levels: the room stays as it was.
      }
    }
    if (canonical && !canonical.redactedBy) {
      try {
        await core.writer.append(b, roomId, { type: 'm.room.canonical_alias', stateKey: '', content: {}, sender: userId });
      } catch {
        // Not allowed to clear it: harmless, the aliases already point at the new room.
      }
    }
  });
  return newRoomId;
}

function cryptoId(): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(12))).toString('base64url').replace(/[-_]/g, 'x');
}
