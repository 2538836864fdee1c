/**
 * Test-side E2EE key material: a fake device (ed25519 identity, curve25519 placeholder) that
 * signs its keys exactly as a client must, and cross-signing key sets. The curve25519 values are
 * random bytes (the server never interprets them); the signatures are real ed25519.
 */
import { randomBytes } from 'node:crypto';
import { signJson, publicKeyFromSeed } from '../../../../server/protocol/signing.ts';
import { encodeBase64 } from '../../../../server/protocol/base64.ts';
import type { JsonObject } from '../../../../server/protocol/pdu-types.ts';
import { api, registerUser, type Api, type TestUser } from '../../../helpers/clients.ts';

export class FakeDevice {
  readonly seed = randomBytes(32);
  readonly ed25519 = encodeBase64(publicKeyFromSeed(this.seed));
  readonly curve25519 = encodeBase64(randomBytes(32));
  private nextKey = 1;

  constructor(
    readonly userId: string,
    readonly deviceId: string,
  ) {}

  sign<T extends JsonObject>(obj: T): T {
    return signJson(obj, this.userId, `ed25519:${this.deviceId}`, this.seed);
  }

  deviceKeys(): JsonObject {
    return this.sign({
      user_id: this.userId,
      device_id: this.deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${this.deviceId}`]: this.curve25519, [`ed25519:${this.deviceId}`]: this.ed25519 },
    });
  }

  /** `n` fresh signed_curve25519 one-time keys, IDs counting up. */
  oneTimeKeys(n: number): Record<string, JsonObject> {
    const out: Record<string, JsonObject> = {};
    for (let i = 0; i < n; i++) {
      const id = `AAAA${String(this.nextKey++).padStart(4, '0')}`;
      out[`signed_curve25519:${id}`] = this.sign({ key: encodeBase64(randomBytes(32)) });
    }
    return out;
  }

  fallbackKey(id = `FB${this.nextKey++}`): Record<string, JsonObject> {
    return { [`signed_curve25519:${id}`]: this.sign({ key: encodeBase64(randomBytes(32)), fallback: true }) };
  }
}

export interface SigningKeyPair {
  seed: Buffer;
  pub: string;
}

export function newSigningKey(): SigningKeyPair {
  const seed = randomBytes(32);
  return { seed, pub: encodeBase64(publicKeyFromSeed(seed)) };
}

/** Signs `obj` as `userId` with a cross-signing key (key ID `ed25519:<pub>`). */
export function signWith<T extends JsonObject>(obj: T, userId: string, key: SigningKeyPair): T {
  return signJson(obj, userId, `ed25519:${key.pub}`, key.seed);
}

export interface CrossSigningSet {
  master: SigningKeyPair;
  selfSigning: SigningKeyPair;
  userSigning: SigningKeyPair;
  body: { master_key: JsonObject; self_signing_key: JsonObject; user_signing_key: JsonObject };
}

export function crossSigningKey(userId: string, usage: string, key: SigningKeyPair): JsonObject {
  return { user_id: userId, usage: [usage], keys: { [`ed25519:${key.pub}`]: key.pub } };
}

/** A complete master/self-signing/user-signing set, the latter two signed by the master key. */
export function crossSigningSet(userId: string): CrossSigningSet {
  const master = newSigningKey();
  const selfSigning = newSigningKey();
  const userSigning = newSigningKey();
  return {
    master,
    selfSigning,
    userSigning,
    body: {
      master_key: crossSigningKey(userId, 'master', master),
      self_signing_key: signWith(crossSigningKey(userId, 'self_signing', selfSigning), userId, master),
      user_signing_key: signWith(crossSigningKey(userId, 'user_signing', userSigning), userId, master),
    },
  };
}

/** A registered user with a fake device whose device keys are uploaded. */
export interface KeyedUser extends TestUser {
  api: Api;
  device: FakeDevice;
}

export async function withDeviceKeys(baseUrl: string, user: TestUser, otks = 0): Promise<KeyedUser> {
  const device = new FakeDevice(user.userId, user.deviceId);
  const c = api(baseUrl, user.accessToken);
  const r = await c.post('/keys/upload', { device_keys: device.deviceKeys(), one_time_keys: otks ? device.oneTimeKeys(otks) : undefined });
  if (r.status !== 200) throw new Error(`keys/upload: ${r.status} ${JSON.stringify(r.body)}`);
  return { ...user, api: c, device };
}

/** GET /sync with `since` (and a short timeout by default); throws on errors. */
export async function sync(c: Api, since?: string, timeout = 0): Promise<any> {
  const r = await c.get('/sync', { since, timeout });
  if (r.status !== 200) throw new Error(`sync: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A second login (new device) of an existing test user. */
export async function loginAgain(baseUrl: string, user: TestUser): Promise<TestUser> {
  const r = await api(baseUrl).post('/login', {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: user.userId },
    password: user.password,
  });
  if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
  return { ...user, accessToken: r.body.access_token, deviceId: r.body.device_id };
}

/** A freshly registered user with an API client in hand. */
export interface Member extends TestUser {
  c: Api;
}

export async function newMember(baseUrl: string): Promise<Member> {
  const u = await registerUser(baseUrl);
  return { ...u, c: api(baseUrl, u.accessToken) };
}
