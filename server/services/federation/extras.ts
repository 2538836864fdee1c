/**
 * The second federation part's services, one set per Hearth process (keyed by its Services, so
 * several instances can share a test process): remote media, space hierarchies, public room
 * lists of other servers, and the remote device-list cache. `installFederationExtras` (called
 * once from FederationService.start) plugs them into the media and E2EE areas' hooks.
 */
import type { Services } from '../container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import { MatrixError, invalidParam } from '../../http/errors.ts';
import { FederationError } from './client.ts';
import { parseServerName } from './discovery.ts';
import { FederationDevicesStore } from '../../storage/federation-devices-store.ts';
import type { RemoteE2ee } from '../e2ee/hooks.ts';
import { RemoteMediaClient } from './media-fetch.ts';
import { SpaceHierarchy } from './hierarchy.ts';
import { RemoteDeviceLists } from './remote-devices.ts';
import { DeviceListSender } from './device-list-sender.ts';

export class FederationExtras {
  readonly media: RemoteMediaClient;
  readonly hierarchy: SpaceHierarchy;
  /** Remote users' device lists (cache, EDUs in) and to-device messages from other servers. */
  readonly devices: RemoteDeviceLists;
  /** Our users' device list changes out as EDUs. */
  readonly deviceSender: DeviceListSender;
  readonly devicesStore: FederationDevicesStore;

  constructor(private readonly s: Services) {
    const f = s.federation;
    const serverName = () => s.config.server_name ?? '';
    const localDevices = async (userId: string) => (await s.devices.store.list(userId)).map((d) => d.device_id);
    this.devicesStore = new FederationDevicesStore(s.db);
    this.devices = new RemoteDeviceLists({
      db: s.db,
      store: this.devicesStore,
      e2ee: s.e2ee,
      client: f.client,
      log: s.log,
      now: () => s.now(),
      serverName,
      localDevices,
    });
    this.deviceSender = new DeviceListSender({
      db: s.db,
      store: this.devicesStore,
      e2ee: s.e2ee,
      sender: f.sender,
      log: s.log,
      serverName,
      deviceIds: localDevices,
      serversOf: async (userId) => {
        const servers = new Set<string>();
        for (const u of await s.e2ee.deviceLists.store.usersSharingRoomWith(userId)) servers.add(serverNameOf(u) ?? '');
        servers.delete('');
        servers.delete(serverName());
        return [...servers];
      },
    });
    this.media = new RemoteMediaClient({
      client: f.client,
      log: s.log,
      ca: s.appliance.caBundle(),
      guard: { allowPrivate: s.config.federation_allow_private },
    });
    this.hierarchy = new SpaceHierarchy({
      core: s.roomCore,
      directory: s.directory,
      client: f.client,
      serverName: () => s.config.server_name ?? '',
      now: () => s.now(),
    });
  }

  install(): void {
    const s = this.s;
    s.media.remoteFetcher = this.media.fetcher();
    // Key queries for remote users go through the device list cache; claims and to-device
    // messages stay with the first part's E2eeFederation. (Runs after FederationService set
    // hooks.remote to that object, and replaces it with this wrapper.)
    const base = s.e2ee.hooks.remote;
    const remote: RemoteE2ee = {
      queryKeys: (server, query, timeoutMs, requester) => this.devices.queryKeys(server, query, timeoutMs, requester),
      claimKeys: (server, query, timeoutMs) => (base ? base.claimKeys(server, query, timeoutMs) : Promise.reject(new Error('no federation'))),
      queueToDevice: (tx, server, sender, type, messageId, messages) => (base ? base.queueToDevice(tx, server, sender, type, messageId, messages) : Promise.resolve()),
    };
    s.e2ee.hooks.remote = remote;
    s.e2ee.hooks.onDeviceListChanged.push((change) => this.deviceSender.changed(change.userId));
    this.installStaleness();
    void this.deviceSender.start().catch((e: unknown) => s.log.warn({ err: e }, 'could not resume device list EDUs'));
  }

  /**
   * Membership changes that can interrupt the flow of m.device_list_update EDUs mark cached
   * lists stale: a remote user joining or leaving a room, or a local user joining a room (its
   * remote members' servers may not have been sending us updates).
   */
  private installStaleness(): void {
    const core = this.s.roomCore;
    core.writer.addHook((b, a) => {
      const ev = a.event;
      if (ev.type !== 'm.room.member' || ev.stateKey === undefined) return;
      const target = ev.stateKey;
      const was = a.before.membership(target);
      const now = a.after.membership(target);
      if (was === now) return;
      if (!core.isLocalUser(target)) {
        b.onFlush((tx) => this.devicesStore.markStale(tx, [target]));
      } else if (now === 'join') {
        const remote = a.after.joined().filter((u) => !core.isLocalUser(u));
        if (remote.length) b.onFlush((tx) => this.devicesStore.markStale(tx, remote));
      }
    });
  }

  /**
   * Another server's published room list for a client's /publicRooms?server=… (GET, or POST
   * when there is a filter). The remote's Matrix errors are passed on; no answer is a 502.
   */
  async publicRoomsOf(server: string, o: { limit?: number; since?: string; filter?: JsonObject; includeAllNetworks?: boolean; thirdPartyInstanceId?: string }): Promise<JsonObject> {
    if (!parseServerName(server)) throw invalidParam('server is not a server name');
    try {
      return await this.requestPublicRooms(server, o);
    } catch (e) {
      if (!(e instanceof FederationError)) throw e;
      if (e.errcode && e.status >= 400 && e.status < 500) throw new MatrixError(e.status, e.errcode, `${server}: ${e.message}`);
      throw new MatrixError(502, 'M_UNKNOWN', `Could not get the room directory of ${server}`);
    }
  }

  private requestPublicRooms(server: string, o: { limit?: number; since?: string; filter?: JsonObject; includeAllNetworks?: boolean; thirdPartyInstanceId?: string }): Promise<JsonObject> {
    const path = '/_matrix/federation/v1/publicRooms';
    const c = this.s.federation.client;
    if (o.filter || o.thirdPartyInstanceId !== undefined) {
      const body: JsonObject = {};
      if (o.limit !== undefined) body.limit = o.limit;
      if (o.since !== undefined) body.since = o.since;
      if (o.filter) body.filter = o.filter;
      if (o.includeAllNetworks !== undefined) body.include_all_networks = o.includeAllNetworks;
      if (o.thirdPartyInstanceId !== undefined) body.third_party_instance_id = o.thirdPartyInstanceId;
      return c.request<JsonObject>(server, 'POST', path, { body, timeoutMs: 20_000 });
    }
    return c.request<JsonObject>(server, 'GET', path, {
      query: { limit: o.limit, since: o.since, include_all_networks: o.includeAllNetworks },
      timeoutMs: 20_000,
    });
  }
}

const bySvc = new WeakMap<Services, FederationExtras>();

/** The extras of this process (created on first use). */
export function federationExtras(s: Services): FederationExtras {
  let x = bySvc.get(s);
  if (!x) bySvc.set(s, (x = new FederationExtras(s)));
  return x;
}

export function installFederationExtras(s: Services): void {
  federationExtras(s).install();
}
