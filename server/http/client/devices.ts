/**
 * Device management. Spec: client-server-api "Device management": GET /devices,
 * GET/PUT/DELETE /devices/{deviceId}, POST /delete_devices. Deleting needs UIA (password);
 * deleted devices lose their access tokens and (via s.deviceHooks) their keys.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import type { DeviceRow } from '../../storage/devices-store.ts';
import { STAGE_PASSWORD } from '../../services/uia.ts';
import { badJson, missingParam, notFound } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { optString, v3 } from './account-params.ts';

const FLOWS = [{ stages: [STAGE_PASSWORD] }];
const MAX_DEVICES_PER_REQUEST = 1000;

function deviceJson(d: DeviceRow): Record<string, unknown> {
  const out: Record<string, unknown> = { device_id: d.device_id };
  if (d.display_name !== null) out.display_name = d.display_name;
  if (d.last_seen_ts !== null) out.last_seen_ts = d.last_seen_ts;
  if (d.last_seen_ip !== null) out.last_seen_ip = d.last_seen_ip;
  return out;
}

export function devicesRoutes(router: Router, s: Services): void {
  router.get(v3('/devices'), requireAuth(s), async (ctx) => {
    ctx.body = { devices: (await s.devices.list(authOf(ctx).userId)).map(deviceJson) };
  });

  router.get(v3('/devices/:deviceId'), requireAuth(s), async (ctx) => {
    const d = await s.devices.get(authOf(ctx).userId, ctx.params.deviceId!);
    if (!d) throw notFound('No such device');
    ctx.body = deviceJson(d);
  });

  // Spec v1.17: only application services may create devices here; clients update existing ones.
  router.put(v3('/devices/:deviceId'), requireAuth(s), async (ctx) => {
    const body = await readJson(ctx);
    const name = optString(body, 'display_name', 255);
    const userId = authOf(ctx).userId;
    const deviceId = ctx.params.deviceId!;
    if (name === undefined) {
      if (!(await s.devices.get(userId, deviceId))) throw notFound('No such device');
    } else if (!(await s.devices.rename(userId, deviceId, name))) {
      throw notFound('No such device');
    }
    ctx.body = {};
  });

  router.delete(v3('/devices/:deviceId'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const deviceId = ctx.params.deviceId!;
    const body = await readJson(ctx);
    if (!(await s.devices.get(auth.userId, deviceId))) throw notFound('No such device');
    const session = await s.uia.check(body.auth, { flows: FLOWS, action: 'delete_devices', userId: auth.userId });
    await s.devices.delete(auth.userId, [deviceId]);
    s.uia.finish(session);
    ctx.body = {};
  });

  router.post(v3('/delete_devices'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    const body = await readJson(ctx);
    const ids = body.devices;
    if (ids === undefined) throw missingParam('Missing devices');
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) throw badJson('devices must be an array of strings');
    if (ids.length > MAX_DEVICES_PER_REQUEST) throw badJson(`At most ${MAX_DEVICES_PER_REQUEST} devices per request`);
    const session = await s.uia.check(body.auth, { flows: FLOWS, action: 'delete_devices', userId: auth.userId });
    // Unknown device IDs are ignored (spec lists no error for them).
    await s.devices.delete(auth.userId, [...new Set(ids as string[])]);
    s.uia.finish(session);
    ctx.body = {};
  });
}
