/**
 * The self-signed bootstrap certificate: lets `--listen-tls` listeners (and the wizard) work over
 * HTTPS before Let's Encrypt has issued the real one. Browsers warn about it; that is expected and
 * the wizard says so. The RSA key comes from node:crypto (native, fast even on the XU4);
 * node-forge builds and signs the certificate (Node has no X.509 writer).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import os from 'node:os';
import forge from 'node-forge';

export function bootstrapNames(): { dns: string[]; ips: string[] } {
  const host = os.hostname().toLowerCase();
  const dns = [...new Set(['hearth.local', 'localhost', host, host.includes('.') ? '' : `${host}.local`].filter(Boolean))];
  const ips = ['127.0.0.1', '::1'];
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal && !a.address.startsWith('fe80')) ips.push(a.address);
  }
  return { dns, ips: [...new Set(ips)] };
}

export function createBootstrapCert(names = bootstrapNames(), days = 3650): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  // Positive serial: clear the top bit.
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86400_000);
  const attrs = [
    { name: 'commonName', value: names.dns[0] ?? 'hearth.local' },
    { name: 'organizationName', value: 'Hearth (self-signed setup certificate)' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...names.dns.map((value) => ({ type: 2, value })), ...names.ips.map((ip) => ({ type: 7, ip }))],
    },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}
