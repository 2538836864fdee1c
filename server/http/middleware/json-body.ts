/**
 * Reads a JSON request body with a size limit. Handlers call `readJson(ctx)` when they need a
 * body, so GETs and streamed uploads never buffer. Errors are the spec's: M_NOT_JSON for
 * unparsable bodies, M_BAD_JSON for a non-object, M_TOO_LARGE past the limit.
 */
import type Koa from 'koa';
import { badJson, notJson, tooLarge } from '../errors.ts';

export const DEFAULT_JSON_LIMIT = 1024 * 1024;

export async function readBody(ctx: Koa.Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limit) throw tooLarge(`Request body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      ctx.req.destroy();
      throw tooLarge(`Request body is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Parses the body as a JSON object. An empty body is `{}` (several endpoints allow it). */
export async function readJson<T = Record<string, unknown>>(ctx: Koa.Context, limit = DEFAULT_JSON_LIMIT): Promise<T> {
  const cached = (ctx.state as { jsonBody?: unknown }).jsonBody;
  if (cached !== undefined) return cached as T;
  const raw = await readBody(ctx, limit);
  let value: unknown = {};
  if (raw.length > 0) {
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      throw notJson('Request body is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badJson('Request body must be a JSON object');
  }
  (ctx.state as { jsonBody?: unknown }).jsonBody = value;
  return value as T;
}
