/**
 * Per-user state: account data (account-data.yaml), tags (tags.yaml), receipts (receipts.yaml),
 * read markers (read_markers.yaml), typing (typing.yaml) and presence (presence.yaml).
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { MatrixError, badJson, forbidden, invalidParam, notFound } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { v3, queryString } from './account-params.ts';
import { roomIdParam } from './rooms.ts';
import { GLOBAL } from '../../services/account-data.ts';
import { PRESENCE_VALUES, type PresenceValue } from '../../services/presence.ts';
import { parseUserId } from '../../protocol/identifiers.ts';

/** Types the server manages itself ("405 M_BAD_JSON: controlled by the server"). */
const SERVER_TYPES = new Set(['m.fully_read', 'm.push_rules']);

function selfParam(ctx: Koa.Context, what: string): string {
  const userId = ctx.params.userId!;
  if (userId !== authOf(ctx).userId) throw forbidden(`Cannot access ${what} of other users`);
  return userId;
}

function typeParam(ctx: Koa.Context): string {
  const t = ctx.params.type!;
  if (!t || t.length > 255) throw invalidParam('Invalid account data type');
  return t;
}

export function accountDataRoutes(router: Router, s: Services): void {
  const auth = requireAuth(s);

  // --- account data --------------------------------------------------------------------------
  router.put(v3('/user/:userId/account_data/:type'), auth, async (ctx) => {
    const userId = selfParam(ctx, 'account data');
    const type = typeParam(ctx);
    if (SERVER_TYPES.has(type)) throw new MatrixError(405, 'M_BAD_JSON', `Cannot set ${type} through this API.`);
    const content = await readJson<JsonObject>(ctx);
    await s.accountData.put(userId, GLOBAL, type, content);
    ctx.body = {};
  });

  router.get(v3('/user/:userId/account_data/:type'), auth, async (ctx) => {
    const userId = selfParam(ctx, 'account data');
    const type = typeParam(ctx);
    const c = type === 'm.push_rules' ? ((await s.pushRules.getPushRules(userId)) as unknown as JsonObject) : await s.accountData.get(userId, GLOBAL, type);
    if (!c) throw notFound('Account data not found');
    ctx.body = c;
  });

  router.put(v3('/user/:userId/rooms/:roomId/account_data/:type'), auth, async (ctx) => {
    const userId = selfParam(ctx, 'account data');
    const roomId = roomIdParam(ctx);
    const type = typeParam(ctx);
    if (SERVER_TYPES.has(type)) throw new MatrixError(405, 'M_BAD_JSON', `Cannot set ${type} through this API.`);
    const content = await readJson<JsonObject>(ctx);
    await s.accountData.put(userId, roomId, type, content);
    ctx.body = {};
  });

  router.get(v3('/user/:userId/rooms/:roomId/account_data/:type'), auth, async (ctx) => {
    const userId = selfParam(ctx, 'account data');
    const c = await s.accountData.get(userId, roomIdParam(ctx), typeParam(ctx));
    if (!c) throw notFound('Account data not found');
    ctx.body = c;
  });

  // --- tags (stored as the room's m.tag account data) -------------------------------------------
  router.get(v3('/user/:userId/rooms/:roomId/tags'), auth, async (ctx) => {
    const userId = selfParam(ctx, 'tags');
    const c = await s.accountData.get(userId, roomIdParam(ctx), 'm.tag');
    ctx.body = { tags: (c?.tags as JsonObject | undefined) ?? {} };
  });

  router.put(v3('/user/:userId/rooms/:roomId/tags/:tag'), auth, async (ctx) => {
    const userId = selfParam(ctx, 'tags');
    const roomId = roomIdParam(ctx);
    const tag = ctx.params.tag!;
    if (!tag || tag.length > 255) throw invalidParam('Invalid tag');
    const body = await readJson<JsonObject>(ctx);
    if (body.order !== undefined && (typeof body.order !== 'number' || body.order < 0 || body.order > 1)) {
      throw badJson('order must be a number between 0 and 1');
    }
    const c = (await s.accountData.get(userId, roomId, 'm.tag')) ?? {};
    const tags = { ...((c.tags as JsonObject | undefined) ?? {}), [tag]: body };
    await s.accountData.put(userId, roomId, 'm.tag', { tags });
    ctx.body = {};
  });

  router.delete(v3('/user/:userId/rooms/:roomId/tags/:tag'), auth, async (ctx) => {
    const userId = selfParam(ctx, 'tags');
    const roomId = roomIdParam(ctx);
    const c = (await s.accountData.get(userId, roomId, 'm.tag')) ?? {};
    const tags = { ...((c.tags as JsonObject | undefined) ?? {}) };
    delete tags[ctx.params.tag!];
    await s.accountData.put(userId, roomId, 'm.tag', { tags });
    ctx.body = {};
  });

  // --- receipts and read markers -------------------------------------------------------------
  const setFullyRead = async (userId: string, roomId: string, eventId: string) => {
    const ev = await s.roomCore.eventCache.get(eventId);
    if (!ev || ev.roomId !== roomId) throw notFound('Event not found');
    if ((await s.roomCore.currentState(roomId))?.membership(userId) !== 'join') throw forbidden('You are not joined to this room');
    await s.accountData.put(userId, roomId, 'm.fully_read', { event_id: eventId });
  };

  router.post(v3('/rooms/:roomId/receipt/:receiptType/:eventId'), auth, async (ctx) => {
    const userId = authOf(ctx).userId;
    const roomId = roomIdParam(ctx);
    const type = ctx.params.receiptType!;
    const eventId = ctx.params.eventId!;
    const body = await readJson(ctx);
    if (body.thread_id !== undefined && typeof body.thread_id !== 'string') throw badJson('thread_id must be a string');
    if (type === 'm.fully_read') await setFullyRead(userId, roomId, eventId);
    else if (type === 'm.read' || type === 'm.read.private') await s.receipts.put(userId, roomId, type, eventId, body.thread_id as string | undefined);
    else throw badJson(`Unknown receipt type ${type}`);
    ctx.body = {};
  });

  router.post(v3('/rooms/:roomId/read_markers'), auth, async (ctx) => {
    const userId = authOf(ctx).userId;
    const roomId = roomIdParam(ctx);
    const body = await readJson(ctx);
    for (const k of ['m.fully_read', 'm.read', 'm.read.private']) {
      if (body[k] !== undefined && typeof body[k] !== 'string') throw badJson(`${k} must be an event ID`);
    }
    if (typeof body['m.fully_read'] === 'string') await setFullyRead(userId, roomId, body['m.fully_read']);
    if (typeof body['m.read'] === 'string') await s.receipts.put(userId, roomId, 'm.read', body['m.read'], undefined);
    if (typeof body['m.read.private'] === 'string') await s.receipts.put(userId, roomId, 'm.read.private', body['m.read.private'], undefined);
    ctx.body = {};
  });

  // --- typing ----------------------------------------------------------------------------------
  router.put(v3('/rooms/:roomId/typing/:userId'), auth, async (ctx) => {
    const userId = selfParam(ctx, 'typing state');
    const roomId = roomIdParam(ctx);
    const body = await readJson(ctx);
    if (typeof body.typing !== 'boolean') throw badJson('typing must be a boolean');
    if (body.timeout !== undefined && (typeof body.timeout !== 'number' || body.timeout < 0)) throw badJson('timeout must be a number');
    const state = await s.roomCore.currentState(roomId);
    if (!state) throw notFound('Unknown room');
    if (state.membership(userId) !== 'join') throw forbidden('You are not joined to this room');
    await s.typing.set(roomId, userId, body.typing, typeof body.timeout === 'number' ? body.timeout : 30_000);
    ctx.body = {};
  });

  // --- notifications (notifications.yaml) -------------------------------------------------------
  // Only unread notifications are kept (a read receipt drops older ones), so `read` is false.
  router.get(v3('/notifications'), auth, async (ctx) => {
    const a = authOf(ctx);
    const from = queryString(ctx.query, 'from');
    if (from !== undefined && !/^\d+$/.test(from)) throw invalidParam('Invalid from token');
    const only = queryString(ctx.query, 'only');
    const limitRaw = queryString(ctx.query, 'limit');
    const limit = limitRaw && /^\d+$/.test(limitRaw) ? Math.min(Math.max(Number(limitRaw), 1), 100) : 20;
    const rows = await s.pushActions.list(a.userId, { before: from ? Number(from) : undefined, limit: limit + 1, highlightOnly: only === 'highlight' });
    const page = rows.slice(0, limit);
    const byStream = await s.roomCore.events.byStreams(page.map((r) => r.stream_ordering));
    const stored = s.roomCore.eventCache.fromRows(byStream);
    const json = await s.roomCore.serializer.many(stored, { userId: a.userId, deviceId: a.deviceId });
    const byId = new Map(json.map((e) => [e.event_id as string, e]));
    const notifications = [];
    for (const r of page) {
      const ev = stored.find((e) => e.streamOrdering === r.stream_ordering);
      if (!ev) continue;
      notifications.push({
        actions: r.highlight ? ['notify', { set_tweak: 'highlight' }] : ['notify'],
        event: byId.get(ev.eventId)!,
        read: false,
        room_id: r.room_id,
        ts: ev.originServerTs,
      });
    }
    ctx.body = { notifications, ...(rows.length > limit && { next_token: String(page[page.length - 1]!.stream_ordering) }) };
  });

  // --- presence --------------------------------------------------------------------------------
  router.put(v3('/presence/:userId/status'), auth, async (ctx) => {
    const userId = selfParam(ctx, 'presence');
    const body = await readJson(ctx);
    if (typeof body.presence !== 'string' || !PRESENCE_VALUES.includes(body.presence)) throw badJson('presence must be online, unavailable or offline');
    if (body.status_msg !== undefined && body.status_msg !== null && typeof body.status_msg !== 'string') throw badJson('status_msg must be a string');
    await s.presence.set(userId, body.presence as PresenceValue, body.status_msg as string | null | undefined);
    ctx.body = {};
  });

  router.get(v3('/presence/:userId/status'), auth, async (ctx) => {
    const userId = ctx.params.userId!;
    if (!parseUserId(userId)) throw invalidParam('Invalid user ID');
    if (s.roomCore.isLocalUser(userId) && !(await s.users.getByUserId(userId))) throw notFound('Unknown user');
    ctx.body = s.presence.get(userId);
  });
}
