/**
 * Membership handshakes (server-server-api "Joining Rooms", "Knocking upon a room", "Inviting to
 * a room", "Leaving Rooms"): make_join/send_join (v1, v2), make_leave/send_leave (v1, v2),
 * make_knock/send_knock, invite (v1, v2). The v1 send/invite endpoints answer `[200, body]`.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { badJson } from '../errors.ts';
import { signed } from './auth.ts';

/** ?ver=… (repeatable); absent means room version 1 only (spec default). */
function versions(ctx: Koa.Context): string[] {
  const v = ctx.query.ver;
  if (v === undefined) return ['1'];
  return Array.isArray(v) ? v : [v];
}

const bodyOf = (ctx: Koa.Context) => ctx.state.jsonBody as JsonObject;

export function membershipRoutes(router: Router, s: Services): void {
  const fed = () => s.federation.inbound;
  const SEND_LIMIT = { bodyLimit: 256 * 1024 };

  for (const kind of ['join', 'leave', 'knock'] as const) {
    router.get(
      `/_matrix/federation/v1/make_${kind}/:roomId/:userId`,
      signed(s, async (ctx, origin) => {
        ctx.body = await fed().make(kind, origin, ctx.params.roomId!, ctx.params.userId!, kind === 'leave' ? null : versions(ctx));
      }),
    );
  }

  const sendJoin = async (ctx: Koa.Context, origin: string) => {
    const r = await fed().send('join', origin, ctx.params.roomId!, ctx.params.eventId!, bodyOf(ctx));
    return fed().sendJoinResponse(r, ctx.params.eventId!);
  };
  router.put(
    '/_matrix/federation/v2/send_join/:roomId/:eventId',
    signed(s, async (ctx, origin) => {
      ctx.body = await sendJoin(ctx, origin);
    }, SEND_LIMIT),
  );
  router.put(
    '/_matrix/federation/v1/send_join/:roomId/:eventId',
    signed(s, async (ctx, origin) => {
      ctx.body = [200, await sendJoin(ctx, origin)];
    }, SEND_LIMIT),
  );

  router.put(
    '/_matrix/federation/v2/send_leave/:roomId/:eventId',
    signed(s, async (ctx, origin) => {
      await fed().send('leave', origin, ctx.params.roomId!, ctx.params.eventId!, bodyOf(ctx));
      ctx.body = {};
    }, SEND_LIMIT),
  );
  router.put(
    '/_matrix/federation/v1/send_leave/:roomId/:eventId',
    signed(s, async (ctx, origin) => {
      await fed().send('leave', origin, ctx.params.roomId!, ctx.params.eventId!, bodyOf(ctx));
      ctx.body = [200, {}];
    }, SEND_LIMIT),
  );

  router.put(
    '/_matrix/federation/v1/send_knock/:roomId/:eventId',
    signed(s, async (ctx, origin) => {
      await fed().send('knock', origin, ctx.params.roomId!, ctx.params.eventId!, bodyOf(ctx));
      ctx.body = await fed().knockResponse(ctx.params.roomId!);
    }, SEND_LIMIT),
  );

  router.put(
    '/_matrix/federation/v2/invite/:roomId/:eventId',
    signed(s, async (ctx, origin) => {
      ctx.body = await fed().invite(origin, ctx.params.roomId!, ctx.params.eventId!, bodyOf(ctx));
    }, { bodyLimit: 1024 * 1024 }),
  );
  router.put(
    '/_matrix/federation/v1/invite/:roomId/:eventId',
    signed(s, async (ctx, origin) => {
      // v1: the body is the event itself, the room version is implied (1 or 2).
      const ev = bodyOf(ctx);
      if (typeof ev.type !== 'string') throw badJson('The body must be the invite event');
      const stripped = (ev.unsigned as JsonObject | undefined)?.invite_room_state;
      ctx.body = [200, await fed().invite(origin, ctx.params.roomId!, ctx.params.eventId!, { room_version: '1', event: ev, invite_room_state: stripped ?? [] })];
    }, { bodyLimit: 1024 * 1024 }),
  );
}
