/**
 * Account endpoints. Spec: client-server-api "Account management" and "Current account
 * information" — GET /account/whoami, POST /account/password, POST /account/deactivate, and the
 * third-party identifier endpoints (Hearth binds none: m.3pid_changes is false).
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { STAGE_PASSWORD } from '../../services/uia.ts';
import { MatrixError } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { MAX_PASSWORD_LENGTH, optBool, optString, reqString, v3 } from './account-params.ts';

const PASSWORD_FLOWS = [{ stages: [STAGE_PASSWORD] }];

export function accountRoutes(router: Router, s: Services): void {
  router.get(v3('/account/whoami'), requireAuth(s), (ctx) => {
    const auth = authOf(ctx);
    ctx.body = { user_id: auth.userId, device_id: auth.deviceId ?? undefined, is_guest: false };
  });

  // Spec: the access token used is not revoked; other devices are logged out unless
  // logout_devices is false.
  router.post(v3('/account/password'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const body = await readJson(ctx);
    const newPassword = reqString(body, 'new_password', MAX_PASSWORD_LENGTH);
    if (newPassword.length === 0) throw new MatrixError(400, 'M_WEAK_PASSWORD', 'The new password must not be empty');
    const logoutDevices = optBool(body, 'logout_devices') ?? true;
    const session = await s.uia.check(body.auth, { flows: PASSWORD_FLOWS, action: 'account/password', userId: auth.userId });
    await s.auth.changePassword(auth.userId, newPassword, logoutDevices, auth.deviceId);
    s.uia.finish(session);
    ctx.body = {};
  });

  router.post(v3('/account/deactivate'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const body = await readJson(ctx);
    optString(body, 'id_server');
    const erase = optBool(body, 'erase') ?? false;
    const session = await s.uia.check(body.auth, { flows: PASSWORD_FLOWS, action: 'account/deactivate', userId: auth.userId });
    await s.auth.deactivate(auth.userId, erase);
    s.uia.finish(session);
    // Hearth never binds identifiers on an identity server.
    ctx.body = { id_server_unbind_result: 'no-support' };
  });

  router.get(v3('/account/3pid'), requireAuth(s), (ctx) => {
    ctx.body = { threepids: [] };
  });
  const denied = async () => {
    throw new MatrixError(403, 'M_THREEPID_DENIED', 'This server does not bind e-mail addresses or phone numbers');
  };
  router.post(v3('/account/password/email/requestToken'), denied);
  router.post(v3('/account/password/msisdn/requestToken'), denied);
  router.post(v3('/account/3pid/email/requestToken'), denied);
  router.post(v3('/account/3pid/msisdn/requestToken'), denied);
  router.post(v3('/account/3pid/add'), requireAuth(s), denied);
  router.post(v3('/account/3pid/bind'), requireAuth(s), denied);
  router.post([...v3('/account/3pid/delete'), ...v3('/account/3pid/unbind')], requireAuth(s), async (ctx) => {
    await readJson(ctx);
    // Nothing is ever bound, so there is nothing to remove.
    ctx.body = { id_server_unbind_result: 'no-support' };
  });
}
