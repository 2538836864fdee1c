/**
 * Content sniffing from the first bytes of a file. The declared Content-Type of an upload is
 * kept and served (the spec wants it "exactly the same as the original upload, or reasonably
 * close"), but whether it may be shown `inline` is decided from what the bytes really are:
 * an HTML page uploaded as image/png must never be served inline.
 */

/** How many leading bytes the sniffer looks at. */
export const SNIFF_BYTES = 4096;

/** 'text' means printable text that is not markup; null means unrecognised binary. */
export type Sniffed = string | 'text' | null;

const ascii = (b: Uint8Array, at: number, s: string): boolean => {
  if (b.length < at + s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
};

/** The MIME type the bytes look like, 'text' for plain text, or null. */
export function sniff(b: Uint8Array): Sniffed {
  if (b.length === 0) return null;
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (ascii(b, 0, '\x89PNG\r\n\x1a\n')) return isApng(b) ? 'image/apng' : 'image/png';
  if (ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a')) return 'image/gif';
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) return 'image/webp';
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WAVE')) return 'audio/wav';
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'AVI ')) return 'video/x-msvideo';
  if (ascii(b, 4, 'ftyp')) return isoBrand(b);
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) {
    return includesAscii(b.subarray(0, 64), 'webm') ? 'video/webm' : 'video/x-matroska';
  }
  if (ascii(b, 0, 'OggS')) return 'application/ogg';
  if (ascii(b, 0, 'fLaC')) return 'audio/flac';
  if (ascii(b, 0, 'ID3') || (b[0] === 0xff && (b[1]! & 0xe0) === 0xe0 && (b[1]! & 0x06) !== 0)) return 'audio/mpeg';
  if (b[0] === 0xff && (b[1]! & 0xf6) === 0xf0) return 'audio/aac';
  if (ascii(b, 0, '%PDF-')) return 'application/pdf';
  if (ascii(b, 0, 'PK\x03\x04')) return 'application/zip';
  if (ascii(b, 0, 'BM')) return 'image/bmp';
  if (ascii(b, 0, 'II*\x00') || ascii(b, 0, 'MM\x00*')) return 'image/tiff';
  if (ascii(b, 0, '\x00\x00\x01\x00')) return 'image/x-icon';
  return sniffText(b);
}

function includesAscii(b: Uint8Array, s: string): boolean {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).includes(s, 0, 'latin1');
}

/** An APNG has an acTL chunk before the first IDAT. */
function isApng(b: Uint8Array): boolean {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const actl = buf.indexOf('acTL', 8, 'latin1');
  const idat = buf.indexOf('IDAT', 8, 'latin1');
  return actl > 0 && (idat < 0 || actl < idat);
}

/** ISO base media files (MP4, MOV, HEIF/AVIF, M4A) by their major brand. */
function isoBrand(b: Uint8Array): string {
  const brand = Buffer.from(b.subarray(8, 12)).toString('latin1');
  if (brand === 'avif' || brand === 'avis') return 'image/avif';
  if (['heic', 'heix', 'hevc', 'mif1', 'msf1'].includes(brand)) return 'image/heic';
  if (brand === 'qt  ') return 'video/quicktime';
  if (brand === 'M4A ' || brand === 'M4B ') return 'audio/mp4';
  return 'video/mp4';
}

/**
 * Text, and whether it is markup a browser would render actively. WHATWG MIME sniffing looks
 * for these tags after leading whitespace; we also look a little further in (a comment or a
 * byte order mark before the markup must not hide it).
 */
function sniffText(b: Uint8Array): Sniffed {
  let controls = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0) return null;
    if (c < 9 || (c > 13 && c < 32 && c !== 27)) controls++;
  }
  if (controls > b.length / 32) return null;
  const head = Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, 1024)).toString('latin1').toLowerCase();
  if (/<(!doctype\s+html|html|head|body|script|iframe|frameset|object|embed|meta|style|title|a\s|img|div|table|form|br|p[\s>]|h1|font|b[\s>])/.test(head)) {
    return 'text/html';
  }
  if (/<svg[\s>]/.test(head)) return 'image/svg+xml';
  if (/^\s*(\xef\xbb\xbf)?\s*<\?xml/.test(head)) return 'text/xml';
  return 'text';
}
