/**
 * Reads a JSON request body with a size limit. Handlers call `readJson(ctx)` when they need a
 * body, so GETs and streamed uploads never buffer. Errors are the spec's: M_NOT_JSON for
 * unparsable bodies, M_BAD_JSON for a non-object, M_TOO_LARGE past the limit.
 */
import type Koa from 'koa';
import { badJson, notJson, tooLarge } from '../errors.ts';

export const DEFAULT_JSON_LIMIT = 1024 * 1024;

export function readBody(ctx: Koa.Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limit) return Promise.reject(refuseTooLarge(ctx, limit));
  const req = ctx.req;
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // Plain stream events rather than `for await`: the async iterator costs a promise and a
  // microtask turn per chunk, a measurable share of every small JSON request (a message send).
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        reject(refuseTooLarge(ctx, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    // The client went away before the body was complete.
    const onClose = () => {
      if (req.complete) return;
      done();
      reject(Object.assign(new Error('request aborted'), { code: 'ECONNRESET' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * 413 for a body past the limit. The rest of the body is not read into memory; the connection
 * closes once the answer is written (Node discards what still arrives until then). Destroying the
 * socket at once would reset the connection before the client could read its 413.
 */
function refuseTooLarge(ctx: Koa.Context, limit: number): Error {
  ctx.set('Connection', 'close');
  return tooLarge(`Request body is larger than ${limit} bytes`);
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
