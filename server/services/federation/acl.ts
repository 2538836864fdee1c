/**
 * Server ACLs (m.room.server_acl, client-server-api "Server Access Control Lists"): which
 * servers may take part in a room. Applied to inbound requests (server-server-api "Server
 * Access Control Lists (ACLs)") and when choosing servers to ask for room data.
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { parseServerName } from './discovery.ts';

/** Appendices "Glob-style matching": `*` any run of characters, `?` exactly one. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const c of glob) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'is');
}

const compiled = new Map<string, RegExp>();
function matches(glob: unknown, host: string): boolean {
  if (typeof glob !== 'string') return false;
  let re = compiled.get(glob);
  if (!re) {
    re = globToRegExp(glob);
    if (compiled.size > 5000) compiled.clear();
    compiled.set(glob, re);
  }
  return re.test(host);
}

/**
 * The event's ordered rules: 1. no ACL: allow; 2. IP literal with allow_ip_literals false: deny;
 * 3. matches deny: deny; 4. matches allow: allow; 5. deny. The port is never considered.
 */
export function serverAllowedByAcl(content: JsonObject | undefined, serverName: string): boolean {
  if (!content) return true;
  const parsed = parseServerName(serverName);
  const host = parsed ? parsed.hostname : serverName.replace(/:\d+$/, '');
  if (parsed?.isIp && content.allow_ip_literals === false) return false;
  const deny = Array.isArray(content.deny) ? content.deny : [];
  if (deny.some((g) => matches(g, host))) return false;
  const allow = Array.isArray(content.allow) ? content.allow : [];
  return allow.some((g) => matches(g, host));
}
