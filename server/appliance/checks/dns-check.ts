/**
 * Step 3's check: what the host name resolves to (A/AAAA through the configured resolver),
 * this box's own addresses and public IP, and — the real test — whether a request to
 * http://HOST:acme_http_port/ arrives here (a one-time nonce we serve and fetch back).
 * That works behind NAT and port forwarding, where comparing addresses cannot.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { DnsResolver } from '../net/resolver.ts';
import { httpGet, NetError } from '../net/http-client.ts';

export interface CheckMessage {
  level: 'ok' | 'warn' | 'error';
  text: string;
}

export interface NamesCheck {
  host: string;
  v4: string[];
  v6: string[];
  local: string[];
  publicIp: string | null;
  reachable: boolean;
  verdict: 'ok' | 'warn' | 'error';
  messages: CheckMessage[];
}

/** One-time answers for the reachability probe, served at /_hearth/probe/NONCE. */
export class ProbeNonces {
  private readonly live = new Map<string, number>();
  create(now: number): string {
    const n = randomBytes(16).toString('hex');
    for (const [k, exp] of this.live) if (exp < now) this.live.delete(k);
    this.live.set(n, now + 60_000);
    return n;
  }
  has(n: string, now: number): boolean {
    const exp = this.live.get(n);
    return exp !== undefined && exp >= now;
  }
  delete(n: string): void {
    this.live.delete(n);
  }
}

export function localAddresses(): string[] {
  const out: string[] = [];
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.address.startsWith('fe80')) out.push(a.address);
  }
  return out;
}

export async function publicIp(url: string): Promise<string | null> {
  if (url === 'off') return null;
  try {
    const r = await httpGet(url, { timeoutMs: 3000, maxBytes: 256 });
    const ip = r.body.toString('utf8').trim();
    return r.status === 200 && /^[0-9a-fA-F.:]{3,45}$/.test(ip) ? ip : null;
  } catch {
    return null;
  }
}

export async function checkHost(o: {
  host: string;
  httpPort: number;
  resolver: DnsResolver;
  probes: ProbeNonces;
  publicIpUrl: string;
  now: () => number;
}): Promise<NamesCheck> {
  const messages: CheckMessage[] = [];
  const [{ v4, v6 }, pub] = await Promise.all([
    o.resolver.addresses(o.host).catch(() => ({ v4: [] as string[], v6: [] as string[] })),
    publicIp(o.publicIpUrl),
  ]);
  const local = localAddresses();
  const all = [...v4, ...v6];
  let reachable = false;
  if (all.length === 0) {
    messages.push({
      level: 'error',
      text: `${o.host} does not resolve to any address yet. At your DNS provider, create an A record for ${o.host} pointing to ${pub ?? "your router's public IP address"}${v6.length ? '' : ' (and an AAAA record if you have IPv6)'}. Changes can take a few minutes to appear.`,
    });
  } else {
    messages.push({ level: 'ok', text: `${o.host} resolves to ${all.join(', ')}.` });
    const ours = all.filter((a) => a === pub || local.includes(a));
    if (pub && !all.includes(pub) && ours.length === 0) {
      messages.push({ level: 'warn', text: `This box's public address is ${pub}, but ${o.host} points to ${all.join(', ')}. Change the A record to ${pub}.` });
    }
    const nonce = o.probes.create(o.now());
    const port = o.httpPort === 80 ? '' : `:${o.httpPort}`;
    try {
      const r = await httpGet(`http://${o.host}${port}/_hearth/probe/${nonce}`, { resolver: o.resolver, timeoutMs: 4000, maxBytes: 256 });
      reachable = r.status === 200 && r.body.toString('utf8').trim() === nonce;
      if (reachable) messages.push({ level: 'ok', text: `A request to http://${o.host}${port}/ reached this box.` });
      else messages.push({ level: 'error', text: `http://${o.host}${port}/ is answered by another machine (HTTP ${r.status}). Point ${o.host} at this box, or forward port ${o.httpPort} on your router to it.` });
    } catch (e) {
      const why = e instanceof NetError ? e.message : String(e);
      messages.push({
        level: 'error',
        text:
          `A request to http://${o.host}${port}/ did not reach this box (${why}). Check that ${o.host} points to your public address ` +
          `and that your router forwards port ${o.httpPort} (TCP) to this box. If you test from inside your home network, ` +
          `your router may not support "hairpin NAT": try opening http://${o.host}${port}/ from a phone on mobile data.`,
      });
    } finally {
      o.probes.delete(nonce);
    }
  }
  const verdict = messages.some((m) => m.level === 'error') ? 'error' : messages.some((m) => m.level === 'warn') ? 'warn' : 'ok';
  return { host: o.host, v4, v6, local, publicIp: pub, reachable, verdict, messages };
}
