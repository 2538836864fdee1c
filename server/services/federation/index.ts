/**
 * Federation: one service per process tying together discovery, the signed HTTP client, key
 * management, the outbound queue and the inbound handlers. Built by buildServices; started by
 * main.ts-equivalent start() once the database is up (the sender resumes queued transactions).
 */
import type { Services } from '../container.ts';
import { ServerKeysStore } from '../../storage/server-keys-store.ts';
import { FederationClient } from './client.ts';
import { KeyRing } from './keys.ts';
import { XMatrixVerifier } from './request-auth.ts';
import { RoomServers } from './room-servers.ts';

export class FederationService {
  readonly client: FederationClient;
  readonly keys: KeyRing;
  readonly auth: XMatrixVerifier;
  readonly rooms: RoomServers;
  /** Runs when a remote server proves it is up by sending us an authenticated request. */
  readonly onRemoteContact: Array<(server: string) => void> = [];

  constructor(private readonly s: Services) {
    const serverName = () => s.config.server_name ?? '';
    const ownKeys = () => s.signingKeys ?? s.appliance.signingKeys();
    const signingKey = () => ownKeys()[0]!;
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
      now: () => s.now(),
      log: s.log,
    });
    this.auth = new XMatrixVerifier({ serverName, keys: this.keys, now: () => s.now() });
    this.rooms = new RoomServers(s.roomCore, serverName);
  }

  get serverName(): string {
    return this.s.config.server_name ?? '';
  }

  async start(): Promise<void> {
    await this.keys.start();
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

  stop(): void {
    this.client.close();
  }
}
