/**
 * The media repository: uploads (direct and async via /create), lookups for download and
 * thumbnails, the remote-media boundary, deletion. Spec: client-server-api "Content repository".
 * HTTP concerns (headers, ranges) live in server/http/media; SQL in storage/media-store.ts;
 * file layout in blob-files.ts.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../logging.ts';
import type { Database } from '../../storage/db.ts';
import { MediaStore, type MediaRow, type NewMedia } from '../../storage/media-store.ts';
import { isValidServerName } from '../../protocol/identifiers.ts';
import { MatrixError, forbidden, invalidParam, limitExceeded, notFound, tooLarge, unknownError } from '../../http/errors.ts';
import { BlobFiles, UploadAbortedError, UploadTooLargeError, type ReceivedFile } from './blob-files.ts';
import { sniff } from './sniff.ts';
import { MEDIA_ID_RE, normaliseContentType } from './serving-policy.ts';
import { Thumbnailer, ThumbnailError, imageDimensions, type ThumbnailRequest, type ThumbnailResult } from './thumbnailer.ts';
import { UrlPreviewer, type StoredImage } from './url-preview.ts';
import { collectUnreferenced, maintain, purgeRemote, startMaintenance, type RetentionDeps } from './retention.ts';

/** Spec (POST /create): "The recommended default expiration is 24 hours". */
export const UNUSED_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** Spec (POST /create): servers "should limit the number of concurrent pending media uploads". */
export const MAX_PENDING_PER_USER = 10;
/** Spec: timeout_ms defaults to 20 s; "The content repository SHOULD impose a maximum value". */
const DEFAULT_WAIT_MS = 20_000;
const MAX_WAIT_MS = 60_000;

export interface UploadMeta {
  contentType?: string;
  filename?: string;
  /** Content-Length of the request, when the client sent one. */
  contentLength?: number;
}

/** A stored file ready to be served. */
export interface StoredMedia {
  row: MediaRow & { sha256: string; size: number };
  path: string;
}

/**
 * Fetches media from another server (the federation engineer provides it). It returns a stream
 * of the bytes and what the origin said about them; MediaService caches them like an upload.
 */
export type RemoteMediaFetcher = (
  serverName: string,
  mediaId: string,
  opts: { maxBytes: number; timeoutMs: number; signal: AbortSignal },
) => Promise<{ body: Readable; contentType?: string; filename?: string }>;

export interface MediaServiceOptions {
  config: Config;
  log: Logger;
  db: Database;
  now: () => number;
  shutdown: AbortSignal;
  /** The CLI sets this false: it may run beside the server and must not touch its uploads in progress. */
  ownsTmp?: boolean;
}

export class MediaService {
  readonly store: MediaStore;
  readonly files: BlobFiles;
  readonly thumbnailer: Thumbnailer;
  readonly previews: UrlPreviewer;
  /** Set by federation; until then remote media is not found. */
  remoteFetcher: RemoteMediaFetcher | null = null;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly remoteInflight = new Map<string, Promise<StoredMedia>>();

  constructor(private readonly o: MediaServiceOptions) {
    this.store = new MediaStore(o.db);
    this.files = new BlobFiles(join(o.config.data_dir, 'media'));
    this.files.init({ cleanTmp: o.ownsTmp !== false });
    this.thumbnailer = new Thumbnailer({
      files: this.files,
      store: this.store,
      log: o.log,
      now: o.now,
      maxPixels: o.config.media_max_image_pixels,
      maxSourceBytes: Math.max(o.config.max_upload_size, 50 * 1024 * 1024),
      concurrency: o.config.media_thumbnail_concurrency,
      maxQueue: 64,
    });
    this.previews = new UrlPreviewer({
      store: this.store,
      log: o.log,
      now: o.now,
      guard: { allowPrivate: o.config.url_preview_allow_private, allowlist: o.config.url_preview_ip_allowlist },
      storeImage: (bytes, type) => this.storeImage(bytes, type),
    });
  }

  get config(): Config {
    return this.o.config;
  }

  /** Our server name; media cannot be stored before the wizard has chosen one. */
  serverName(): string {
    const name = this.o.config.server_name;
    if (!name) throw forbidden('This server is not set up yet');
    return name;
  }

  isLocal(serverName: string): boolean {
    return serverName === this.o.config.server_name;
  }

