/**
 * Federation: one service per process tying together discovery, the signed HTTP client, key
 * management, the outbound queue, the inbound event pipeline and the membership handshakes.
 * Built by buildServices; start() (from main.ts) resumes queued transactions and plugs into the
 * rooms area (Membership.remote, the writer's outbound hook) and the E2EE hooks.
 */
import type { Services } from '../container.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import type { AuthOptions } from '../../protocol/auth/index.ts';
import type { Pdu } from '../../protocol/pdu-types.ts';
import { redact } from '../../protocol/redaction.ts';
import { signatureKeyIds, verifyJsonSignature } from '../../protocol/signing.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import { ServerKeysStore } from '../../storage/server-keys-store.ts';
import { FederationQueueStore } from '../../storage/federation-queue-store.ts';
import { DestinationsStore } from '../../storage/destinations-store.ts';
import { FederationEventsStore } from '../../storage/federation-events-store.ts';
import { FederationClient } from './client.ts';
import { KeyRing } from './keys.ts';
import { XMatrixVerifier } from './request-auth.ts';
import { RoomServers } from './room-servers.ts';
import { RemoteEvents } from './remote-events.ts';
import { Ingest } from './ingest.ts';
import { FederationSender } from './sender.ts';
import { OutboundMembership } from './membership-out.ts';
import { InboundMembership } from './membership-in.ts';
import { Edus } from './edus.ts';
import { installFederationExtras } from './extras.ts';
import { E2eeFederation } from './e2ee-remote.ts';
import { History } from './history.ts';
import { Backfiller } from './backfill.ts';
import { ThirdPartyInvites } from './third-party.ts';

export class FederationService {
  readonly client: FederationClient;
  readonly keys: KeyRing;
  readonly auth: XMatrixVerifier;
  readonly rooms: RoomServers;
  readonly events: FederationEventsStore;
  readonly remote: RemoteEvents;
  readonly ingest: Ingest;
  readonly queue: FederationQueueStore;
  readonly destinations: DestinationsStore;
  readonly sender: FederationSender;
  readonly outbound: OutboundMembership;
  readonly inbound: InboundMembership;
  readonly edus: Edus;
  readonly e2ee: E2eeFederation;
  readonly history: History;
  readonly backfiller: Backfiller;
  readonly thirdParty: ThirdPartyInvites;
  /** Local events the outbound hook must not queue (a resident server distributes our joins/leaves/knocks). */
  readonly suppressOutbound = new Set<string>();
  /** Runs when a remote server proves it is up by sending us an authenticated request. */
  readonly onRemoteContact: Array<(server: string) => void> = [];

  constructor(private readonly s: Services) {
    const serverName = () => s.config.server_name ?? '';
    const ownKeys = () => s.signingKeys ?? s.appliance.signingKeys();
    const signingKey = () => ownKeys()[0]!;
    const now = () => s.now();
    const core = s.roomCore;
    this.client = new FederationClient({
      serverName,
      signingKey,
      discovery: s.appliance.discovery,
      ca: s.appliance.caBundle(),
      guard: { allowPrivate: s.config.federation_allow_private },
      log: s.log,
    });
    this.keys = new KeyRing({
      serverName,
      ownKeys,
      store: new ServerKeysStore(s.db),
      client: () => this.client,
      notaries: () => s.config.federation_key_notaries,
      now,
      log: s.log,
    });
    this.auth = new XMatrixVerifier({ serverName, keys: this.keys, now });
    this.rooms = new RoomServers(core, serverName);
    this.events = new FederationEventsStore(s.db);
    const authOptions = (v: RoomVersion) => this.authOptions(v);
    this.remote = new RemoteEvents(core, this.events, authOptions);
    this.queue = new FederationQueueStore(s.db);
    this.destinations = new DestinationsStore(s.db);
    this.sender = new FederationSender({
      db: s.db,
      queue: this.queue,
      destinations: this.destinations,
      client: this.client,
      log: s.log,
      now,
      serverName,
      backoffMaxMs: () => s.config.federation_backoff_max_ms,
      shutdown: s.shutdown,
    });
    this.ingest = new Ingest({ core, client: this.client, keys: this.keys, remote: this.remote, store: this.events, rooms: this.rooms, log: s.log, authOptions });
    const common = { core, log: s.log, serverName, signingKey, authOptions, keys: this.keys, remote: this.remote, ingest: this.ingest };
    this.outbound = new OutboundMembership({ ...common, client: this.client, rooms: this.rooms, suppressOutbound: this.suppressOutbound, invitedViaApi: this.invitedViaApi });
    this.inbound = new InboundMembership({
      ...common,
      rooms: this.rooms,
      sender: this.sender,
      userExists: async (userId) => !!(await s.profiles.get(userId)),
    });
    this.edus = new Edus(s, this.sender, this.rooms);
    this.history = new History(core, this.rooms);
    this.thirdParty = new ThirdPartyInvites({ core, client: this.client, outbound: this.outbound, rooms: this.rooms, log: s.log, serverName });
    this.backfiller = new Backfiller({ ...common, client: this.client, store: this.events, rooms: this.rooms });
    this.e2ee = new E2eeFederation(s, this.client, this.sender);
    this.onRemoteContact.push((server) => this.sender.wake(server));
    this.installOutboundHook();
    s.shutdown.addEventListener('abort', () => this.client.close(), { once: true });
  }

