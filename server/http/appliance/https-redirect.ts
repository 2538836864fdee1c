/**
 * Once setup has finished and the managed certificate exists, plain HTTP only serves what must
 * stay plain (ACME HTTP-01, the reachability probe, /health) and sends everything else to the
 * HTTPS address. Before that, plain HTTP serves everything: the wizard runs on it.
 */
import type Koa from 'koa';
import type { TLSSocket } from 'node:tls';
import type { Services } from '../../services/container.ts';
import { splitHost } from '../../appliance/checks/delegation.ts';

const PLAIN_OK = /^\/(\.well-known\/acme-challenge\/|_hearth\/probe\/|health$)/;

export function httpsRedirect(s: Services): Koa.Middleware {
  return async (ctx, next) => {
    if ((ctx.req.socket as TLSSocket).encrypted || PLAIN_OK.test(ctx.path)) return next();
    const host = s.appliance.redirectHost();
    if (!host) return next();
    const { host: name, port } = splitHost(host);
    ctx.status = ctx.method === 'GET' || ctx.method === 'HEAD' ? 301 : 308;
    ctx.redirect(`https://${name}${port === 443 ? '' : `:${port}`}${ctx.originalUrl}`);
  };
}
