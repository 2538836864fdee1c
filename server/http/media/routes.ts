/** Every media endpoint (registered from server/http/routes.ts with one line). */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { uploadRoutes } from './upload-routes.ts';
import { downloadRoutes } from './download-routes.ts';
import { infoRoutes } from './info-routes.ts';
import { mediaAdminRoutes } from './admin-routes.ts';

export function mediaRoutes(router: Router, s: Services): void {
  uploadRoutes(router, s);
  downloadRoutes(router, s);
  infoRoutes(router, s);
  mediaAdminRoutes(router, s);
}
