/**
 * The federation self-test (step 6): do to ourselves what another homeserver would do.
 * Resolve our server name with the spec's discovery algorithm, connect over TLS, check the
 * certificate's name and chain, fetch /_matrix/key/v2/server and verify it is signed with our
 * own key. Each failure comes with a plain-language fix.
 */
import { DiscoveryError, type ResolvedServer, type ServerDiscovery } from '../../services/federation/discovery.ts';
import { readServerKeys } from '../../protocol/signing.ts';
import { httpGet, NetError } from '../net/http-client.ts';

export interface SelfTestStep {
  id: 'discovery' | 'connect' | 'certificate' | 'keys' | 'federation-api';
  title: string;
  ok: boolean;
  /** Informational steps do not make the test fail. */
  info?: boolean;
  detail: string;
  fix?: string;
}

export interface SelfTestResult {
  ok: boolean;
  steps: SelfTestStep[];
  resolved?: Pick<ResolvedServer, 'host' | 'port' | 'addresses' | 'hostHeader' | 'tlsName' | 'via' | 'trace'>;
}

export interface SelfTestOptions {
  serverName: string;
  discovery: ServerDiscovery;
  ca: string[];
  /** Our current verify keys (key ID → unpadded base64 public key). */
  ourKeys: Record<string, string>;
  /** Public addresses of this box, when known: used to recognise hairpin NAT trouble. */
  localAddresses: string[];
  now: () => number;
}

const HAIRPIN_HINT =
  'If this box is at home behind a router, your router may not support "hairpin NAT" (reaching your own public address from inside). ' +
  'Check from outside: open https://federationtester.matrix.org on a phone using mobile data and enter your server name. If that passes, federation works.';

