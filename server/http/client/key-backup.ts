/**
 * Server-side key backup endpoints (key_backup.yaml): /room_keys/version[/{version}] and
 * /room_keys/keys[/{roomId}[/{sessionId}]] with `?version=`.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { badJson } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { queryString, v3 } from './account-params.ts';

/** Backups can be large; a full upload of many sessions may exceed the default 1 MiB. */
const BACKUP_BODY_LIMIT = 16 * 1024 * 1024;

function version(ctx: Koa.Context): string | undefined {
  return queryString(ctx.query as Record<string, string | string[] | undefined>, 'version');
}

export function keyBackupRoutes(router: Router, s: Services): void {
  const backup = s.e2ee.backup;

  router.post(v3('/room_keys/version'), requireAuth(s), async (ctx) => {
    const body = await readJson(ctx);
    ctx.body = { version: await backup.createVersion(authOf(ctx).userId, body) };
  });
  router.get(v3('/room_keys/version'), requireAuth(s), async (ctx) => {
    ctx.body = await backup.getVersion(authOf(ctx).userId);
  });
  router.get(v3('/room_keys/version/:version'), requireAuth(s), async (ctx) => {
    ctx.body = await backup.getVersion(authOf(ctx).userId, ctx.params.version!);
  });
  router.put(v3('/room_keys/version/:version'), requireAuth(s), async (ctx) => {
    const body = await readJson(ctx);
    await backup.updateVersion(authOf(ctx).userId, ctx.params.version!, body);
    ctx.body = {};
  });
  router.delete(v3('/room_keys/version/:version'), requireAuth(s), async (ctx) => {
    await backup.deleteVersion(authOf(ctx).userId, ctx.params.version!);
    ctx.body = {};
  });

  router.put(v3('/room_keys/keys'), requireAuth(s), async (ctx) => {
    const body = await readJson(ctx, BACKUP_BODY_LIMIT);
    ctx.body = await backup.putKeys(authOf(ctx).userId, version(ctx), body.rooms);
  });
  router.put(v3('/room_keys/keys/:roomId'), requireAuth(s), async (ctx) => {
    const body = await readJson(ctx, BACKUP_BODY_LIMIT);
    if (body.sessions === undefined) throw badJson('Missing sessions');
    ctx.body = await backup.putKeys(authOf(ctx).userId, version(ctx), { [ctx.params.roomId!]: body });
  });
  router.put(v3('/room_keys/keys/:roomId/:sessionId'), requireAuth(s), async (ctx) => {
    const body = await readJson(ctx);
    ctx.body = await backup.putKeys(authOf(ctx).userId, version(ctx), { [ctx.params.roomId!]: { sessions: { [ctx.params.sessionId!]: body } } });
  });

  router.get(v3('/room_keys/keys'), requireAuth(s), async (ctx) => {
    ctx.body = await backup.getKeys(authOf(ctx).userId, version(ctx));
  });
  router.get(v3('/room_keys/keys/:roomId'), requireAuth(s), async (ctx) => {
    ctx.body = await backup.getKeys(authOf(ctx).userId, version(ctx), ctx.params.roomId!);
  });
  router.get(v3('/room_keys/keys/:roomId/:sessionId'), requireAuth(s), async (ctx) => {
    ctx.body = await backup.getKeys(authOf(ctx).userId, version(ctx), ctx.params.roomId!, ctx.params.sessionId!);
  });

  router.delete(v3('/room_keys/keys'), requireAuth(s), async (ctx) => {
    ctx.body = await backup.deleteKeys(authOf(ctx).userId, version(ctx));
  });
  router.delete(v3('/room_keys/keys/:roomId'), requireAuth(s), async (ctx) => {
    ctx.body = await backup.deleteKeys(authOf(ctx).userId, version(ctx), ctx.params.roomId!);
  });
  router.delete(v3('/room_keys/keys/:roomId/:sessionId'), requireAuth(s), async (ctx) => {
    ctx.body = await backup.deleteKeys(authOf(ctx).userId, version(ctx), ctx.params.roomId!, ctx.params.sessionId!);
  });
}
