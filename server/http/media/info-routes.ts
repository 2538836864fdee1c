/**
 * GET media/config and media/preview_url. Spec: authed-content-repo.yaml (v1.11, under
 * /_matrix/client/v1/media) and the deprecated /_matrix/media/v3 copies, which also need an
 * access token.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { requireAuth } from '../middleware/auth.ts';
import { MatrixError, missingParam } from '../errors.ts';

export function infoRoutes(router: Router, s: Services): void {
  const config = (ctx: Koa.Context) => {
    ctx.body = { 'm.upload.size': s.config.max_upload_size };
  };

  const preview = async (ctx: Koa.Context) => {
    if (!s.config.url_preview_enabled) throw new MatrixError(403, 'M_FORBIDDEN', 'URL previews are disabled on this server');
    const url = ctx.query.url;
    if (typeof url !== 'string' || url === '') throw missingParam('Missing url parameter');
    // `ts` (a preferred point in time) is accepted and ignored: the spec lets us return a newer preview.
    ctx.body = await s.media.previews.preview(url);
  };

  const auth = requireAuth(s);
  for (const base of ['/_matrix/client/v1/media', '/_matrix/media/v3', '/_matrix/media/r0']) {
    router.get(`${base}/config`, auth, config);
    router.get(`${base}/preview_url`, auth, preview);
  }
}
