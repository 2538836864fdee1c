/**
 * GET /_matrix/client/versions — the spec versions Hearth really implements.
 * Spec: client-server-api/_index.md "API Versions". Grow SUPPORTED_VERSIONS only when every
 * endpoint a version requires works; clients choose features from this list.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';

/**
 * r0.x and v1.1–v1.12: accounts, devices, rooms, /sync, relations and threads (v1.4), private and
 * threaded receipts (v1.4), timestamp_to_event (v1.6), server-side aggregation rules (v1.7),
 * room version 11 (v1.8), recursive /relations (v1.10), authenticated media (v1.11).
 * Not claimed: v1.13+ (OAuth metadata and later profile/invite-permission changes are not built).
 */
export const SUPPORTED_VERSIONS: string[] = [
  'r0.0.1', 'r0.1.0', 'r0.2.0', 'r0.3.0', 'r0.4.0', 'r0.5.0', 'r0.6.0', 'r0.6.1',
  'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11', 'v1.12',
];

export const UNSTABLE_FEATURES: Record<string, boolean> = {};

export function versionsRoutes(router: Router, _s: Services): void {
  router.get('/_matrix/client/versions', (ctx) => {
    ctx.body = { versions: SUPPORTED_VERSIONS, unstable_features: UNSTABLE_FEATURES };
  });
}
