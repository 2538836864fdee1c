/**
 * Remote media over federation (server-server-api "Content Repository"): the media area's
 * `remoteFetcher` hook. Since v1.11 media is fetched with the authenticated
 * GET /_matrix/federation/v1/media/download/{mediaId}, whose answer is multipart/mixed (JSON
 * metadata, then the bytes or a `Location` to get them from). Servers that do not know that
 * endpoint answer 404 M_UNRECOGNIZED; then — and only then — the deprecated
 * /_matrix/media/v3/download is used, "with allow_remote set to false".
 *
 * The bytes are streamed to the media cache, never buffered whole; a redirect is followed through
 * the SSRF guard and is not cached ("servers SHOULD NOT cache the URL").
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from '../../logging.ts';
import { MatrixError, notFound } from '../../http/errors.ts';
import { guardedRequest, type GuardOptions } from '../net/ssrf-guard.ts';
import type { RemoteMediaFetcher } from '../media/media-service.ts';
import { readBody, type FederationClient } from './client.ts';
import { FederationError } from './client.ts';
import { multipartBoundary, readMediaMultipart } from './multipart.ts';

const MAX_REDIRECTS = 5;
const ERROR_BODY_BYTES = 64 * 1024;

export interface MediaFetchDeps {
  client: FederationClient;
  log: Logger;
  /** CAs trusted for redirect targets (same as federation's). */
  ca: string[];
  guard: GuardOptions;
}

export interface FetchedMedia {
  body: Readable;
  contentType?: string;
  filename?: string;
}

/** The filename of a Content-Disposition header (RFC 6266: filename* wins over filename). */
export function dispositionFilename(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const star = /(?:^|;)\s*filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (star) {
    try {
      const charset = star[1]!.trim().toLowerCase();
      const raw = star[2]!.trim();
      return charset === 'utf-8' || charset === '' ? decodeURIComponent(raw) : unescape(raw);
    } catch {
      /* fall through to the plain parameter */
    }
  }
  const plain = /(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(header);
  if (!plain) return undefined;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2];
}

async function errorOf(res: IncomingMessage): Promise<{ status: number; errcode?: string; error?: string }> {
  const status = res.statusCode ?? 0;
  try {
    const body = JSON.parse((await readBody(res, ERROR_BODY_BYTES)).toString('utf8')) as { errcode?: unknown; error?: unknown };
    return { status, errcode: typeof body.errcode === 'string' ? body.errcode : undefined, error: typeof body.error === 'string' ? body.error : undefined };
  } catch {
    res.destroy();
    return { status };
  }
}

/** Maps a remote failure to what our client sees (content_repository.yaml / authed-content-repo.yaml). */
function remoteFailure(serverName: string, e: { status: number; errcode?: string; error?: string }): MatrixError {
  if (e.status === 404) return notFound('Remote media not found');
  if (e.errcode === 'M_TOO_LARGE') return new MatrixError(502, 'M_TOO_LARGE', 'Remote content is too large');
  if (e.status === 504 && e.errcode === 'M_NOT_YET_UPLOADED') return new MatrixError(504, 'M_NOT_YET_UPLOADED', 'Content has not yet been uploaded');
  if (e.status === 429) return new MatrixError(502, 'M_UNKNOWN', `${serverName} is rate-limiting media requests`);
  return new MatrixError(502, 'M_UNKNOWN', `Fetching media from ${serverName} failed (${e.status || 'no answer'})`);
}

export class RemoteMediaClient {
  constructor(private readonly d: MediaFetchDeps) {}

  /** The function to put in `s.media.remoteFetcher`. */
  fetcher(): RemoteMediaFetcher {
    return (serverName, mediaId, o) => this.download(serverName, mediaId, o);
  }

