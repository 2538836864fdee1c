/**
 * createApp(services) → the Koa app serving the client-server API, federation, media,
 * .well-known and the wizard. Tests call `app.callback()` with no listening socket.
 *
 * Routing: the core routes (health, /versions, .well-known) are registered here; every other
 * group of routes (server/http/routes.ts) is imported and built on the first request under its
 * prefix, together with the services it needs, and cached. Each request is dispatched through
 * one group only, and within it through the routes that share its leading literal segments
 * (RouteIndex).
 */
import Koa from 'koa';
import Router from '@koa/router';
import type { Services } from './services/container.ts';
import { matrixErrors } from './http/middleware/errors.ts';
import { requestLog } from './http/middleware/request-log.ts';
import { matrixCors } from './http/middleware/cors.ts';
import { CORE_PATHS, CORE_PREFIXES, coreRoutes, ROUTE_GROUPS, type RouteGroup } from './http/routes.ts';
import { RouteIndex } from './http/route-index.ts';
import { unrecognized } from './http/errors.ts';
import { httpsRedirect } from './http/appliance/https-redirect.ts';

/** Group prefixes, longest first, so the most specific group wins. */
const BY_PREFIX: Array<[string, RouteGroup]> = ROUTE_GROUPS.flatMap((g) => g.prefixes.map((p): [string, RouteGroup] => [p, g])).sort(
  (a, b) => b[0].length - a[0].length,
);

/** The group serving `path` (null: the core routes). Routing is case-insensitive, like @koa/router's. */
export function groupOf(path: string): RouteGroup | null {
  const p = path.toLowerCase();
  if (CORE_PATHS.has(p.endsWith('/') ? p.slice(0, -1) : p) || CORE_PREFIXES.some((c) => p.startsWith(c))) return null;
  for (const [prefix, g] of BY_PREFIX) if (p.startsWith(prefix)) return g;
  return null;
}

export interface HearthApp extends Koa {
  /** Names of the route groups loaded so far (tests, diagnostics). */
  loadedGroups(): string[];
}

export function createApp(s: Services): HearthApp {
  const app = new Koa({ proxy: false }) as HearthApp;
  // Koa logs unhandled errors to stderr by default; ours are logged by matrixErrors.
  app.silent = true;
  app.on('error', (err) => s.log.debug({ err }, 'koa error'));

  const core = new Router();
  coreRoutes(core, s);
  const coreIndex = new RouteIndex(core);
  const loaded = new Map<RouteGroup, Promise<RouteIndex>>();
  const indexFor = (g: RouteGroup): Promise<RouteIndex> => {
    let p = loaded.get(g);
    if (!p) {
      p = g.load(s).then((modules) => {
        const router = new Router();
        for (const register of modules) register(router, s);
        s.log.debug({ group: g.name, routes: router.stack.length }, 'route group loaded');
        return new RouteIndex(router);
      });
      // A failed load (e.g. a service that could not start) is retried by the next request.
      p.catch(() => loaded.delete(g));
      loaded.set(g, p);
    }
    return p;
  };
  app.loadedGroups = () => [...loaded.keys()].map((g) => g.name);

  app.use(requestLog(s.log));
  app.use(matrixErrors(s.log));
  app.use(matrixCors());
  app.use(httpsRedirect(s));
  app.use(async (ctx, next) => {
    const group = groupOf(ctx.path);
    const index = group ? await indexFor(group) : coreIndex;
    // The router calls this when no route matched the path and method.
    await index.dispatch(ctx, async () => {
      await next();
      if (ctx.status !== 404 || ctx.body !== undefined) return;
      // Spec: unknown endpoints → 404 M_UNRECOGNIZED; a known path with a wrong method → 405.
      if (ctx.path.startsWith('/_matrix/')) {
        const err = index.knowsPath(ctx.path) ? unrecognized('Method not allowed', 405) : unrecognized();
        ctx.status = err.status;
        ctx.body = err.toJSON();
      }
    });
  });
  return app;
}
