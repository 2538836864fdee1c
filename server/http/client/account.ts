/**
 * Account endpoints. Spec: client-server-api "Account management" and "Current account
 * information" — GET /account/whoami, POST /account/password, POST /account/deactivate.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { v3 } from './account-params.ts';

export function accountRoutes(router: Router, s: Services): void {
  router.get(v3('/account/whoami'), requireAuth(s), (ctx) => {
    const auth = authOf(ctx);
    ctx.body = { user_id: auth.userId, device_id: auth.deviceId ?? undefined, is_guest: false };
  });
}
