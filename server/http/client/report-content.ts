/**
 * Reporting content. Spec: client-server-api/modules/report_content.md (report_content.yaml):
 * POST /rooms/{roomId}/report (v1.13), /rooms/{roomId}/report/{eventId}, /users/{userId}/report
 * (v1.14). The `score` parameter was removed in v1.18 and is ignored.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { invalidParam, notFound } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { optString, v3 } from './account-params.ts';

const MAX_REASON = 4096;

function checkId(id: string, sigil: string, what: string): void {
  if (!id.startsWith(sigil) || id.length > 255) throw invalidParam(`Invalid ${what}`);
}

export function reportRoutes(router: Router, s: Services): void {
  router.post(v3('/rooms/:roomId/report'), requireAuth(s), async (ctx) => {
    const roomId = ctx.params.roomId!;
    checkId(roomId, '!', 'room ID');
    const reason = optString(await readJson(ctx), 'reason', MAX_REASON) ?? null;
    if (!(await s.reports.reportRoom(authOf(ctx).userId, roomId, reason))) throw notFound('The room was not found.');
    ctx.body = {};
  });

  router.post(v3('/rooms/:roomId/report/:eventId'), requireAuth(s), async (ctx) => {
    const { roomId, eventId } = ctx.params as { roomId: string; eventId: string };
    checkId(roomId, '!', 'room ID');
    checkId(eventId, '$', 'event ID');
    const reason = optString(await readJson(ctx), 'reason', MAX_REASON) ?? null;
    if (!(await s.reports.reportEvent(authOf(ctx).userId, roomId, eventId, reason))) {
      throw notFound('The event was not found or you are not joined to the room.');
    }
    ctx.body = {};
  });

  router.post(v3('/users/:userId/report'), requireAuth(s), async (ctx) => {
    const userId = ctx.params.userId!;
    checkId(userId, '@', 'user ID');
    const reason = optString(await readJson(ctx), 'reason', MAX_REASON) ?? null;
    if (!(await s.reports.reportUser(authOf(ctx).userId, userId, reason))) throw notFound('The user was not found.');
    ctx.body = {};
  });
}
