/**
 * Thumbnails with sharp (libvips). Safety on a 2 GB board:
 * - sharp is imported on the first thumbnail only, so startup stays fast and lean.
 * - Dimensions are read from the header first and images over the pixel limit are refused
 *   (413 M_TOO_LARGE) before any decoding; sharp's own `limitInputPixels` backs that up, so a
 *   small file claiming huge dimensions (a decompression bomb) never gets decoded.
 * - At most `concurrency` images are processed at once and at most `maxQueue` wait; past that
 *   the client is asked to retry (429). The work runs on libuv/libvips threads, off the event loop.
 * - JPEG and WebP shrink on load, so a 12 MP photo never exists at full size in memory.
 * - EXIF orientation is applied, and metadata is not copied into the thumbnail (sharp's default).
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sharp, SharpOptions } from 'sharp';
import type { Logger } from '../../logging.ts';
import type { MediaStore, ThumbnailRow } from '../../storage/media-store.ts';
import type { BlobFiles } from './blob-files.ts';
import { Limiter } from './limiter.ts';
import { chooseBox, DEFAULT_THUMBNAILS, outputSize, type ThumbnailBox } from './thumbnail-sizes.ts';

type SharpFactory = (input?: string | Buffer, options?: SharpOptions) => Sharp;

export class ThumbnailError extends Error {
  constructor(
    readonly kind: 'unsupported' | 'too-large' | 'busy',
    message: string,
  ) {
    super(message);
  }
}

/** Types we decode. Not SVG/PDF/TIFF/HEIF: more decoder attack surface for little use in chat. */
export const THUMBNAILABLE = new Set(['image/jpeg', 'image/png', 'image/apng', 'image/gif', 'image/webp']);
const ANIMATABLE = new Set(['image/gif', 'image/webp']);
/** Frames kept in an animated thumbnail. */
const MAX_FRAMES = 150;

export interface ThumbnailSource {
  sha256: string;
  path: string;
  sniffedType: string | null;
  size: number;
}

export interface ThumbnailRequest extends ThumbnailBox {
  animated: boolean;
}

export interface ThumbnailResult {
  path: string;
  contentType: string;
  size: number;
  width: number;
  height: number;
}

export interface ThumbnailerOptions {
  files: BlobFiles;
  store: MediaStore;
  log: Logger;
  now: () => number;
  maxPixels: number;
  maxSourceBytes: number;
  concurrency: number;
  maxQueue: number;
}

let sharpLoading: Promise<SharpFactory> | null = null;

/** sharp is loaded once, on first use. */
function loadSharp(): Promise<SharpFactory> {
  sharpLoading ??= import('sharp').then((m) => {
    const sharp = m.default;
    // libvips' operation cache keeps decoded images around for reuse: pure memory cost here.
    sharp.cache(false);
    // One libvips thread per image; parallelism comes from processing images side by side.
    sharp.concurrency(1);
    return sharp as unknown as SharpFactory;
  });
  return sharpLoading;
}

export class Thumbnailer {
  readonly limiter: Limiter;
  private readonly inflight = new Map<string, Promise<ThumbnailResult>>();

  constructor(private readonly o: ThumbnailerOptions) {
    this.limiter = new Limiter(o.concurrency, o.maxQueue);
  }

