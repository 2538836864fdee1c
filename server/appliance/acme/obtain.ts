/**
 * Obtaining one certificate from one ACME directory (RFC 8555) with acme-client: account
 * (key kept per directory), order, one challenge (HTTP-01 answered from DATA_DIR/acme-challenge,
 * or DNS-01 with a TXT record the person creates by hand while we poll DNS for it), finalize,
 * download. Returns the PEMs; the caller decides where they go (staging results are discarded).
 */
import https from 'node:https';
// acme-client (with axios and its X.509 stack, ~2 MB) is loaded only when a certificate is ordered.
type Acme = typeof import('acme-client');
let acmeModule: Acme | null = null;
async function loadAcme(): Promise<Acme> {
  return (acmeModule ??= ((await import('acme-client')) as { default: Acme }).default);
}
import type { DnsResolver } from '../net/resolver.ts';
import { caBundle, httpGet, NetError } from '../net/http-client.ts';
import { describeCert, type CertInfo } from '../tls/cert-files.ts';
import { loadOrCreateAccount, saveAccountUrl } from './account.ts';
import { publishHttp01, removeHttp01 } from './challenge-dir.ts';
import { AcmeStepError, unreachableCa } from './explain.ts';

export type ChallengeType = 'http-01' | 'dns-01';

export interface ObtainStatus {
  phase: 'connecting' | 'ordering' | 'waiting-dns' | 'validating' | 'finalizing' | 'done';
  message: string;
  /** For DNS-01: the record to create. */
  dns?: { name: string; value: string };
}

export interface ObtainOptions {
  dataDir: string;
  domain: string;
  directoryUrl: string;
  email?: string | null;
  challenge: ChallengeType;
  /** Extra CA trusted for the ACME server (tests: the CA behind Pebble's API). */
  caFile?: string | null;
  /** Resolver the DNS-01 TXT record is polled through. */
  resolver: DnsResolver;
  onStatus?: (s: ObtainStatus) => void;
  signal?: AbortSignal;
  /** How long to wait for the TXT record (default 1 h) and how often to look (default 2 s, then 10 s). */
  dnsWaitMs?: number;
  dnsPollMs?: number;
}

export interface Obtained {
  certPem: string;
  keyPem: string;
  info: CertInfo;
}

let agentFor: string | null = null;

/** acme-client's axios instance is process-wide: give it the CA bundle and a timeout once. */
function configureAxios(acme: Acme, caFile: string | null | undefined): void {
  const key = caFile ?? '';
  if (agentFor === key) return;
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: caBundle(caFile), keepAlive: false });
  acme.axios.defaults.timeout = 30_000;
  agentFor = key;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AcmeStepError({ title: 'Cancelled.', fix: '', detail: '' }));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new AcmeStepError({ title: 'Cancelled.', fix: '', detail: '' }));
    }, { once: true });
  });
}

/**
 * acme-client retries unreachable servers silently for over a minute; check the directory
 * ourselves first so "no internet" or a wrong URL is reported in seconds.
 */
async function preflight(directoryUrl: string, caFile: string | null | undefined): Promise<void> {
  try {
    const r = await httpGet(directoryUrl, { ca: caBundle(caFile), timeoutMs: 10_000, followRedirects: 2 });
    const body = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
    if (r.status !== 200 || typeof body.newOrder !== 'string') throw new Error(`HTTP ${r.status}, not an ACME directory`);
  } catch (e) {
    const code = e instanceof NetError ? (e.stage === 'tls' ? 'TLS' : e.code) : '';
    throw new AcmeStepError(unreachableCa(directoryUrl, code, (e as Error).message));
  }
}

async function waitForTxt(o: ObtainOptions, name: string, value: string): Promise<void> {
  const deadline = Date.now() + (o.dnsWaitMs ?? 3600_000);
  for (;;) {
    const found = await o.resolver.txt(name).catch(() => [] as string[]);
    if (found.includes(value)) return;
    if (Date.now() > deadline) {
      throw new AcmeStepError({
        title: `The TXT record ${name} did not appear in time.`,
        fix: found.length
          ? `It exists but has a different value (${found.map((f) => JSON.stringify(f)).join(', ')}). Set it to exactly ${value} and try again.`
          : 'Create it at your DNS provider, wait a few minutes for it to spread, and try again.',
        detail: `looked up through ${o.resolver.describe()}`,
      });
    }
    // Quick feedback while the person is adding the record, gentler on DNS afterwards.
    const waited = (o.dnsWaitMs ?? 3600_000) - (deadline - Date.now());
    await sleep(o.dnsPollMs ?? (waited < 120_000 ? 2000 : 10_000), o.signal);
  }
}

export async function obtainCertificate(o: ObtainOptions): Promise<Obtained> {
  const status = (s: ObtainStatus) => o.onStatus?.(s);
  status({ phase: 'connecting', message: `Contacting the certificate authority (${new URL(o.directoryUrl).host})…` });
  const acme = await loadAcme();
  configureAxios(acme, o.caFile);
  await preflight(o.directoryUrl, o.caFile);

  const account = loadOrCreateAccount(o.dataDir, o.directoryUrl);
  const client = new acme.Client({
    directoryUrl: o.directoryUrl,
    accountKey: account.keyPem,
    accountUrl: account.url ?? undefined,
    backoffAttempts: 12,
    backoffMin: 500,
    backoffMax: 10_000,
  });
  // An ECDSA P-256 key: small, fast to use on the board's CPU, accepted everywhere.
  const [key, csr] = await acme.crypto.createCsr({ commonName: o.domain, altNames: [o.domain] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
  status({ phase: 'ordering', message: 'Registering and placing the certificate order…' });

  const cert = await client.auto({
    csr,
    email: o.email ?? undefined,
    termsOfServiceAgreed: true,
    challengePriority: [o.challenge],
    // Our own checks come before (the DNS step); acme-client's pre-check would query port 80
    // through the system resolver for minutes.
    skipChallengeVerification: true,
    challengeCreateFn: async (authz, challenge, keyAuthorization) => {
      if (o.signal?.aborted) throw new AcmeStepError({ title: 'Cancelled.', fix: '', detail: '' });
      if (challenge.type === 'http-01') {
        publishHttp01(o.dataDir, challenge.token, keyAuthorization);
        status({ phase: 'validating', message: `The certificate authority is checking http://${authz.identifier.value}/…` });
      } else if (challenge.type === 'dns-01') {
        const name = `_acme-challenge.${authz.identifier.value}`;
        status({ phase: 'waiting-dns', message: `Create this TXT record at your DNS provider. We check every few seconds.`, dns: { name, value: keyAuthorization } });
        await waitForTxt(o, name, keyAuthorization);
        status({ phase: 'validating', message: 'The TXT record is visible. The certificate authority is checking it…', dns: { name, value: keyAuthorization } });
      } else {
        throw new Error(`the CA offered no ${o.challenge} challenge`);
      }
    },
    challengeRemoveFn: async (_authz, challenge) => {
      if (challenge.type === 'http-01') removeHttp01(o.dataDir, challenge.token);
    },
  });
  try {
    saveAccountUrl(o.dataDir, o.directoryUrl, client.getAccountUrl());
  } catch {
    // not fatal: the account is found again by its key next time
  }
  status({ phase: 'finalizing', message: 'Certificate issued.' });
  const certPem = cert.toString();
  const keyPem = key.toString();
  return { certPem, keyPem, info: describeCert(certPem) };
}
