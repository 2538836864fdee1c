/** Every /_matrix/federation and /_matrix/key route of the federation area (GET /_matrix/key/v2/server lives in server-keys.ts). */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { keyQueryRoutes } from './key-query.ts';
import { versionRoutes } from './version.ts';
import { queryRoutes } from './queries.ts';
import { sendRoutes } from './send.ts';
import { membershipRoutes } from './membership.ts';
import { eventsRoutes } from './events.ts';
import { userRoutes } from './user.ts';
import { thirdPartyRoutes } from './third-party.ts';
import { federationExtrasRoutes } from './extras-routes.ts';

export function federationRoutes(router: Router, s: Services): void {
  keyQueryRoutes(router, s);
  versionRoutes(router, s);
  queryRoutes(router, s);
  sendRoutes(router, s);
  membershipRoutes(router, s);
  eventsRoutes(router, s);
  userRoutes(router, s);
  thirdPartyRoutes(router, s);
  federationExtrasRoutes(router, s);
}
