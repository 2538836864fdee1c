/**
 * CORS for the Matrix APIs: web clients (Element Web) call us from other origins.
 * Spec: client-server-api/_index.md "Web Browser Clients" — every response carries these
 * headers and OPTIONS preflights are answered without authentication.
 */
import type Koa from 'koa';

export function matrixCors(): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.path.startsWith('/_matrix/') || ctx.path.startsWith('/.well-known/matrix/')) {
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT, DELETE, OPTIONS');
      ctx.set('Access-Control-Allow-Headers', 'X-Requested-With, Content-Type, Authorization');
      if (ctx.method === 'OPTIONS') {
        ctx.status = 204;
        return;
      }
    }
    await next();
  };
}
