/**
 * The second federation part's services, one set per Hearth process (keyed by its Services, so
 * several instances can share a test process): remote media, space hierarchies, public room
 * lists of other servers, and the remote device-list cache. `installFederationExtras` (called
 * once from FederationService.start) plugs them into the media and E2EE areas' hooks.
 */
import type { Services } from '../container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { RemoteMediaClient } from './media-fetch.ts';
import { SpaceHierarchy } from './hierarchy.ts';

export class FederationExtras {
  readonly media: RemoteMediaClient;
  readonly hierarchy: SpaceHierarchy;

  constructor(private readonly s: Services) {
    const f = s.federation;
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
    this.s.media.remoteFetcher = this.media.fetcher();
  }

  /** Another server's published room list (GET or, with a filter, POST /publicRooms over federation). */
  publicRoomsOf(server: string, o: { limit?: number; since?: string; filter?: JsonObject; includeAllNetworks?: boolean; thirdPartyInstanceId?: string }): Promise<JsonObject> {
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
