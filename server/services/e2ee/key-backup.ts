/**
 * Server-side key backup (end_to_end_encryption.md "Server-side key backups"; key_backup.yaml).
 * Versions are opaque strings to clients; here they count up per user. "Keys can only be written
 * to the most recently created version of the backup." Every change to the stored keys of a
 * version moves its `etag`, so a client comparing etags notices another client's writes.
 */
import { KeyBackupStore, type BackupKeyRow, type BackupVersionRow } from '../../storage/key-backup-store.ts';
import { MatrixError, badJson, missingParam, notFound } from '../../http/errors.ts';
import type { E2eeContext } from './context.ts';
import { isObject } from './key-objects.ts';
import { shouldReplaceBackupKey } from './backup-rules.ts';

export interface BackupVersionInfo {
  algorithm: string;
  auth_data: unknown;
  count: number;
  etag: string;
  version: string;
}

export interface KeysUpdate {
  etag: string;
  count: number;
}

/** rooms → room ID → sessions → session ID → KeyBackupData (key_backup.yaml). */
export type RoomsKeys = Record<string, { sessions: Record<string, unknown> }>;

const MAX_ID_LENGTH = 255;

/** A version in a path or query: only the decimal numbers this server hands out exist. */
function parseVersion(v: string | undefined): number | null {
  if (v === undefined) return null;
  if (!/^[1-9][0-9]{0,14}$/.test(v)) return null;
  return Number(v);
}

function unknownVersion(v: string | undefined): MatrixError {
  return notFound(`Unknown backup version${v ? ` ${v}` : ''}`);
}

function checkKeyData(where: string, d: unknown): BackupKeyRow & { verified: boolean } {
  if (!isObject(d)) throw badJson(`${where} must be an object`);
  const { first_message_index: fmi, forwarded_count: fc, is_verified: v, session_data: sd } = d;
  if (!Number.isSafeInteger(fmi) || (fmi as number) < 0) throw badJson(`${where}.first_message_index must be a non-negative integer`);
  if (!Number.isSafeInteger(fc) || (fc as number) < 0) throw badJson(`${where}.forwarded_count must be a non-negative integer`);
  if (typeof v !== 'boolean') throw badJson(`${where}.is_verified must be a boolean`);
  if (!isObject(sd)) throw badJson(`${where}.session_data must be an object`);
  return {
    room_id: '',
    session_id: '',
    first_message_index: fmi as number,
    forwarded_count: fc as number,
    is_verified: v ? 1 : 0,
    verified: v,
    session_data: JSON.stringify(sd),
  };
}

function toKeyData(r: BackupKeyRow): Record<string, unknown> {
  return {
    first_message_index: r.first_message_index,
    forwarded_count: r.forwarded_count,
    is_verified: r.is_verified === 1,
    session_data: JSON.parse(r.session_data) as unknown,
  };
}

export class KeyBackupService {
  readonly store: KeyBackupStore;

  constructor(private readonly ctx: E2eeContext) {
    this.store = new KeyBackupStore(ctx.db);
  }

  async createVersion(userId: string, body: Record<string, unknown>): Promise<string> {
    if (body.algorithm === undefined) throw missingParam('Missing algorithm');
    if (typeof body.algorithm !== 'string' || body.algorithm.length === 0) throw badJson('algorithm must be a string');
    if (body.auth_data === undefined) throw missingParam('Missing auth_data');
    if (!isObject(body.auth_data)) throw badJson('auth_data must be an object');
    const algorithm = body.algorithm;
    const authData = JSON.stringify(body.auth_data);
    const version = await this.ctx.db.write((tx) => this.store.create(tx, userId, algorithm, authData));
    return String(version);
  }

  /** GET /room_keys/version[/{version}]: the latest version when `version` is undefined. */
  async getVersion(userId: string, version?: string): Promise<BackupVersionInfo> {
    let row: BackupVersionRow | undefined;
    if (version === undefined) row = await this.store.latest(userId);
    else {
      const v = parseVersion(version);
      row = v === null ? undefined : await this.store.get(userId, v);
    }
    if (!row || row.deleted) throw version === undefined ? notFound('No current backup version') : unknownVersion(version);
    return {
      algorithm: row.algorithm,
      auth_data: JSON.parse(row.auth_data) as unknown,
      count: await this.store.count(userId, row.version),
      etag: String(row.etag),
      version: String(row.version),
    };
  }

