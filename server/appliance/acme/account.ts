/**
 * ACME account keys, one per directory URL (staging and production are separate CAs with
 * separate accounts): DATA_DIR/acme/account-<hash>.key (mode 0600) and .url (the account URL
 * once registered, so later orders skip the lookup).
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function base(dataDir: string, directoryUrl: string): string {
  const h = createHash('sha256').update(directoryUrl).digest('hex').slice(0, 12);
  return join(dataDir, 'acme', `account-${h}`);
}

export function loadOrCreateAccount(dataDir: string, directoryUrl: string): { keyPem: string; url: string | null } {
  const b = base(dataDir, directoryUrl);
  mkdirSync(join(dataDir, 'acme'), { recursive: true, mode: 0o700 });
  if (!existsSync(`${b}.key`)) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(`${b}.key`, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    writeFileSync(`${b}.directory`, directoryUrl + '\n', { mode: 0o600 });
  }
  chmodSync(`${b}.key`, 0o600);
  const url = existsSync(`${b}.url`) ? readFileSync(`${b}.url`, 'utf8').trim() || null : null;
  return { keyPem: readFileSync(`${b}.key`, 'utf8'), url };
}

export function saveAccountUrl(dataDir: string, directoryUrl: string, url: string): void {
  writeFileSync(`${base(dataDir, directoryUrl)}.url`, url + '\n', { mode: 0o600 });
}
