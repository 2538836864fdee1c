/**
 * Media administration for server admins (not part of the Matrix spec, hence /_hearth):
 *   DELETE /_hearth/admin/v1/media/{serverName}/{mediaId}   remove one item (local or cached remote)
 *   POST   /_hearth/admin/v1/media/purge_remote             {"older_than_days": N}
 * The same operations are on the command line: `hearth media delete|purge-remote`.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { requireAuth, authOf } from '../middleware/auth.ts';
import { forbidden, invalidParam, notFound } from '../errors.ts';
import { readJson } from '../middleware/json-body.ts';

export function mediaAdminRoutes(router: Router, s: Services): void {
  const auth = requireAuth(s);
  const admin = async (ctx: Koa.Context, next: Koa.Next) => {
    if (!authOf(ctx).isAdmin) throw forbidden('Only server admins can do this');
    await next();
  };

  router.delete('/_hearth/admin/v1/media/:serverName/:mediaId', auth, admin, async (ctx) => {
    const { serverName, mediaId } = ctx.params as { serverName: string; mediaId: string };
    if (!(await s.media.delete(serverName, mediaId))) throw notFound('Unknown media ID');
    ctx.body = { deleted: 1 };
  });

  router.post('/_hearth/admin/v1/media/purge_remote', auth, admin, async (ctx) => {
    const body = await readJson<{ older_than_days?: unknown }>(ctx);
    const days = body.older_than_days;
    if (typeof days !== 'number' || !Number.isFinite(days) || days < 0) throw invalidParam('older_than_days must be a non-negative number');
    ctx.body = { deleted: await s.media.purgeRemote(days * 86_400_000) };
  });
}
