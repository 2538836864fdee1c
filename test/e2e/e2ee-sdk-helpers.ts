/**
 * matrix-js-sdk 36 clients with its Rust crypto (initRustCrypto, in-memory store) against a test
 * Hearth: login/start/stop, and waits for the events a user would see.
 */
import assert from 'node:assert/strict';
import sdk, { ClientEvent, EventType, MatrixEvent, MatrixEventEvent, RoomEvent, type MatrixClient, type Room } from 'matrix-js-sdk';
import { logger, type Logger } from 'matrix-js-sdk/lib/logger.js';
import { LoggerLevel, Tracing } from '@matrix-org/matrix-sdk-crypto-wasm';
import type { CryptoCallbacks } from 'matrix-js-sdk/lib/crypto-api/index.js';
import type { TestUser } from '../helpers/clients.ts';
import { loginAgain } from '../http/client/e2ee/e2ee-helpers.ts';

logger.setLevel('warn');

/**
 * The SDK's timeoutSignal() ponyfill (http-api/utils.ts) starts a setTimeout per request and
 * never clears it: a stopped client would keep the test process alive for the sync request's
 * 110 s local timeout. Long timers in this test process are unref'd so it can exit.
 */
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const t = realSetTimeout(fn, ms, ...args);
  if ((ms ?? 0) >= 60_000) t.unref();
  return t;
}) as typeof setTimeout;

/** Stops clients and lets their aborted requests finish before the server shuts down. */
export async function stopClients(clients: MatrixClient[]): Promise<void> {
  for (const c of clients) c.stopClient();
  await new Promise((r) => setTimeout(r, 300));
}

/** The SDK's own logger gives every child logger debug level; this one keeps warnings and errors only. */
function quietLogger(prefix = ''): Logger {
  const noop = () => undefined;
  return {
    trace: noop,
    debug: noop,
    info: noop,
    warn: (...a: unknown[]) => console.warn(prefix, ...a),
    error: (...a: unknown[]) => console.error(prefix, ...a),
    getChild: (p: string) => quietLogger(prefix + p),
  };
}

/** initRustCrypto turns the Rust SDK's tracing on at debug level; keep test output readable. */
export function quietRustCrypto(): void {
  new Tracing(LoggerLevel.Warn).turnOn();
}

export interface Started {
  client: MatrixClient;
  user: TestUser;
}

export async function startClient(baseUrl: string, user: TestUser, cryptoCallbacks: CryptoCallbacks = {}): Promise<MatrixClient> {
  const client = sdk.createClient({
    baseUrl,
    accessToken: user.accessToken,
    userId: user.userId,
    deviceId: user.deviceId,
    cryptoCallbacks,
    logger: quietLogger(`[${user.userId}|${user.deviceId}] `),
  });
  await client.initRustCrypto({ useIndexedDB: false });
  quietRustCrypto();
  const prepared = new Promise<void>((resolve, reject) => {
    const onSync = (state: string) => {
      if (state === 'PREPARED' || state === 'SYNCING') {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === 'ERROR') reject(new Error(`${user.userId}: sync error`));
    };
    client.on(ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit: 20 });
  await prepared;
  return client;
}

/** Resolves with `pred`'s result once it is truthy, re-checking on every event until `ms`. */
export async function waitFor<T>(what: string, pred: () => T | Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitForRoom(client: MatrixClient, roomId: string): Promise<Room> {
  return waitFor(`room ${roomId} on ${client.getUserId()}`, () => client.getRoom(roomId));
}

/** Waits until `client` sees a decrypted m.room.message with `body` in the room and returns it. */
export async function waitForDecrypted(client: MatrixClient, roomId: string, body: string, ms = 30_000): Promise<MatrixEvent> {
  return waitFor(
    `"${body}" decrypted by ${client.getUserId()}`,
    async () => {
      const room = client.getRoom(roomId);
      if (!room) return undefined;
      for (const ev of room.getLiveTimeline().getEvents()) {
        if (!ev.isEncrypted()) continue;
        await client.decryptEventIfNeeded(ev);
        if (ev.getType() === EventType.RoomMessage && ev.getContent().body === body) return ev;
      }
      return undefined;
    },
    ms,
  );
}

/** Joins once the invite arrived. */
export async function acceptInvite(client: MatrixClient, roomId: string): Promise<void> {
  await waitFor(`invite to ${roomId}`, () => client.getRoom(roomId)?.getMyMembership() === 'invite');
  await client.joinRoom(roomId);
}

export { MatrixEventEvent, RoomEvent };

/**
 * One user's secret storage key, handed to every client of that user through the
 * getSecretStorageKey callback (what a user typing in their recovery key does).
 */
export class SecretStorageKeyHolder {
  key: Uint8Array | null = null;

  callbacks(): CryptoCallbacks {
    return {
      getSecretStorageKey: async ({ keys }) => {
        const keyId = Object.keys(keys)[0];
        return this.key && keyId ? [keyId, this.key] : null;
      },
    };
  }
}

/** Element's flow: try without UIA (the first upload needs none), else authenticate with the password. */
export function passwordUia(user: TestUser) {
  return async (makeRequest: (auth: Record<string, unknown> | null) => Promise<unknown>): Promise<void> => {
    try {
      await makeRequest(null);
    } catch (e) {
      if ((e as { httpStatus?: number }).httpStatus !== 401) throw e;
      const session = (e as { data?: { session?: string } }).data?.session;
      await makeRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: user.userId }, password: user.password, session });
    }
  };
}