  async download(serverName: string, mediaId: string, o: { maxBytes: number; timeoutMs: number; signal: AbortSignal }): Promise<FetchedMedia> {
    const req = { timeoutMs: o.timeoutMs, signal: o.signal, query: { timeout_ms: o.timeoutMs } };
    let res: IncomingMessage;
    try {
      res = await this.d.client.open(serverName, 'GET', `/_matrix/federation/v1/media/download/${encodeURIComponent(mediaId)}`, req);
    } catch (e) {
      throw this.unreachable(serverName, e);
    }
    const status = res.statusCode ?? 0;
    if (status === 200) return this.fromMultipart(serverName, res, o);
    const err = await errorOf(res);
    if (err.errcode !== 'M_UNRECOGNIZED') throw remoteFailure(serverName, err);
    // An older server: the deprecated endpoint, never proxying further ("allow_remote" false).
    this.d.log.debug({ serverName }, 'federation media endpoint unknown; using /_matrix/media/v3');
    try {
      res = await this.d.client.open(
        serverName,
        'GET',
        `/_matrix/media/v3/download/${encodeURIComponent(serverName)}/${encodeURIComponent(mediaId)}`,
        { ...req, query: { allow_remote: 'false', timeout_ms: o.timeoutMs } },
      );
    } catch (e) {
      throw this.unreachable(serverName, e);
    }
    if (res.statusCode !== 200) throw remoteFailure(serverName, await errorOf(res));
    return { body: res, contentType: res.headers['content-type'], filename: dispositionFilename(res.headers['content-disposition']) };
  }

  private unreachable(serverName: string, e: unknown): MatrixError {
    if (e instanceof MatrixError) return e;
    const msg = e instanceof FederationError ? e.message : (e as Error).message;
    this.d.log.info({ serverName, err: msg }, 'remote media fetch failed');
    return new MatrixError(502, 'M_UNKNOWN', `Could not reach ${serverName} for media`);
  }

  private async fromMultipart(serverName: string, res: IncomingMessage, o: { timeoutMs: number; signal: AbortSignal }): Promise<FetchedMedia> {
    const boundary = multipartBoundary(res.headers['content-type']);
    if (!boundary) {
      res.destroy();
      throw new MatrixError(502, 'M_UNKNOWN', `${serverName} sent media without a multipart/mixed answer`);
    }
    let part;
    try {
      part = await readMediaMultipart(res, boundary);
    } catch (e) {
      this.d.log.info({ serverName, err: (e as Error).message }, 'malformed multipart media answer');
      throw new MatrixError(502, 'M_UNKNOWN', `${serverName} sent a malformed media answer`);
    }
    const location = part.headers.location;
    if (location === undefined) {
      return { body: part.body!, contentType: part.headers['content-type'], filename: dispositionFilename(part.headers['content-disposition']) };
    }
    return this.followLocation(serverName, location, o);
  }

  /** GETs the `Location` of a redirect part (and its own redirects), through the SSRF guard. */
  private async followLocation(serverName: string, location: string, o: { timeoutMs: number; signal: AbortSignal }): Promise<FetchedMedia> {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw new MatrixError(502, 'M_UNKNOWN', `${serverName} redirected media to an invalid URL`);
    }
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await this.get(url, o).catch((e: Error) => {
        this.d.log.info({ serverName, url: url.origin, err: e.message }, 'media redirect fetch failed');
        throw new MatrixError(502, 'M_UNKNOWN', `Fetching media from ${serverName}'s redirect failed`);
      });
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        url = new URL(res.headers.location, url);
        continue;
      }
      if (status !== 200) {
        res.resume();
        throw remoteFailure(serverName, { status: status === 404 ? 404 : 502 });
      }
      return { body: res, contentType: res.headers['content-type'], filename: dispositionFilename(res.headers['content-disposition']) };
    }
    throw new MatrixError(502, 'M_UNKNOWN', `Too many redirects fetching media from ${serverName}`);
  }

  private get(url: URL, o: { timeoutMs: number; signal: AbortSignal }): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      let req;
      try {
        req = guardedRequest(url, { method: 'GET', headers: { 'user-agent': 'Hearth' }, ca: this.d.ca, signal: o.signal, timeout: o.timeoutMs }, this.d.guard);
      } catch (e) {
        reject(e as Error);
        return;
      }
      req.on('timeout', () => req.destroy(new Error('no answer in time')));
      req.on('error', reject);
      req.on('response', resolve);
      req.end();
    });
  }
}