  get serverName(): string {
    return this.s.config.server_name ?? '';
  }

  /**
   * The auth rules' hooks: `isSignedBy` for restricted joins checks the authorising server's
   * signature with keys already loaded while verifying the event (pdu-checks.ts).
   */
  authOptions(version: RoomVersion): AuthOptions {
    return {
      isSignedBy: (event: Pdu, server: string) => {
        // The rules see events with their event_id added; in v3+ it is not part of what was signed.
        const { event_id: _id, ...bare } = event;
        const redacted = redact(version.eventIdFormat === 'v1' ? event : (bare as Pdu), version);
        for (const keyId of signatureKeyIds(redacted as never, server)) {
          const key = this.keys.cachedKey(server, keyId);
          if (key && verifyJsonSignature(redacted as never, server, keyId, key.key)) return true;
        }
        return false;
      },
    };
  }

  /**
   * Every event a local user creates is queued for the other servers in the room (joined before
   * or after it), plus the target's server of a membership change, in the same write job.
   */
  private installOutboundHook(): void {
    const core = this.s.roomCore;
    core.writer.addHook((b, a) => {
      const ev = a.event;
      if (!core.isLocalUser(ev.sender) || this.suppressOutbound.has(ev.eventId)) return;
      const changedUser = ev.type === 'm.room.member' ? ev.stateKey : undefined;
      const servers = new Set([...this.rooms.serversIn(a.before), ...this.rooms.serversIn(a.after, ['join'], { before: a.before, changedUser })]);
      if (ev.type === 'm.room.member' && ev.stateKey) {
        const target = serverNameOf(ev.stateKey);
        if (target) servers.add(target);
      }
      servers.delete(this.serverName);
      // An invite appended directly (e.g. createRoom's `invite` list) still goes to the invitee's
      // server through /invite: that server is not in the room and would not take it over /send.
      const target = ev.type === 'm.room.member' ? ev.stateKey : undefined;
      if (target && ev.pdu.content.membership === 'invite' && !core.isLocalUser(target) && !this.invitedViaApi.has(ev.eventId)) {
        const server = serverNameOf(target);
        if (server && !this.rooms.serversIn(a.before).includes(server)) b.afterCommit(() => void this.deliverInvite(ev.roomId, ev.eventId));
      }
      if (servers.size === 0) return;
      b.onFlush((tx) => this.sender.queuePdu(tx, servers, ev.eventId));
    });
  }

  /** Invites sent through OutboundMembership.invite (already delivered with /invite). */
  readonly invitedViaApi = new Set<string>();

  private async deliverInvite(roomId: string, eventId: string): Promise<void> {
    try {
      await this.outbound.deliverStoredInvite(roomId, eventId);
    } catch (e) {
      this.s.log.warn({ roomId, eventId, err: (e as Error).message }, 'could not deliver an invite to the invitee’s server');
    }
  }

