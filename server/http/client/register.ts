/**
 * Registration. Spec: client-server-api "Account registration" — POST /register (UIA),
 * GET /register/available, GET /v1/register/m.login.registration_token/validity, and the
 * third-party requestToken endpoints (Hearth binds no e-mail or phone: M_THREEPID_DENIED).
 *
 * Flows: with `open_registration` m.login.dummy (and a token still works); otherwise only
 * m.login.registration_token — closed unless the admin handed out a token.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { MatrixError, invalidParam, missingParam } from '../errors.ts';
import { readJson } from '../middleware/json-body.ts';
import { rateLimitByIp } from '../middleware/rate-limit.ts';
import { STAGE_DUMMY, STAGE_REGISTRATION_TOKEN, type UiaFlow } from '../../services/uia.ts';
import { MAX_PASSWORD_LENGTH, optBool, optString, queryString, sessionResponse, v1, v3 } from './account-params.ts';

export function registrationFlows(s: Services): UiaFlow[] {
  return s.config.open_registration
    ? [{ stages: [STAGE_DUMMY] }, { stages: [STAGE_REGISTRATION_TOKEN] }]
    : [{ stages: [STAGE_REGISTRATION_TOKEN] }];
}

export function registerRoutes(router: Router, s: Services): void {
  router.post(v3('/register'), rateLimitByIp(s, 'register'), async (ctx) => {
    const kind = queryString(ctx.query, 'kind') ?? 'user';
    if (kind === 'guest') throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest accounts are not supported on this server');
    if (kind !== 'user') throw invalidParam('kind must be "user" or "guest"');
    const body = await readJson(ctx);
    const username = optString(body, 'username', 255);
    const password = optString(body, 'password', MAX_PASSWORD_LENGTH);
    const deviceId = optString(body, 'device_id', 255);
    const displayName = optString(body, 'initial_device_display_name', 255);
    const inhibitLogin = optBool(body, 'inhibit_login') ?? false;
    const refreshable = optBool(body, 'refresh_token') ?? false;
    // Fail fast on a bad or taken username, before the client goes through the auth stages.
    if (username !== undefined) await s.registration.checkUsername(username);

    const session = await s.uia.check(body.auth, {
      flows: registrationFlows(s),
      action: 'register',
      userId: null,
      // Clients may send username/password only on their first request of the flow.
      remember: { username, password, deviceId, displayName, inhibitLogin: body.inhibit_login !== undefined ? inhibitLogin : undefined },
    });
    const d = session.data as { username?: string; password?: string; deviceId?: string; displayName?: string; inhibitLogin?: boolean };
    if (d.password === undefined) throw missingParam('Missing password');
    const result = await s.registration.register({
      localpart: d.username ?? null,
      password: d.password,
      deviceId: d.deviceId ?? null,
      displayName: d.displayName ?? null,
      inhibitLogin: d.inhibitLogin ?? false,
      refreshable,
      registrationToken: session.registrationToken,
    });
    s.uia.finish(session);
    ctx.body = result.session
      ? sessionResponse(s, result.session)
      : { user_id: result.userId, home_server: s.config.server_name };
  });

  router.get(v3('/register/available'), rateLimitByIp(s, 'register'), async (ctx) => {
    const username = queryString(ctx.query, 'username');
    if (!username) throw missingParam('Missing username');
    await s.registration.checkUsername(username);
    ctx.body = { available: true };
  });

  router.get(v1('/register/m.login.registration_token/validity'), rateLimitByIp(s, 'token_validity'), async (ctx) => {
    const token = queryString(ctx.query, 'token');
    if (!token) throw missingParam('Missing token');
    ctx.body = { valid: await s.registration.isTokenValid(token) };
  });

  const noThreepids = async () => {
    throw new MatrixError(403, 'M_THREEPID_DENIED', 'This server does not bind e-mail addresses or phone numbers');
  };
  router.post(v3('/register/email/requestToken'), noThreepids);
  router.post(v3('/register/msisdn/requestToken'), noThreepids);
}
