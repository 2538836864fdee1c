/**
 * The server's ed25519 signing key: DATA_DIR/signing.key, created at first start (mode 0600).
 * File format as Synapse's, one key per line: `ed25519 KEY_VERSION UNPADDED_BASE64_SEED`, so keys
 * can move between the two. The first line is the current key; later lines (if any) are kept as
 * additional keys. Old (expired) keys are the federation area's business and live elsewhere.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBase64, encodeBase64 } from '../protocol/base64.ts';
import { signingKeyFromSeed, type SigningKey } from '../protocol/signing.ts';

export const SIGNING_KEY_FILE = 'signing.key';

export class SigningKeyError extends Error {}

/** Parses the key file text into keys (first = current). Throws SigningKeyError on a malformed line. */
export function parseSigningKeyFile(text: string): SigningKey[] {
  const keys: SigningKey[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 3 || parts[0] !== 'ed25519' || !/^[a-zA-Z0-9_]+$/.test(parts[1]!)) {
      throw new SigningKeyError(`signing key file line ${i + 1}: expected "ed25519 VERSION BASE64SEED"`);
    }
    let seed: Uint8Array;
    try {
      seed = decodeBase64(parts[2]!);
    } catch {
      throw new SigningKeyError(`signing key file line ${i + 1}: the seed is not base64`);
    }
    if (seed.byteLength !== 32) throw new SigningKeyError(`signing key file line ${i + 1}: the seed is not 32 bytes`);
    keys.push(signingKeyFromSeed(seed, `ed25519:${parts[1]}`));
  }
  if (keys.length === 0) throw new SigningKeyError('signing key file holds no key');
  return keys;
}

export function formatSigningKey(key: SigningKey): string {
  return `ed25519 ${key.keyId.slice('ed25519:'.length)} ${encodeBase64(key.seed)}\n`;
}

/** A fresh key with a random version like Synapse's `a_AbCd`. */
export function generateSigningKey(): SigningKey {
  const version = 'a_' + randomBytes(3).toString('base64url').replace(/[^a-zA-Z0-9]/g, '_');
  return signingKeyFromSeed(new Uint8Array(randomBytes(32)), `ed25519:${version}`);
}

/**
 * Loads DATA_DIR/signing.key, creating it (0600) when absent. Returns every key in the file; the
 * first is the one new events are signed with.
 */
export function loadOrCreateSigningKeys(dataDir: string): SigningKey[] {
  const path = join(dataDir, SIGNING_KEY_FILE);
  if (!existsSync(path)) {
    const key = generateSigningKey();
    // 'wx': never overwrite a key another process created meanwhile.
    try {
      writeFileSync(path, formatSigningKey(key), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    chmodSync(path, 0o600);
  }
  return parseSigningKeyFile(readFileSync(path, 'utf8'));
}
