/**
 * Everything the 'full' part brings (services/container.ts `load('full')`): the services'
 * builder and the route modules of every group that needs them (client, federation, media,
 * hearth; server/http/routes.ts), in ONE module that both import.
 *
 * Why one: esbuild puts each module the start needs into a chunk per distinct set of dynamic
 * imports that reach it. Each of these modules imported on its own was such an entry point, and
 * the start's modules ended up in more, smaller chunks; every chunk import is an ESM resolution,
 * and enough of those make Node's path code hot enough for TurboFan during start (~3.7 MB of
 * compiler code resident: issue 2, idle RSS; scripts/build.mjs). These groups load all of the
 * services anyway, so importing their route modules together costs nothing measurable.
 */
export { buildFullServices } from './services/full-services.ts';
export { accountsRoutes } from './http/client/accounts-routes.ts';
export { mediaRoutes } from './http/media/routes.ts';
export { clientRoomsRoutes } from './http/client/rooms-routes.ts';
export { federationRoutes } from './http/federation/routes.ts';
export { keysRoutes } from './http/client/keys.ts';
export { crossSigningRoutes } from './http/client/cross-signing.ts';
export { toDeviceRoutes } from './http/client/to-device.ts';
export { keyBackupRoutes } from './http/client/key-backup.ts';
export { dehydratedDeviceRoutes } from './http/client/dehydrated-device.ts';
export { serverKeysRoutes } from './http/federation/server-keys.ts';
export { acmeChallengeRoutes } from './http/appliance/acme-challenge.ts';
export { setupRoutes } from './http/appliance/setup-routes.ts';
export { adminRoutes } from './http/appliance/admin-routes.ts';
export { backupRoutes } from './http/appliance/backup.ts';
