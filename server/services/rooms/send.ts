/**
 * Sending events from clients: PUT /send/{type}/{txnId} (idempotent per device and transaction ID,
 * client-server-api "Transaction identifiers"), PUT /state/{type}/{stateKey} and
 * PUT /redact/{eventId}/{txnId}.
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { getNamedLevel, getPowerLevel } from '../../protocol/auth/index.ts';
import { parseRoomAlias } from '../../protocol/identifiers.ts';
import { MatrixError, badJson, forbidden, notFound } from '../../http/errors.ts';
import type { RoomCore } from './core.ts';
import type { Membership } from './membership.ts';

function isUniqueTxnError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === 'SQLITE_CONSTRAINT' && /events\.(sender|txn_id)|events_txn/.test(err.message ?? '');
}

/** Recent (sender, device, txn) → event ID, so client retries skip the database. */
const TXN_CACHE = 5000;

export class Sender {
  private readonly recentTxns = new Map<string, string>();

  constructor(
    private readonly core: RoomCore,
    private readonly membership: Membership,
  ) {}

  private remember(userId: string, deviceId: string, txnId: string, eventId: string): void {
    if (this.recentTxns.size >= TXN_CACHE) this.recentTxns.delete(this.recentTxns.keys().next().value!);
    this.recentTxns.set(`${userId}|${deviceId}|${txnId}`, eventId);
  }

  /**
   * Runs `append` unless this transaction already produced an event. The common case costs no
   * read: a repeat is found in memory, or (after eviction or a restart) by the unique index on
   * (sender, device_id, txn_id) rejecting the insert, after which the original is looked up.
   */
  private async idempotent(userId: string, deviceId: string | null, txnId: string, append: () => Promise<string>): Promise<string> {
    if (!deviceId) return append();
    const key = `${userId}|${deviceId}|${txnId}`;
    const known = this.recentTxns.get(key);
    if (known) return known;
    try {
      const eventId = await append();
      this.remember(userId, deviceId, txnId, eventId);
      return eventId;
    } catch (e) {
      if (isUniqueTxnError(e)) {
        const existing = await this.core.events.getByTxn(userId, deviceId, txnId);
        if (existing) {
          this.remember(userId, deviceId, txnId, existing);
          return existing;
        }
      }
      throw e;
    }
  }

  private async requireRoom(roomId: string): Promise<void> {
    if (!(await this.core.maybeVersionOf(roomId))) throw notFound('Unknown room');
  }

  /** PUT /rooms/{roomId}/send/{eventType}/{txnId}. Returns the event ID (the same one for a repeated transaction). */
  async send(userId: string, deviceId: string | null, roomId: string, type: string, txnId: string, content: JsonObject): Promise<string> {
    await this.requireRoom(roomId);
    if (type === 'm.room.redaction') {
      const target = content.redacts;
      if (typeof target !== 'string') throw badJson('m.room.redaction needs content.redacts');
      return this.redact(userId, deviceId, roomId, target, txnId, content);
    }
    const txn = deviceId ? { deviceId, txnId } : undefined;
    return this.idempotent(userId, deviceId, txnId, async () => {
      const a = await this.core.writer.appendSoon(roomId, { type, content, sender: userId, txn });
      return a.event.eventId;
    });
  }

  /** PUT /rooms/{roomId}/state/{eventType}/{stateKey}. */
  async setState(userId: string, roomId: string, type: string, stateKey: string, content: JsonObject): Promise<string> {
    await this.requireRoom(roomId);
    if (type === 'm.room.member') return this.membership.setMemberState(userId, roomId, stateKey, content);
    if (type === 'm.room.canonical_alias') await this.checkCanonicalAlias(roomId, content);
    const state = await this.core.currentState(roomId);
    if (state) {
      // Setting identical state again returns the existing event (no duplicate in the room).
      const cur = await this.core.stateEvent(state, type, stateKey);
      if (cur && cur.sender === userId && !cur.redactedBy && JSON.stringify(cur.pdu.content) === JSON.stringify(content)) return cur.eventId;
    }
    const a = await this.core.writer.write((b) => this.core.writer.append(b, roomId, { type, stateKey, content, sender: userId }));
    return a.event.eventId;
  }

  /** m.room.canonical_alias: "alias" and "alt_aliases" must be valid and point at this room (else 400 M_BAD_ALIAS). */
  private async checkCanonicalAlias(roomId: string, content: JsonObject): Promise<void> {
    const aliases: unknown[] = [];
    if (content.alias !== undefined && content.alias !== null) aliases.push(content.alias);
    if (content.alt_aliases !== undefined) {
      if (!Array.isArray(content.alt_aliases)) throw new MatrixError(400, 'M_INVALID_PARAM', 'alt_aliases must be a list');
      aliases.push(...content.alt_aliases);
    }
    for (const a of aliases) {
      if (typeof a !== 'string' || !parseRoomAlias(a)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid alias ${String(a)}`);
      if (!this.core.isLocalUser('@x' + a.slice(a.indexOf(':')))) continue; // remote aliases cannot be checked here
      const row = await this.core.rooms.getAlias(a);
      if (!row || row.room_id !== roomId) throw new MatrixError(400, 'M_BAD_ALIAS', `${a} does not point to this room`);
    }
  }

  /** PUT /rooms/{roomId}/redact/{eventId}/{txnId}. */
  async redact(userId: string, deviceId: string | null, roomId: string, eventId: string, txnId: string, extra: JsonObject = {}): Promise<string> {
    await this.requireRoom(roomId);
    const txn = deviceId ? { deviceId, txnId } : undefined;
    const known = deviceId ? this.recentTxns.get(`${userId}|${deviceId}|${txnId}`) ?? (await this.core.events.getByTxn(userId, deviceId, txnId)) : undefined;
    if (known) return known;
    const target = await this.core.eventCache.get(eventId);
    if (!target || target.roomId !== roomId || target.outlier || target.rejected) throw notFound('Event not found');
    if (target.sender !== userId) {
      // "Handling redactions": only the sender, or someone with the redact power level.
      const state = await this.core.currentState(roomId);
      const pl = state ? await this.core.stateEvent(state, 'm.room.power_levels') : undefined;
      const create = state ? await this.core.stateEvent(state, 'm.room.create') : undefined;
      const version = await this.core.versionOf(roomId);
      if (getPowerLevel(userId, pl?.pdu, create?.pdu, version) < getNamedLevel('redact', pl?.pdu, version)) {
        throw forbidden('You may not redact events sent by others');
      }
    }
    const content: JsonObject = { ...extra };
    delete content.redacts;
    return this.idempotent(userId, deviceId, txnId, async () => {
      const a = await this.core.writer.write((b) =>
        this.core.writer.append(b, roomId, { type: 'm.room.redaction', content, redacts: eventId, sender: userId, txn }),
      );
      return a.event.eventId;
    });
  }
}
