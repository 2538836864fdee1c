/**
 * Logout. Spec: POST /logout invalidates the access token and deletes its device (and the
 * device's keys, through s.deviceHooks); POST /logout/all does so for every device of the user.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { v3 } from './account-params.ts';

export function logoutRoutes(router: Router, s: Services): void {
  router.post(v3('/logout'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    if (auth.deviceId) await s.auth.logout(auth.userId, auth.deviceId);
    ctx.body = {};
  });

  router.post(v3('/logout/all'), requireAuth(s), async (ctx) => {
    await s.auth.logoutAll(authOf(ctx).userId);
    ctx.body = {};
  });
}
