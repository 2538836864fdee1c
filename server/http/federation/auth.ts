/**
 * X-Matrix authentication for /_matrix/federation endpoints (server-server-api "Request
 * Authentication"). `signed(s, handler)` wraps a route handler: it reads the JSON body (signed
 * as `content`), verifies the Authorization header against the origin's keys, records the
 * origin in ctx.state and tells the federation service the origin is up (wakes its queue).
 */
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { readJson } from '../middleware/json-body.ts';

/** Transactions carry at most 50 PDUs of ≤ 64 KiB and 100 EDUs: a few MiB at most. */
export const FEDERATION_BODY_LIMIT = 8 * 1024 * 1024;

interface FedState {
  origin?: string;
}

export function originOf(ctx: Koa.Context): string {
  const o = (ctx.state as FedState).origin;
  if (!o) throw new Error('originOf called on an unauthenticated request');
  return o;
}

export type FedHandler = (ctx: Koa.Context, origin: string) => Promise<void>;

export function signed(s: Services, handler: FedHandler, opts: { bodyLimit?: number } = {}): Koa.Middleware {
  return async (ctx) => {
    // The signature covers `content` only when the request has a body (an empty PUT/POST signs none).
    const declared = ctx.get('content-length');
    const hasBody = (ctx.method === 'PUT' || ctx.method === 'POST') && declared !== '0' && (declared !== '' || ctx.get('transfer-encoding') !== '');
    const content = hasBody ? await readJson(ctx, opts.bodyLimit ?? FEDERATION_BODY_LIMIT) : undefined;
    if (!hasBody) (ctx.state as { jsonBody?: unknown }).jsonBody = {};
    const origin = await s.federation.auth.verify(ctx.method, ctx.originalUrl, ctx.get('authorization') || undefined, content);
    (ctx.state as FedState).origin = origin;
    s.federation.remoteContact(origin);
    await handler(ctx, origin);
  };
}