export async function runSelfTest(o: SelfTestOptions): Promise<SelfTestResult> {
  const steps: SelfTestStep[] = [];
  const done = (resolved?: ResolvedServer): SelfTestResult => ({
    ok: steps.every((s) => s.ok || s.info),
    steps,
    resolved: resolved && { host: resolved.host, port: resolved.port, addresses: resolved.addresses, hostHeader: resolved.hostHeader, tlsName: resolved.tlsName, via: resolved.via, trace: resolved.trace },
  });

  // 1. Discovery.
  o.discovery.clearCache(o.serverName);
  let r: ResolvedServer;
  try {
    r = await o.discovery.resolve(o.serverName, { fresh: true });
  } catch (e) {
    steps.push({
      id: 'discovery',
      title: 'Find the server',
      ok: false,
      detail: (e as Error).message,
      fix: e instanceof DiscoveryError ? `Create an A record for the host name at your DNS provider, or publish /.well-known/matrix/server on ${o.serverName} (see the previous step).` : undefined,
    });
    return done();
  }
  const viaText: Record<ResolvedServer['via'], string> = {
    'ip-literal': 'the server name is an IP address',
    'explicit-port': 'the server name has an explicit port',
    'well-known': `/.well-known/matrix/server on ${o.serverName}`,
    'well-known+srv': `/.well-known/matrix/server then an SRV record`,
    'well-known+8448': `/.well-known/matrix/server (no port given, so 8448)`,
    srv: 'an SRV record',
    'srv-legacy': 'a legacy _matrix._tcp SRV record',
    'default-8448': 'no delegation at all, so port 8448',
  };
  const usesDefault8448 = r.port === 8448 && (r.via === 'default-8448' || r.via === 'well-known+8448');
  steps.push({
    id: 'discovery',
    title: 'Find the server',
    ok: true,
    detail: `Other servers will connect to ${r.host}:${r.port} (${r.addresses.join(', ')}), found through ${viaText[r.via]}.`,
  });

  // 2-4. Connect, check the certificate, fetch and verify our keys (first address that answers).
  let lastErr: unknown;
  for (const address of r.addresses) {
    try {
      const url = `https://${r.tlsName.includes(':') ? `[${r.tlsName}]` : r.tlsName}:${r.port}/_matrix/key/v2/server`;
      const res = await httpGet(url, { connectAddress: address, tlsName: r.tlsName, hostHeader: r.hostHeader, ca: o.ca, timeoutMs: 8000, maxBytes: 256 * 1024 });
      steps.push({ id: 'connect', title: 'Connect', ok: true, detail: `Connected to ${address} port ${r.port}.` });
      const cert = res.certificate;
      steps.push({
        id: 'certificate',
        title: 'Check the certificate',
        ok: true,
        detail: `The certificate is valid for ${r.tlsName}${cert?.issuer?.O || cert?.issuer?.CN ? `, issued by ${cert.issuer.O ?? cert.issuer.CN}` : ''}${cert?.valid_to ? `, until ${new Date(cert.valid_to).toISOString().slice(0, 10)}` : ''}.`,
      });
      steps.push(checkKeys(res.status, res.body, o));
      const fed = await httpGet(url.replace('/_matrix/key/v2/server', '/_matrix/federation/v1/version'), {
        connectAddress: address, tlsName: r.tlsName, hostHeader: r.hostHeader, ca: o.ca, timeoutMs: 5000,
      }).catch(() => null);
      steps.push(
        fed?.status === 200
          ? { id: 'federation-api', title: 'Federation API', ok: true, detail: 'The federation API answers.' }
          : { id: 'federation-api', title: 'Federation API', ok: false, info: true, detail: 'Federation is not yet active in this version of Hearth: other servers can verify our keys, but cannot exchange messages with us yet.' },
      );
      return done(r);
    } catch (e) {
      lastErr = e;
    }
  }
  const e = lastErr as NetError | Error;
  const isLocal = r.addresses.some((a) => o.localAddresses.includes(a));
  if (e instanceof NetError && e.stage === 'tls') {
    steps.push({ id: 'connect', title: 'Connect', ok: true, detail: `Connected to ${r.host} port ${r.port}.` });
    steps.push({
      id: 'certificate',
      title: 'Check the certificate',
      ok: false,
      detail: `Other servers will refuse the connection: ${e.message}.`,
      fix:
        e.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? `The certificate must be for ${r.tlsName}. Get a certificate for that name in the certificate step, or point the delegation at the name the certificate has.`
          : e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || e.code === 'SELF_SIGNED_CERT_IN_CHAIN'
            ? 'The server still uses its self-signed setup certificate. Finish the certificate step first.'
            : 'Renew the certificate in the certificate step. If you run a reverse proxy in front of Hearth, make sure it sends the full chain.',
    });
  } else {
    const why = e instanceof NetError ? e.message : String(e);
    steps.push({
      id: 'connect',
      title: 'Connect',
      ok: false,
      detail: `Could not connect to ${r.host} port ${r.port} (${r.addresses.join(', ')}): ${why}.`,
      fix: usesDefault8448
        ? `Other servers look for port 8448 because nothing tells them otherwise. Publish /.well-known/matrix/server on ${o.serverName} (previous step) so they use port 443 instead.`
        : `Make sure your router forwards port ${r.port} (TCP) to this box and that Hearth listens on it.${isLocal ? '' : ` ${HAIRPIN_HINT}`}`,
    });
  }
  return done(r);
}

function checkKeys(status: number, body: Buffer, o: SelfTestOptions): SelfTestStep {
  const title = 'Verify the server keys';
  if (status !== 200) {
    return { id: 'keys', title, ok: false, detail: `/_matrix/key/v2/server answered HTTP ${status}.`, fix: 'Another program may be answering on this address (a reverse proxy?). Make it pass /_matrix/ to Hearth.' };
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { id: 'keys', title, ok: false, detail: 'The key answer is not JSON.', fix: 'Another program may be answering on this address. Make it pass /_matrix/ to Hearth.' };
  }
  const keys = readServerKeys(json, o.serverName, o.now());
  if (typeof keys === 'string') {
    return {
      id: 'keys',
      title,
      ok: false,
      detail: `The keys cannot be verified: ${keys}.`,
      fix: keys.includes('server_name') ? `The answering server is not ${o.serverName}: the delegation or DNS points at a different Matrix server.` : undefined,
    };
  }
  const mine = Object.entries(o.ourKeys).find(([id, pub]) => {
    const k = keys.get(id);
    return k && Buffer.from(k.key).toString('base64').replace(/=+$/, '') === pub;
  });
  if (!mine) {
    return { id: 'keys', title, ok: false, detail: 'The keys are signed correctly, but they are not this box\'s keys.', fix: 'DNS or the delegation points at another machine running a Matrix server. Point it at this box.' };
  }
  return { id: 'keys', title, ok: true, detail: `Signed with this server's key ${mine[0]}; the signature checks out.` };
}
