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
import { Readable } from 'node:stream';

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
 * its bytes then flow through `body`, pulled from `input` only as `body` is read (so nothing
 * piles up, and no error can fire before the consumer listens). `body` errors if the stream
 * ends before the closing delimiter: a truncated download is never cached as complete.
 */
export async function readMediaMultipart(input: Readable, boundary: string): Promise<MediaPart> {
  const dashBoundary = Buffer.from(`--${boundary}`);
  // Between parts the delimiter is preceded by CRLF, which belongs to it (RFC 2046).
  const delimiter = Buffer.concat([CRLF, dashBoundary]);
  const it = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  const more = async (): Promise<boolean> => {
    const r = await it.next();
    if (r.done) return false;
    buf = buf.length ? Buffer.concat([buf, r.value]) : r.value;
    return true;
  };
  /** Waits until `find()` gives an index in `buf` (reading more), or fails past `limit` bytes. */
  const until = async (find: () => number, limit: number, what: string): Promise<number> => {
    for (;;) {
      const at = find();
      if (at >= 0) return at;
      if (buf.length > limit) throw new MultipartError(what);
      if (!(await more())) throw new MultipartError('the answer ended before the media part');
    }
  };
  const headers = async (): Promise<Record<string, string>> => {
    // A part with no headers starts directly with the blank line.
    await until(() => (buf.length >= 2 ? 0 : -1), MAX_HEADER_BYTES, 'part headers too long');
    if (buf.subarray(0, 2).equals(CRLF)) {
      buf = buf.subarray(2);
      return {};
    }
    const end = await until(() => buf.indexOf(HEADERS_END), MAX_HEADER_BYTES, 'part headers too long');
    const h = parsePartHeaders(buf.subarray(0, end).toString('latin1'));
    buf = buf.subarray(end + 4);
    return h;
  };

  try {
    // The first boundary may start the body or follow a preamble.
    const first = await until(() => buf.indexOf(dashBoundary), MAX_HEADER_BYTES, 'no multipart boundary found');
    const eol = await until(() => buf.indexOf(CRLF, first + dashBoundary.length), MAX_HEADER_BYTES, 'malformed boundary line');
    buf = buf.subarray(eol + 2);
    await headers();
    const jsonEnd = await until(() => buf.indexOf(delimiter), MAX_JSON_BYTES, 'metadata part too large');
    let metadata: Record<string, unknown> = {};
    const text = buf.subarray(0, jsonEnd).toString('utf8').trim();
    try {
      const v: unknown = text ? JSON.parse(text) : {};
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) metadata = v as Record<string, unknown>;
    } catch {
      throw new MultipartError('metadata part is not JSON');
    }
    buf = buf.subarray(jsonEnd + delimiter.length);
    await until(() => (buf.length >= 2 ? 0 : -1), 2, 'malformed boundary line');
    if (buf.subarray(0, 2).toString('latin1') === '--') throw new MultipartError('the answer has no media part');
    // Transport padding (linear whitespace) may follow the boundary before its CRLF.
    const eol2 = await until(() => buf.indexOf(CRLF), 1024, 'malformed boundary line');
    buf = buf.subarray(eol2 + 2);
    const partHeaders = await headers();
    if (partHeaders.location !== undefined) {
      input.destroy();
      return { metadata, headers: partHeaders };
    }
    return { metadata, headers: partHeaders, body: mediaBody(input, it, buf, delimiter) };
  } catch (e) {
    input.destroy();
    throw e;
  }
}

/** The media part's bytes as a pull-driven stream ending at `delimiter`. */
function mediaBody(input: Readable, it: AsyncIterator<Buffer>, initial: Buffer, delimiter: Buffer): Readable {
  let buf = initial;
  let pumping = false;
  const pump = async (): Promise<void> => {
    for (;;) {
      const at = buf.indexOf(delimiter);
      if (at >= 0) {
        if (at > 0) body.push(buf.subarray(0, at));
        body.push(null);
        input.destroy();
        return;
      }
      // Hold back a tail that could be the start of the delimiter.
      const keep = Math.min(buf.length, delimiter.length - 1);
      const ready = buf.subarray(0, buf.length - keep);
      buf = Buffer.from(buf.subarray(buf.length - keep));
      const wantsMore = ready.length ? body.push(ready) : true;
      const r = await it.next();
      if (r.done) throw new MultipartError('the answer ended before the closing boundary');
      buf = buf.length ? Buffer.concat([buf, r.value]) : r.value;
      if (!wantsMore) return;
    }
  };
  const body: Readable = new Readable({
    read() {
      if (pumping) return;
      pumping = true;
      pump()
        .catch((e: Error) => body.destroy(e))
        .finally(() => {
          pumping = false;
        });
    },
    destroy(err, cb) {
      input.destroy();
      cb(err);
    },
  });
  return body;
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
