/**
 * Who may use the appliance API:
 *  - the setup wizard (and the backups area's restore path during setup): whoever holds the
 *    setup token, sent as `X-Hearth-Setup-Token`, while setup is open;
 *  - the dashboard: a signed-in server admin (a Matrix access token from /login).
 * Wrong tokens are rate-limited per client address; the comparison is constant-time.
 */
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { MatrixError, forbidden, limitExceeded } from '../errors.ts';
import { tokensEqual } from '../../appliance/setup/setup-token.ts';
import { requireAuth, authOf } from '../middleware/auth.ts';

export const SETUP_TOKEN_HEADER = 'x-hearth-setup-token';

/** Checks a setup token for `ip`; throws the error the wizard shows. */
export async function checkSetupToken(s: Services, given: string | undefined, ip: string): Promise<void> {
  const row = await s.appliance.setup();
  if (row.completed_ts) throw forbidden('Setup is finished. Sign in to the dashboard with the admin account instead.');
  const wait = s.appliance.tokenGuard.retryAfter(ip);
  if (wait > 0) throw limitExceeded(wait);
  const expected = s.appliance.token();
  if (!given) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Enter the setup token to continue.');
  if (!expected || !tokensEqual(given, expected)) {
    s.appliance.tokenGuard.recordFailure(ip);
    throw new MatrixError(
      403,
      'M_FORBIDDEN',
      "That setup token is not right. Copy it from the file setup-token in Hearth's data directory, or from the console where Hearth started.",
    );
  }
}

export function requireSetupToken(s: Services): Koa.Middleware {
  return async (ctx, next) => {
    await checkSetupToken(s, ctx.get(SETUP_TOKEN_HEADER) || undefined, ctx.ip);
    await next();
  };
}

/** A signed-in admin (access token of a user with is_admin). */
export function requireAdmin(s: Services): Koa.Middleware[] {
  return [
    requireAuth(s),
    async (ctx, next) => {
      if (!authOf(ctx).isAdmin) throw forbidden('Only server admins can use the dashboard.');
      await next();
    },
  ];
}

/** Setup token while setup is open, otherwise an admin login (for the backups area's restore/backup calls). */
export function requireSetupOrAdmin(s: Services): Koa.Middleware {
  const admin = requireAdmin(s);
  return async (ctx, next) => {
    const row = await s.appliance.setup();
    if (!row.completed_ts && ctx.get(SETUP_TOKEN_HEADER)) {
      await checkSetupToken(s, ctx.get(SETUP_TOKEN_HEADER), ctx.ip);
      return next();
    }
    await admin[0]!(ctx, () => admin[1]!(ctx, next));
  };
}
