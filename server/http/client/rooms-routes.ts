/** Every rooms-area client route module (registered from routes.ts with one line). */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { roomsRoutes } from './rooms.ts';
import { roomEventsRoutes } from './room-events.ts';
import { syncRoutes } from './sync.ts';
import { profileRoutes } from './profile.ts';
import { accountDataRoutes } from './account-data.ts';
import { relationsRoutes } from './relations.ts';
import { directoryRoutes } from './directory.ts';

export function clientRoomsRoutes(router: Router, s: Services): void {
  roomsRoutes(router, s);
  roomEventsRoutes(router, s);
  syncRoutes(router, s);
  profileRoutes(router, s);
  accountDataRoutes(router, s);
  relationsRoutes(router, s);
  directoryRoutes(router, s);
}