/**
 * Element's "set up secure backup" on `client`: cross-signing keys (uploaded with the password),
 * and secret storage under a new recovery key that `holder` keeps; `keyBackup` also starts
 * server-side key backup.
 */
export async function setUpSecureBackup(client: MatrixClient, user: TestUser, holder: SecretStorageKeyHolder, opts: { keyBackup?: boolean } = {}): Promise<void> {
  const crypto = client.getCrypto()!;
  await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUia(user) });
  await crypto.bootstrapSecretStorage({
    createSecretStorageKey: async () => {
      const k = await crypto.createRecoveryKeyFromPassphrase();
      holder.key = k.privateKey;
      return k;
    },
    setupNewSecretStorage: true,
    setupNewKeyBackup: opts.keyBackup ?? false,
  });
}

/**
 * Another device of `user`, whose owner has the recovery key `holder` keeps: it logs in again,
 * starts, learns its user's public keys and takes the cross-signing keys from secret storage
 * (so it signs itself). It joins `clients` (for stopClients) as soon as it runs.
 */
export async function newDeviceWithRecoveryKey(baseUrl: string, user: TestUser, holder: SecretStorageKeyHolder, clients: MatrixClient[]): Promise<MatrixClient> {
  const client = await startClient(baseUrl, await loginAgain(baseUrl, user), holder.callbacks());
  clients.push(client);
  const crypto = client.getCrypto()!;
  await crypto.getUserDeviceInfo([user.userId], true);
  await crypto.bootstrapCrossSigning({});
  return client;
}

/** The state event that turns on Megolm encryption in a new room. */
export const ENCRYPTION = { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } };

/** A private room, encrypted from its first event, with `invite` invited; `extra` adds to the createRoom body. Returns its id. */
export async function createEncryptedRoom(client: MatrixClient, invite: string[], extra: { name?: string } = {}): Promise<string> {
  const { room_id: roomId } = await client.createRoom({ preset: 'private_chat' as never, invite, initial_state: [ENCRYPTION], ...extra });
  return roomId;
}

/**
 * An encrypted DM from `a` to `b`, then a message each way: each side must decrypt the other's,
 * and what travelled must have been `m.room.encrypted`. `joined` waits until `a` sees `b` in the
 * room (locally a room sync is enough; across servers the join must have arrived).
 */
export async function encryptedDmBothWays(
  a: { client: MatrixClient; user: TestUser },
  b: { client: MatrixClient; user: TestUser },
  texts: [fromA: string, fromB: string],
): Promise<string> {
  const { room_id: roomId } = await a.client.createRoom({
    is_direct: true,
    preset: 'trusted_private_chat' as never,
    invite: [b.user.userId],
    initial_state: [ENCRYPTION],
  });
  await acceptInvite(b.client, roomId);
  await waitFor('the DM partner joined', () => a.client.getRoom(roomId)?.getMember(b.user.userId)?.membership === 'join');
  await a.client.sendTextMessage(roomId, texts[0]);
  const atB = await waitForDecrypted(b.client, roomId, texts[0]);
  assert.equal(atB.getWireType(), 'm.room.encrypted', 'it travelled encrypted');
  assert.equal(atB.getSender(), a.user.userId);
  await b.client.sendTextMessage(roomId, texts[1]);
  const atA = await waitForDecrypted(a.client, roomId, texts[1]);
  assert.equal(atA.getWireType(), 'm.room.encrypted');
  return roomId;
}
