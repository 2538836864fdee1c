/**
 * Federation queries (server-server-api "Querying for information"): GET /query/profile and
 * GET /query/directory; any other /query/{type} is 404 M_UNRECOGNIZED.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { parseRoomAlias, parseUserId, serverNameOf } from '../../protocol/identifiers.ts';
import { MatrixError, invalidParam, missingParam, notFound, unrecognized } from '../errors.ts';
import { signed } from './auth.ts';

function queryString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function queryRoutes(router: Router, s: Services): void {
  router.get(
    '/_matrix/federation/v1/query/profile',
    signed(s, async (ctx) => {
      const userId = queryString(ctx.query.user_id);
      if (!userId) throw missingParam('user_id is required');
      if (!parseUserId(userId)) throw invalidParam('user_id is not a user ID');
      if (serverNameOf(userId) !== s.config.server_name) throw invalidParam('The user is not hosted on this server');
      const profile = await s.profiles.get(userId);
      if (!profile) throw notFound('Profile not found');
      const field = queryString(ctx.query.field);
      if (field !== undefined) {
        const value = (profile as Record<string, unknown>)[field];
        if (value === undefined) throw notFound('The profile has no such field');
        ctx.body = { [field]: value };
        return;
      }
      ctx.body = profile;
    }),
  );

  router.get(
    '/_matrix/federation/v1/query/directory',
    signed(s, async (ctx) => {
      const alias = queryString(ctx.query.room_alias);
      if (!alias) throw missingParam('room_alias is required');
      if (!parseRoomAlias(alias)) throw invalidParam('room_alias is not a room alias');
      const row = await s.roomCore.rooms.getAlias(alias);
      if (!row) throw new MatrixError(404, 'M_NOT_FOUND', 'Room alias not found');
      ctx.body = { room_id: row.room_id, servers: await s.federation.rooms.serversInRoom(row.room_id) };
    }),
  );

  router.get(
    '/_matrix/federation/v1/query/:queryType',
    signed(s, async () => {
      throw unrecognized('Unknown query type');
    }),
  );
}
