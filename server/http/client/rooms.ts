/**
 * Room creation and membership (create_room.yaml, joining.yaml, inviting.yaml, leaving.yaml,
 * kicking.yaml, banning.yaml, knocking.yaml, list_joined_rooms.yaml).
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { badJson, invalidParam } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { v3 } from './account-params.ts';
import { createRoom, type CreateRoomRequest } from '../../services/rooms/create-room.ts';

/** A `!room:server` path parameter (404s for unknown rooms come from the services). */
export function roomIdParam(ctx: Koa.Context): string {
  const id = ctx.params.roomId!;
  if (!id.startsWith('!') || Buffer.byteLength(id) > 255) throw invalidParam('Invalid room ID');
  return id;
}

/** `server_name` / `via` query parameters (repeatable). */
function viaServers(ctx: Koa.Context): string[] {
  const out: string[] = [];
  for (const k of ['server_name', 'via']) {
    const v = ctx.query[k];
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) out.push(...v);
  }
  return out;
}

export function roomsRoutes(router: Router, s: Services): void {
  const auth = requireAuth(s);

  router.post(v3('/createRoom'), auth, async (ctx) => {
    const body = await readJson<CreateRoomRequest>(ctx);
    const result = await createRoom(s.roomCore, s.profiles, authOf(ctx).userId, body);
    ctx.body = { room_id: result.roomId, ...(result.alias && { room_alias: result.alias }) };
  });

  router.post(v3('/join/:roomIdOrAlias'), auth, async (ctx) => {
    const body = await readJson(ctx);
    const roomId = await s.membership.join(authOf(ctx).userId, ctx.params.roomIdOrAlias!, { servers: viaServers(ctx), reason: body.reason });
    ctx.body = { room_id: roomId };
  });

  router.post(v3('/rooms/:roomId/join'), auth, async (ctx) => {
    const body = await readJson(ctx);
    const roomId = await s.membership.join(authOf(ctx).userId, roomIdParam(ctx), { reason: body.reason });
    ctx.body = { room_id: roomId };
  });

  router.post(v3('/knock/:roomIdOrAlias'), auth, async (ctx) => {
    const body = await readJson(ctx);
    const roomId = await s.membership.knock(authOf(ctx).userId, ctx.params.roomIdOrAlias!, { servers: viaServers(ctx), reason: body.reason });
    ctx.body = { room_id: roomId };
  });

  router.post(v3('/rooms/:roomId/invite'), auth, async (ctx) => {
    const body = await readJson(ctx);
    if (body.id_server !== undefined || body.medium !== undefined) {
      throw badJson('Third-party invites are not supported by this server');
    }
    await s.membership.invite(authOf(ctx).userId, roomIdParam(ctx), body.user_id, body.reason);
    ctx.body = {};
  });

  router.post(v3('/rooms/:roomId/leave'), auth, async (ctx) => {
    const body = await readJson(ctx);
    await s.membership.leave(authOf(ctx).userId, roomIdParam(ctx), body.reason);
    ctx.body = {};
  });

  router.post(v3('/rooms/:roomId/forget'), auth, async (ctx) => {
    await readJson(ctx);
    await s.membership.forget(authOf(ctx).userId, roomIdParam(ctx));
    ctx.body = {};
  });

  router.post(v3('/rooms/:roomId/kick'), auth, async (ctx) => {
    const body = await readJson(ctx);
    await s.membership.kick(authOf(ctx).userId, roomIdParam(ctx), body.user_id, body.reason);
    ctx.body = {};
  });

  router.post(v3('/rooms/:roomId/ban'), auth, async (ctx) => {
    const body = await readJson(ctx);
    await s.membership.ban(authOf(ctx).userId, roomIdParam(ctx), body.user_id, body.reason);
    ctx.body = {};
  });

  router.post(v3('/rooms/:roomId/unban'), auth, async (ctx) => {
    const body = await readJson(ctx);
    await s.membership.unban(authOf(ctx).userId, roomIdParam(ctx), body.user_id, body.reason);
    ctx.body = {};
  });

  router.get(v3('/joined_rooms'), auth, async (ctx) => {
    const rows = await s.roomCore.roomsOfUser(authOf(ctx).userId);
    ctx.body = { joined_rooms: rows.filter((r) => r.membership === 'join').map((r) => r.room_id) };
  });
}
