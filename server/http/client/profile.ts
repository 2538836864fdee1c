/** Profiles (profile.yaml): GET/PUT displayname and avatar_url; changes propagate to joined rooms. */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { badJson, forbidden, invalidParam, missingParam, notFound } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { v3 } from './account-params.ts';
import { parseUserId } from '../../protocol/identifiers.ts';

/** Longest displayname / avatar_url accepted (fits in a member event with room to spare). */
const MAX_FIELD = 1024;
const FIELDS = ['displayname', 'avatar_url'] as const;

function userParam(ctx: Koa.Context): string {
  const u = ctx.params.userId!;
  if (!parseUserId(u)) throw invalidParam('Invalid user ID');
  return u;
}

export function profileRoutes(router: Router, s: Services): void {
  const auth = requireAuth(s);

  const load = async (userId: string) => {
    const p = await s.profiles.get(userId);
    if (!p) throw notFound('Profile not found');
    return p;
  };

  router.get(v3('/profile/:userId'), auth, async (ctx) => {
    ctx.body = await load(userParam(ctx));
  });

  router.get(v3('/profile/:userId/:field'), auth, async (ctx) => {
    const field = ctx.params.field!;
    const p = await load(userParam(ctx));
    if (field !== 'displayname' && field !== 'avatar_url') throw notFound('Profile field not found');
    const value = p[field];
    if (value === undefined) throw notFound('Profile field not set');
    ctx.body = { [field]: value };
  });

  router.put(v3('/profile/:userId/:field'), auth, async (ctx) => {
    const userId = userParam(ctx);
    if (userId !== authOf(ctx).userId) throw forbidden('Cannot change the profile of another user');
    const field = ctx.params.field! as (typeof FIELDS)[number];
    if (!FIELDS.includes(field)) throw badJson(`Only ${FIELDS.join(' and ')} can be set`);
    const body = await readJson(ctx);
    if (!(field in body)) throw missingParam(`Missing ${field}`);
    const value = body[field];
    if (value !== null && typeof value !== 'string') throw badJson(`${field} must be a string`);
    if (typeof value === 'string' && value.length > MAX_FIELD) throw badJson(`${field} is too long`);
    if (field === 'avatar_url' && typeof value === 'string' && value !== '' && !value.startsWith('mxc://')) {
      throw badJson('avatar_url must be an mxc:// URI');
    }
    await s.profiles.set(userId, field, value === '' && field === 'avatar_url' ? null : value);
    ctx.body = {};
  });
}
