/** Routes of the second federation part: media, public rooms, spaces, OpenID (one line in routes.ts). */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { federationMediaRoutes } from './media.ts';
import { federationDirectoryRoutes } from './directory.ts';
import { openIdRoutes } from './openid.ts';

export function federationExtrasRoutes(router: Router, s: Services): void {
  federationMediaRoutes(router, s);
  federationDirectoryRoutes(router, s);
  openIdRoutes(router, s);
}
