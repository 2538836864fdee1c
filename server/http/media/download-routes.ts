/**
 * Downloads and thumbnails. Spec: authed-content-repo.yaml (GET /_matrix/client/v1/media/
 * download|thumbnail, v1.11, access token required) and the deprecated unauthenticated
 * /_matrix/media/v3 (and r0) endpoints, which serve only media from before the "freeze"
 * unless media_legacy_unauthenticated is on (see MediaService.get).
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { requireAuth } from '../middleware/auth.ts';
import { invalidParam } from '../errors.ts';
import { contentDisposition, dispositionType } from '../../services/media/serving-policy.ts';
import type { ThumbnailRequest } from '../../services/media/thumbnailer.ts';
import { sendFile } from './send-file.ts';

interface MxcParams {
  serverName: string;
  mediaId: string;
  fileName?: string;
}

function timeoutMs(ctx: Koa.Context): number | undefined {
  const v = ctx.query.timeout_ms;
  if (typeof v !== 'string') return undefined;
  if (!/^\d{1,10}$/.test(v)) throw invalidParam('timeout_ms must be a non-negative integer');
  return Number(v);
}

function positiveInt(ctx: Koa.Context, name: string): number {
  const v = ctx.query[name];
  if (typeof v !== 'string' || !/^\d{1,6}$/.test(v) || Number(v) === 0) {
    throw invalidParam(`${name} must be a positive integer`);
  }
  return Number(v);
}

/** Spec: width and height are required integers; method is crop or scale; animated is a boolean. */
export function thumbnailRequest(ctx: Koa.Context): ThumbnailRequest {
  const method = ctx.query.method ?? 'scale';
  if (method !== 'crop' && method !== 'scale') throw invalidParam('method must be crop or scale');
  const animated = ctx.query.animated;
  if (animated !== undefined && animated !== 'true' && animated !== 'false') throw invalidParam('animated must be true or false');
  return { width: positiveInt(ctx, 'width'), height: positiveInt(ctx, 'height'), method, animated: animated === 'true' };
}

export function downloadRoutes(router: Router, s: Services): void {
  const download = (legacy: boolean) => async (ctx: Koa.Context) => {
    const { serverName, mediaId, fileName } = ctx.params as unknown as MxcParams;
    const media = await s.media.get(serverName, mediaId, {
      timeoutMs: timeoutMs(ctx),
      legacy,
      allowRemote: ctx.query.allow_remote !== 'false',
    });
    // Spec: the filename in the path overrides the uploaded one; without either, no filename.
    const name = fileName ?? media.row.upload_name;
    await sendFile(ctx, {
      path: media.path,
      size: media.row.size,
      contentType: media.row.content_type,
      contentDisposition: contentDisposition(dispositionType(media.row.content_type, media.row.sniffed_type), name),
      etag: media.row.sha256,
    });
  };

  const thumbnail = (legacy: boolean) => async (ctx: Koa.Context) => {
    const { serverName, mediaId } = ctx.params as unknown as MxcParams;
    const req = thumbnailRequest(ctx);
    const media = await s.media.get(serverName, mediaId, {
      timeoutMs: timeoutMs(ctx),
      legacy,
      allowRemote: ctx.query.allow_remote !== 'false',
    });
    const thumb = await s.media.thumbnail(media, req);
    const ext = thumb.contentType.split('/')[1];
    await sendFile(ctx, {
      path: thumb.path,
      size: thumb.size,
      contentType: thumb.contentType,
      // Spec 1.12: thumbnails are served inline, with a file name.
      contentDisposition: contentDisposition('inline', `thumbnail.${ext === 'jpeg' ? 'jpg' : ext}`),
      etag: `${media.row.sha256}-${thumb.width}x${thumb.height}-${ext}`,
    });
  };

  const auth = requireAuth(s);
  router.get('/_matrix/client/v1/media/download/:serverName/:mediaId', auth, download(false));
  router.get('/_matrix/client/v1/media/download/:serverName/:mediaId/:fileName', auth, download(false));
  router.get('/_matrix/client/v1/media/thumbnail/:serverName/:mediaId', auth, thumbnail(false));

  for (const v of ['v3', 'r0']) {
    router.get(`/_matrix/media/${v}/download/:serverName/:mediaId`, download(true));
    router.get(`/_matrix/media/${v}/download/:serverName/:mediaId/:fileName`, download(true));
    router.get(`/_matrix/media/${v}/thumbnail/:serverName/:mediaId`, thumbnail(true));
  }
}
