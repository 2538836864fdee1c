/**
 * Chooses the certificate HTTPS listeners serve: the operator's files (--tls-cert/--tls-key)
 * when given. (The managed Let's Encrypt certificate and the self-signed bootstrap certificate
 * plug in here.)
 */
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import type { Config } from '../../config/schema.ts';
import type { TlsProvider } from '../../http/listeners.ts';

export class TlsConfigError extends Error {}

export function staticTlsProvider(certFile: string, keyFile: string): TlsProvider {
  let opts: tls.SecureContextOptions;
  try {
    opts = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  } catch (e) {
    throw new TlsConfigError(`cannot read TLS certificate or key: ${(e as Error).message}`);
  }
  return { current: () => opts, onChange: () => undefined };
}

export async function createTlsProvider(config: Config): Promise<TlsProvider | undefined> {
  if (config.tls_cert && config.tls_key) return staticTlsProvider(config.tls_cert, config.tls_key);
  return undefined;
}
