/**
 * Dehydrated devices, MSC3814 (unstable prefix; the spec does not have them yet):
 * PUT/GET/DELETE /dehydrated_device and POST /dehydrated_device/{deviceId}/events.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';

const PREFIX = '/_matrix/client/unstable/org.matrix.msc3814.v1';

export function dehydratedDeviceRoutes(router: Router, s: Services): void {
  const d = s.e2ee.dehydrated;
  router.put(`${PREFIX}/dehydrated_device`, requireAuth(s), async (ctx) => {
    const body = await readJson(ctx);
    ctx.body = { device_id: await d.put(authOf(ctx).userId, body) };
  });
  router.get(`${PREFIX}/dehydrated_device`, requireAuth(s), async (ctx) => {
    ctx.body = await d.get(authOf(ctx).userId);
  });
  router.delete(`${PREFIX}/dehydrated_device`, requireAuth(s), async (ctx) => {
    ctx.body = { device_id: await d.delete(authOf(ctx).userId) };
  });
  router.post(`${PREFIX}/dehydrated_device/:deviceId/events`, requireAuth(s), async (ctx) => {
    const body = await readJson(ctx);
    ctx.body = await d.events(authOf(ctx).userId, ctx.params.deviceId!, body.next_batch);
  });
}
