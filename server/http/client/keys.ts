/**
 * Key management endpoints (keys.yaml): POST /keys/upload, /keys/query, /keys/claim and
 * GET /keys/changes. The semantics live in services/e2ee; this file checks request shapes.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { EVENTS_KEY, parseStreamToken } from '../../services/sync/token.ts';
import { DEVICE_LISTS_KEY } from '../../services/e2ee/sync-source.ts';
import { isObject } from '../../services/e2ee/key-objects.ts';
import { badJson, missingParam, MatrixError } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { queryString, v3 } from './account-params.ts';

/** Bounds the work one request can ask for (the body limit already caps its size). */
const MAX_USERS_PER_REQUEST = 5000;

function deviceOf(auth: { deviceId: string | null }): string {
  if (!auth.deviceId) throw new MatrixError(400, 'M_UNKNOWN', 'This access token has no device');
  return auth.deviceId;
}

function optTimeout(body: Record<string, unknown>): number | undefined {
  const t = body.timeout;
  if (t === undefined || t === null) return undefined;
  if (typeof t !== 'number' || !Number.isFinite(t)) throw badJson('timeout must be a number');
  return t;
}

export function keysRoutes(router: Router, s: Services): void {
  router.post(v3('/keys/upload'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const body = await readJson(ctx);
    const counts = await s.e2ee.keys.upload(auth.userId, deviceOf(auth), body);
    ctx.body = { one_time_key_counts: counts };
  });

  router.post(v3('/keys/query'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const body = await readJson(ctx);
    if (body.device_keys === undefined) throw missingParam('Missing device_keys');
    if (!isObject(body.device_keys)) throw badJson('device_keys must be an object');
    const entries = Object.entries(body.device_keys);
    if (entries.length > MAX_USERS_PER_REQUEST) throw badJson('Too many users in one request');
    const query: Record<string, string[]> = {};
    for (const [userId, devices] of entries) {
      // Synapse and clients send null for "all devices" as well as [].
      if (devices === null) query[userId] = [];
      else if (Array.isArray(devices) && devices.every((d) => typeof d === 'string')) query[userId] = devices as string[];
      else throw badJson(`device_keys.${userId} must be a list of device IDs`);
    }
    ctx.body = await s.e2ee.keys.query(auth.userId, query, optTimeout(body));
  });

  router.post(v3('/keys/claim'), requireAuth(s), async (ctx) => {
    const body = await readJson(ctx);
    authOf(ctx);
    if (body.one_time_keys === undefined) throw missingParam('Missing one_time_keys');
    if (!isObject(body.one_time_keys)) throw badJson('one_time_keys must be an object');
    const entries = Object.entries(body.one_time_keys);
    if (entries.length > MAX_USERS_PER_REQUEST) throw badJson('Too many users in one request');
    const query: Record<string, Record<string, string>> = {};
    for (const [userId, devices] of entries) {
      if (!isObject(devices) || !Object.values(devices).every((a) => typeof a === 'string')) {
        throw badJson(`one_time_keys.${userId} must map device IDs to algorithms`);
      }
      query[userId] = devices as Record<string, string>;
    }
    ctx.body = await s.e2ee.keys.claim(query, optTimeout(body));
  });

  // keys.yaml: users who changed their device keys between two sync tokens, among those the
  // caller shares a room with; `left` those with whom the caller no longer shares a room.
  router.get(v3('/keys/changes'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const q = ctx.query as Record<string, string | string[] | undefined>;
    const fromRaw = queryString(q, 'from');
    const toRaw = queryString(q, 'to');
    if (fromRaw === undefined) throw missingParam('Missing from');
    const from = parseStreamToken(fromRaw);
    const to = toRaw !== undefined ? parseStreamToken(toRaw) : null;
    const current = s.e2ee.positions();
    const positions = (t: ReadonlyMap<string, number> | null, fallbackEvents: number) => ({
      events: t?.get(EVENTS_KEY) ?? fallbackEvents,
      deviceLists: t?.get(DEVICE_LISTS_KEY) ?? current.deviceLists,
    });
    const fromPos = { events: from.get(EVENTS_KEY) ?? 0, deviceLists: from.get(DEVICE_LISTS_KEY) ?? 0 };
    // `to` is "a hint"; without it (or with an older token) report everything up to now.
    const toPos = positions(to, s.e2ee.eventsPosition());
    ctx.body = await s.e2ee.keysChanges(auth.userId, fromPos, toPos);
  });
}
