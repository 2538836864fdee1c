/**
 * Chooses the certificate HTTPS listeners serve:
 *   1. the operator's files (--tls-cert/--tls-key) when given;
 *   2. otherwise the managed certificate in DATA_DIR/tls (issued by Let's Encrypt through the
 *      wizard or `hearth cert obtain`);
 *   3. until that exists, a self-signed bootstrap certificate, so the wizard works over HTTPS.
 * The managed provider watches DATA_DIR/tls: a certificate written by the wizard, the renewal
 * timer or the CLI (another process) is served by the running listeners without a restart.
 */
import { existsSync, mkdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import type tls from 'node:tls';
import type { Config } from '../../config/schema.ts';
import type { TlsProvider } from '../../http/listeners.ts';
import { bootstrapPaths, describeCert, managedPaths, readCertPair, tlsDir, writeCertPair, type CertInfo, type LoadedPair } from './cert-files.ts';

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

export type ServedKind = 'managed' | 'self-signed';

export class ManagedTlsProvider implements TlsProvider {
  private pair!: LoadedPair;
  private kind: ServedKind = 'self-signed';
  private pendingBootstrap: { certPem: string; keyPem: string } | null = null;
  private readonly listeners: ((opts: tls.SecureContextOptions) => void)[] = [];
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;

  /** Loads the certificate on disk, or makes the bootstrap one (node-forge is loaded only then). */
  static async create(dataDir: string): Promise<ManagedTlsProvider> {
    const probe = new ManagedTlsProvider(dataDir, null);
    if (probe.loaded) return probe;
    const { createBootstrapCert } = await import('./bootstrap-cert.ts');
    return new ManagedTlsProvider(dataDir, createBootstrapCert());
  }

  private loaded = false;

  private constructor(
    readonly dataDir: string,
    bootstrap: { certPem: string; keyPem: string } | null,
  ) {
    this.loaded = this.load();
    if (!this.loaded && bootstrap) {
      // No certificate at all yet: serve the bootstrap one. It is written to disk (so browsers
      // that accepted it keep accepting it after a restart) once the data directory exists.
      const made = bootstrap;
      this.pendingBootstrap = made;
      this.persistBootstrap();
      this.pair = { ...made, info: describeCert(made.certPem) };
      this.kind = 'self-signed';
    }
  }

  current(): tls.SecureContextOptions {
    return { cert: this.pair.certPem, key: this.pair.keyPem };
  }

  onChange(listener: (opts: tls.SecureContextOptions) => void): void {
    this.listeners.push(listener);
  }

  /** What is being served now. */
  served(): { kind: ServedKind; info: CertInfo } {
    return { kind: this.kind, info: this.pair.info };
  }

  /** Writes a bootstrap certificate made before the data directory existed. */
  persistBootstrap(): void {
    if (!this.pendingBootstrap || !existsSync(this.dataDir)) return;
    writeCertPair(bootstrapPaths(this.dataDir), this.pendingBootstrap.certPem, this.pendingBootstrap.keyPem);
    this.pendingBootstrap = null;
  }

  /** Re-reads DATA_DIR/tls; tells the listeners when the certificate changed. Returns true if it did. */
  reload(): boolean {
    const before = this.pair?.info.fingerprint256;
    if (!this.load()) return false;
    if (this.pair.info.fingerprint256 === before) return false;
    for (const l of this.listeners) l(this.current());
    return true;
  }

  /** Watches DATA_DIR/tls for certificates written by other processes (`hearth cert obtain`). */
  watch(): void {
    if (this.watcher) return;
    try {
      mkdirSync(tlsDir(this.dataDir), { recursive: true, mode: 0o700 });
      this.watcher = watch(tlsDir(this.dataDir), () => {
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.reload(), 200);
        this.debounce.unref();
      });
      this.watcher.unref();
    } catch {
      // No inotify (or no directory): reload() is still called directly after renewals.
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.debounce) clearTimeout(this.debounce);
  }

  private load(): boolean {
    const managed = readCertPair(managedPaths(this.dataDir));
    if (managed) {
      this.pair = managed;
      this.kind = 'managed';
      return true;
    }
    const boot = readCertPair(bootstrapPaths(this.dataDir));
    if (boot) {
      this.pair = boot;
      this.kind = 'self-signed';
      return true;
    }
    return false;
  }
}

export async function createTlsProvider(config: Config): Promise<TlsProvider | undefined> {
  if (config.tls_cert && config.tls_key) return staticTlsProvider(config.tls_cert, config.tls_key);
  if (config.listen_tls.length === 0) return undefined;
  // Watching starts in Appliance.start(), once the data directory surely exists.
  return ManagedTlsProvider.create(config.data_dir);
}
