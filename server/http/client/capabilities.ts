/**
 * GET /capabilities. Spec: client-server-api "Capabilities negotiation". Room versions come from
 * server/protocol/room-versions.ts (all stable, default 12).
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { DEFAULT_ROOM_VERSION, ROOM_VERSIONS } from '../../protocol/room-versions.ts';
import { requireAuth } from '../middleware/auth.ts';
import { v3 } from './account-params.ts';

export function capabilities(): Record<string, unknown> {
  const available: Record<string, string> = {};
  for (const id of ROOM_VERSIONS.keys()) available[id] = 'stable';
  return {
    'm.change_password': { enabled: true },
    'm.room_versions': { default: DEFAULT_ROOM_VERSION, available },
    'm.set_displayname': { enabled: true },
    'm.set_avatar_url': { enabled: true },
    // Hearth binds no e-mail addresses or phone numbers.
    'm.3pid_changes': { enabled: false },
    'm.get_login_token': { enabled: true },
  };
}

export function capabilitiesRoutes(router: Router, s: Services): void {
  router.get(v3('/capabilities'), requireAuth(s), (ctx) => {
    ctx.body = { capabilities: capabilities() };
  });
}
