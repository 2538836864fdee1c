/** One log line per request: method, path (secrets masked), status, duration. */
import type Koa from 'koa';
import { safePath, type Logger } from '../../logging.ts';

export function requestLog(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    const start = performance.now();
    try {
      await next();
    } finally {
      const ms = Math.round((performance.now() - start) * 10) / 10;
      log.info({ method: ctx.method, path: safePath(ctx.originalUrl), status: ctx.status, ms }, 'request');
    }
  };
}
