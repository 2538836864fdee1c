/**
 * Delegation (step 5): when the server name (example.org, in user IDs) differs from the host
 * Hearth answers on (matrix.example.org), the base domain's web server must publish two small
 * JSON files. Spec: server-server-api "Server discovery" (/.well-known/matrix/server, m.server)
 * and client-server-api "Well-known URIs" (/.well-known/matrix/client, m.homeserver.base_url;
 * served with Content-Type application/json and CORS so web clients can read it).
 * This module makes the files and ready-to-paste snippets, and checks what the base domain serves.
 */
import type { DnsResolver } from '../net/resolver.ts';
// Only the check below fetches: the HTTP(S) client is imported there, so serving the files
// (well-known.ts, at every start) does not load Node's TLS and DNS clients.
import type { NetError } from '../net/http-client.ts';
import type { CheckMessage } from './dns-check.ts';

export interface Names {
  serverName: string;
  /** host[:port] Hearth answers HTTPS on. */
  publicHost: string;
}

export function splitHost(publicHost: string): { host: string; port: number } {
  const m = /^(.*?)(?::(\d+))?$/.exec(publicHost)!;
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 443 };
}

export function baseUrl(publicHost: string): string {
  const { host, port } = splitHost(publicHost);
  return port === 443 ? `https://${host}` : `https://${host}:${port}`;
}

export function serverWellKnown(n: Names): { 'm.server': string } {
  const { host, port } = splitHost(n.publicHost);
  return { 'm.server': `${host}:${port}` };
}

export function clientWellKnown(n: Names): { 'm.homeserver': { base_url: string } } {
  return { 'm.homeserver': { base_url: baseUrl(n.publicHost) } };
}

/** True when the base domain's web server is someone else (the files must be published there). */
export function delegationNeeded(n: Names): boolean {
  return splitHost(n.publicHost).host.toLowerCase() !== n.serverName.toLowerCase();
}

export function snippets(n: Names): Record<'caddy' | 'nginx' | 'apache' | 'static', string> {
  const server = JSON.stringify(serverWellKnown(n));
  const client = JSON.stringify(clientWellKnown(n));
  const d = n.serverName;
  return {
    caddy: `${d} {
\theader /.well-known/matrix/* Content-Type application/json
\theader /.well-known/matrix/client Access-Control-Allow-Origin *
\trespond /.well-known/matrix/server \`${server}\`
\trespond /.well-known/matrix/client \`${client}\`
\t# …the rest of your site stays as it is
}`,
    nginx: `# inside the server { … } block for ${d} (listen 443 ssl)
location = /.well-known/matrix/server {
    default_type application/json;
    return 200 '${server}';
}
location = /.well-known/matrix/client {
    default_type application/json;
    add_header Access-Control-Allow-Origin * always;
    return 200 '${client}';
}`,
    apache: `# inside the <VirtualHost *:443> for ${d}; needs mod_headers and mod_alias
# Put the two files below in /var/www/matrix-well-known/ (see "Static files").
Alias /.well-known/matrix /var/www/matrix-well-known
<Directory /var/www/matrix-well-known>
    Require all granted
    ForceType application/json
    <Files "client">
        Header set Access-Control-Allow-Origin "*"
    </Files>
</Directory>`,
    static: `Create two files on the web host of https://${d}/ (GitHub Pages, Netlify, shared hosting…):

.well-known/matrix/server containing:
${server}

.well-known/matrix/client containing:
${client}

Both must be served with "Content-Type: application/json"; the client file also with
"Access-Control-Allow-Origin: *". Many static hosts need a setting or _headers file for that.`,
  };
}

export interface DelegationReport {
  ok: boolean;
  checks: { file: 'server' | 'client'; url: string; messages: CheckMessage[] }[];
}

