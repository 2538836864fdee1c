/**
 * Our media for other servers (server-server-api "Content Repository", content_repository.yaml,
 * v1.11): GET /_matrix/federation/v1/media/download/{mediaId} and /media/thumbnail/{mediaId},
 * X-Matrix authenticated, answered as multipart/mixed: `{}` then the bytes (streamed from disk).
 * Only media uploaded here is served — remote media we cached is not proxied on.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { contentDisposition, dispositionType, hardeningHeaders } from '../../services/media/serving-policy.ts';
import { mediaMultipart } from '../../services/federation/multipart.ts';
import { invalidParam, notFound } from '../errors.ts';
import { thumbnailRequest } from '../media/download-routes.ts';
import { signed } from './auth.ts';

function timeoutMs(ctx: Koa.Context): number | undefined {
  const v = ctx.query.timeout_ms;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{1,10}$/.test(v)) throw invalidParam('timeout_ms must be a non-negative integer');
  return Number(v);
}

function localMedia(s: Services, ctx: Koa.Context) {
  const serverName = s.config.server_name;
  if (!serverName) throw notFound('This server has no media yet');
  return s.media.get(serverName, ctx.params.mediaId!, { timeoutMs: timeoutMs(ctx), allowRemote: false });
}

function answer(ctx: Koa.Context, path: string, size: number, headers: Record<string, string>): void {
  const body = mediaMultipart(path, size, headers);
  ctx.set(hardeningHeaders());
  ctx.status = 200;
  // Koa drops Content-Length and picks a type when a stream body is set: set both after.
  ctx.body = body.stream;
  ctx.set('Content-Type', body.contentType);
  ctx.length = body.length;
}

export function federationMediaRoutes(router: Router, s: Services): void {
  router.get(
    '/_matrix/federation/v1/media/download/:mediaId',
    signed(s, async (ctx) => {
      const media = await localMedia(s, ctx);
      answer(ctx, media.path, media.row.size, {
        'Content-Type': media.row.content_type,
        'Content-Disposition': contentDisposition(dispositionType(media.row.content_type, media.row.sniffed_type), media.row.upload_name),
      });
    }),
  );

  router.get(
    '/_matrix/federation/v1/media/thumbnail/:mediaId',
    signed(s, async (ctx) => {
      const req = thumbnailRequest(ctx);
      const media = await localMedia(s, ctx);
      const thumb = await s.media.thumbnail(media, req);
      const ext = thumb.contentType.split('/')[1];
      answer(ctx, thumb.path, thumb.size, {
        'Content-Type': thumb.contentType,
        'Content-Disposition': contentDisposition('inline', `thumbnail.${ext === 'jpeg' ? 'jpg' : ext}`),
      });
    }),
  );
}
