/**
 * Identifier grammar (appendices.md "Identifier Grammar"): server names, user IDs (with the
 * historical leniency), room IDs (with and without domain), event IDs per room version,
 * room aliases, and the common namespaced / opaque identifier grammars.
 * Parsers return undefined for anything invalid; they never throw.
 */
import type { RoomVersion } from './room-versions.ts';

/** Every ID (user, room, event, alias) is limited to 255 bytes including sigil and domain. */
export const MAX_ID_BYTES = 255;

/** Length in UTF-8 bytes (the unit of every Matrix size limit). */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** A parsed server name. */
export interface ServerName {
  /** As written: a DNS name, dotted-quad IPv4, or `[IPv6]` with brackets. */
  host: string;
  kind: 'dns' | 'ipv4' | 'ipv6';
  port?: number;
}

const IPV4 = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/;

/** Dotted-quad IPv4 literal, each number 0–255. */
export function isIPv4Literal(s: string): boolean {
  const m = IPV4.exec(s);
  return !!m && m.slice(1).every((n) => Number(n) <= 255);
}

/** IPv6 literal (without brackets) as in RFC 3513 §2.2: 8 groups, `::` once, optional trailing IPv4. */
export function isIPv6Literal(s: string): boolean {
  if (s.length < 2 || s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const groups = [...head, ...tail];
  // An embedded IPv4 may only be the very last part of the address.
  const lastIsEnd = halves.length === 1 || tail.length > 0;
  let count = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (g.includes('.')) {
      if (i !== groups.length - 1 || !lastIsEnd || !isIPv4Literal(g)) return false;
      count += 2;
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) count += 1;
    else return false;
  }
  return halves.length === 2 ? count <= 7 : count === 8;
}

/**
 * Parse `hostname [":" port]`: IPv4 literal, `[IPv6]`, or a DNS name of 1–255 characters from
 * `A-Za-z0-9-.`; the port is 1–5 digits. Case is preserved (server names are case-sensitive).
 */
export function parseServerName(s: string): ServerName | undefined {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return undefined;
    host = s.slice(0, end + 1);
    const rest = s.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
    if (!isIPv6Literal(host.slice(1, -1))) return undefined;
  } else {
    const colon = s.indexOf(':');
    host = colon < 0 ? s : s.slice(0, colon);
    if (colon >= 0) portText = s.slice(colon + 1);
    if (!/^[A-Za-z0-9.-]{1,255}$/.test(host)) return undefined;
  }
  if (portText !== undefined && !/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = portText === undefined ? undefined : Number(portText);
  if (host.startsWith('[')) return { host, kind: 'ipv6', ...(port !== undefined && { port }) };
  // Four dot-separated numbers is the IPv4 form, which then must be in range.
  if (IPV4.test(host)) return isIPv4Literal(host) ? { host, kind: 'ipv4', ...(port !== undefined && { port }) } : undefined;
  return { host, kind: 'dns', ...(port !== undefined && { port }) };
}

