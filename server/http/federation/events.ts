/**
 * History for other servers: GET /event/{eventId}, /state/{roomId}, /state_ids/{roomId},
 * /event_auth/{roomId}/{eventId}, /backfill/{roomId}, POST /get_missing_events/{roomId}.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { missingParam } from '../errors.ts';
import { signed } from './auth.ts';

function eventIdParam(ctx: Koa.Context): string {
  const id = ctx.query.event_id;
  if (typeof id !== 'string' || !id) throw missingParam('event_id is required');
  return id;
}

export function eventsRoutes(router: Router, s: Services): void {
  const h = () => s.federation.history;
  const txn = (pdus: unknown[]) => ({ origin: s.config.server_name, origin_server_ts: s.now(), pdus });

  router.get(
    '/_matrix/federation/v1/event/:eventId',
    signed(s, async (ctx, origin) => {
      ctx.body = txn([await h().event(origin, ctx.params.eventId!)]);
    }),
  );
  router.get(
    '/_matrix/federation/v1/state/:roomId',
    signed(s, async (ctx, origin) => {
      ctx.body = await h().state(origin, ctx.params.roomId!, eventIdParam(ctx));
    }),
  );
  router.get(
    '/_matrix/federation/v1/state_ids/:roomId',
    signed(s, async (ctx, origin) => {
      ctx.body = await h().stateIds(origin, ctx.params.roomId!, eventIdParam(ctx));
    }),
  );
  router.get(
    '/_matrix/federation/v1/event_auth/:roomId/:eventId',
    signed(s, async (ctx, origin) => {
      ctx.body = { auth_chain: await h().eventAuth(origin, ctx.params.roomId!, ctx.params.eventId!) };
    }),
  );
  router.get(
    '/_matrix/federation/v1/backfill/:roomId',
    signed(s, async (ctx, origin) => {
      const v = ctx.query.v;
      const from = (Array.isArray(v) ? v : v ? [v] : []).slice(0, 20);
      if (from.length === 0) throw missingParam('v is required');
      const limit = Number(ctx.query.limit ?? 10);
      ctx.body = txn(await h().backfill(origin, ctx.params.roomId!, from, Number.isFinite(limit) ? limit : 10));
    }),
  );
  router.post(
    '/_matrix/federation/v1/get_missing_events/:roomId',
    signed(s, async (ctx, origin) => {
      ctx.body = { events: await h().missingEvents(origin, ctx.params.roomId!, ctx.state.jsonBody as JsonObject) };
    }),
  );
}
