/**
 * Streams a stored media file to the client: never read into memory, single byte ranges for
 * audio/video seeking (RFC 9110 §14), ETag revalidation (media bytes never change), and the
 * content repository's hardening headers on every response.
 */
import { open } from 'node:fs/promises';
import type Koa from 'koa';
import { MatrixError, notFound } from '../errors.ts';
import { hardeningHeaders } from '../../services/media/serving-policy.ts';

export interface SendFileOptions {
  path: string;
  size: number;
  contentType: string;
  contentDisposition: string;
  /** Strong validator: the content's sha256 (plus a suffix for thumbnails). */
  etag: string;
}

export type RangeResult = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Parses a Range header for a resource of `size` bytes. Only one range is honoured; a list of
 * several (rare, and costly to serve as multipart) gets the whole file, which RFC 9110 allows.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*([^,]+)$/i.exec(header);
  if (!m) return { kind: 'full' };
  const spec = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(m[1]!);
  if (!spec || (spec[1] === '' && spec[2] === '')) return { kind: 'full' };
  if (spec[1] === '') {
    // Suffix range: the last N bytes.
    const n = Number(spec[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(spec[1]);
  const end = spec[2] === '' ? size - 1 : Math.min(Number(spec[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'full' };
  return { kind: 'partial', start, end };
}

export async function sendFile(ctx: Koa.Context, o: SendFileOptions): Promise<void> {
  let fh;
  try {
    fh = await open(o.path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('Media file is missing on the server');
    throw e;
  }
  const etag = `"${o.etag}"`;
  ctx.set(hardeningHeaders());
  ctx.set('Accept-Ranges', 'bytes');
  ctx.set('ETag', etag);
  // Authenticated content: caches must not share it between users; the bytes never change.
  ctx.set('Cache-Control', 'private, max-age=31536000, immutable');

  if (ctx.get('if-none-match') === etag) {
    await fh.close();
    ctx.status = 304;
    return;
  }

  const ifRange = ctx.get('if-range');
  const range = ifRange && ifRange !== etag ? ({ kind: 'full' } as RangeResult) : parseRange(ctx.get('range') || undefined, o.size);
  if (range.kind === 'unsatisfiable') {
    await fh.close();
    ctx.set('Content-Range', `bytes */${o.size}`);
    throw new MatrixError(416, 'M_UNKNOWN', 'Requested range is not satisfiable');
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end : o.size - 1;
  const length = o.size === 0 ? 0 : end - start + 1;

  ctx.status = range.kind === 'partial' ? 206 : 200;
  if (ctx.method === 'HEAD' || length === 0) {
    // HEAD: headers only (Koa sends no body for HEAD); an empty file: an empty body.
    await fh.close();
    if (ctx.method !== 'HEAD') ctx.body = Buffer.alloc(0);
  } else {
    // The stream owns the file handle and closes it when done or when the client goes away.
    ctx.body = fh.createReadStream({ start, end, highWaterMark: 64 * 1024 });
  }
  if (range.kind === 'partial') ctx.set('Content-Range', `bytes ${start}-${end}/${o.size}`);
  ctx.set('Content-Type', o.contentType);
  ctx.set('Content-Disposition', o.contentDisposition);
  ctx.length = length;
}