  /** Spec security considerations: server names and media IDs are whitelisted before use. */
  checkMxcParts(serverName: string, mediaId: string): void {
    if (!isValidServerName(serverName)) throw invalidParam('Invalid server name');
    if (!MEDIA_ID_RE.test(mediaId)) throw notFound('Unknown media ID');
  }

  /** POST /_matrix/media/v3/upload: stores the body and returns its mxc:// URI. */
  async upload(userId: string, body: Readable, meta: UploadMeta): Promise<string> {
    const serverName = this.serverName();
    await this.checkBeforeUpload(userId, meta.contentLength);
    const file = await this.receive(body);
    const mediaId = newMediaId();
    const result = await this.persist(file, () =>
      this.store.insert({ serverName, mediaId, ...this.fileRecord(file, meta), userId, isRemote: false }, this.o.config.media_user_quota),
    );
    if (result === 'quota') throw quotaExceeded();
    return `mxc://${serverName}/${mediaId}`;
  }

  /** POST /_matrix/media/v1/create. */
  async create(userId: string): Promise<{ content_uri: string; unused_expires_at: number }> {
    const serverName = this.serverName();
    const now = this.o.now();
    if ((await this.store.pendingCount(userId, now)) >= MAX_PENDING_PER_USER) throw limitExceeded(60_000);
    const mediaId = newMediaId();
    const expiresTs = now + UNUSED_EXPIRY_MS;
    await this.store.insertPending({ serverName, mediaId, userId, now, expiresTs });
    return { content_uri: `mxc://${serverName}/${mediaId}`, unused_expires_at: expiresTs };
  }

  /** PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: fills an mxc made by /create. */
  async uploadTo(userId: string, serverName: string, mediaId: string, body: Readable, meta: UploadMeta): Promise<void> {
    this.checkMxcParts(serverName, mediaId);
    const row = this.isLocal(serverName) ? await this.store.get(serverName, mediaId) : undefined;
    if (!row || (row.sha256 === null && (row.unused_expires_ts ?? 0) < this.o.now())) throw notFound('Unknown media ID');
    if (row.user_id !== userId) throw forbidden('This media ID was created by another user');
    if (row.sha256 !== null) throw cannotOverwrite();
    await this.checkBeforeUpload(userId, meta.contentLength);
    const file = await this.receive(body);
    const result = await this.persist(file, () =>
      this.store.complete({ serverName, mediaId, ...this.fileRecord(file, meta) }, userId, this.o.config.media_user_quota),
    );
    if (result === 'already-uploaded') throw cannotOverwrite();
    if (result === 'missing' || result === 'expired') throw notFound('Unknown media ID');
    if (result === 'quota') throw quotaExceeded();
    this.wake(serverName, mediaId);
  }

  /**
   * The stored file for a download or thumbnail. Waits up to timeout_ms for a pending async
   * upload (504 M_NOT_YET_UPLOADED after that). `legacy`: the deprecated unauthenticated
   * endpoints, which only serve media from before the freeze (see media_legacy_unauthenticated).
   */
  async get(serverName: string, mediaId: string, opts: { timeoutMs?: number; legacy?: boolean; allowRemote?: boolean } = {}): Promise<StoredMedia> {
    this.checkMxcParts(serverName, mediaId);
    let stored: StoredMedia;
    if (this.isLocal(serverName)) {
      stored = await this.getLocal(serverName, mediaId, opts.timeoutMs);
    } else {
      if (opts.allowRemote === false) throw notFound('Remote media not requested (allow_remote=false)');
      stored = await this.getRemote(serverName, mediaId, opts.timeoutMs);
    }
    // Spec 1.12 freeze: the unauthenticated endpoints serve only media from before it.
    if (opts.legacy && !this.o.config.media_legacy_unauthenticated && !stored.row.legacy_access) {
      throw notFound('Media is only available on the authenticated endpoints (/_matrix/client/v1/media)');
    }
    return stored;
  }

