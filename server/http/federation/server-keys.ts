/**
 * GET /_matrix/key/v2/server: this server's signing keys, self-signed. Spec: server-server-api
 * "Publishing Keys". valid_until_ts is a day ahead: other servers cache the key that long and
 * refetch after (they cap it at 7 days anyway). Minimal for the setup self-test; the
 * federation area extends it (old_verify_keys, notary endpoints).
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { makeServerKeys } from '../../protocol/signing.ts';
import { MatrixError } from '../errors.ts';

export const KEY_VALIDITY_MS = 24 * 3600_000;

export function serverKeysRoutes(router: Router, s: Services): void {
  router.get('/_matrix/key/v2/server', async (ctx) => {
    const serverName = s.config.server_name;
    if (!serverName) throw new MatrixError(404, 'M_NOT_FOUND', 'This server has no name yet.');
    // With federation running, retired keys are listed under old_verify_keys too (federation/keys.ts).
    ctx.body = s.federation ? s.federation.keys.ownServerKeys() : makeServerKeys(serverName, s.appliance.signingKeys(), [], s.now() + KEY_VALIDITY_MS);
  });
}
