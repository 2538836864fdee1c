/**
 * GET /admin/whois/{userId}. Spec: client-server-api "Server administration": may be restricted
 * to the user themself or a server admin — Hearth does exactly that. Each device is one session
 * with one connection (its last-seen IP, time and user agent).
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { forbidden, notFound } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { v3 } from './account-params.ts';

export function adminWhoisRoutes(router: Router, s: Services): void {
  router.get(v3('/admin/whois/:userId'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const userId = ctx.params.userId!;
    if (userId !== auth.userId && !auth.isAdmin) throw forbidden('Only server admins can look up other users');
    if (!(await s.users.getByUserId(userId))) throw notFound('No such user on this server');
    const devices: Record<string, unknown> = {};
    for (const d of await s.devices.list(userId)) {
      const connection: Record<string, unknown> = {};
      if (d.last_seen_ip !== null) connection.ip = d.last_seen_ip;
      if (d.last_seen_ts !== null) connection.last_seen = d.last_seen_ts;
      if (d.last_seen_user_agent !== null) connection.user_agent = d.last_seen_user_agent;
      devices[d.device_id] = { sessions: [{ connections: [connection] }] };
    }
    ctx.body = { user_id: userId, devices };
  });
}
