/** GET /_matrix/federation/v1/version (server-server-api "Server implementation"): not authenticated. */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { HEARTH_VERSION } from '../../version.ts';

export function versionRoutes(router: Router, _s: Services): void {
  router.get('/_matrix/federation/v1/version', (ctx) => {
    ctx.body = { server: { name: 'Hearth', version: HEARTH_VERSION } };
  });
}
