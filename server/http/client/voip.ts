/**
 * GET /voip/turnServer. Spec: client-server-api "Voice over IP". Credentials are the TURN REST
 * API scheme coturn implements with `use-auth-secret`: username = "<expiry unix seconds>:<user
 * ID>", password = base64(HMAC-SHA1(shared secret, username)); the TURN server checks the HMAC
 * and the expiry without talking to Hearth.
 */
import { createHmac } from 'node:crypto';
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { v3 } from './account-params.ts';

export function turnCredentials(secret: string, userId: string, nowMs: number, ttlSeconds: number): { username: string; password: string } {
  const username = `${Math.floor(nowMs / 1000) + ttlSeconds}:${userId}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password };
}

export function voipRoutes(router: Router, s: Services): void {
  router.get(v3('/voip/turnServer'), requireAuth(s), (ctx) => {
    const { turn_uris: uris, turn_shared_secret: secret, turn_ttl: ttl } = s.config;
    if (uris.length === 0 || !secret) {
      // No TURN configured: an empty object, as Synapse answers; clients then use STUN/host candidates only.
      ctx.body = {};
      return;
    }
    ctx.body = { ...turnCredentials(secret, authOf(ctx).userId, s.now(), ttl), uris, ttl };
  });
}
