/**
 * OpenID (client-server "OpenID", openid.yaml in both APIs): a local user asks for a short-lived
 * token (POST /_matrix/client/v3/user/{userId}/openid/request_token) and hands it to a
 * third-party service, which exchanges it for the user ID at
 * GET /_matrix/federation/v1/openid/userinfo. The token is good for nothing else. The exchange is
 * not X-Matrix authenticated: the caller is usually not a homeserver.
 */
import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { OpenIdStore } from '../../storage/openid-store.ts';
import { MatrixError, forbidden, missingParam } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { v3 } from '../client/account-params.ts';

/** Tokens live an hour (Synapse's choice too); clients ask again when needed. */
export const OPENID_TOKEN_SECONDS = 3600;

export function openIdRoutes(router: Router, s: Services): void {
  const store = new OpenIdStore(s.db);

  router.post(v3('/user/:userId/openid/request_token'), requireAuth(s), async (ctx) => {
    await readJson(ctx, 64 * 1024);
    const me = authOf(ctx).userId;
    if (ctx.params.userId !== me) throw forbidden('You may only request OpenID tokens for yourself');
    const token = randomBytes(32).toString('base64url');
    const now = s.now();
    await store.insert(token, me, now + OPENID_TOKEN_SECONDS * 1000, now);
    ctx.body = { access_token: token, token_type: 'Bearer', matrix_server_name: s.config.server_name, expires_in: OPENID_TOKEN_SECONDS };
  });

  router.get('/_matrix/federation/v1/openid/userinfo', async (ctx) => {
    const token = ctx.query.access_token;
    if (token === undefined) throw missingParam('access_token is required');
    const userId = typeof token === 'string' && token.length <= 256 ? await store.userOf(token, s.now()) : undefined;
    if (!userId) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Access token unknown or expired');
    ctx.body = { sub: userId };
  });
}
