/**
 * E2EE over federation (server-server-api "End-to-End Encryption", "Device Management",
 * "Send-to-device messaging"): the E2EE area's `remote` hook (keys of remote users queried and
 * claimed on their server, to-device messages queued as m.direct_to_device EDUs) and the answers
 * we give other servers about our users.
 */
import type { Services } from '../container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import type { WriteTx } from '../../storage/db.ts';
import type { RemoteE2ee, RemoteQueryResult } from '../e2ee/hooks.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import { badJson, invalidParam, notFound } from '../../http/errors.ts';
import type { FederationClient } from './client.ts';
import type { FederationSender } from './sender.ts';
import { federationExtras } from './extras.ts';

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export class E2eeFederation implements RemoteE2ee {
  constructor(
    private readonly s: Services,
    private readonly client: FederationClient,
    private readonly sender: FederationSender,
  ) {}

  private get me(): string {
    return this.s.config.server_name ?? '';
  }

  // --- the E2EE area's remote hook ------------------------------------------------------------

  queryKeys(server: string, query: Record<string, string[]>, timeoutMs: number): Promise<RemoteQueryResult> {
    return this.client.request<RemoteQueryResult>(server, 'POST', '/_matrix/federation/v1/user/keys/query', { body: { device_keys: query }, timeoutMs });
  }

  async claimKeys(server: string, query: Record<string, Record<string, string>>, timeoutMs: number): Promise<Record<string, Record<string, Record<string, unknown>>>> {
    const r = await this.client.request<{ one_time_keys?: Record<string, Record<string, Record<string, unknown>>> }>(
      server,
      'POST',
      '/_matrix/federation/v1/user/keys/claim',
      { body: { one_time_keys: query }, timeoutMs },
    );
    return r.one_time_keys ?? {};
  }

  async queueToDevice(tx: WriteTx, server: string, sender: string, type: string, messageId: string, messages: Record<string, Record<string, unknown>>): Promise<void> {
    await this.sender.queueEdu(tx, server, { edu_type: 'm.direct_to_device', content: { sender, type, message_id: messageId, messages } }, null);
  }

  // --- answering other servers --------------------------------------------------------------

  /** POST /user/keys/query: only our users; no user_signing_keys (those are private). */
  async answerQuery(origin: string, body: JsonObject): Promise<JsonObject> {
    if (!isObject(body.device_keys)) throw badJson('device_keys must be an object');
    const query: Record<string, string[]> = {};
    for (const [userId, devices] of Object.entries(body.device_keys)) {
      if (serverNameOf(userId) !== this.me) continue;
      query[userId] = Array.isArray(devices) ? devices.filter((d): d is string => typeof d === 'string') : [];
    }
    const r = await this.s.e2ee.keys.query(`@federation:${origin}`, query);
    return { device_keys: r.device_keys as JsonObject, master_keys: r.master_keys as JsonObject, self_signing_keys: r.self_signing_keys as JsonObject };
  }

  /** POST /user/keys/claim: one-time keys of our users' devices. */
  async answerClaim(body: JsonObject): Promise<JsonObject> {
    if (!isObject(body.one_time_keys)) throw badJson('one_time_keys must be an object');
    const query: Record<string, Record<string, string>> = {};
    for (const [userId, devices] of Object.entries(body.one_time_keys)) {
      if (serverNameOf(userId) !== this.me || !isObject(devices)) continue;
      const q: Record<string, string> = {};
      for (const [d, alg] of Object.entries(devices)) if (typeof alg === 'string') q[d] = alg;
      query[userId] = q;
    }
    const r = await this.s.e2ee.keys.claim(query);
    return { one_time_keys: r.one_time_keys as JsonObject };
  }

  /** GET /user/devices/{userId}: a snapshot of one of our users' device list. */
  async answerDevices(userId: string): Promise<JsonObject> {
    if (serverNameOf(userId) !== this.me) throw invalidParam('The user is not on this server');
    if (!(await this.s.profiles.get(userId))) throw notFound('No such user');
    const keys = await this.s.e2ee.keys.query(userId, { [userId]: [] });
    const withKeys = (keys.device_keys[userId] ?? {}) as Record<string, JsonObject>;
    const devices = (await this.s.devices.store.list(userId)).map((d) => {
      const k = withKeys[d.device_id];
      const out: JsonObject = { device_id: d.device_id };
      if (k) {
        const { unsigned: _u, ...rest } = k;
        out.keys = rest;
      }
      if (d.display_name) out.device_display_name = d.display_name;
      return out;
    });
    // The stream_id continues our m.device_list_update sequence (device-list-sender.ts).
    const out: JsonObject = { user_id: userId, stream_id: await federationExtras(this.s).deviceSender.streamIdFor(userId), devices };
    if (keys.master_keys[userId]) out.master_key = keys.master_keys[userId] as JsonObject;
    if (keys.self_signing_keys[userId]) out.self_signing_key = keys.self_signing_keys[userId] as JsonObject;
    return out;
  }
}
