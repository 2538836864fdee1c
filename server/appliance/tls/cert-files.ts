/**
 * Where certificates live: DATA_DIR/tls/cert.pem + key.pem (the managed, ACME-issued one) and
 * bootstrap-cert.pem + bootstrap-key.pem (self-signed, until the managed one exists). Keys are
 * mode 0600. Writes are atomic (temp file + rename), key first, so a reader that sees the new
 * certificate also sees its key; the provider double-checks they match before serving them.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertPaths {
  dir: string;
  cert: string;
  key: string;
}

export function tlsDir(dataDir: string): string {
  return join(dataDir, 'tls');
}

export function managedPaths(dataDir: string): CertPaths {
  const dir = tlsDir(dataDir);
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

export function bootstrapPaths(dataDir: string): CertPaths {
  const dir = tlsDir(dataDir);
  return { dir, cert: join(dir, 'bootstrap-cert.pem'), key: join(dir, 'bootstrap-key.pem') };
}

function writeAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export function writeCertPair(paths: CertPaths, certPem: string, keyPem: string): void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  writeAtomic(paths.key, keyPem, 0o600);
  writeAtomic(paths.cert, certPem, 0o644);
}

export interface CertInfo {
  subject: string;
  /** DNS names and IPs the certificate is valid for. */
  names: string[];
  issuer: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  fingerprint256: string;
  selfSigned: boolean;
}

export function describeCert(certPem: string | Buffer): CertInfo {
  const x = new X509Certificate(certPem);
  const names = (x.subjectAltName ?? '')
    .split(/,\s*/)
    .map((s) => s.replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
  const cn = /CN=([^\n]+)/.exec(x.issuer)?.[1];
  const org = /O=([^\n]+)/.exec(x.issuer)?.[1];
  return {
    subject: x.subject,
    names,
    issuer: [org, cn].filter(Boolean).join(' — ') || x.issuer,
    serial: x.serialNumber,
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
    fingerprint256: x.fingerprint256,
    selfSigned: x.issuer === x.subject && x.checkIssued(x),
  };
}

export interface LoadedPair {
  certPem: string;
  keyPem: string;
  info: CertInfo;
}

/** Reads a pair; undefined when missing, unreadable or the key does not belong to the certificate. */
export function readCertPair(paths: CertPaths): LoadedPair | undefined {
  if (!existsSync(paths.cert) || !existsSync(paths.key)) return undefined;
  try {
    const certPem = readFileSync(paths.cert, 'utf8');
    const keyPem = readFileSync(paths.key, 'utf8');
    const x = new X509Certificate(certPem);
    if (!x.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
    return { certPem, keyPem, info: describeCert(certPem) };
  } catch {
    return undefined;
  }
}

/**
 * When a certificate should be renewed: after 2/3 of its lifetime (Let's Encrypt: day 60 of
 * 90). Here rather than in acme/cert-manager.ts so the start-up renewal watch (appliance.ts)
 * can ask without loading the ACME code.
 */
export function renewAt(info: Pick<CertInfo, 'notBefore' | 'notAfter'>): number {
  return info.notBefore + Math.floor(((info.notAfter - info.notBefore) * 2) / 3);
}

/** When renewal is checked: 30 s after start, then hourly (CertManager.startTimer, and appliance.ts before that code is loaded). */
export const RENEWAL_FIRST_CHECK_MS = 30_000;
export const RENEWAL_CHECK_EVERY_MS = 3600_000;
