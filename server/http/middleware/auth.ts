/**
 * Access-token authentication for client-server endpoints. Spec: client-server-api "Using
 * access tokens": the token comes in `Authorization: Bearer TOKEN` or (deprecated since v1.11)
 * the `access_token` query parameter. Missing → 401 M_MISSING_TOKEN; not recognised → 401
 * M_UNKNOWN_TOKEN with `soft_logout: true` when the token merely expired (the client should
 * refresh or re-authenticate without dropping its local data), false otherwise.
 *
 * Sets `ctx.state.auth: AuthInfo`. Handlers read it with `authOf(ctx)`.
 */
import type Koa from 'koa';
import { missingToken, unknownToken, MatrixError } from '../errors.ts';
import type { Services } from '../../services/container.ts';
import { limitBy } from './rate-limit.ts';

export interface AuthInfo {
  userId: string;
  /** The device the token belongs to (null only for tokens without a device, which Hearth does not issue). */
  deviceId: string | null;
  isAdmin: boolean;
}

interface AuthState {
  auth?: AuthInfo;
  /** Hash of the access token used, for POST /logout. */
  accessTokenHash?: string;
}

/** The token from the Authorization header or the access_token query parameter, or null. */
export function extractAccessToken(ctx: Koa.Context): string | null {
  const header = ctx.get('authorization');
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) return m[1]!;
    // An Authorization header of another scheme (e.g. X-Matrix) carries no access token.
  }
  const q = ctx.query.access_token;
  if (typeof q === 'string' && q.length > 0) return q;
  return null;
}

async function authenticate(s: Services, ctx: Koa.Context, token: string): Promise<AuthInfo> {
  const result = await s.tokens.validate(token);
  if (!result.ok) {
    throw result.reason === 'expired'
      ? unknownToken('Access token has expired', true)
      : unknownToken('Unrecognised access token', false);
  }
  const { userId, deviceId, isAdmin, tokenHash } = result.owner;
  const auth: AuthInfo = { userId, deviceId, isAdmin };
  const state = ctx.state as AuthState;
  state.auth = auth;
  state.accessTokenHash = tokenHash;
  s.devices.touch(userId, deviceId, ctx.ip || null, ctx.get('user-agent') || null);
  return auth;
}

/** Rejects requests without a valid access token; rate-limits per user (bucket `request`). */
export function requireAuth(s: Services): Koa.Middleware {
  return async (ctx, next) => {
    const token = extractAccessToken(ctx);
    if (!token) throw missingToken();
    const auth = await authenticate(s, ctx, token);
    limitBy(s, 'request', auth.userId);
    await next();
  };
}

/** Authenticates when a token is given (an invalid token is still an error), else continues anonymously. */
export function optionalAuth(s: Services): Koa.Middleware {
  return async (ctx, next) => {
    const token = extractAccessToken(ctx);
    if (token) {
      const auth = await authenticate(s, ctx, token);
      limitBy(s, 'request', auth.userId);
    }
    await next();
  };
}

/** The authenticated caller; throws if the route was not behind requireAuth. */
export function authOf(ctx: Koa.Context): AuthInfo {
  const auth = (ctx.state as AuthState).auth;
  if (!auth) throw new MatrixError(500, 'M_UNKNOWN', 'route is missing requireAuth');
  return auth;
}

/** The authenticated caller, or null for an anonymous request under optionalAuth. */
export function maybeAuthOf(ctx: Koa.Context): AuthInfo | null {
  return (ctx.state as AuthState).auth ?? null;
}

export function accessTokenHashOf(ctx: Koa.Context): string | null {
  return (ctx.state as AuthState).accessTokenHash ?? null;
}
