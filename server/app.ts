/**
 * createApp(services) → the Koa app serving the client-server API, federation, media,
 * .well-known and the wizard. Tests call `app.callback()` with no listening socket.
 */
import Koa from 'koa';
import Router from '@koa/router';
import type { Services } from './services/container.ts';
import { matrixErrors } from './http/middleware/errors.ts';
import { requestLog } from './http/middleware/request-log.ts';
import { matrixCors } from './http/middleware/cors.ts';
import { registerRoutes } from './http/routes.ts';
import { unrecognized } from './http/errors.ts';
import { httpsRedirect } from './http/appliance/https-redirect.ts';

export function createApp(s: Services): Koa {
  const app = new Koa({ proxy: false });
  // Koa logs unhandled errors to stderr by default; ours are logged by matrixErrors.
  app.silent = true;
  app.on('error', (err) => s.log.debug({ err }, 'koa error'));

  const router = new Router();
  registerRoutes(router, s);

  app.use(requestLog(s.log));
  app.use(matrixErrors(s.log));
  app.use(matrixCors());
  app.use(httpsRedirect(s));
  app.use(router.routes());
  app.use(async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || ctx.body !== undefined) return;
    // Spec: unknown endpoints → 404 M_UNRECOGNIZED; a known path with a wrong method → 405.
    if (ctx.path.startsWith('/_matrix/')) {
      const known = router.match(ctx.path, ctx.method).path.length > 0;
      const err = known ? unrecognized('Method not allowed', 405) : unrecognized();
      ctx.status = err.status;
      ctx.body = err.toJSON();
    }
  });
  return app;
}
