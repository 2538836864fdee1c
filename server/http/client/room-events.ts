/**
 * Sending and reading room events: room_send.yaml, room_state.yaml, redaction.yaml, rooms.yaml
 * (/event, /state, /members, /joined_members), message_pagination.yaml (/messages),
 * event_context.yaml (/context), room_event_by_timestamp.yaml.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { badJson, invalidParam, missingParam, notFound } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { v1, v3, queryString } from './account-params.ts';
import { roomIdParam } from './rooms.ts';
import { parsePaginationToken } from '../../services/sync/token.ts';
import { parseFilter, type RoomEventFilter } from '../../services/sync/filter.ts';

function typeParam(ctx: Koa.Context, name = 'eventType'): string {
  const t = ctx.params[name]!;
  if (!t || Buffer.byteLength(t) > 255) throw invalidParam('Invalid event type');
  return t;
}

function txnParam(ctx: Koa.Context): string {
  const t = ctx.params.txnId!;
  if (!t || t.length > 255) throw invalidParam('Invalid transaction ID');
  return t;
}

function eventIdParam(ctx: Koa.Context): string {
  const id = ctx.params.eventId!;
  if (!id.startsWith('$') || Buffer.byteLength(id) > 255) throw invalidParam('Invalid event ID');
  return id;
}

export function intQuery(ctx: Koa.Context, key: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = queryString(ctx.query, key);
  if (raw === undefined || raw === '') return def;
  if (!/^-?\d+$/.test(raw)) throw invalidParam(`${key} must be an integer`);
  return Math.min(max, Math.max(min, Number(raw)));
}

export function roomFilterQuery(ctx: Koa.Context): RoomEventFilter | undefined {
  const raw = queryString(ctx.query, 'filter');
  if (raw === undefined || raw === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw badJson('filter is not valid JSON');
  }
  return parseFilter({ room: { timeline: v } }).room?.timeline;
}

export function roomEventsRoutes(router: Router, s: Services): void {
  const auth = requireAuth(s);
  const viewer = (ctx: Koa.Context) => ({ userId: authOf(ctx).userId, deviceId: authOf(ctx).deviceId });

  router.put(v3('/rooms/:roomId/send/:eventType/:txnId'), auth, async (ctx) => {
    const content = await readJson<JsonObject>(ctx);
    const a = authOf(ctx);
    const eventId = await s.sender.send(a.userId, a.deviceId, roomIdParam(ctx), typeParam(ctx), txnParam(ctx), content);
    ctx.body = { event_id: eventId };
  });

  const putState = async (ctx: Koa.Context) => {
    const content = await readJson<JsonObject>(ctx);
    const eventId = await s.sender.setState(authOf(ctx).userId, roomIdParam(ctx), typeParam(ctx), ctx.params.stateKey ?? '', content);
    ctx.body = { event_id: eventId };
  };
  router.put(v3('/rooms/:roomId/state/:eventType'), auth, putState);
  router.put(v3('/rooms/:roomId/state/:eventType/:stateKey'), auth, putState);

  const getState = async (ctx: Koa.Context) => {
    const ev = await s.roomReads.stateEvent(viewer(ctx), roomIdParam(ctx), typeParam(ctx), ctx.params.stateKey ?? '');
    const format = queryString(ctx.query, 'format');
    if (format === 'event') ctx.body = await s.roomCore.serializer.one(ev, viewer(ctx));
    else ctx.body = (await s.roomCore.serializer.one(ev, viewer(ctx), { aggregate: false })).content;
  };
  router.get(v3('/rooms/:roomId/state/:eventType'), auth, getState);
  router.get(v3('/rooms/:roomId/state/:eventType/:stateKey'), auth, getState);

  router.get(v3('/rooms/:roomId/state'), auth, async (ctx) => {
    ctx.body = await s.roomReads.state(viewer(ctx), roomIdParam(ctx));
  });

  router.put(v3('/rooms/:roomId/redact/:eventId/:txnId'), auth, async (ctx) => {
    const body = await readJson<JsonObject>(ctx);
    if (body.reason !== undefined && typeof body.reason !== 'string') throw badJson('reason must be a string');
    const a = authOf(ctx);
    const eventId = await s.sender.redact(a.userId, a.deviceId, roomIdParam(ctx), eventIdParam(ctx), txnParam(ctx), body);
    ctx.body = { event_id: eventId };
  });

  router.get(v3('/rooms/:roomId/event/:eventId'), auth, async (ctx) => {
    ctx.body = await s.roomReads.event(viewer(ctx), roomIdParam(ctx), eventIdParam(ctx));
  });

  router.get(v3('/rooms/:roomId/messages'), auth, async (ctx) => {
    const dir = queryString(ctx.query, 'dir') ?? 'b';
    if (dir !== 'b' && dir !== 'f') throw invalidParam("dir must be 'b' or 'f'");
    const from = queryString(ctx.query, 'from');
    const to = queryString(ctx.query, 'to');
    ctx.body = await s.roomReads.messages(viewer(ctx), {
      roomId: roomIdParam(ctx),
      dir,
      from: from ? parsePaginationToken(from) : undefined,
      to: to ? parsePaginationToken(to) : undefined,
      limit: intQuery(ctx, 'limit', 10, 0, 1000),
      filter: roomFilterQuery(ctx),
    });
  });

  router.get(v3('/rooms/:roomId/context/:eventId'), auth, async (ctx) => {
    ctx.body = await s.roomReads.context(viewer(ctx), roomIdParam(ctx), eventIdParam(ctx), intQuery(ctx, 'limit', 10, 0, 1000), roomFilterQuery(ctx));
  });

  router.get(v3('/rooms/:roomId/members'), auth, async (ctx) => {
    const at = queryString(ctx.query, 'at');
    const membership = queryString(ctx.query, 'membership');
    const notMembership = queryString(ctx.query, 'not_membership');
    const valid = ['join', 'invite', 'knock', 'leave', 'ban'];
    if ((membership && !valid.includes(membership)) || (notMembership && !valid.includes(notMembership))) {
      throw invalidParam('Unknown membership');
    }
    const chunk = await s.roomReads.members(viewer(ctx), roomIdParam(ctx), {
      at: at ? parsePaginationToken(at) : undefined,
      membership,
      notMembership,
    });
    ctx.body = { chunk };
  });

  router.get(v3('/rooms/:roomId/joined_members'), auth, async (ctx) => {
    ctx.body = await s.roomReads.joinedMembers(authOf(ctx).userId, roomIdParam(ctx));
  });

  router.get(v1('/rooms/:roomId/timestamp_to_event'), auth, async (ctx) => {
    const ts = intQuery(ctx, 'ts', NaN);
    if (!Number.isFinite(ts)) throw missingParam('ts is required');
    const dir = queryString(ctx.query, 'dir');
    if (dir !== 'b' && dir !== 'f') throw invalidParam("dir must be 'b' or 'f'");
    ctx.body = await s.roomReads.timestampToEvent(authOf(ctx).userId, roomIdParam(ctx), ts, dir);
  });

  // Deprecated and removed endpoints some clients still probe: answer with the spec's 404.
  router.get(v3('/rooms/:roomId/initialSync'), auth, () => {
    throw notFound('Room initial sync is not supported; use /sync');
  });
}
