/**
 * Which thumbnail to produce for a request, and its exact pixel size. Pure arithmetic.
 * Spec: client-server-api "Thumbnails":
 * - "scale" keeps the aspect ratio and fits the image in the box; "crop" fills the box and
 *   keeps the box's aspect ratio.
 * - "Servers SHOULD produce thumbnails with the following dimensions and methods": 32x32 crop,
 *   96x96 crop, 320x240 scale, 640x480 scale, 800x600 scale. Requests are mapped onto the
 *   smallest of these that is at least as large (so they are generated once and shared);
 *   other sizes are generated as asked.
 * - "Servers MUST NOT upscale thumbnails under any circumstance."
 */

export type ThumbnailMethod = 'crop' | 'scale';

export interface ThumbnailBox {
  width: number;
  height: number;
  method: ThumbnailMethod;
}

export const DEFAULT_THUMBNAILS: readonly ThumbnailBox[] = [
  { width: 32, height: 32, method: 'crop' },
  { width: 96, height: 96, method: 'crop' },
  { width: 320, height: 240, method: 'scale' },
  { width: 640, height: 480, method: 'scale' },
  { width: 800, height: 600, method: 'scale' },
];

/** Largest box we render on request; bigger requests are served at this size or the original's. */
export const MAX_BOX = 2048;

/** The box to render for a request: a default size when one fits, otherwise the request itself (capped). */
export function chooseBox(req: ThumbnailBox): ThumbnailBox {
  const fits = DEFAULT_THUMBNAILS.filter(
    (d) =>
      d.method === req.method &&
      d.width >= req.width &&
      d.height >= req.height &&
      // A crop must keep the requested aspect ratio; scale boxes only need to be large enough.
      (req.method === 'scale' || d.width * req.height === d.height * req.width),
  );
  if (fits.length > 0) return fits[0]!;
  return { width: Math.min(req.width, MAX_BOX), height: Math.min(req.height, MAX_BOX), method: req.method };
}

/** Pixel size of the thumbnail of a `srcW`×`srcH` image in `box`, never larger than the source. */
export function outputSize(srcW: number, srcH: number, box: ThumbnailBox): { width: number; height: number } {
  if (box.method === 'scale') {
    const f = Math.min(box.width / srcW, box.height / srcH, 1);
    return { width: Math.max(1, Math.round(srcW * f)), height: Math.max(1, Math.round(srcH * f)) };
  }
  if (srcW >= box.width && srcH >= box.height) return { width: box.width, height: box.height };
  // Source smaller than the box: the largest rectangle of the box's aspect ratio inside it.
  const f = Math.min(srcW / box.width, srcH / box.height);
  return { width: Math.max(1, Math.floor(box.width * f)), height: Math.max(1, Math.floor(box.height * f)) };
}

/** Spec: "When the content is smaller than the requested dimensions, servers should return the original content". */
export function originalIsSmaller(srcW: number, srcH: number, req: ThumbnailBox): boolean {
  return srcW <= req.width && srcH <= req.height;
}
