/** Real DNS and HTTPS for ServerDiscovery, from the configuration (dns_servers, federation_ca). */
import { ServerDiscovery, type DiscoveryDeps } from '../../services/federation/discovery.ts';
import type { DnsResolver } from './resolver.ts';
import { httpGet } from './http-client.ts';

export function discoveryDeps(resolver: DnsResolver, ca: string[], now: () => number = Date.now): DiscoveryDeps {
  return {
    addresses: async (host) => {
      const { v4, v6 } = await resolver.addresses(host);
      return [...v4, ...v6];
    },
    srv: (name) => resolver.srv(name),
    fetchWellKnown: async (hostname) => {
      // RFC 8615 well-known URI on port 443; redirects are followed (spec), loops refused.
      const r = await httpGet(`https://${hostname}/.well-known/matrix/server`, { resolver, ca, followRedirects: 5, timeoutMs: 8000 });
      return { status: r.status, headers: r.headers, body: r.body.toString('utf8') };
    },
    now,
  };
}

export function createDiscovery(resolver: DnsResolver, ca: string[], now?: () => number): ServerDiscovery {
  return new ServerDiscovery(discoveryDeps(resolver, ca, now));
}
