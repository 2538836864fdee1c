/**
 * Content-addressed files under DATA_DIR/media:
 *   blobs/ab/cd/<sha256>              the bytes of every upload, stored once per distinct content
 *   thumbnails/ab/<sha256>/<name>     thumbnails of a blob
 *   tmp/                              uploads in progress (same filesystem, so rename is atomic)
 *
 * An upload streams into tmp/ while it is hashed (never held in memory), is fsynced, then
 * hard-linked into place under its digest. The database row is written after the file exists,
 * and files are removed only when no row references them, with a re-check that makes a
 * concurrent re-upload of the same bytes safe (see `commit` and `removeIfUnreferenced`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { link, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { SNIFF_BYTES } from './sniff.ts';

export class UploadTooLargeError extends Error {}
export class UploadAbortedError extends Error {}

export interface ReceivedFile {
  tempPath: string;
  sha256: string;
  size: number;
  /** The first bytes, for sniffing the type. */
  head: Buffer;
}

const SHA_RE = /^[0-9a-f]{64}$/;

export class BlobFiles {
  readonly blobsDir: string;
  readonly thumbsDir: string;
  readonly tmpDir: string;

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs');
    this.thumbsDir = join(root, 'thumbnails');
    this.tmpDir = join(root, 'tmp');
  }

  /**
   * Creates the directories and (the server, not the CLI, whose run may overlap the server's)
   * clears uploads left half-written by a crash.
   */
  init(opts: { cleanTmp: boolean }): void {
    for (const d of [this.blobsDir, this.thumbsDir, this.tmpDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    if (!opts.cleanTmp) return;
    for (const name of readdirSync(this.tmpDir)) {
      try {
        rmSync(join(this.tmpDir, name), { force: true, recursive: true });
      } catch {
        // A file we cannot remove now is retried at the next start.
      }
    }
  }

  blobPath(sha256: string): string {
    if (!SHA_RE.test(sha256)) throw new Error('bad digest');
    return join(this.blobsDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  thumbnailDir(sha256: string): string {
    if (!SHA_RE.test(sha256)) throw new Error('bad digest');
    return join(this.thumbsDir, sha256.slice(0, 2), sha256);
  }

  tempPath(prefix = 'up'): string {
    return join(this.tmpDir, `${prefix}-${randomBytes(12).toString('hex')}`);
  }

  /**
   * Streams `source` into a temp file while hashing it. Rejects with UploadTooLargeError past
   * `maxBytes` (leaving `source` unread so the server can still answer 413), or
   * UploadAbortedError if the sender goes away.
   */
  async receive(source: Readable, maxBytes: number): Promise<ReceivedFile> {
    const tempPath = this.tempPath();
    const fh = await open(tempPath, 'wx', 0o600);
    const hash = createHash('sha256');
    const headChunks: Buffer[] = [];
    let headLen = 0;
    let size = 0;
    let ok = false;
    try {
      await new Promise<void>((resolve, reject) => {
        let writing: Promise<unknown> = Promise.resolve();
        let settled = false;
        const done = (err?: Error) => {
          if (settled) return;
          settled = true;
          source.off('data', onData);
          source.off('end', onEnd);
          source.off('error', onError);
          source.off('close', onClose);
          if (err) reject(err);
          else writing.then(() => resolve(), reject);
        };
        const onData = (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return done(new UploadTooLargeError(`upload is larger than ${maxBytes} bytes`));
          hash.update(chunk);
          if (headLen < SNIFF_BYTES) {
            headChunks.push(chunk.subarray(0, SNIFF_BYTES - headLen));
            headLen += Math.min(chunk.length, SNIFF_BYTES - headLen);
          }
          // Backpressure: one write in flight per upload, so memory stays at one chunk.
          source.pause();
          writing = fh.write(chunk).then(
            () => !settled && source.resume(),
            (e: Error) => done(e),
          );
        };
        const onEnd = () => done();
        const onError = (e: Error) => done(new UploadAbortedError(e.message));
        const onClose = () => {
          if (!source.readableEnded) done(new UploadAbortedError('client closed the connection'));
        };
        source.on('data', onData);
        source.on('end', onEnd);
        source.on('error', onError);
        source.on('close', onClose);
        source.resume();
      });
      // The bytes must be on disk before the database says they exist.
      await fh.sync();
      ok = true;
    } finally {
      await fh.close().catch(() => undefined);
      if (!ok) await rm(tempPath, { force: true });
    }
    return { tempPath, sha256: hash.digest('hex'), size, head: Buffer.concat(headChunks) };
  }

  /**
   * Puts a received file in place under its digest, then runs `persist` (the database write).
   * The temp file is kept until after `persist`, so a removal racing with us (the last other
   * reference deleted meanwhile) cannot leave a row without its file.
   */
  async commit<T>(file: ReceivedFile, persist: () => Promise<T>): Promise<T> {
    const target = this.blobPath(file.sha256);
    try {
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      try {
        await link(file.tempPath, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const result = await persist();
      if (!(await exists(target))) await rename(file.tempPath, target);
      return result;
    } finally {
      await rm(file.tempPath, { force: true });
    }
  }

  /** Discards a received file that will not be stored. */
  async discard(file: ReceivedFile): Promise<void> {
    await rm(file.tempPath, { force: true });
  }

  /**
   * Removes a blob (and its thumbnails) if no row references it. The file is first moved
   * aside, then references are checked again: an upload of the same bytes that committed in
   * between gets its file back.
   */
  async removeIfUnreferenced(sha256: string, isReferenced: () => Promise<boolean>): Promise<boolean> {
    if (await isReferenced()) return false;
    const target = this.blobPath(sha256);
    const aside = this.tempPath('gc');
    try {
      await rename(target, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    if (await isReferenced()) {
      await rename(aside, target);
      return false;
    }
    await rm(aside, { force: true });
    await rm(this.thumbnailDir(sha256), { recursive: true, force: true });
    return true;
  }

  /** Size in bytes of everything under media/ (for the admin CLI). */
  diskUsage(): number {
    const walk = (d: string): number => {
      let total = 0;
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        total += e.isDirectory() ? walk(p) : statSync(p).size;
      }
      return total;
    };
    return walk(this.root);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
