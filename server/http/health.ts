/** GET /health — for systemd, the image boot test and monitoring. 503 when the database fails. */
import type Router from '@koa/router';
import type { Services } from '../services/container.ts';
import { HEARTH_VERSION } from '../version.ts';

export function healthRoutes(router: Router, s: Services): void {
  router.get('/health', async (ctx) => {
    let db = 'ok';
    try {
      await s.db.get('SELECT 1 AS one');
    } catch (e) {
      db = `error: ${(e as Error).message}`;
    }
    ctx.status = db === 'ok' ? 200 : 503;
    ctx.body = {
      ok: db === 'ok',
      version: HEARTH_VERSION,
      uptime: Math.floor((s.now() - s.startedAt) / 1000),
      db,
      server_name: s.config.server_name,
    };
  });
}
