/**
 * Serves the built wizard/dashboard (Svelte + Vite, built into dist/ui): index.html for the
 * app's own paths (/, /setup/…, /dashboard/…) and hashed assets under /assets/ with long
 * caching. Strict security headers: the UI handles the setup token and admin sessions.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { notFound } from '../errors.ts';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** dist/ui next to the bundle (dist/hearth.mjs, dist/server/*.mjs) or in the repo when run from source. */
export function findUiDir(configured: string | null): string | null {
  if (configured) return configured;
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [join(here, 'ui'), join(here, '../ui'), join(here, '../../../dist/ui'), join(process.cwd(), 'dist/ui')]) {
    if (existsSync(join(c, 'index.html'))) return resolve(c);
  }
  return null;
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Hearth</title>
<body style="font-family:sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem">
<h1>Hearth is running</h1><p>The setup web interface is not built. Run <code>npm run build</code> and reload.</p></body></html>`;

function securityHeaders(ctx: Koa.Context): void {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set(
    'Content-Security-Policy',
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  );
}

export function staticUiRoutes(router: Router, s: Services): void {
  let dir: string | null | undefined;
  const uiDir = () => (dir === undefined || dir === null ? (dir = findUiDir(s.config.ui_dir)) : dir);

  const index: Koa.Middleware = async (ctx) => {
    securityHeaders(ctx);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'text/html; charset=utf-8';
    const d = uiDir();
    ctx.body = d ? readFileSync(join(d, 'index.html')) : NOT_BUILT;
  };
  router.get('/', index);
  router.get('/setup', index);
  router.get('/setup/:step', index);
  router.get('/dashboard', index);
  router.get('/dashboard/:page', index);

  const asset: Koa.Middleware = async (ctx) => {
    const d = uiDir();
    const name = ctx.params.file ?? '';
    if (!d || !/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw notFound();
    const sub = ctx.path.startsWith('/assets/') ? 'assets' : '';
    const file = join(d, sub, name);
    if (!existsSync(file) || !statSync(file).isFile()) throw notFound();
    securityHeaders(ctx);
    ctx.set('Cache-Control', sub ? 'public, max-age=31536000, immutable' : 'public, max-age=3600');
    ctx.type = TYPES[extname(name)] ?? 'application/octet-stream';
    ctx.body = readFileSync(file);
  };
  router.get('/assets/:file', asset);
  router.get('/favicon.svg', async (ctx, next) => {
    ctx.params.file = 'favicon.svg';
    return asset(ctx, next);
  });
}
