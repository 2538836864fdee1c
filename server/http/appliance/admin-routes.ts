/**
 * The dashboard's JSON API, /_hearth/api/admin/*, for a signed-in server admin (Matrix access
 * token). System info comes from the cached snapshot (never measured on the request path).
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { readJson } from '../middleware/json-body.ts';
import { MatrixError, notFound } from '../errors.ts';
import { requireAdmin } from './guards.ts';
import { hashPassword } from '../../services/passwords.ts';
import { isValidLocalpart } from '../../services/localpart.ts';
import { UserExistsError } from '../../storage/users-store.ts';
import { REGISTRATION_TOKEN_RE } from '../../services/registration.ts';
import { MIN_PASSWORD_LENGTH, delegationCheck, selfTest } from '../../appliance/setup/wizard.ts';
import { splitHost } from '../../appliance/checks/delegation.ts';
import { HEARTH_VERSION } from '../../version.ts';

const bad = (msg: string) => new MatrixError(400, 'M_INVALID_PARAM', msg);

export function adminRoutes(router: Router, s: Services): void {
  const p = '/_hearth/api/admin';
  const admin = requireAdmin(s);
  const noStore: Koa.Middleware = async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  };

  router.get(`${p}/overview`, noStore, ...admin, async (ctx) => {
    const [history, cert, setup, fed] = await Promise.all([
      s.appliance.system.history(),
      s.appliance.certs.overview(),
      s.appliance.setup(),
      s.appliance.federationHealth?.health().catch(() => null) ?? Promise.resolve(null),
    ]);
    ctx.body = {
      server: { name: s.config.server_name, publicHost: s.appliance.publicHost(), version: HEARTH_VERSION, adminUserId: setup.admin_user_id },
      system: s.appliance.system.current(),
      history,
      certificate: { ...cert, served: s.appliance.tls?.served() ?? null, operatorCert: !!s.config.tls_cert },
      federation: s.appliance.federationHealth ? { active: true, ...(fed ?? { error: 'federation health is unavailable right now' }) } : { active: false },
    };
  });

  router.get(`${p}/users`, noStore, ...admin, async (ctx) => {
    ctx.body = { users: await s.users.list() };
  });

  router.post(`${p}/users`, noStore, ...admin, async (ctx) => {
    const b = await readJson(ctx);
    const localpart = typeof b.localpart === 'string' ? b.localpart.trim().toLowerCase() : '';
    if (!isValidLocalpart(localpart)) throw bad('Use only lower-case letters a–z, digits and . _ = - / for the user name.');
    if (typeof b.password !== 'string' || b.password.length < MIN_PASSWORD_LENGTH) throw bad(`The password needs at least ${MIN_PASSWORD_LENGTH} characters.`);
    const userId = `@${localpart}:${s.config.server_name}`;
    try {
      await s.users.create({ userId, localpart, passwordHash: await hashPassword(b.password), admin: b.admin === true, now: s.now() });
    } catch (e) {
      if (e instanceof UserExistsError) throw new MatrixError(409, 'M_USER_IN_USE', `${userId} already exists.`);
      throw e;
    }
    s.log.info({ user_id: userId, admin: b.admin === true }, 'dashboard: user created');
    ctx.body = { user_id: userId };
  });

  router.post(`${p}/users/:userId/password`, noStore, ...admin, async (ctx) => {
    const userId = ctx.params.userId!;
    const b = await readJson(ctx);
    if (typeof b.password !== 'string' || b.password.length < MIN_PASSWORD_LENGTH) throw bad(`The password needs at least ${MIN_PASSWORD_LENGTH} characters.`);
    const user = await s.users.getByUserId(userId);
    if (!user) throw notFound('No such user.');
    // The person is signed out everywhere: whoever knew the old password loses access.
    await s.auth.changePassword(userId, b.password, true, null);
    s.log.info({ user_id: userId }, 'dashboard: password reset');
    ctx.body = {};
  });

  router.get(`${p}/registration-tokens`, noStore, ...admin, async (ctx) => {
    ctx.body = { tokens: await s.registration.listRegistrationTokens() };
  });

  router.post(`${p}/registration-tokens`, noStore, ...admin, async (ctx) => {
    const b = await readJson(ctx);
    const usesAllowed = b.uses_allowed === undefined || b.uses_allowed === null ? null : Number(b.uses_allowed);
    if (usesAllowed !== null && (!Number.isInteger(usesAllowed) || usesAllowed < 1)) throw bad('Uses must be a whole number of at least 1 (or empty for unlimited).');
    const days = b.expires_in_days === undefined || b.expires_in_days === null ? null : Number(b.expires_in_days);
    if (days !== null && (!Number.isFinite(days) || days <= 0)) throw bad('Days must be more than 0 (or empty for no expiry).');
    if (b.token !== undefined && (typeof b.token !== 'string' || !REGISTRATION_TOKEN_RE.test(b.token))) throw bad('A token may use letters, digits and . _ ~ - (at most 64).');
    const created = await s.registration.createRegistrationToken({
      token: b.token as string | undefined,
      usesAllowed,
      expiryTs: days === null ? null : s.now() + Math.round(days * 86400_000),
    });
    ctx.body = created;
  });

  router.delete(`${p}/registration-tokens/:token`, noStore, ...admin, async (ctx) => {
    await s.registration.deleteRegistrationToken(ctx.params.token!);
    ctx.body = {};
  });

  router.get(`${p}/logs`, noStore, ...admin, async (ctx) => {
    const limit = Math.min(500, Math.max(1, Number(ctx.query.limit ?? 200) || 200));
    const minLevel = Number(ctx.query.min_level ?? 0) || 0;
    ctx.body = { lines: s.appliance.logRing.tail(limit, minLevel) };
  });

  router.post(`${p}/certificate/renew`, noStore, ...admin, async (ctx) => {
    const managed = s.appliance.certs.managed();
    const host = s.appliance.publicHost();
    const domain = managed?.names[0] ?? (host ? splitHost(host).host : null);
    if (!domain) throw bad('There is no certificate to renew yet.');
    const setup = await s.appliance.setup();
    try {
      s.appliance.certs.start({ domain, challenge: setup.challenge ?? 'http-01', email: setup.acme_email, reason: 'forced', staging: false });
    } catch (e) {
      throw new MatrixError(409, 'M_FORBIDDEN', (e as Error).message);
    }
    ctx.body = { job: s.appliance.certs.job() };
  });

  router.get(`${p}/certificate`, noStore, ...admin, async (ctx) => {
    ctx.body = await s.appliance.certs.overview();
  });

  router.post(`${p}/selftest`, noStore, ...admin, async (ctx) => {
    ctx.body = await selfTest(s);
  });

  router.post(`${p}/delegation/check`, noStore, ...admin, async (ctx) => {
    ctx.body = await delegationCheck(s);
  });
}