  private async getLocal(serverName: string, mediaId: string, timeoutMs = DEFAULT_WAIT_MS): Promise<StoredMedia> {
    let row = await this.store.get(serverName, mediaId);
    if (!row) throw notFound('Unknown media ID');
    if (row.sha256 === null) {
      if ((row.unused_expires_ts ?? 0) < this.o.now()) throw notFound('Unknown media ID');
      await this.waitForUpload(serverName, mediaId, Math.max(0, Math.min(timeoutMs, MAX_WAIT_MS)));
      row = await this.store.get(serverName, mediaId);
      if (!row) throw notFound('Unknown media ID');
      if (row.sha256 === null) throw new MatrixError(504, 'M_NOT_YET_UPLOADED', 'Content has not yet been uploaded');
    }
    return { row: row as StoredMedia['row'], path: this.files.blobPath(row.sha256!) };
  }

  /**
   * Remote media: served from the local cache, otherwise fetched once through `remoteFetcher`
   * (federation) and cached. Without a fetcher (federation not wired yet) it is not found.
   */
  async getRemote(serverName: string, mediaId: string, timeoutMs = DEFAULT_WAIT_MS): Promise<StoredMedia> {
    const row = await this.store.get(serverName, mediaId);
    if (row?.sha256) return { row: row as StoredMedia['row'], path: this.files.blobPath(row.sha256) };
    const fetcher = this.remoteFetcher;
    if (!fetcher) throw notFound('Remote media is not available on this server yet');
    const key = `${serverName}/${mediaId}`;
    let job = this.remoteInflight.get(key);
    if (!job) {
      job = this.cacheRemote(fetcher, serverName, mediaId, Math.min(Math.max(timeoutMs, 1000), MAX_WAIT_MS)).finally(() =>
        this.remoteInflight.delete(key),
      );
      this.remoteInflight.set(key, job);
    }
    return job;
  }

  private async cacheRemote(fetcher: RemoteMediaFetcher, serverName: string, mediaId: string, timeoutMs: number): Promise<StoredMedia> {
    const maxBytes = this.o.config.max_upload_size;
    const signal = AbortSignal.any([this.o.shutdown, AbortSignal.timeout(timeoutMs)]);
    const remote = await fetcher(serverName, mediaId, { maxBytes, timeoutMs, signal });
    let file: ReceivedFile;
    try {
      file = await this.files.receive(remote.body, maxBytes);
    } catch (e) {
      remote.body.destroy();
      // Spec: remote content too large to proxy → 502 M_TOO_LARGE.
      if (e instanceof UploadTooLargeError) throw new MatrixError(502, 'M_TOO_LARGE', 'Remote content is too large');
      throw new MatrixError(502, 'M_UNKNOWN', 'Fetching remote media failed');
    }
    // Spec: for remote media, "newly-uploaded" (legacyAccess) is when the cache was populated.
    await this.persist(file, () => this.store.insert({ serverName, mediaId, ...this.fileRecord(file, remote), userId: null, isRemote: true }));
    const row = await this.store.get(serverName, mediaId);
    return { row: row as StoredMedia['row'], path: this.files.blobPath(file.sha256) };
  }

  /** A thumbnail of stored media; maps thumbnailer failures to the spec's errors. */
  async thumbnail(media: StoredMedia, req: ThumbnailRequest): Promise<ThumbnailResult> {
    try {
      return await this.thumbnailer.get(
        { sha256: media.row.sha256, path: media.path, sniffedType: media.row.sniffed_type, size: media.row.size },
        req,
      );
    } catch (e) {
      if (!(e instanceof ThumbnailError)) throw e;
      if (e.kind === 'busy') throw limitExceeded(1000);
      if (e.kind === 'too-large') {
        throw media.row.is_remote ? new MatrixError(502, 'M_TOO_LARGE', e.message) : tooLarge(e.message);
      }
      throw new MatrixError(400, 'M_UNKNOWN', e.message);
    }
  }

  /** Deletes one media item (admin); its file goes when nothing else references the bytes. */
  async delete(serverName: string, mediaId: string): Promise<boolean> {
    this.checkMxcParts(serverName, mediaId);
    const before = await this.store.get(serverName, mediaId);
    if (!before) return false;
    await collectUnreferenced(this.retention, await this.store.deleteMedia([{ serverName, mediaId }]));
    return true;
  }

  /** Deletes cached remote media fetched before `olderThanMs` ago. Returns how many items went. */
  purgeRemote(olderThanMs: number): Promise<number> {
    return purgeRemote(this.retention, olderThanMs);
  }

  /** One housekeeping pass (expired reservations, old remote media, stale previews). */
  maintain(): Promise<void> {
    return maintain(this.retention);
  }

