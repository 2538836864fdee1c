/** Relations and threads (relations.yaml, threads_list.yaml), under /_matrix/client/v1. */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { invalidParam } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { v1, queryString } from './account-params.ts';
import { roomIdParam } from './rooms.ts';
import { intQuery } from './room-events.ts';
import { parsePaginationToken } from '../../services/sync/token.ts';

export function relationsRoutes(router: Router, s: Services): void {
  const auth = requireAuth(s);

  const children = async (ctx: Koa.Context) => {
    const dir = queryString(ctx.query, 'dir') ?? 'b';
    if (dir !== 'b' && dir !== 'f') throw invalidParam("dir must be 'b' or 'f'");
    const from = queryString(ctx.query, 'from');
    const to = queryString(ctx.query, 'to');
    const recurse = queryString(ctx.query, 'recurse');
    const eventId = ctx.params.eventId!;
    if (!eventId.startsWith('$')) throw invalidParam('Invalid event ID');
    const a = authOf(ctx);
    ctx.body = await s.relations.children({ userId: a.userId, deviceId: a.deviceId }, roomIdParam(ctx), eventId, {
      relType: ctx.params.relType,
      eventType: ctx.params.eventType,
      dir,
      from: from ? parsePaginationToken(from) : undefined,
      to: to ? parsePaginationToken(to) : undefined,
      limit: intQuery(ctx, 'limit', 50, 1, 100),
      recurse: recurse === 'true',
    });
  };
  router.get(v1('/rooms/:roomId/relations/:eventId'), auth, children);
  router.get(v1('/rooms/:roomId/relations/:eventId/:relType'), auth, children);
  router.get(v1('/rooms/:roomId/relations/:eventId/:relType/:eventType'), auth, children);

  router.get(v1('/rooms/:roomId/threads'), auth, async (ctx) => {
    const include = queryString(ctx.query, 'include') ?? 'all';
    if (include !== 'all' && include !== 'participated') throw invalidParam("include must be 'all' or 'participated'");
    const from = queryString(ctx.query, 'from');
    const a = authOf(ctx);
    ctx.body = await s.relations.threads({ userId: a.userId, deviceId: a.deviceId }, roomIdParam(ctx), {
      include,
      from: from ? parsePaginationToken(from) : undefined,
      limit: intQuery(ctx, 'limit', 20, 1, 100),
    });
  });
}

