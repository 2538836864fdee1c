/**
 * The appliance side of one Hearth process: setup token and wizard state, certificates, system
 * info, log tail, DNS and discovery for the checks. Built by buildServices, started by main.ts
 * once the listeners and database are up; its timers stop when `s.shutdown` aborts.
 */
import type { Services } from '../services/container.ts';
import type { TlsProvider } from '../http/listeners.ts';
import { ApplianceStore, type SetupPatch, type SetupRow } from '../storage/appliance-store.ts';
import { ManagedTlsProvider } from './tls/provider.ts';
import type { CertManager } from './acme/cert-manager.ts';
import { SystemInfo } from './system-info.ts';
import { LogRing } from './log-ring.ts';
import type { DnsResolver } from './net/resolver.ts';
import type { ServerDiscovery } from '../services/federation/discovery.ts';
import type { ProbeNonces } from './checks/dns-check.ts';
import { ensureSetupToken, removeSetupToken, setupTokenPath, TokenGuard } from './setup/setup-token.ts';
import { loadOrCreateSigningKeys } from '../services/signing-key.ts';
import type { SigningKey } from '../protocol/signing.ts';
import { managedPaths, readCertPair, renewAt, RENEWAL_CHECK_EVERY_MS, RENEWAL_FIRST_CHECK_MS } from './tls/cert-files.ts';
import { splitHost } from './checks/delegation.ts';

/** Federation health for the dashboard; the federation area plugs its implementation in. */
export interface FederationHealthSource {
  health(): Promise<{ destinations: number; failing: { server: string; since: number; lastError: string }[]; queueLength: number }>;
}

export interface ApplianceOptions {
  tls?: TlsProvider;
  logRing?: LogRing;
}

/**
 * Certificates, DNS, discovery and the reachability probe: only the wizard, the dashboard,
 * federation and certificate renewal use them, so they are imported and built by
 * `Appliance.loadNet()` (issue 2: the DNS/TLS/HTTPS clients, ACME code and Node's list of root
 * certificates cost ~1.5 MB of idle memory and a tenth of the start's modules).
 */
interface ApplianceNet {
  certs: CertManager;
  resolver: DnsResolver;
  discovery: ServerDiscovery;
  probes: ProbeNonces;
  caBundle: (...files: (string | null | undefined)[]) => string[];
}

export class Appliance {
  readonly store: ApplianceStore;
  readonly system: SystemInfo;
  readonly logRing: LogRing;
  readonly tokenGuard: TokenGuard;
  readonly tls: ManagedTlsProvider | null;
  /** Set by the federation area when it is active; null means "federation not yet active". */
  federationHealth: FederationHealthSource | null = null;
  private setupToken: string | null = null;
  private cached: SetupRow | null = null;
  private keys: SigningKey[] | null = null;
  private net: ApplianceNet | null = null;
  private netLoading: Promise<ApplianceNet> | null = null;
  private started = false;

  constructor(
    private readonly s: Services,
    o: ApplianceOptions = {},
  ) {
    this.store = new ApplianceStore(s.db);
    this.tls = o.tls instanceof ManagedTlsProvider ? o.tls : null;
    this.logRing = o.logRing ?? new LogRing();
    this.tokenGuard = new TokenGuard(() => s.now());
    this.system = new SystemInfo({ dataDir: s.config.data_dir, store: this.store, log: s.log, now: () => s.now(), startedAt: s.startedAt, machine: s.machine });
  }

  /**
   * Imports and builds the certificate, DNS and discovery parts (ApplianceNet); once started,
   * also their renewal timer. `s.load('full')` and the route groups await it before their code
   * runs, so `certs`, `resolver`, `discovery`, `probes` and `caBundle()` are there for them.
   */
  loadNet(): Promise<void> {
    this.netLoading ??= (async () => {
      const { CertManager, createResolver, caBundle, createDiscovery, ProbeNonces } = await import('./net-part.ts');
      const s = this.s;
      const resolver = createResolver(s.config.dns_servers);
      const certs = new CertManager({ config: s.config, log: s.log, store: this.store, resolver, tls: this.tls, now: () => s.now() });
      const discovery = createDiscovery(resolver, caBundle(s.config.federation_ca), () => s.now());
      this.net = { certs, resolver, discovery, probes: new ProbeNonces(), caBundle };
      if (this.started) certs.startTimer(s.shutdown);
      return this.net;
    })();
    this.netLoading.catch(() => (this.netLoading = null));
    return this.netLoading.then(() => undefined);
  }

  private loadedNet(): ApplianceNet {
    if (!this.net) throw new Error('appliance: loadNet() must finish before certificates, DNS or discovery are used');
    return this.net;
  }

  get certs(): CertManager {
    return this.loadedNet().certs;
  }

