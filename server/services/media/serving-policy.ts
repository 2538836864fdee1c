/**
 * How stored media is presented to browsers: Content-Type, Content-Disposition and the
 * hardening headers. Spec: client-server-api "Serving inline content" and the content
 * repository's CSP / CORP recommendations.
 */
import type { Sniffed } from './sniff.ts';

/** Spec: "Servers SHOULD restrict Content-Type headers to one of the following values when serving content with Content-Disposition: inline". */
export const SAFE_INLINE_TYPES: ReadonlySet<string> = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

/** Spec: "The recommended policy is …" (content repository). */
export const MEDIA_CSP =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';";

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MIME_RE = new RegExp(`^${TOKEN}/${TOKEN}(\\s*;\\s*${TOKEN}=(${TOKEN}|"[^"\\\\\\r\\n]*"))*$`);

/**
 * The Content-Type to store for an upload. Spec 1.12: optional, defaulting to
 * application/octet-stream; anything not shaped like a MIME type is treated as absent.
 */
export function normaliseContentType(declared: string | undefined): string {
  const v = (declared ?? '').trim();
  if (!v || v.length > 255 || !MIME_RE.test(v)) return 'application/octet-stream';
  return v;
}

/** "image/PNG; x=y" → "image/png". */
export function baseType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/** Sniffed types that may back each declared family when served inline. */
function bytesMatch(declared: string, sniffed: Sniffed): boolean {
  if (sniffed === null) return false;
  const family = declared.split('/')[0];
  if (declared === 'text/css' || declared === 'text/plain' || declared === 'text/csv' || declared.endsWith('json')) {
    return sniffed === 'text';
  }
  if (sniffed === 'text') return false;
  if (family === 'image') return sniffed.startsWith('image/') && SAFE_INLINE_TYPES.has(sniffed);
  // Audio and video share containers (MP4, WebM, Ogg), so any safe audio/video container will do.
  if (family === 'audio' || family === 'video') {
    return sniffed === 'application/ogg' || ((sniffed.startsWith('audio/') || sniffed.startsWith('video/')) && SAFE_INLINE_TYPES.has(sniffed));
  }
  return false;
}

/**
 * `inline` only when the declared type is on the spec's list AND the bytes agree with it,
 * so what a browser renders is what the type says; `attachment` otherwise.
 */
export function dispositionType(contentType: string, sniffed: Sniffed): 'inline' | 'attachment' {
  const t = baseType(contentType);
  return SAFE_INLINE_TYPES.has(t) && bytesMatch(t, sniffed) ? 'inline' : 'attachment';
}

/**
 * `inline; filename="a.jpg"` with an RFC 5987 `filename*` when the name is not plain ASCII,
 * so the exact uploaded name survives (spec: the header "MUST contain the same filename").
 */
export function contentDisposition(kind: 'inline' | 'attachment', filename: string | null | undefined): string {
  if (!filename) return kind;
  // eslint-disable-next-line no-control-regex
  const clean = filename.replace(/[\u0000-\u001f\u007f]/g, '');
  const asciiOnly = /^[\x20-\x7e]*$/.test(clean);
  const quoted = clean.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&');
  if (asciiOnly) return `${kind}; filename="${quoted}"`;
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${quoted}"; filename*=utf-8''${encoded}`;
}

/** Headers every media response carries (downloads and thumbnails). */
export function hardeningHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': MEDIA_CSP,
    'X-Content-Type-Options': 'nosniff',
    // Spec 1.4: lets web clients use media with cross-origin isolation.
    'Cross-Origin-Resource-Policy': 'cross-origin',
  };
}

/** Spec: media IDs "MUST consist of only alphanumeric (A-Za-z0-9), _ and - characters". */
export const MEDIA_ID_RE = /^[A-Za-z0-9_-]{1,255}$/;
