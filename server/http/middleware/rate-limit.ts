/**
 * Rate-limit helpers for handlers: `limitBy(s, 'login', ctx.ip)` throws 429 M_LIMIT_EXCEEDED
 * with retry_after_ms when the bucket is empty. Buckets and defaults: services/rate-limiter.ts.
 */
import type Koa from 'koa';
import { limitExceeded } from '../errors.ts';
import type { Services } from '../../services/container.ts';

export function limitBy(s: Services, bucket: string, key: string, cost = 1): void {
  const wait = s.rateLimiter.take(bucket, key, cost);
  if (wait > 0) throw limitExceeded(wait);
}

/** Middleware limiting a route per client IP. */
export function rateLimitByIp(s: Services, bucket: string): Koa.Middleware {
  return async (ctx, next) => {
    limitBy(s, bucket, ctx.ip);
    await next();
  };
}
