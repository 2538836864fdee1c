/**
 * Rotating this server's signing key (server-server-api "Publishing Keys": keys no longer used
 * are listed under `old_verify_keys` with the time they stopped being used, so events they
 * signed stay verifiable). A new key replaces DATA_DIR/signing.key (written beside it, then
 * renamed over it); the keys it held are recorded as retired with expired_ts = now. The running
 * server signs with the new key after a restart.
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../../storage/db.ts';
import { ServerKeysStore } from '../../storage/server-keys-store.ts';
import { SIGNING_KEY_FILE, formatSigningKey, generateSigningKey, parseSigningKeyFile } from '../signing-key.ts';

export interface RotationResult {
  newKeyId: string;
  retired: string[];
}

export async function rotateSigningKey(dataDir: string, db: Database, now = Date.now()): Promise<RotationResult> {
  const path = join(dataDir, SIGNING_KEY_FILE);
  if (!existsSync(path)) throw new Error(`no signing key in ${dataDir} (start Hearth once to create one)`);
  const old = parseSigningKeyFile(readFileSync(path, 'utf8'));
  let fresh = generateSigningKey();
  while (old.some((k) => k.keyId === fresh.keyId)) fresh = generateSigningKey();
  // Retire first: if writing the file fails, the old key is merely listed twice (harmless).
  const store = new ServerKeysStore(db);
  for (const k of old) await store.addOwnOldKey(k.keyId, k.publicKeyBase64, now);
  const tmp = `${path}.new`;
  writeFileSync(tmp, formatSigningKey(fresh), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return { newKeyId: fresh.keyId, retired: old.map((k) => k.keyId) };
}