  async start(): Promise<void> {
    await this.keys.start();
    await this.remote.start();
    this.s.membership.remote = this.outbound;
    this.s.appliance.federationHealth = this;
    this.s.e2ee.hooks.remote = this.e2ee;
    this.s.profiles.remote = (userId) => this.remoteProfile(userId);
    this.s.roomReads.backfill = (roomId, limit) => this.backfiller.backfill(roomId, limit);
    this.edus.install();
    installFederationExtras(this.s);
    await this.sender.start();
    // Inbound transaction IDs are kept a day (a retry comes within minutes), then pruned.
    const prune = () => void this.queue.pruneInbound(this.s.now() - 24 * 3600_000).catch(() => undefined);
    prune();
    const timer = setInterval(prune, 6 * 3600_000);
    timer.unref();
    this.s.shutdown.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  /**
   * An inbound transaction: PDUs grouped by room (rooms in parallel, each room in order), then
   * EDUs. The response (per-PDU results) is recorded so a retry gets it without reprocessing.
   */
  async receiveTransaction(origin: string, txnId: string, pdus: unknown[], edus: unknown[]): Promise<{ pdus: Record<string, { error?: string }> }> {
    const results: Record<string, { error?: string }> = {};
    const byRoom = new Map<string, unknown[]>();
    for (const raw of pdus) {
      const roomId = typeof raw === 'object' && raw !== null ? (raw as { room_id?: unknown }).room_id : undefined;
      const key = typeof roomId === 'string' ? roomId : '';
      let list = byRoom.get(key);
      if (!list) byRoom.set(key, (list = []));
      list.push(raw);
    }
    await Promise.all(
      [...byRoom.values()].map(async (list) => {
        for (const raw of list) {
          const r = await this.ingest.receive(origin, raw);
          if (r.eventId) results[r.eventId] = r.error ? { error: r.error } : {};
        }
      }),
    );
    for (const edu of edus) {
      try {
        await this.edus.receive(origin, edu);
      } catch (e) {
        this.s.log.info({ origin, err: (e as Error).message }, 'EDU not applied');
      }
    }
    const response = { pdus: results };
    await this.queue.saveInbound(origin, txnId, JSON.stringify(response), this.s.now());
    return response;
  }

  private readonly profileCache = new Map<string, { at: number; p: { displayname?: string; avatar_url?: string } | undefined }>();

  /** A remote user's profile from their server (/query/profile), cached for a minute. */
  async remoteProfile(userId: string): Promise<{ displayname?: string; avatar_url?: string } | undefined> {
    const hit = this.profileCache.get(userId);
    if (hit && hit.at > this.s.now() - 60_000) return hit.p;
    const server = serverNameOf(userId);
    if (!server) return undefined;
    let p: { displayname?: string; avatar_url?: string } | undefined;
    try {
      const r = await this.client.request<Record<string, unknown>>(server, 'GET', '/_matrix/federation/v1/query/profile', { query: { user_id: userId }, timeoutMs: 10_000 });
      p = {};
      if (typeof r.displayname === 'string') p.displayname = r.displayname;
      if (typeof r.avatar_url === 'string') p.avatar_url = r.avatar_url;
    } catch (e) {
      this.s.log.debug({ userId, err: (e as Error).message }, 'remote profile lookup failed');
      p = undefined;
    }
    this.profileCache.set(userId, { at: this.s.now(), p });
    if (this.profileCache.size > 1000) this.profileCache.delete(this.profileCache.keys().next().value!);
    return p;
  }

  /** For the dashboard (Appliance.federationHealth): destinations, the failing ones, the queue. */
  async health(): Promise<{ destinations: number; failing: { server: string; since: number; lastError: string }[]; queueLength: number }> {
    const rows = await this.destinations.all();
    const queued = await this.queue.countsByDestination();
    return {
      destinations: rows.length,
      failing: rows
        .filter((r) => r.failures > 0)
        .map((r) => ({ server: r.server_name, since: r.failing_since ?? r.retry_at, lastError: r.last_error ?? '' })),
      queueLength: [...queued.values()].reduce((a, b) => a + b, 0),
    };
  }

  /** Called by the X-Matrix middleware for every authenticated request. */
  remoteContact(server: string): void {
    for (const fn of this.onRemoteContact) {
      try {
        fn(server);
      } catch (e) {
        this.s.log.warn({ err: e, server }, 'remote contact hook failed');
      }
    }
  }
}
