/**
 * The X-Matrix Authorization header (server-server-api "Request Authentication"): the request
 * method, target URI, origin, destination and JSON body are signed as a JSON object with the
 * origin's signing key; the header carries origin, destination, key and sig.
 */
import { signJson, verifyJsonSignature } from '../../protocol/signing.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import type { SigningKey } from '../../protocol/signing.ts';

export interface XMatrixParams {
  origin: string;
  destination?: string;
  key: string;
  sig: string;
}

/** The object whose signature the header carries. `content` only when the request has a body. */
export function requestJson(method: string, uri: string, origin: string, destination: string, content?: unknown): JsonObject {
  const obj: JsonObject = { method: method.toUpperCase(), uri, origin, destination };
  if (content !== undefined) obj.content = content as JsonObject;
  return obj;
}

/**
 * The header value for a request. Per the spec's advice for older servers: one space after
 * X-Matrix, lower-case names, no whitespace around commas, quoted values without backslashes.
 */
export function authorizationHeader(
  method: string,
  uri: string,
  origin: string,
  destination: string,
  key: SigningKey,
  content?: unknown,
): string {
  const signed = signJson(requestJson(method, uri, origin, destination, content), origin, key.keyId, key.seed);
  const sig = signed.signatures[origin]![key.keyId]!;
  return `X-Matrix origin="${origin}",destination="${destination}",key="${key.keyId}",sig="${sig}"`;
}

/**
 * Parses `X-Matrix a=b, c="d"` (RFC 9110 §11.4 auth params: case-insensitive names, token or
 * quoted-string values with backslash escapes, optional whitespace around commas; colons are
 * accepted unquoted for older servers). Returns undefined when the scheme is not X-Matrix or a
 * required parameter (origin, key, sig) is missing.
 */
export function parseXMatrix(header: string | undefined): XMatrixParams | undefined {
  if (!header) return undefined;
  const m = /^\s*X-Matrix\s+(.*)$/is.exec(header);
  if (!m) return undefined;
  const rest = m[1]!;
  const params = new Map<string, string>();
  let i = 0;
  const n = rest.length;
  const skipWs = () => {
    while (i < n && (rest[i] === ' ' || rest[i] === '\t')) i++;
  };
  while (i < n) {
    skipWs();
    if (rest[i] === ',') {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && rest[i] !== '=' && rest[i] !== ',' && rest[i] !== ' ' && rest[i] !== '\t') i++;
    const name = rest.slice(nameStart, i).toLowerCase();
    skipWs();
    if (rest[i] !== '=') return undefined;
    i++;
    skipWs();
    let value = '';
    if (rest[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = rest[i]!;
        if (c === '\\' && i + 1 < n) {
          value += rest[i + 1];
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) return undefined;
    } else {
      const start = i;
      while (i < n && rest[i] !== ',' && rest[i] !== ' ' && rest[i] !== '\t') i++;
      value = rest.slice(start, i);
    }
    if (!name) return undefined;
    if (!params.has(name)) params.set(name, value);
    skipWs();
    if (i < n && rest[i] !== ',') return undefined;
  }
  const origin = params.get('origin');
  const key = params.get('key');
  const sig = params.get('sig');
  if (!origin || !key || !sig) return undefined;
  return { origin, destination: params.get('destination'), key, sig };
}

/** Checks the header's signature over the request with the origin's public key. */
export function verifyRequestSignature(
  p: XMatrixParams,
  method: string,
  uri: string,
  destination: string,
  content: unknown,
  publicKey: Uint8Array | string,
): boolean {
  const obj = requestJson(method, uri, p.origin, destination, content);
  obj.signatures = { [p.origin]: { [p.key]: p.sig } };
  return verifyJsonSignature(obj, p.origin, p.key, publicKey);
}
