/**
 * Uploads. Spec: content-repo.yaml — POST /_matrix/media/v3/upload, POST /_matrix/media/v1/create
 * and PUT /_matrix/media/v3/upload/{serverName}/{mediaId} (async upload, v1.7). These stay under
 * /_matrix/media (v1.11 moved only the download side to /_matrix/client/v1/media). The body is
 * streamed to disk: there is no body parser in front of these routes.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { requireAuth, authOf } from '../middleware/auth.ts';
import type { UploadMeta } from '../../services/media/media-service.ts';

function uploadMeta(ctx: Koa.Context): UploadMeta {
  const length = ctx.get('content-length');
  const filename = ctx.query.filename;
  return {
    contentType: ctx.get('content-type') || undefined,
    filename: typeof filename === 'string' ? filename : undefined,
    contentLength: /^\d+$/.test(length) ? Number(length) : undefined,
  };
}

export function uploadRoutes(router: Router, s: Services): void {
  const auth = requireAuth(s);

  const upload = async (ctx: Koa.Context) => {
    const { userId } = authOf(ctx);
    const contentUri = await s.media.upload(userId, ctx.req, uploadMeta(ctx));
    ctx.body = { content_uri: contentUri };
  };
  router.post('/_matrix/media/v3/upload', auth, upload);
  // r0 is what older clients (and some bridges) still call.
  router.post('/_matrix/media/r0/upload', auth, upload);

  router.post('/_matrix/media/v1/create', auth, async (ctx) => {
    ctx.body = await s.media.create(authOf(ctx).userId);
  });

  router.put('/_matrix/media/v3/upload/:serverName/:mediaId', auth, async (ctx) => {
    const { serverName, mediaId } = ctx.params as { serverName: string; mediaId: string };
    await s.media.uploadTo(authOf(ctx).userId, serverName, mediaId, ctx.req, uploadMeta(ctx));
    ctx.body = {};
  });
}
