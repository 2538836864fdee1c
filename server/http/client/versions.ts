/**
 * GET /_matrix/client/versions — the spec versions Hearth really implements.
 * Spec: client-server-api/_index.md "API Versions". Grow SUPPORTED_VERSIONS only when every
 * endpoint a version requires works; clients choose features from this list.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';

export const SUPPORTED_VERSIONS: string[] = [];

export const UNSTABLE_FEATURES: Record<string, boolean> = {};

export function versionsRoutes(router: Router, _s: Services): void {
  router.get('/_matrix/client/versions', (ctx) => {
    ctx.body = { versions: SUPPORTED_VERSIONS, unstable_features: UNSTABLE_FEATURES };
  });
}
