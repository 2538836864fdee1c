/**
 * Every route module, registered in one place. Add one line per module; each module owns its
 * paths and gets the services it needs from `s`.
 */
import type Router from '@koa/router';
import type { Services } from '../services/container.ts';
import { healthRoutes } from './health.ts';
import { versionsRoutes } from './client/versions.ts';
import { accountsRoutes } from './client/accounts-routes.ts';
import { mediaRoutes } from './media/routes.ts';
import { clientRoomsRoutes } from './client/rooms-routes.ts';
import { applianceRoutes } from './appliance/index.ts';
import { wellKnownRoutes } from './well-known.ts';
import { serverKeysRoutes } from './federation/server-keys.ts';
import { federationRoutes } from './federation/routes.ts';
import { keysRoutes } from './client/keys.ts';
import { crossSigningRoutes } from './client/cross-signing.ts';
import { toDeviceRoutes } from './client/to-device.ts';
import { keyBackupRoutes } from './client/key-backup.ts';
import { dehydratedDeviceRoutes } from './client/dehydrated-device.ts';
import { backupRoutes } from './appliance/backup.ts';

export function registerRoutes(router: Router, s: Services): void {
  healthRoutes(router, s);
  versionsRoutes(router, s);
  accountsRoutes(router, s);
  mediaRoutes(router, s);
  clientRoomsRoutes(router, s);
  applianceRoutes(router, s);
  wellKnownRoutes(router, s);
  serverKeysRoutes(router, s);
  federationRoutes(router, s);
  keysRoutes(router, s);
  crossSigningRoutes(router, s);
  toDeviceRoutes(router, s);
  keyBackupRoutes(router, s);
  dehydratedDeviceRoutes(router, s);
  backupRoutes(router, s);
}