  /** Housekeeping now and then hourly until shutdown (see retention.ts). */
  startMaintenance(): void {
    startMaintenance(this.retention);
  }

  private get retention(): RetentionDeps {
    return { store: this.store, files: this.files, now: this.o.now, config: this.o.config, log: this.o.log, shutdown: this.o.shutdown };
  }

  /** Images found by URL previews: stored as local media with no owner (no quota). */
  private async storeImage(bytes: Buffer, contentType: string): Promise<StoredImage> {
    const { Readable } = await import('node:stream');
    const file = await this.files.receive(Readable.from([bytes]), bytes.length);
    const mediaId = newMediaId();
    const serverName = this.serverName();
    await this.persist(file, () => this.store.insert({ serverName, mediaId, ...this.fileRecord(file, { contentType }), userId: null, isRemote: false }));
    const dims = await imageDimensions(bytes);
    return { mxc: `mxc://${serverName}/${mediaId}`, size: file.size, contentType, ...dims };
  }

  private async checkBeforeUpload(userId: string, contentLength: number | undefined): Promise<void> {
    const max = this.o.config.max_upload_size;
    if (contentLength !== undefined && contentLength > max) throw tooLarge(`Upload is larger than the ${max} byte limit`);
    const quota = this.o.config.media_user_quota;
    if (quota > 0 && (await this.store.usedBytes(userId)) + (contentLength ?? 0) > quota) throw quotaExceeded();
  }

  private async receive(body: Readable): Promise<ReceivedFile> {
    try {
      return await this.files.receive(body, this.o.config.max_upload_size);
    } catch (e) {
      if (e instanceof UploadTooLargeError) throw tooLarge(`Upload is larger than the ${this.o.config.max_upload_size} byte limit`);
      if (e instanceof UploadAbortedError) throw new MatrixError(400, 'M_UNKNOWN', 'Upload was interrupted');
      throw e;
    }
  }

  /** Moves a received file into place and records it; removes the bytes again if recording fails. */
  /**
   * What is recorded of a received file: its hash, size and sniffed type, the type and name its
   * sender gave, and whether the deprecated unauthenticated endpoints may serve it (decided now,
   * when it is newly uploaded: see media_legacy_unauthenticated).
   */
  private fileRecord(file: ReceivedFile, from: { contentType?: string; filename?: string }): Omit<NewMedia, 'serverName' | 'mediaId' | 'userId' | 'isRemote'> {
    return {
      sha256: file.sha256,
      size: file.size,
      contentType: normaliseContentType(from.contentType),
      sniffedType: sniff(file.head),
      uploadName: cleanFilename(from.filename),
      legacyAccess: this.o.config.media_legacy_unauthenticated,
      now: this.o.now(),
    };
  }

  private async persist<T extends string>(file: ReceivedFile, record: () => Promise<T>): Promise<T> {
    try {
      const result = await this.files.commit(file, record);
      if (result === 'ok') return result;
      await this.files.removeIfUnreferenced(file.sha256, () => this.store.isShaReferenced(file.sha256));
      return result;
    } catch (e) {
      await this.files.removeIfUnreferenced(file.sha256, () => this.store.isShaReferenced(file.sha256)).catch(() => undefined);
      this.o.log.debug({ err: e }, 'media persist failed');
      throw e instanceof MatrixError ? e : unknownError('Storing the upload failed');
    }
  }

  private waitForUpload(serverName: string, mediaId: string, ms: number): Promise<void> {
    if (ms === 0) return Promise.resolve();
    const key = `${serverName}/${mediaId}`;
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        this.o.shutdown.removeEventListener('abort', done);
        set!.delete(done);
        if (set!.size === 0) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.o.shutdown.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  private wake(serverName: string, mediaId: string): void {
    for (const w of [...(this.waiters.get(`${serverName}/${mediaId}`) ?? [])]) w();
  }
}

/** 24 URL-safe base64 characters: within the spec's [A-Za-z0-9_-] alphabet, 144 random bits. */
export function newMediaId(): string {
  return randomBytes(18).toString('base64url');
}

/** The upload's filename as given, minus control characters; over-long names are cut. */
function cleanFilename(name: string | undefined): string | null {
  if (!name) return null;
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255);
  return clean || null;
}

const quotaExceeded = () => forbidden('Media quota exceeded: delete some uploads or ask the server admin for more space');
const cannotOverwrite = () => new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media already uploaded');