function describeNetError(url: string, e: unknown, serverName: string, netError: typeof NetError): string {
  if (!(e instanceof netError)) return `Fetching ${url} failed: ${String(e)}`;
  switch (e.stage) {
    case 'dns':
      return `${serverName} does not resolve to an address. Your base domain needs a web server (with an A record) to publish these files.`;
    case 'connect':
    case 'timeout':
      return `Nothing answers HTTPS on ${serverName} port 443 (${e.message}). The base domain's web server must serve HTTPS on port 443.`;
    case 'tls':
      return `${serverName} answers, but its HTTPS certificate is not accepted: ${e.message}. Fix the base domain's certificate (for example with Let's Encrypt) first.`;
    default:
      return `Fetching ${url} failed: ${e.message}`;
  }
}

export async function checkDelegation(n: Names, o: { resolver: DnsResolver; ca: string[] }): Promise<DelegationReport> {
  const { httpGet, NetError } = await import('../net/http-client.ts');
  const wantServer = serverWellKnown(n)['m.server'];
  const wantBase = clientWellKnown(n)['m.homeserver'].base_url;
  const checks: DelegationReport['checks'] = [];
  for (const file of ['server', 'client'] as const) {
    const url = `https://${n.serverName}/.well-known/matrix/${file}`;
    const messages: CheckMessage[] = [];
    try {
      const r = await httpGet(url, { resolver: o.resolver, ca: o.ca, followRedirects: 5, timeoutMs: 8000, headers: file === 'client' ? { origin: 'https://app.element.io' } : {} });
      if (r.redirects.length) messages.push({ level: 'ok', text: `It redirects to ${r.url} (allowed).` });
      if (r.status === 404) {
        messages.push({ level: 'error', text: `${url} is missing (HTTP 404). Add it to the web server of ${n.serverName} with one of the snippets below.` });
      } else if (r.status !== 200) {
        messages.push({ level: 'error', text: `${url} answered HTTP ${r.status} instead of 200.` });
      } else {
        let body: unknown;
        try {
          body = JSON.parse(r.body.toString('utf8'));
        } catch {
          body = undefined;
        }
        const ctype = String(r.headers['content-type'] ?? '');
        if (body === undefined || typeof body !== 'object' || body === null) {
          messages.push({ level: 'error', text: `${url} is not valid JSON. It must contain exactly: ${JSON.stringify(file === 'server' ? serverWellKnown(n) : clientWellKnown(n))}` });
        } else if (file === 'server') {
          const got = (body as Record<string, unknown>)['m.server'];
          if (got === wantServer) messages.push({ level: 'ok', text: `${url} says "m.server": "${wantServer}".` });
          else messages.push({ level: 'error', text: got === undefined ? `${url} has no "m.server" field; it must be "${wantServer}".` : `${url} says "m.server": ${JSON.stringify(got)}, but it must be "${wantServer}".` });
        } else {
          const hs = (body as Record<string, Record<string, unknown> | undefined>)['m.homeserver'];
          const got = hs?.base_url;
          const norm = (u: unknown) => (typeof u === 'string' ? u.replace(/\/+$/, '') : u);
          if (norm(got) === wantBase) messages.push({ level: 'ok', text: `${url} says "base_url": "${wantBase}".` });
          else messages.push({ level: 'error', text: got === undefined ? `${url} has no "m.homeserver" → "base_url"; it must be "${wantBase}".` : `${url} says "base_url": ${JSON.stringify(got)}, but it must be "${wantBase}".` });
          if (!r.headers['access-control-allow-origin']) {
            messages.push({ level: 'warn', text: `${url} has no "Access-Control-Allow-Origin: *" header, so web clients such as Element Web cannot read it.` });
          }
        }
        if (body !== undefined && !/application\/json/i.test(ctype)) {
          messages.push({ level: 'warn', text: `${url} is served as "${ctype || 'no Content-Type'}"; it should be "application/json".` });
        }
      }
    } catch (e) {
      messages.push({ level: 'error', text: describeNetError(url, e, n.serverName, NetError) });
    }
    checks.push({ file, url, messages });
  }
  // Federation needs the server file; clients need the client file to find us from "@me:example.org".
  const ok = checks.every((c) => !c.messages.some((m) => m.level === 'error'));
  return { ok, checks };
}
