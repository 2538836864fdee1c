/**
 * Room aliases and the published room directory (directory.yaml, list_public_rooms.yaml), the
 * user directory (users.yaml), search (search.yaml) and room upgrades (room_upgrades.yaml).
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { badJson, invalidParam, missingToken } from '../errors.ts';
import { authOf, maybeAuthOf, optionalAuth, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { v3, queryString } from './account-params.ts';
import { roomIdParam } from './rooms.ts';
import { intQuery } from './room-events.ts';
import { upgradeRoom } from '../../services/rooms/upgrade.ts';
import { federationExtras } from '../../services/federation/extras.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';

export function directoryRoutes(router: Router, s: Services): void {
  const auth = requireAuth(s);

  router.get(v3('/directory/room/:alias'), async (ctx) => {
    ctx.body = await s.directory.resolve(ctx.params.alias!);
  });

  router.put(v3('/directory/room/:alias'), auth, async (ctx) => {
    const body = await readJson(ctx);
    await s.directory.create(authOf(ctx).userId, ctx.params.alias!, body.room_id);
    ctx.body = {};
  });

  router.delete(v3('/directory/room/:alias'), auth, async (ctx) => {
    const a = authOf(ctx);
    await s.directory.delete(a.userId, a.isAdmin, ctx.params.alias!);
    ctx.body = {};
  });

  router.get(v3('/rooms/:roomId/aliases'), auth, async (ctx) => {
    ctx.body = { aliases: await s.directory.aliasesOf(authOf(ctx).userId, roomIdParam(ctx)) };
  });

  router.get(v3('/directory/list/room/:roomId'), async (ctx) => {
    ctx.body = { visibility: await s.directory.visibility(roomIdParam(ctx)) };
  });

  router.put(v3('/directory/list/room/:roomId'), auth, async (ctx) => {
    const body = await readJson(ctx);
    const a = authOf(ctx);
    await s.directory.setVisibility(a.userId, a.isAdmin, roomIdParam(ctx), body.visibility ?? 'public');
    ctx.body = {};
  });

  // GET is allowed without a token ("clients MAY call it without authentication").
  router.get(v3('/publicRooms'), optionalAuth(s), async (ctx) => {
    const server = queryString(ctx.query, 'server');
    if (server && server !== s.config.server_name) {
      // Another server's directory, over federation (only for signed-in users: we make the request).
      if (!maybeAuthOf(ctx)) throw missingToken();
      ctx.body = await federationExtras(s).publicRoomsOf(server, { limit: intQuery(ctx, 'limit', 100, 1, 500), since: queryString(ctx.query, 'since') });
      return;
    }
    ctx.body = await s.directory.publicRooms({ limit: intQuery(ctx, 'limit', 100, 1, 500), since: queryString(ctx.query, 'since') });
  });

  router.post(v3('/publicRooms'), auth, async (ctx) => {
    const body = await readJson(ctx);
    const server = queryString(ctx.query, 'server');
    if (body.limit !== undefined && (typeof body.limit !== 'number' || !Number.isInteger(body.limit))) throw badJson('limit must be an integer');
    if (body.since !== undefined && typeof body.since !== 'string') throw badJson('since must be a string');
    const filter = body.filter as Record<string, unknown> | undefined;
    const term = filter && typeof filter === 'object' ? filter.generic_search_term : undefined;
    if (term !== undefined && term !== null && typeof term !== 'string') throw badJson('generic_search_term must be a string');
    if (server && server !== s.config.server_name) {
      ctx.body = await federationExtras(s).publicRoomsOf(server, {
        limit: body.limit as number | undefined,
        since: body.since as string | undefined,
        filter: filter && typeof filter === 'object' ? (filter as JsonObject) : undefined,
        includeAllNetworks: typeof body.include_all_networks === 'boolean' ? body.include_all_networks : undefined,
        thirdPartyInstanceId: typeof body.third_party_instance_id === 'string' ? body.third_party_instance_id : undefined,
      });
      return;
    }
    ctx.body = await s.directory.publicRooms({ limit: body.limit as number | undefined, since: body.since as string | undefined, term: term ?? undefined });
  });

  router.post(v3('/user_directory/search'), auth, async (ctx) => {
    const body = await readJson(ctx);
    if (typeof body.search_term !== 'string') throw badJson('search_term is required');
    const limit = body.limit === undefined ? 10 : body.limit;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) throw badJson('limit must be a non-negative integer');
    ctx.body = await s.directory.searchUsers(authOf(ctx).userId, body.search_term, Math.min(limit, 100));
  });

  router.post(v3('/search'), auth, async (ctx) => {
    const body = await readJson(ctx);
    const a = authOf(ctx);
    ctx.body = await s.search.search({ userId: a.userId, deviceId: a.deviceId }, body, queryString(ctx.query, 'next_batch'));
  });

  router.post(v3('/rooms/:roomId/upgrade'), auth, async (ctx) => {
    const body = await readJson(ctx);
    const replacement = await upgradeRoom(s.roomCore, s.profiles, authOf(ctx).userId, roomIdParam(ctx), body);
    ctx.body = { replacement_room: replacement };
  });
}