  /** PUT /room_keys/version/{version}: "Only auth_data can be modified." */
  async updateVersion(userId: string, version: string, body: Record<string, unknown>): Promise<void> {
    if (body.algorithm === undefined) throw missingParam('Missing algorithm');
    if (body.auth_data === undefined) throw missingParam('Missing auth_data');
    if (!isObject(body.auth_data)) throw badJson('auth_data must be an object');
    if (body.version !== undefined && body.version !== version) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'version in the body does not match the path');
    }
    const v = parseVersion(version);
    const authData = JSON.stringify(body.auth_data);
    await this.ctx.db.write(async (tx) => {
      const row = v === null ? undefined : await this.store.get(userId, v, tx);
      if (!row || row.deleted) throw unknownVersion(version);
      if (body.algorithm !== row.algorithm) throw new MatrixError(400, 'M_INVALID_PARAM', 'Algorithm does not match');
      await this.store.updateAuthData(tx, userId, row.version, authData);
    });
  }

  /** DELETE /room_keys/version/{version}: succeeds again for an already deleted version. */
  async deleteVersion(userId: string, version: string): Promise<void> {
    const v = parseVersion(version);
    await this.ctx.db.write(async (tx) => {
      const row = v === null ? undefined : await this.store.get(userId, v, tx);
      if (!row) throw unknownVersion(version);
      if (!row.deleted) await this.store.markDeleted(tx, userId, row.version);
    });
  }

  /**
   * PUT /room_keys/keys[...]: stores keys in the current version, keeping the better of a stored
   * and an uploaded key for the same session (backup-rules.ts).
   */
  async putKeys(userId: string, version: string | undefined, rooms: unknown): Promise<KeysUpdate> {
    if (version === undefined) throw missingParam('Missing version');
    if (!isObject(rooms)) throw badJson('rooms must be an object');
    const byRoom = new Map<string, Array<BackupKeyRow & { verified: boolean }>>();
    for (const [roomId, room] of Object.entries(rooms)) {
      if (roomId.length > MAX_ID_LENGTH) throw badJson('room ID too long');
      if (!isObject(room) || !isObject(room.sessions)) throw badJson(`rooms.${roomId}.sessions must be an object`);
      const list: Array<BackupKeyRow & { verified: boolean }> = [];
      for (const [sessionId, data] of Object.entries(room.sessions)) {
        if (sessionId.length > MAX_ID_LENGTH) throw badJson('session ID too long');
        list.push({ ...checkKeyData(`rooms.${roomId}.sessions.${sessionId}`, data), room_id: roomId, session_id: sessionId });
      }
      byRoom.set(roomId, list);
    }
    const v = parseVersion(version);
    return this.ctx.db.write(async (tx) => {
      const current = await this.store.latest(userId, tx);
      if (!current) throw unknownVersion(version);
      if (current.version !== v) {
        const asked = v === null ? undefined : await this.store.get(userId, v, tx);
        if (!asked || asked.deleted) throw unknownVersion(version);
        throw new MatrixError(403, 'M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version', { current_version: String(current.version) });
      }
      let changed = 0;
      for (const [roomId, list] of byRoom) {
        if (list.length === 0) continue;
        const stored = new Map(
          (await this.store.existing(tx, userId, current.version, roomId, list.map((k) => k.session_id))).map((r) => [r.session_id, r]),
        );
        const winners: BackupKeyRow[] = [];
        for (const k of list) {
          const old = stored.get(k.session_id);
          const oldMeta = old && { is_verified: old.is_verified === 1, first_message_index: old.first_message_index, forwarded_count: old.forwarded_count };
          if (!shouldReplaceBackupKey(oldMeta, { is_verified: k.verified, first_message_index: k.first_message_index, forwarded_count: k.forwarded_count })) continue;
          const { verified: _v, ...row } = k;
          winners.push(row);
        }
        await this.store.upsert(tx, userId, current.version, winners);
        changed += winners.length;
      }
      const etag = changed > 0 ? await this.store.bumpEtag(tx, userId, current.version) : current.etag;
      return { etag: String(etag), count: await this.store.count(userId, current.version, tx) };
    });
  }

  /** GET /room_keys/keys[/{roomId}[/{sessionId}]]. */
  async getKeys(userId: string, version: string | undefined, roomId?: string, sessionId?: string): Promise<unknown> {
    if (version === undefined) throw missingParam('Missing version');
    const v = parseVersion(version);
    const row = v === null ? undefined : await this.store.get(userId, v);
    if (!row || row.deleted) throw unknownVersion(version);
    const keys = await this.store.keys(userId, row.version, roomId, sessionId);
    if (sessionId !== undefined) {
      if (keys.length === 0) throw notFound('No room key found for this session');
      return toKeyData(keys[0]!);
    }
    if (roomId !== undefined) {
      const sessions: Record<string, unknown> = {};
      for (const k of keys) sessions[k.session_id] = toKeyData(k);
      return { sessions };
    }
    const out: RoomsKeys = {};
    for (const k of keys) (out[k.room_id] ??= { sessions: {} }).sessions[k.session_id] = toKeyData(k);
    return { rooms: out };
  }

  /** DELETE /room_keys/keys[/{roomId}[/{sessionId}]]. */
  async deleteKeys(userId: string, version: string | undefined, roomId?: string, sessionId?: string): Promise<KeysUpdate> {
    if (version === undefined) throw missingParam('Missing version');
    const v = parseVersion(version);
    return this.ctx.db.write(async (tx) => {
      const row = v === null ? undefined : await this.store.get(userId, v, tx);
      if (!row || row.deleted) throw unknownVersion(version);
      const deleted = await this.store.deleteKeys(tx, userId, row.version, roomId, sessionId);
      const etag = deleted > 0 ? await this.store.bumpEtag(tx, userId, row.version) : row.etag;
      return { etag: String(etag), count: await this.store.count(userId, row.version, tx) };
    });
  }
}
