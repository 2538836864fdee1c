/**
 * Turns anything thrown by a handler into a Matrix error response. Unexpected errors become
 * 500 M_UNKNOWN with no internals leaked, and are logged; the process never dies of a request.
 */
import type Koa from 'koa';
import { MatrixError } from '../errors.ts';
import type { Logger } from '../../logging.ts';

export function matrixErrors(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof MatrixError) {
        ctx.status = err.status;
        ctx.body = err.toJSON();
        return;
      }
      const e = err as { status?: number; expose?: boolean; message?: string; type?: string };
      // Koa/http-errors raised by body parsing etc. carry a 4xx status and are safe to expose.
      if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
        ctx.status = e.status;
        ctx.body = { errcode: e.status === 413 ? 'M_TOO_LARGE' : 'M_UNKNOWN', error: e.expose ? e.message : 'Bad request' };
        return;
      }
      log.error({ err, method: ctx.method, path: ctx.path }, 'unhandled error in request');
      ctx.status = 500;
      ctx.body = { errcode: 'M_UNKNOWN', error: 'Internal server error' };
    }
  };
}
