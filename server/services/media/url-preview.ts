/**
 * preview_url: fetch a page through the SSRF guard, extract OpenGraph metadata, store its image
 * as local media, cache the answer. Spec: GET /_matrix/client/v1/media/preview_url — "The
 * OpenGraph data for the URL, which may be empty", with og:image replaced by an mxc:// URI and
 * matrix:image:size added.
 */
import type { Logger } from '../../logging.ts';
import type { MediaStore } from '../../storage/media-store.ts';
import { MatrixError, forbidden, invalidParam, limitExceeded } from '../../http/errors.ts';
import { FetchLimitError, SsrfError, addressChecker, guardedFetch, type GuardOptions } from '../net/ssrf-guard.ts';
import { Limiter, QueueFullError } from './limiter.ts';
import { metaCharset, parseOpenGraph } from './og-parser.ts';
import { sniff } from './sniff.ts';
import { HEARTH_VERSION } from '../../version.ts';

/** Most bytes of a page read: OpenGraph tags live in <head>, so a prefix is enough. */
export const PREVIEW_PAGE_BYTES = 1024 * 1024;
/** Largest og:image (or directly linked image) stored for a preview. */
export const PREVIEW_IMAGE_BYTES = 10 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 10_000;
const CACHE_MS = 60 * 60 * 1000;

export interface StoredImage {
  mxc: string;
  size: number;
  contentType: string;
  width?: number;
  height?: number;
}

export interface UrlPreviewOptions {
  store: MediaStore;
  log: Logger;
  now: () => number;
  guard: GuardOptions;
  /** Stores image bytes as local media (no owner, so no quota) and returns what to put in og:image*. */
  storeImage: (bytes: Buffer, contentType: string) => Promise<StoredImage>;
}

export class UrlPreviewer {
  private readonly limiter = new Limiter(4, 32);
  private readonly inflight = new Map<string, Promise<Record<string, unknown>>>();

  constructor(private readonly o: UrlPreviewOptions) {
    // Parse the allowlist now so a bad entry is reported at startup, not on the first preview.
    addressChecker(o.guard);
  }

  async preview(raw: string): Promise<Record<string, unknown>> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalidParam('url is not a valid absolute URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidParam('Only http and https URLs can be previewed');
    if (url.username || url.password) throw invalidParam('URLs with credentials cannot be previewed');
    url.hash = '';
    const key = url.toString();
    const cached = await this.o.store.getPreview(key, this.o.now());
    if (cached) return JSON.parse(cached) as Record<string, unknown>;
    let job = this.inflight.get(key);
    if (!job) {
      job = this.limiter
        .run(() => this.fetchPreview(url))
        .then(async (og) => {
          const now = this.o.now();
          await this.o.store.putPreview(key, JSON.stringify(og), now, now + CACHE_MS);
          return og;
        })
        .catch((e: unknown) => {
          throw this.toMatrixError(e, url);
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, job);
    }
    return job;
  }

  private async fetchPreview(url: URL): Promise<Record<string, unknown>> {
    const res = await guardedFetch(url, {
      maxBytes: PREVIEW_PAGE_BYTES,
      // Images are stored whole (up to their limit); of a page only the head matters.
      limitFor: (h) =>
        String(h['content-type'] ?? '').startsWith('image/')
          ? { maxBytes: PREVIEW_IMAGE_BYTES, truncate: false }
          : { maxBytes: PREVIEW_PAGE_BYTES, truncate: true },
      timeoutMs: FETCH_TIMEOUT_MS,
      guard: this.o.guard,
      headers: { 'user-agent': `Hearth/${HEARTH_VERSION} (Matrix URL preview)`, accept: 'text/html,application/xhtml+xml,image/*;q=0.9,*/*;q=0.5' },
    });
    if (res.status < 200 || res.status >= 300) {
      throw new MatrixError(502, 'M_UNKNOWN', `Fetching the URL failed with HTTP ${res.status}`);
    }
    const contentType = String(res.headers['content-type'] ?? '').toLowerCase();
    const sniffed = sniff(res.body.subarray(0, 4096));
    if (contentType.startsWith('image/') && sniffed && sniffed.startsWith('image/') && sniffed !== 'image/svg+xml') {
      const img = await this.o.storeImage(res.body, sniffed);
      const name = decodeURIComponent(res.url.pathname.split('/').pop() ?? '') || res.url.hostname;
      return { 'og:title': name, ...imageFields(img) };
    }
    if (!contentType.includes('html') && sniffed !== 'text/html') return {};
    const html = decode(res.body, contentType);
    const og: Record<string, unknown> = parseOpenGraph(html);
    const image = typeof og['og:image'] === 'string' ? og['og:image'] : undefined;
    delete og['og:image'];
    delete og['og:image:secure_url'];
    delete og['og:image:url'];
    if (image) {
      try {
        const stored = await this.fetchImage(new URL(image, res.url));
        if (stored) Object.assign(og, imageFields(stored));
      } catch (err) {
        // A preview without its picture is still useful.
        this.o.log.debug({ err: (err as Error).message, url: url.origin }, 'preview image not fetched');
      }
    }
    return og;
  }

  private async fetchImage(url: URL): Promise<StoredImage | undefined> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    const res = await guardedFetch(url, { maxBytes: PREVIEW_IMAGE_BYTES, timeoutMs: FETCH_TIMEOUT_MS, guard: this.o.guard });
    if (res.status < 200 || res.status >= 300) return undefined;
    const sniffed = sniff(res.body.subarray(0, 4096));
    if (!sniffed || !sniffed.startsWith('image/') || sniffed === 'image/svg+xml') return undefined;
    return this.o.storeImage(res.body, sniffed);
  }

  private toMatrixError(e: unknown, url: URL): Error {
    if (e instanceof MatrixError) return e;
    if (e instanceof SsrfError) return forbidden('This URL points to an address that is not allowed for previews');
    if (e instanceof QueueFullError) return limitExceeded(2000);
    if (e instanceof FetchLimitError) return new MatrixError(502, 'M_UNKNOWN', `Fetching the URL failed: ${e.message}`);
    this.o.log.debug({ err: (e as Error).message, host: url.hostname }, 'preview fetch failed');
    return new MatrixError(502, 'M_UNKNOWN', 'Fetching the URL failed');
  }
}

function imageFields(img: StoredImage): Record<string, unknown> {
  const out: Record<string, unknown> = { 'og:image': img.mxc, 'og:image:type': img.contentType, 'matrix:image:size': img.size };
  if (img.width) out['og:image:width'] = img.width;
  if (img.height) out['og:image:height'] = img.height;
  return out;
}

/** Decodes a page with the charset from its Content-Type or <meta charset>, UTF-8 otherwise. */
function decode(body: Buffer, contentType: string): string {
  const label = /charset\s*=\s*"?([a-zA-Z0-9_.:-]+)/.exec(contentType)?.[1] ?? metaCharset(body.subarray(0, 2048).toString('latin1'));
  try {
    return new TextDecoder(label ?? 'utf-8').decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}