  /** A stored thumbnail for the request, generating it (and the spec's default sizes afterwards) if needed. */
  async get(src: ThumbnailSource, req: ThumbnailRequest): Promise<ThumbnailResult> {
    if (!src.sniffedType || !THUMBNAILABLE.has(src.sniffedType)) {
      throw new ThumbnailError('unsupported', 'Cannot generate thumbnails for this content type');
    }
    if (src.size > this.o.maxSourceBytes) throw new ThumbnailError('too-large', 'Content is too large to thumbnail');
    const box = chooseBox(req);
    const animated = req.animated && ANIMATABLE.has(src.sniffedType);
    const cached = await this.cached(src.sha256, box, animated);
    if (cached) return cached;
    const key = `${src.sha256}/${box.width}x${box.height}/${box.method}/${animated ? 1 : 0}`;
    let job = this.inflight.get(key);
    if (!job) {
      job = this.limiter
        .run(() => this.generate(src, box, animated))
        .catch((e: unknown) => {
          if (e instanceof Error && e.name === 'QueueFullError') throw new ThumbnailError('busy', 'Thumbnailer busy, retry shortly');
          throw e;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, job);
      void job.then(() => this.pregenerateDefaults(src), () => undefined);
    }
    return job;
  }

  private async cached(sha256: string, box: ThumbnailBox, animated: boolean): Promise<ThumbnailResult | undefined> {
    const row = await this.o.store.getThumbnail(sha256, box, animated);
    if (!row) return undefined;
    const path = join(this.o.files.thumbnailDir(sha256), row.file_name);
    try {
      await stat(path);
    } catch {
      // The file went missing (disk cleanup, restore without thumbnails): regenerate.
      await this.o.store.deleteThumbnail(sha256, row.file_name);
      return undefined;
    }
    return { path, contentType: row.content_type, size: row.size, width: row.width, height: row.height };
  }

  /**
   * Spec: servers SHOULD produce the default sizes. They are made once per blob, after the first
   * request, one at a time and only while nobody is waiting for the thumbnailer.
   */
  private pregenerateDefaults(src: ThumbnailSource): void {
    void (async () => {
      for (const box of DEFAULT_THUMBNAILS) {
        if (this.limiter.waiting > 0 || this.limiter.active >= this.limiter.concurrency) return;
        if (await this.o.store.getThumbnail(src.sha256, box, false)) continue;
        const key = `${src.sha256}/${box.width}x${box.height}/${box.method}/0`;
        if (this.inflight.has(key)) continue;
        const job = this.limiter.run(() => this.generate(src, box, false)).finally(() => this.inflight.delete(key));
        this.inflight.set(key, job);
        await job;
      }
    })().catch((err: unknown) => this.o.log.debug({ err, sha256: src.sha256 }, 'default thumbnail pregeneration stopped'));
  }

  private async generate(src: ThumbnailSource, box: ThumbnailBox, wantAnimated: boolean): Promise<ThumbnailResult> {
    const sharp = await loadSharp();
    const base: SharpOptions = { limitInputPixels: this.o.maxPixels, failOn: 'warning', sequentialRead: true };
    let meta;
    try {
      meta = await sharp(src.path, { ...base, pages: 1 }).metadata();
    } catch (err) {
      throw this.decodeError(err);
    }
    const pages = meta.pages ?? 1;
    const pageHeight = meta.pageHeight ?? meta.height;
    if (meta.width * pageHeight > this.o.maxPixels) throw new ThumbnailError('too-large', 'Image is too large to thumbnail');
    // An animation is kept only if all its frames together stay under the pixel limit.
    const frames = Math.min(pages, MAX_FRAMES);
    const animated = wantAnimated && pages > 1 && meta.width * pageHeight * frames <= this.o.maxPixels;
    const oriented = (meta.orientation ?? 1) >= 5 ? { w: pageHeight, h: meta.width } : { w: meta.width, h: pageHeight };

    // Spec: content smaller than the request is returned at its own size, never upscaled or cropped.
    const smaller = oriented.w <= box.width && oriented.h <= box.height;
    const size = smaller ? { width: oriented.w, height: oriented.h } : outputSize(oriented.w, oriented.h, box);
    const format = animated ? 'webp' : meta.hasAlpha || src.sniffedType === 'image/gif' ? 'png' : 'jpeg';

    let img = sharp(src.path, { ...base, pages: animated ? frames : 1, animated, autoOrient: !animated });
    img = img.resize(size.width, size.height, { fit: box.method === 'crop' && !smaller ? 'cover' : 'fill', position: 'centre' });
    if (format === 'webp') img = img.webp({ quality: 75, effort: 2 });
    else if (format === 'png') img = img.png({ compressionLevel: 6, adaptiveFiltering: false });
    else img = img.jpeg({ quality: 80, progressive: false });
    img = img.timeout({ seconds: 30 });

    const dir = this.o.files.thumbnailDir(src.sha256);
    const fileName = `${box.width}x${box.height}-${box.method}${animated ? '-a' : ''}.${format === 'jpeg' ? 'jpg' : format}`;
    const tmp = this.o.files.tempPath('th');
    let info;
    try {
      info = await img.toFile(tmp);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await rename(tmp, join(dir, fileName));
    } catch (err) {
      await rm(tmp, { force: true });
      throw this.decodeError(err);
    }
    const row: ThumbnailRow = {
      sha256: src.sha256,
      box_width: box.width,
      box_height: box.height,
      method: box.method,
      animated: wantAnimated ? 1 : 0,
      width: size.width,
      height: size.height,
      content_type: `image/${format}`,
      size: info.size,
      file_name: fileName,
      created_ts: this.o.now(),
    };
    await this.o.store.putThumbnail(row);
    return { path: join(dir, fileName), contentType: row.content_type, size: row.size, width: row.width, height: row.height };
  }

  private decodeError(err: unknown): Error {
    if (err instanceof ThumbnailError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    if (/pixel limit|exceeds/i.test(msg)) return new ThumbnailError('too-large', 'Image is too large to thumbnail');
    if (/ENOSPC|EACCES|EIO/.test(msg)) return err as Error;
    this.o.log.debug({ err: msg }, 'thumbnail decode failed');
    return new ThumbnailError('unsupported', 'Cannot generate thumbnails for the requested content');
  }
}

/** Lets tests and the bench check whether sharp was loaded (startup must not load it). */
export function sharpLoaded(): boolean {
  return sharpLoading !== null;
}

/** Width and height from an image's header (no decoding), or undefined if it is not one sharp reads. */
export async function imageDimensions(input: Buffer | string): Promise<{ width: number; height: number } | undefined> {
  try {
    const sharp = await loadSharp();
    const meta = await sharp(input, { pages: 1 }).metadata();
    const oriented = (meta.orientation ?? 1) >= 5;
    const h = meta.pageHeight ?? meta.height;
    return oriented ? { width: h, height: meta.width } : { width: meta.width, height: h };
  } catch {
    return undefined;
  }
}