/** Does `s` match the server name grammar? */
export function isValidServerName(s: string): boolean {
  return parseServerName(s) !== undefined;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** No NUL and no lone surrogate: "any valid non-surrogate Unicode code points except `:` and NUL". */
function isLegalOpaqueLocalpart(s: string): boolean {
  return !s.includes('\u0000') && !s.includes(':') && !LONE_SURROGATE.test(s);
}

/** Split `&localpart:domain` at the first colon; check sigil, byte length and domain. */
function splitSigilled(id: string, sigil: string): { localpart: string; serverName: string } | undefined {
  if (typeof id !== 'string' || !id.startsWith(sigil) || utf8Length(id) > MAX_ID_BYTES) return undefined;
  const colon = id.indexOf(':');
  if (colon < 0) return undefined;
  const serverName = id.slice(colon + 1);
  if (!isValidServerName(serverName)) return undefined;
  return { localpart: id.slice(1, colon), serverName };
}

/** The current user ID localpart grammar: 1+ of `a-z 0-9 . _ = - / +`. */
export const USER_LOCALPART = /^[a-z0-9._=\-/+]+$/;

/**
 * How a user ID's localpart relates to the grammar:
 * - `current`: `a-z 0-9 . _ = - / +`, non-empty — the only form a server may create.
 * - `historical`: other printable ASCII (U+0021–U+007E), e.g. upper case — still accepted.
 * - `non-compliant`: empty or other characters; accepted in events over federation but
 *   SHOULD NOT be forwarded to clients outside of events.
 */
export type UserIdGrammar = 'current' | 'historical' | 'non-compliant';

/** A parsed user ID. */
export interface UserId {
  localpart: string;
  serverName: string;
  grammar: UserIdGrammar;
}

/**
 * Parse `@localpart:domain`. By default accepts historical user IDs (any non-surrogate code points
 * except `:` and NUL, possibly empty), as servers MUST when handling events; pass
 * `{ strict: true }` to accept only the current grammar. Total length ≤ 255 bytes.
 */
export function parseUserId(id: string, options: { strict?: boolean } = {}): UserId | undefined {
  const parts = splitSigilled(id, '@');
  if (!parts || !isLegalOpaqueLocalpart(parts.localpart)) return undefined;
  const grammar: UserIdGrammar = USER_LOCALPART.test(parts.localpart)
    ? 'current'
    : /^[\u0021-\u007e]+$/.test(parts.localpart)
      ? 'historical'
      : 'non-compliant';
  if (options.strict && grammar !== 'current') return undefined;
  return { ...parts, grammar };
}

/** A user ID in the current grammar (what this server creates and should show to clients). */
export function isValidUserId(id: string): boolean {
  return parseUserId(id, { strict: true }) !== undefined;
}

/** A user ID the spec requires us to accept in events (historical leniency). */
export function isAcceptableUserId(id: string): boolean {
  return parseUserId(id) !== undefined;
}

/**
 * Check a localpart for a new account on `serverName` (POST /register): non-empty, current
 * grammar only, and the full user ID within 255 bytes. Returns an error message or undefined.
 * The caller lower-cases or maps usernames first if it chooses to (appendices "Mapping…").
 */
export function checkRegistrationLocalpart(localpart: string, serverName: string): string | undefined {
  if (localpart.length === 0) return 'User ID localpart must not be empty';
  if (!USER_LOCALPART.test(localpart)) return 'User ID localpart may only contain a-z, 0-9, ".", "_", "=", "-", "/" and "+"';
  if (utf8Length(`@${localpart}:${serverName}`) > MAX_ID_BYTES) return 'User ID must not exceed 255 bytes';
  return undefined;
}

/** A parsed room ID. */
export interface RoomId {
  opaque: string;
  /** Present on room IDs of versions 1–11; absent on v12 (domain-less, hash-derived) room IDs. */
  serverName?: string;
}

const URL_SAFE_HASH = /^[A-Za-z0-9_-]{43}$/;
const STANDARD_HASH = /^[A-Za-z0-9+/]{43}$/;

/**
 * Parse a room ID: `!opaque:domain` (versions 1–11) or, from v12, `!` + URL-safe unpadded base64
 * of the create event's reference hash (43 characters, no domain). With `version`, only that
 * version's form is accepted.
 */
export function parseRoomId(id: string, version?: RoomVersion): RoomId | undefined {
  if (typeof id !== 'string' || !id.startsWith('!') || utf8Length(id) > MAX_ID_BYTES) return undefined;
  if (!id.includes(':')) {
    if (version && !version.roomIdFromCreateEvent) return undefined;
    const opaque = id.slice(1);
    return URL_SAFE_HASH.test(opaque) ? { opaque } : undefined;
  }
  if (version?.roomIdFromCreateEvent) return undefined;
  const parts = splitSigilled(id, '!');
  if (!parts || !isLegalOpaqueLocalpart(parts.localpart)) return undefined;
  return { opaque: parts.localpart, serverName: parts.serverName };
}

/** A parsed event ID. */
export interface EventId {
  opaque: string;
  /** Only v1–v2 event IDs carry a domain. */
  serverName?: string;
}

/**
 * Parse an event ID: v1–v2 `$opaque:domain`; v3 `$` + 43 standard base64 characters; v4+ `$` +
 * 43 URL-safe base64 characters. Without `version`, any of these forms.
 */
export function parseEventId(id: string, version?: RoomVersion): EventId | undefined {
  if (typeof id !== 'string' || !id.startsWith('$') || utf8Length(id) > MAX_ID_BYTES) return undefined;
  const format = version?.eventIdFormat;
  const opaque = id.slice(1);
  if ((format === undefined || format === 'v4') && URL_SAFE_HASH.test(opaque)) return { opaque };
  if ((format === undefined || format === 'v3') && STANDARD_HASH.test(opaque)) return { opaque };
  if (format === undefined || format === 'v1') {
    const parts = splitSigilled(id, '$');
    if (parts && isLegalOpaqueLocalpart(parts.localpart)) return { opaque: parts.localpart, serverName: parts.serverName };
  }
  return undefined;
}

/** A parsed room alias. */
export interface RoomAlias {
  localpart: string;
  serverName: string;
}

/** Parse `#localpart:domain` (localpart: any non-surrogate code points except `:` and NUL). */
export function parseRoomAlias(alias: string): RoomAlias | undefined {
  const parts = splitSigilled(alias, '#');
  return parts && isLegalOpaqueLocalpart(parts.localpart) ? parts : undefined;
}

/** The server name of a user ID, alias, or domain-form room/event ID; undefined if none/invalid. */
export function serverNameOf(id: string): string | undefined {
  switch (id[0]) {
    case '@':
      return parseUserId(id)?.serverName;
    case '#':
      return parseRoomAlias(id)?.serverName;
    case '!':
      return parseRoomId(id)?.serverName;
    case '$':
      return parseEventId(id)?.serverName;
    default:
      return undefined;
  }
}

/** Common Namespaced Identifier Grammar: 1–255 chars of `[a-z0-9._-]` starting with `[a-z]`. */
export function isNamespacedIdentifier(s: string): boolean {
  return /^[a-z][a-z0-9._-]{0,254}$/.test(s);
}

/** Opaque Identifier Grammar: `[0-9A-Za-z._~-]`, 1 to `max` (default 255) characters. */
export function isOpaqueIdentifier(s: string, max = 255): boolean {
  return s.length >= 1 && s.length <= max && /^[0-9A-Za-z._~-]+$/.test(s);
}
