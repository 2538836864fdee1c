/** PUT /sendToDevice/{eventType}/{txnId} (to_device.yaml). Delivery happens in /sync. */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { badJson, missingParam, MatrixError } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { v3 } from './account-params.ts';

export function toDeviceRoutes(router: Router, s: Services): void {
  router.put(v3('/sendToDevice/:eventType/:txnId'), requireAuth(s), async (ctx) => {
    const auth = authOf(ctx);
    if (!auth.deviceId) throw new MatrixError(400, 'M_UNKNOWN', 'This access token has no device');
    const { eventType, txnId } = ctx.params as { eventType: string; txnId: string };
    if (eventType.length === 0 || eventType.length > 255) throw badJson('Invalid event type');
    if (txnId.length === 0 || txnId.length > 255) throw badJson('Invalid transaction ID');
    const body = await readJson(ctx);
    if (body.messages === undefined) throw missingParam('Missing messages');
    await s.e2ee.toDevice.send(auth.userId, auth.deviceId, eventType, txnId, body.messages);
    ctx.body = {};
  });
}
