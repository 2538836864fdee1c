/**
 * Third-party invites across servers (server-server-api "Third-party invites"):
 * - PUT /3pid/onbind: an identity server tells us one of our users bound a third-party ID that
 *   had pending room invites; for each, we ask the inviting server to issue the invite
 *   (/exchange_third_party_invite), which works whether or not we are in the room;
 * - PUT /exchange_third_party_invite/{roomId}: the invitee's server asks us (in the room) to
 *   turn a partial m.room.member invite, carrying the identity server's `signed` proof, into an
 *   invite: we check it against the room's m.room.third_party_invite (the auth rules verify the
 *   signature with its public keys) and invite as usual (invite v2).
 */
import type { Logger } from '../../logging.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import type { RoomCore } from '../rooms/core.ts';
import { badJson, forbidden, notFound } from '../../http/errors.ts';
import type { FederationClient } from './client.ts';
import type { OutboundMembership } from './membership-out.ts';
import type { RoomServers } from './room-servers.ts';

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ThirdPartyDeps {
  core: RoomCore;
  client: FederationClient;
  outbound: OutboundMembership;
  rooms: RoomServers;
  log: Logger;
  serverName: () => string;
}

export class ThirdPartyInvites {
  constructor(private readonly d: ThirdPartyDeps) {}

  /** PUT /exchange_third_party_invite/{roomId} from the invitee's server `origin`. */
  async exchange(origin: string, roomId: string, body: JsonObject): Promise<void> {
    if (body.type !== 'm.room.member' || body.room_id !== roomId) throw badJson('Expected an m.room.member event for this room');
    if (typeof body.sender !== 'string' || typeof body.state_key !== 'string' || !isObject(body.content)) throw badJson('sender, state_key and content are required');
    const content = body.content;
    const tpi = content.third_party_invite;
    if (content.membership !== 'invite' || !isObject(tpi) || !isObject(tpi.signed)) throw badJson('content must be an invite with third_party_invite.signed');
    const signed = tpi.signed;
    if (signed.mxid !== body.state_key || typeof signed.token !== 'string') throw badJson('signed.mxid must be the invited user and signed.token a string');
    if (serverNameOf(body.state_key) !== origin) throw forbidden('The invited user is not on the requesting server');
    const state = await this.d.core.currentState(roomId);
    if (!state || state.localWith(this.d.serverName(), 'join').length === 0) throw notFound('This server is not in that room');
    await this.d.rooms.assertAllowed(roomId, origin);
    const tpiEvent = await this.d.core.stateEvent(state, 'm.room.third_party_invite', signed.token);
    if (!tpiEvent) throw forbidden('No third-party invite with that token in the room');
    // The member event's sender must be whoever sent the third-party invite (auth rules check it too).
    if (tpiEvent.sender !== body.sender) throw forbidden('sender does not match the third-party invite');
    if (!this.d.core.isLocalUser(body.sender)) throw forbidden('The third-party invite was not sent from this server');
    const displayName = typeof tpi.display_name === 'string' ? tpi.display_name : tpiEvent.pdu.content.display_name;
    const member: JsonObject = { membership: 'invite', third_party_invite: { display_name: typeof displayName === 'string' ? displayName : '', signed } };
    if (this.d.core.isLocalUser(body.state_key)) {
      const target = body.state_key;
      const sender = body.sender;
      await this.d.core.writer.write((b) => this.d.core.writer.append(b, roomId, { type: 'm.room.member', stateKey: target, sender, content: member }));
      return;
    }
    await this.d.outbound.invite(body.sender, roomId, body.state_key, member);
  }

  /** PUT /3pid/onbind from an identity server: ask each inviting server to issue its invite. */
  async onBind(body: JsonObject): Promise<void> {
    if (typeof body.mxid !== 'string' || !Array.isArray(body.invites)) throw badJson('mxid and invites are required');
    if (serverNameOf(body.mxid) !== this.d.serverName()) throw badJson('mxid is not a user of this server');
    for (const inv of body.invites.slice(0, 100)) {
      if (!isObject(inv) || typeof inv.room_id !== 'string' || typeof inv.sender !== 'string' || !isObject(inv.signed)) continue;
      const event: JsonObject = {
        type: 'm.room.member',
        room_id: inv.room_id,
        sender: inv.sender,
        state_key: body.mxid,
        content: {
          membership: 'invite',
          third_party_invite: { display_name: typeof inv.display_name === 'string' ? inv.display_name : '', signed: inv.signed },
        },
      };
      const server = serverNameOf(inv.sender);
      if (!server) continue;
      try {
        if (server === this.d.serverName()) await this.exchange(server, inv.room_id, event);
        else {
          await this.d.client.request(server, 'PUT', `/_matrix/federation/v1/exchange_third_party_invite/${encodeURIComponent(inv.room_id)}`, { body: event });
        }
      } catch (e) {
        this.d.log.warn({ roomId: inv.room_id, server, err: (e as Error).message }, 'third-party invite exchange failed');
      }
    }
  }
}