  get resolver(): DnsResolver {
    return this.loadedNet().resolver;
  }

  get discovery(): ServerDiscovery {
    return this.loadedNet().discovery;
  }

  get probes(): ProbeNonces {
    return this.loadedNet().probes;
  }

  /** CAs trusted for outbound checks: the system's plus federation_ca (tests: Pebble's root). */
  caBundle(): string[] {
    return this.loadedNet().caBundle(this.s.config.federation_ca);
  }

  async start(): Promise<void> {
    const setup = await this.setup();
    if (!setup.completed_ts) {
      const { token, created } = ensureSetupToken(this.s.config.data_dir);
      this.setupToken = token;
      // Printed in the message on purpose (the console is how the owner claims the box);
      // pino would redact a `token` field.
      this.s.log.warn(
        { file: setupTokenPath(this.s.config.data_dir), new: created },
        `setup is not finished: open the wizard in a browser and enter the setup token ${token}`,
      );
    } else {
      removeSetupToken(this.s.config.data_dir);
    }
    this.tls?.persistBootstrap();
    this.tls?.watch();
    this.s.shutdown.addEventListener('abort', () => this.tls?.close(), { once: true });
    this.started = true;
    if (this.net) this.net.certs.startTimer(this.s.shutdown);
    else this.watchRenewal();
    this.system.start(this.s.shutdown);
  }

  /**
   * Until the certificate code is loaded, its renewal check (CertManager.checkRenewal) is asked
   * here on the same timer: with a managed certificate past its renewal time, load the code
   * and let it decide (it also weighs earlier failures' backoff). Once loaded, its own timer runs.
   */
  private watchRenewal(): void {
    const later = (ms: number) => {
      setTimeout(() => {
        if (this.net || this.s.shutdown.aborted) return;
        this.checkRenewalBeforeLoad().then(
          (loaded) => loaded || later(RENEWAL_CHECK_EVERY_MS),
          (e: unknown) => {
            this.s.log.error({ err: e }, 'renewal check failed');
            later(RENEWAL_CHECK_EVERY_MS);
          },
        );
      }, ms).unref();
    };
    later(RENEWAL_FIRST_CHECK_MS);
  }

  /** One check of watchRenewal: true when the managed certificate was due and the certificate code is now loaded and asked. */
  async checkRenewalBeforeLoad(): Promise<boolean> {
    const info = readCertPair(managedPaths(this.s.config.data_dir))?.info;
    if (!info || info.names.length === 0 || this.s.now() < renewAt(info)) return false;
    await this.loadNet();
    await this.loadedNet().certs.checkRenewal();
    return true;
  }

  /** The setup token while setup is open; null afterwards. */
  token(): string | null {
    return this.setupToken;
  }

  /** The wizard's row, read fresh (the `hearth setup` CLI may change it while we run). */
  async setup(): Promise<SetupRow> {
    this.cached = await this.store.getSetup();
    return this.cached;
  }

  async patch(p: SetupPatch): Promise<SetupRow> {
    await this.store.patchSetup(p, this.s.now());
    this.cached = await this.store.getSetup();
    return this.cached;
  }

  async finishSetup(): Promise<void> {
    await this.patch({ completed_ts: this.s.now(), step: 'done', admin_password_hash: null });
    this.setupToken = null;
    removeSetupToken(this.s.config.data_dir);
    this.s.log.info('setup finished; the wizard is closed and the setup token removed');
  }

  /** host[:port] clients and servers reach us on: public_baseurl when configured, else the wizard's choice. */
  publicHost(): string | null {
    if (this.s.config.public_baseurl) {
      const u = new URL(this.s.config.public_baseurl);
      return u.port && u.port !== '443' ? `${u.hostname}:${u.port}` : u.hostname;
    }
    const h = this.cached?.public_host ?? null;
    if (h) return h;
    return this.s.config.server_name;
  }

  /**
   * Where plain-HTTP requests are redirected: the public host once setup is finished, a
   * managed certificate is served and HTTPS listeners exist; null (no redirect) otherwise.
   */
  redirectHost(): string | null {
    if (!this.cached?.completed_ts || !this.tls || this.tls.served().kind !== 'managed') return null;
    if (this.s.config.listen_tls.length === 0) return null;
    return this.publicHost();
  }

  /** The HTTPS port clients use (for redirects). */
  publicPort(): number {
    const h = this.publicHost();
    return h ? splitHost(h).port : 443;
  }

  signingKeys(): SigningKey[] {
    this.keys ??= loadOrCreateSigningKeys(this.s.config.data_dir);
    return this.keys;
  }

  ourVerifyKeys(): Record<string, string> {
    return Object.fromEntries(this.signingKeys().map((k) => [k.keyId, k.publicKeyBase64]));
  }
}
