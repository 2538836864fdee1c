/**
 * EDUs (server-server-api "EDUs", "Typing Notifications", "Receipts", "Presence", "Device
 * Management", "End-to-End Encryption", "Send-to-device messaging"), both ways:
 * - inbound: applied through the rooms and E2EE services after checking the user belongs to the
 *   sending server (and, for typing and receipts, the room's ACL and membership);
 * - outbound: the services' change hooks queue EDUs to the servers sharing a room with the user.
 */
import type { Services } from '../container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import type { FederationSender, Edu } from './sender.ts';
import type { RoomServers } from './room-servers.ts';
import { federationExtras } from './extras.ts';

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export class Edus {
  constructor(
    private readonly s: Services,
    private readonly sender: FederationSender,
    private readonly rooms: RoomServers,
  ) {}

  private get me(): string {
    return this.s.config.server_name ?? '';
  }

  // --- inbound ------------------------------------------------------------------------------

  async receive(origin: string, edu: unknown): Promise<void> {
    if (!isObject(edu) || typeof edu.edu_type !== 'string' || !isObject(edu.content)) return;
    const c = edu.content;
    switch (edu.edu_type) {
      case 'm.typing':
        return this.typing(origin, c);
      case 'm.receipt':
        return this.receipts(origin, c);
      case 'm.presence':
        return this.presence(origin, c);
      // Device lists (cached, with stream_id/prev_id gap detection) and to-device messages
      // (de-duplicated by message_id in SQLite) are handled by remote-devices.ts.
      case 'm.device_list_update':
        return federationExtras(this.s).devices.onDeviceListUpdate(origin, c);
      case 'm.signing_key_update':
        return federationExtras(this.s).devices.onSigningKeyUpdate(origin, c);
      case 'm.direct_to_device':
        return federationExtras(this.s).devices.onToDevice(origin, c);
      default:
        // Unknown EDU types are ignored.
        return;
    }
  }

  private fromOrigin(userId: unknown, origin: string): userId is string {
    return typeof userId === 'string' && serverNameOf(userId) === origin;
  }

  /** "Receiving servers should verify that the user is in the room, and is a user belonging to the sending server." */
  private async typing(origin: string, c: JsonObject): Promise<void> {
    const roomId = c.room_id;
    if (typeof roomId !== 'string' || !this.fromOrigin(c.user_id, origin)) return;
    if (!(await this.rooms.allowed(roomId, origin))) return;
    const state = await this.s.roomCore.currentState(roomId);
    if (state?.membership(c.user_id) !== 'join') return;
    const timeout = typeof c.timeout === 'number' ? c.timeout : 30_000;
    await this.s.typing.set(roomId, c.user_id, c.typing === true, timeout);
  }

  private async receipts(origin: string, c: JsonObject): Promise<void> {
    for (const [roomId, byType] of Object.entries(c)) {
      if (!isObject(byType)) continue;
      // "all receipts for a particular room ID MUST be ignored if the sending server is denied".
      if (!(await this.rooms.allowed(roomId, origin))) continue;
      const read = byType['m.read'];
      if (!isObject(read)) continue;
      for (const [userId, r] of Object.entries(read)) {
        if (!this.fromOrigin(userId, origin) || !isObject(r) || !Array.isArray(r.event_ids)) continue;
        const eventId = r.event_ids.find((x) => typeof x === 'string') as string | undefined;
        if (!eventId) continue;
        const data = isObject(r.data) ? r.data : {};
        const thread = typeof data.thread_id === 'string' && data.thread_id ? data.thread_id : undefined;
        const ts = typeof data.ts === 'number' ? data.ts : undefined;
        await this.s.receipts.put(userId, roomId, 'm.read', eventId, thread, ts).catch(() => undefined);
      }
    }
  }

  private async presence(origin: string, c: JsonObject): Promise<void> {
    if (!Array.isArray(c.push)) return;
    for (const p of c.push.slice(0, 1000)) {
      if (!isObject(p) || !this.fromOrigin(p.user_id, origin)) continue;
      const value = p.presence === 'online' || p.presence === 'unavailable' || p.presence === 'offline' ? p.presence : undefined;
      if (!value) continue;
      await this.s.presence.set(p.user_id, value, typeof p.status_msg === 'string' ? p.status_msg : null, true);
    }
  }

  // --- outbound -----------------------------------------------------------------------------

  /** Servers sharing a joined room with a local user (not us). */
  private async serversOf(userId: string): Promise<string[]> {
    const rows = (await this.s.roomCore.state.roomsOfUser(userId)).filter((r) => r.membership === 'join');
    const out = new Set<string>();
    for (const r of rows) for (const server of await this.rooms.serversInRoom(r.room_id)) out.add(server);
    out.delete(this.me);
    return [...out];
  }

  private queue(destinations: string[], edu: Edu, key: string | null): void {
    if (destinations.length === 0) return;
    void this.sender
      .sendEdus(destinations.map((destination) => ({ destination, edu, key })))
      .catch((e: unknown) => this.s.log.warn({ err: e, edu: edu.edu_type }, 'could not queue EDU'));
  }

  install(): void {
    const s = this.s;
    s.typing.onChanged.push((roomId, userId, typing) => {
      if (!s.roomCore.isLocalUser(userId)) return;
      void this.rooms.serversInRoom(roomId).then((servers) =>
        this.queue(servers.filter((x) => x !== this.me), { edu_type: 'm.typing', content: { room_id: roomId, user_id: userId, typing, ...(typing && { timeout: 30_000 }) } }, `typing:${roomId}:${userId}`),
      );
    });
    s.receipts.onChanged.push((r) => {
      if (r.receipt_type !== 'm.read' || !s.roomCore.isLocalUser(r.user_id)) return;
      const data: JsonObject = { ts: r.ts, ...(r.thread_id && { thread_id: r.thread_id }) };
      const content = { [r.room_id]: { 'm.read': { [r.user_id]: { event_ids: [r.event_id], data } } } };
      void this.rooms.serversInRoom(r.room_id).then((servers) =>
        this.queue(servers.filter((x) => x !== this.me), { edu_type: 'm.receipt', content }, `receipt:${r.room_id}:${r.user_id}:${r.thread_id}`),
      );
    });
    s.presence.onChanged.push((userId) => {
      if (!s.roomCore.isLocalUser(userId)) return;
      const p = s.presence.get(userId);
      const content = { push: [{ user_id: userId, ...p, last_active_ago: p.last_active_ago ?? 0 }] };
      void this.serversOf(userId).then((servers) => this.queue(servers, { edu_type: 'm.presence', content }, `presence:${userId}`));
    });
    // Our users' device list EDUs are sent by device-list-sender.ts (installed by extras.ts).
  }
}
