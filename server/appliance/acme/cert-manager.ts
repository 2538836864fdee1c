/**
 * The managed certificate's life: obtaining it (one job at a time, staging dry run first, then
 * production), installing it (DATA_DIR/tls, picked up by running HTTPS listeners at once), and
 * renewing it at 2/3 of its lifetime with backoff on failure. The dashboard warns from 14 days
 * before expiry. Job progress is kept in memory for the wizard to poll; every attempt is
 * recorded in cert_attempts.
 */
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../logging.ts';
import type { ApplianceStore } from '../../storage/appliance-store.ts';
import type { DnsResolver } from '../net/resolver.ts';
import { managedPaths, readCertPair, renewAt, RENEWAL_CHECK_EVERY_MS, RENEWAL_FIRST_CHECK_MS, writeCertPair, type CertInfo } from '../tls/cert-files.ts';
import type { ManagedTlsProvider } from '../tls/provider.ts';
import { obtainCertificate, type ChallengeType, type ObtainStatus } from './obtain.ts';
import { explainAcmeError, type Explained } from './explain.ts';

export const WARN_BEFORE_EXPIRY_MS = 14 * 86400_000;
const RETRY_BASE_MS = 10 * 60_000;
const RETRY_MAX_MS = 12 * 3600_000;

export type JobReason = 'wizard' | 'renewal' | 'forced' | 'cli';

export interface CertJob {
  domain: string;
  challenge: ChallengeType;
  reason: JobReason;
  state: 'running' | 'done' | 'failed';
  stage: 'staging' | 'production';
  status: ObtainStatus;
  error?: Explained;
  cert?: CertInfo;
  startedTs: number;
  finishedTs?: number;
}

/** When a certificate should be renewed: after 2/3 of its lifetime (Let's Encrypt: day 60 of 90; in tls/cert-files.ts). */
export { renewAt };

export function retryDelay(failures: number): number {
  return failures <= 0 ? 0 : Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (failures - 1));
}

export interface CertManagerDeps {
  config: Config;
  log: Logger;
  store: ApplianceStore;
  resolver: DnsResolver;
  tls: ManagedTlsProvider | null;
  now: () => number;
  /** Poll interval for the DNS-01 TXT record. */
  dnsPollMs?: number;
}

