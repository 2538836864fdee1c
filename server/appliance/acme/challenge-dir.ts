/**
 * HTTP-01 answers (RFC 8555 §8.3) live as files in DATA_DIR/acme-challenge/TOKEN, so both the
 * server and `hearth cert obtain` (another process) can publish them and any plain-HTTP
 * listener of a running Hearth serves them. Key authorizations are not secret: they are what
 * the CA fetches over plain HTTP anyway.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** base64url, as RFC 8555 tokens are; anything else is refused before touching the disk. */
export const TOKEN_RE = /^[A-Za-z0-9_-]{1,256}$/;

export function challengeDir(dataDir: string): string {
  return join(dataDir, 'acme-challenge');
}

export function publishHttp01(dataDir: string, token: string, keyAuthorization: string): void {
  if (!TOKEN_RE.test(token)) throw new Error('malformed ACME challenge token');
  mkdirSync(challengeDir(dataDir), { recursive: true, mode: 0o755 });
  writeFileSync(join(challengeDir(dataDir), token), keyAuthorization, { mode: 0o644 });
}

export function removeHttp01(dataDir: string, token: string): void {
  if (!TOKEN_RE.test(token)) return;
  rmSync(join(challengeDir(dataDir), token), { force: true });
}

export function readHttp01(dataDir: string, token: string): string | undefined {
  if (!TOKEN_RE.test(token)) return undefined;
  try {
    return readFileSync(join(challengeDir(dataDir), token), 'utf8');
  } catch {
    return undefined;
  }
}
