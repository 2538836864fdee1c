/**
 * /.well-known/matrix/server and /.well-known/matrix/client, served whenever the server name
 * and the public host are known (setup step 3, or --server-name/--public-baseurl). They matter
 * when Hearth is also the web server of its server name's domain; otherwise the base domain's
 * web server publishes the same JSON (the wizard's delegation step).
 * Spec: server-server-api "Server discovery" (m.server) and client-server-api "Well-known URIs"
 * (m.homeserver.base_url; JSON with CORS so web clients can read it — the global CORS
 * middleware adds the headers for /.well-known/matrix/*).
 */
import type Router from '@koa/router';
import type { Services } from '../services/container.ts';
import { notFound } from './errors.ts';
import { clientWellKnown, serverWellKnown } from '../appliance/checks/delegation.ts';

export function wellKnownRoutes(router: Router, s: Services): void {
  const names = () => {
    const serverName = s.config.server_name;
    const publicHost = s.appliance.publicHost();
    return serverName && publicHost ? { serverName, publicHost } : null;
  };
  router.get('/.well-known/matrix/server', async (ctx) => {
    await s.appliance.setup();
    const n = names();
    if (!n) throw notFound('This server has not been set up yet.');
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = 'application/json';
    ctx.body = serverWellKnown(n);
  });
  router.get('/.well-known/matrix/client', async (ctx) => {
    await s.appliance.setup();
    const n = names();
    if (!n) throw notFound('This server has not been set up yet.');
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = 'application/json';
    ctx.body = clientWellKnown(n);
  });
}
