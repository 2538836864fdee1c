/** One log line per request: method, path (secrets masked), status, duration. */
import type Koa from 'koa';
import { requestLoggerFor, safePath, type Logger } from '../../logging.ts';

export function requestLog(log: Logger): Koa.Middleware {
  // The line's fields hold no secrets (safePath masks the query), so it skips redaction.
  const lines = requestLoggerFor(log);
  return async (ctx, next) => {
    const start = performance.now();
    try {
      await next();
    } finally {
      if (lines.isLevelEnabled('info')) {
        const ms = Math.round((performance.now() - start) * 10) / 10;
        lines.info({ method: ctx.method, path: safePath(ctx.originalUrl), status: ctx.status, ms }, 'request');
      }
    }
  };
}
