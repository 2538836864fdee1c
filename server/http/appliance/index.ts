/** The appliance's HTTP surface: wizard API, dashboard API, ACME answers and probe, the UI itself. */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { setupRoutes } from './setup-routes.ts';
import { adminRoutes } from './admin-routes.ts';
import { acmeChallengeRoutes } from './acme-challenge.ts';
import { staticUiRoutes } from './static-ui.ts';

export function applianceRoutes(router: Router, s: Services): void {
  acmeChallengeRoutes(router, s);
  setupRoutes(router, s);
  adminRoutes(router, s);
  staticUiRoutes(router, s);
}
