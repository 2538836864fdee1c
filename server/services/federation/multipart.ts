/**
 * multipart/mixed for federation media (server-server-api "Content Repository",
 * content_repository.yaml): the answer to /media/download and /media/thumbnail holds exactly two
 * parts — a JSON object (metadata, currently `{}`) and either the media bytes or a `Location`
 * header pointing at them.
 *
 * Both directions stream: the reader never holds more than a small window of the media part in
 * memory (the bytes go straight to the media cache), the writer streams the stored file.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';

const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
/** The JSON part and header blocks are small; a peer sending megabytes of them is misbehaving. */
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_JSON_BYTES = 64 * 1024;

export class MultipartError extends Error {}

/** The boundary of a `multipart/mixed; boundary=…` Content-Type (RFC 2046 §5.1.1), or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const [type, ...params] = contentType.split(';');
  if (type!.trim().toLowerCase() !== 'multipart/mixed') return undefined;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    // RFC 2046: 1 to 70 characters.
    if (v.length >= 1 && v.length <= 70) return v;
  }
  return undefined;
}

/** Header block of a part: lower-cased names → values. */
export function parsePartHeaders(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return out;
}

export interface MediaPart {
  /** The first part, parsed (metadata; `{}` today). */
  metadata: Record<string, unknown>;
  /** Headers of the second part (lower-cased names). */
  headers: Record<string, string>;
  /** The media bytes, unless the second part is a redirect (`headers.location`). */
  body?: Readable;
}

/**
 * Reads a two-part multipart/mixed stream. Resolves once the second part's headers are known;
 * its bytes then flow through `body` (which errors if the stream ends before the closing
 * delimiter, so a truncated download is never cached as complete).
 */
export function readMediaMultipart(input: Readable, boundary: string): Promise<MediaPart> {
  const dashBoundary = Buffer.from(`--${boundary}`);
  // Between parts the delimiter is preceded by CRLF, which belongs to it (RFC 2046).
  const delimiter = Buffer.concat([CRLF, dashBoundary]);
  return new Promise<MediaPart>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let state: 'preamble' | 'headers1' | 'json' | 'after1' | 'headers2' | 'media' | 'done' = 'preamble';
    let metadata: Record<string, unknown> = {};
    let out: PassThrough | null = null;
    let settled = false;
    const fail = (e: Error) => {
      if (!settled) {
        settled = true;
        reject(e);
      } else if (out && !out.destroyed) out.destroy(e);
      input.destroy();
    };

    /** Consumes what it can from `buf`; returns false when more input is needed. */
    const step = (): boolean => {
      switch (state) {
        case 'preamble': {
          // The first boundary may start the body or follow a preamble line.
          const at = buf.indexOf(dashBoundary);
          if (at < 0) {
            if (buf.length > MAX_HEADER_BYTES) throw new MultipartError('no multipart boundary found');
            return false;
          }
          const eol = buf.indexOf(CRLF, at + dashBoundary.length);
          if (eol < 0) return false;
          buf = buf.subarray(eol + 2);
          state = 'headers1';
          return true;
        }
        case 'headers1':
        case 'headers2': {
          // A part with no headers starts directly with the blank line.
          const end = buf.subarray(0, 2).equals(CRLF) ? -2 : buf.indexOf(HEADERS_END);
          if (end === -1) {
            if (buf.length > MAX_HEADER_BYTES) throw new MultipartError('part headers too long');
            return false;
          }
          const headers = end === -2 ? {} : parsePartHeaders(buf.subarray(0, end).toString('latin1'));
          buf = buf.subarray(end === -2 ? 2 : end + 4);
          if (state === 'headers1') {
            state = 'json';
            return true;
          }
          state = 'media';
          settled = true;
          if (headers.location !== undefined) {
            state = 'done';
            resolve({ metadata, headers });
            input.destroy();
            return false;
          }
          out = new PassThrough();
          resolve({ metadata, headers, body: out });
          return true;
        }
        case 'json': {
          const at = buf.indexOf(delimiter);
          if (at < 0) {
            if (buf.length > MAX_JSON_BYTES) throw new MultipartError('metadata part too large');
            return false;
          }
          const text = buf.subarray(0, at).toString('utf8').trim();
          try {
            const v: unknown = text ? JSON.parse(text) : {};
            metadata = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
          } catch {
            throw new MultipartError('metadata part is not JSON');
          }
          buf = buf.subarray(at + delimiter.length);
          state = 'after1';
          return true;
        }
        case 'after1': {
          if (buf.length < 2) return false;
          if (buf.subarray(0, 2).toString('latin1') === '--') throw new MultipartError('the answer has no media part');
          // Transport padding (linear whitespace) may follow the boundary before its CRLF.
          const eol = buf.indexOf(CRLF);
          if (eol < 0) {
            if (buf.length > 1024) throw new MultipartError('malformed boundary line');
            return false;
          }
          buf = buf.subarray(eol + 2);
          state = 'headers2';
          return true;
        }
        default:
          return false;
      }
    };

    void (async () => {
      try {
        for await (const chunk of input as AsyncIterable<Buffer>) {
          buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
          while (state !== 'media' && state !== 'done' && step());
          if (state === 'done') return;
          if (state !== 'media' || !out) continue;
          const at = buf.indexOf(delimiter);
          if (at >= 0) {
            if (at > 0) out.write(buf.subarray(0, at));
            state = 'done';
            out.end();
            input.destroy();
            return;
          }
          // Hold back a tail that could be the start of the delimiter.
          const keep = Math.min(buf.length, delimiter.length - 1);
          const ready = buf.subarray(0, buf.length - keep);
          buf = Buffer.from(buf.subarray(buf.length - keep));
          if (ready.length && !out.write(ready)) {
            await new Promise<void>((r, j) => {
              out!.once('drain', r);
              out!.once('close', () => j(new MultipartError('reader went away')));
            });
          }
        }
        fail(new MultipartError('the answer ended before the closing boundary'));
      } catch (e) {
        fail(e instanceof Error ? e : new Error(String(e)));
      }
    })();
  });
}

export interface MultipartBody {
  contentType: string;
  length: number;
  stream: Readable;
}

/**
 * Our answer to /media/download and /media/thumbnail: `{}` then the file, streamed from disk.
 * `partHeaders` are the media part's headers (Content-Type, Content-Disposition).
 */
export function mediaMultipart(path: string, size: number, partHeaders: Record<string, string>): MultipartBody {
  const boundary = randomBytes(16).toString('hex');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${boundary}\r\n` +
      Object.entries(partHeaders)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('') +
      '\r\n',
    'utf8',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    if (size > 0) for await (const c of createReadStream(path)) yield c as Buffer;
    yield tail;
  }
  return { contentType: `multipart/mixed; boundary=${boundary}`, length: head.length + size + tail.length, stream: Readable.from(parts()) };
}