export class CertManager {
  private current: CertJob | null = null;
  private running: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly d: CertManagerDeps) {}

  job(): CertJob | null {
    return this.current;
  }

  /** The managed certificate on disk, if any. */
  managed(): CertInfo | null {
    return readCertPair(managedPaths(this.d.config.data_dir))?.info ?? null;
  }

  /** Starts obtaining a certificate; returns at once (poll job()). Refuses while a job runs. */
  start(o: { domain: string; challenge: ChallengeType; email?: string | null; reason: JobReason; staging?: boolean }): CertJob {
    if (this.current?.state === 'running') throw new Error('a certificate request is already running');
    const staging = o.staging ?? (this.d.config.acme_staging_directory_url !== 'off');
    const job: CertJob = {
      domain: o.domain,
      challenge: o.challenge,
      reason: o.reason,
      state: 'running',
      stage: staging ? 'staging' : 'production',
      status: { phase: 'connecting', message: 'Starting…' },
      startedTs: this.d.now(),
    };
    this.current = job;
    this.abort = new AbortController();
    this.running = this.run(job, o.email ?? this.d.config.acme_email, staging, this.abort.signal).finally(() => {
      this.running = null;
    });
    return job;
  }

  /** Resolves when the running job (if any) has finished. */
  async settled(): Promise<CertJob | null> {
    await this.running;
    return this.current;
  }

  cancel(): void {
    this.abort?.abort();
  }

  private async run(job: CertJob, email: string | null, staging: boolean, signal: AbortSignal): Promise<void> {
    const stages: { stage: CertJob['stage']; url: string }[] = [];
    if (staging) stages.push({ stage: 'staging', url: this.d.config.acme_staging_directory_url });
    stages.push({ stage: 'production', url: this.d.config.acme_directory_url });
    for (const { stage, url } of stages) {
      job.stage = stage;
      const attempt = await this.d.store.startAttempt({ domain: job.domain, reason: job.reason, directoryUrl: url, challenge: job.challenge, now: this.d.now() });
      try {
        const got = await obtainCertificate({
          dataDir: this.d.config.data_dir,
          domain: job.domain,
          directoryUrl: url,
          email,
          challenge: job.challenge,
          caFile: this.d.config.acme_ca_file,
          resolver: this.d.resolver,
          signal,
          dnsPollMs: this.d.dnsPollMs,
          onStatus: (s) => {
            job.status = { ...s, message: stage === 'staging' ? `Trial run: ${s.message}` : s.message };
          },
        });
        await this.d.store.finishAttempt(attempt, { ok: true, serial: got.info.serial, notAfter: got.info.notAfter, now: this.d.now() });
        if (stage === 'production') {
          writeCertPair(managedPaths(this.d.config.data_dir), got.certPem, got.keyPem);
          this.d.tls?.reload();
          job.cert = got.info;
          this.d.log.info({ domain: job.domain, serial: got.info.serial, not_after: new Date(got.info.notAfter).toISOString(), reason: job.reason }, 'certificate installed');
        }
      } catch (e) {
        const explained = explainAcmeError(e, { domain: job.domain, directoryUrl: url, challenge: job.challenge, httpPort: this.d.config.acme_http_port });
        await this.d.store.finishAttempt(attempt, { ok: false, error: `${explained.title} ${explained.detail}`.slice(0, 2000), now: this.d.now() }).catch(() => undefined);
        job.error = stage === 'staging' ? { ...explained, title: `Trial run with the staging CA failed: ${explained.title}` } : explained;
        job.state = 'failed';
        job.finishedTs = this.d.now();
        this.d.log.warn({ domain: job.domain, stage, reason: job.reason, error: explained.detail }, 'certificate request failed');
        return;
      }
    }
    job.state = 'done';
    job.status = { phase: 'done', message: 'Your certificate is installed.' };
    job.finishedTs = this.d.now();
  }

  /** What the dashboard shows about the certificate. */
  async overview(): Promise<{
    managed: (CertInfo & { renewAt: number; daysLeft: number; warning: string | null }) | null;
    lastRenewal: number | null;
    lastError: string | null;
    job: CertJob | null;
  }> {
    const info = this.managed();
    if (!info) return { managed: null, lastRenewal: null, lastError: null, job: this.current };
    const domain = info.names[0] ?? '';
    const [ok, attempts] = await Promise.all([this.d.store.lastSuccess(domain), this.d.store.recentAttempts(domain, 1)]);
    const now = this.d.now();
    const left = info.notAfter - now;
    const warning =
      left <= 0
        ? 'The certificate has expired: clients and other servers cannot connect securely. Renew it now.'
        : left <= WARN_BEFORE_EXPIRY_MS
          ? `The certificate expires in ${Math.max(1, Math.ceil(left / 86400_000))} days and has not been renewed yet.`
          : null;
    const last = attempts[0];
    return {
      managed: { ...info, renewAt: renewAt(info), daysLeft: Math.floor(left / 86400_000), warning },
      lastRenewal: ok?.finished_ts ?? null,
      lastError: last && last.ok === 0 ? last.error : null,
      job: this.current,
    };
  }

  /** Renews the managed certificate if it is due and the retry backoff allows. Returns the job started, if any. */
  async checkRenewal(): Promise<CertJob | null> {
    if (this.current?.state === 'running') return null;
    const info = this.managed();
    if (!info || info.names.length === 0) return null;
    const now = this.d.now();
    if (now < renewAt(info)) return null;
    const domain = info.names[0]!;
    const failures = await this.d.store.failuresSinceSuccess(domain);
    const last = (await this.d.store.recentAttempts(domain, 1))[0];
    if (last && failures > 0 && now < last.started_ts + retryDelay(failures)) return null;
    const setup = await this.d.store.getSetup();
    const challenge = (last?.challenge as ChallengeType | undefined) ?? setup.challenge ?? 'http-01';
    this.d.log.info({ domain, failures }, 'renewing certificate');
    return this.start({ domain, challenge, email: setup.acme_email, reason: 'renewal', staging: false });
  }

  /** Checks for renewal now and then every `intervalMs` until `signal` aborts. */
  startTimer(signal: AbortSignal, intervalMs = RENEWAL_CHECK_EVERY_MS): void {
    const tick = () => {
      this.checkRenewal().catch((e) => this.d.log.error({ err: e }, 'renewal check failed'));
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    const first = setTimeout(tick, RENEWAL_FIRST_CHECK_MS);
    first.unref();
    signal.addEventListener('abort', () => {
      if (this.timer) clearInterval(this.timer);
      clearTimeout(first);
      this.cancel();
    }, { once: true });
  }
}
