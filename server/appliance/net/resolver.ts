/**
 * DNS for discovery and the setup checks. With `dns_servers` configured every lookup goes to
 * those servers (tests point them at pebble-challtestsrv; LAN setups at a local resolver);
 * otherwise the system's resolver is used (getaddrinfo for addresses, so /etc/hosts counts).
 */
import dns from 'node:dns';

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface DnsResolver {
  /** IPv4 and IPv6 addresses of `host` (A and AAAA, CNAMEs followed); [] when it has none. */
  addresses(host: string): Promise<{ v4: string[]; v6: string[] }>;
  /** SRV records of `name`; [] when there are none. */
  srv(name: string): Promise<SrvRecord[]>;
  /** TXT records of `name`, each joined into one string; [] when there are none. */
  txt(name: string): Promise<string[]>;
  /** Which servers answer ('system' or the configured list), for messages. */
  describe(): string;
}

const NO_DATA = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'ENONAME', 'ESERVFAIL', 'EREFUSED', 'ENOTIMP']);

async function orEmpty<T>(p: Promise<T[]>): Promise<T[]> {
  try {
    return await p;
  } catch (e) {
    if (NO_DATA.has((e as NodeJS.ErrnoException).code ?? '')) return [];
    throw e;
  }
}

export function createResolver(servers: string[], timeoutMs = 3000): DnsResolver {
  if (servers.length === 0) {
    return {
      addresses: async (host) => {
        const all = await orEmpty(dns.promises.lookup(host, { all: true, verbatim: true }));
        return { v4: all.filter((a) => a.family === 4).map((a) => a.address), v6: all.filter((a) => a.family === 6).map((a) => a.address) };
      },
      srv: (name) => orEmpty(dns.promises.resolveSrv(name)),
      txt: async (name) => (await orEmpty(dns.promises.resolveTxt(name))).map((parts) => parts.join('')),
      describe: () => 'the system resolver',
    };
  }
  const r = new dns.promises.Resolver({ timeout: timeoutMs, tries: 2 });
  r.setServers(servers);
  return {
    addresses: async (host) => {
      const [v4, v6] = await Promise.all([orEmpty(r.resolve4(host)), orEmpty(r.resolve6(host))]);
      return { v4, v6 };
    },
    srv: (name) => orEmpty(r.resolveSrv(name)),
    txt: async (name) => (await orEmpty(r.resolveTxt(name))).map((parts) => parts.join('')),
    describe: () => servers.join(', '),
  };
}

/** A `lookup` function for http(s).request that resolves through `resolver`. */
export function lookupVia(resolver: DnsResolver) {
  return (
    hostname: string,
    options: dns.LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
  ): void => {
    resolver.addresses(hostname).then(
      ({ v4, v6 }) => {
        const all = [...v4.map((a) => ({ address: a, family: 4 })), ...v6.map((a) => ({ address: a, family: 6 }))]
          .filter((a) => !options.family || a.family === options.family);
        if (all.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`${hostname} has no address`);
          err.code = 'ENOTFOUND';
          callback(err, '', 0);
          return;
        }
        if (options.all) callback(null, all);
        else callback(null, all[0]!.address, all[0]!.family);
      },
      (e) => callback(e as NodeJS.ErrnoException, '', 0),
    );
  };
}
