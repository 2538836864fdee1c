/** GET /user/devices/{userId}, POST /user/keys/query, POST /user/keys/claim (server-server-api "Device Management", "End-to-End Encryption"). */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { signed } from './auth.ts';

export function userRoutes(router: Router, s: Services): void {
  router.get(
    '/_matrix/federation/v1/user/devices/:userId',
    signed(s, async (ctx) => {
      ctx.body = await s.federation.e2ee.answerDevices(ctx.params.userId!);
    }),
  );
  router.post(
    '/_matrix/federation/v1/user/keys/query',
    signed(s, async (ctx, origin) => {
      ctx.body = await s.federation.e2ee.answerQuery(origin, ctx.state.jsonBody as JsonObject);
    }),
  );
  router.post(
    '/_matrix/federation/v1/user/keys/claim',
    signed(s, async (ctx) => {
      ctx.body = await s.federation.e2ee.answerClaim(ctx.state.jsonBody as JsonObject);
    }),
  );
}
