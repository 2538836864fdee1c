/**
 * Login and token refresh. Spec: client-server-api "Login" (GET/POST /login with
 * m.login.password and m.login.token), "Refreshing access tokens" (POST /refresh) and
 * POST /v1/login/get_token (UIA, always re-prompted).
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import type { Session } from '../../services/devices.ts';
import { STAGE_PASSWORD, userFromIdentifier } from '../../services/uia.ts';
import { MatrixError, forbidden, invalidParam, missingParam, unknownToken } from '../errors.ts';
import { readJson } from '../middleware/json-body.ts';
import { rateLimitByIp } from '../middleware/rate-limit.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { MAX_PASSWORD_LENGTH, optBool, optString, reqString, sessionResponse, v1, v3 } from './account-params.ts';

export function loginRoutes(router: Router, s: Services): void {
  router.get(v3('/login'), (ctx) => {
    ctx.body = { flows: [{ type: 'm.login.password' }, { type: 'm.login.token', get_login_token: true }] };
  });

  router.post(v3('/login'), rateLimitByIp(s, 'login'), async (ctx) => {
    const body = await readJson(ctx);
    const type = body.type;
    if (type === undefined) throw missingParam('Missing login type');
    if (typeof type !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'type must be a string');
    const device = {
      deviceId: optString(body, 'device_id', 255) ?? null,
      displayName: optString(body, 'initial_device_display_name', 255) ?? null,
      refreshable: optBool(body, 'refresh_token') ?? false,
    };
    let session: Session;
    if (type === 'm.login.password') {
      const password = reqString(body, 'password', MAX_PASSWORD_LENGTH);
      if (body.medium !== undefined || body.address !== undefined) throw forbidden('Third-party identifiers are not supported');
      const serverName = s.config.server_name;
      if (!serverName) throw forbidden('This server is not set up yet');
      const userId = userFromIdentifier(body, serverName);
      if (userId === null) throw missingParam('Missing identifier');
      if (userId === 'invalid') {
        const idType = (body.identifier as { type?: unknown } | undefined)?.type;
        if (idType === 'm.id.thirdparty' || idType === 'm.id.phone') throw forbidden('Third-party identifiers are not supported');
        throw invalidParam('identifier is not a valid user identifier');
      }
      // A user of another server cannot log in here; answer like a wrong password.
      if (!userId.endsWith(`:${serverName}`)) throw forbidden('Invalid username or password');
      session = await s.auth.loginWithPassword(userId, password, device);
    } else if (type === 'm.login.token') {
      session = await s.auth.loginWithToken(reqString(body, 'token', 1024), device);
    } else {
      throw new MatrixError(400, 'M_UNKNOWN', `Unsupported login type ${type}`);
    }
    const out = sessionResponse(s, session);
    if (s.config.public_baseurl) out.well_known = { 'm.homeserver': { base_url: s.config.public_baseurl } };
    ctx.body = out;
  });

  router.post(v3('/refresh'), rateLimitByIp(s, 'login'), async (ctx) => {
    const body = await readJson(ctx);
    const result = await s.tokens.refresh(reqString(body, 'refresh_token', 1024));
    if (!result) throw unknownToken('Unknown or already used refresh token', false);
    ctx.body = { access_token: result.accessToken, refresh_token: result.refreshToken, expires_in_ms: result.expiresInMs };
  });

  router.post(v1('/login/get_token'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const body = await readJson(ctx);
    const session = await s.uia.check(body.auth, { flows: [{ stages: [STAGE_PASSWORD] }], action: 'get_token', userId: auth.userId });
    s.uia.finish(session);
    const t = await s.tokens.createLoginToken(auth.userId);
    ctx.body = { login_token: t.token, expires_in_ms: t.expiresInMs };
  });
}
