/**
 * PUT /_matrix/federation/v1/exchange_third_party_invite/{roomId} (X-Matrix signed) and
 * PUT /_matrix/federation/v1/3pid/onbind (called by identity servers, not signed: the invites'
 * `signed` blocks are verified by the inviting server against the room's public keys).
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { readJson } from '../middleware/json-body.ts';
import { signed } from './auth.ts';

export function thirdPartyRoutes(router: Router, s: Services): void {
  router.put(
    '/_matrix/federation/v1/exchange_third_party_invite/:roomId',
    signed(s, async (ctx, origin) => {
      await s.federation.thirdParty.exchange(origin, ctx.params.roomId!, ctx.state.jsonBody as JsonObject);
      ctx.body = {};
    }, { bodyLimit: 64 * 1024 }),
  );
  router.put('/_matrix/federation/v1/3pid/onbind', async (ctx) => {
    await s.federation.thirdParty.onBind((await readJson(ctx, 256 * 1024)) as JsonObject);
    ctx.body = {};
  });
}
