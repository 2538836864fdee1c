/**
 * Unpadded Base64 (appendices.md "Unpadded Base64") and its URL-safe variant (RFC 4648 §5).
 * Encoders never pad. Decoders accept input with or without `=` padding ("implementations SHOULD
 * accept input with or without padding"), but refuse characters outside the alphabet — Node's
 * Buffer decoder would silently skip them.
 */

/** Thrown when a string is not valid (padded or unpadded) base64 of the expected alphabet. */
export class Base64Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Base64Error';
  }
}

const STANDARD = /^[A-Za-z0-9+/]*$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

function strip(input: string, alphabet: RegExp, name: string): string {
  let body = input;
  if (body.endsWith('==')) body = body.slice(0, -2);
  else if (body.endsWith('=')) body = body.slice(0, -1);
  if (!alphabet.test(body)) throw new Base64Error(`not ${name} base64`);
  // A single leftover character carries only 6 bits: no byte can be encoded that way.
  if (body.length % 4 === 1) throw new Base64Error(`${name} base64 has an impossible length`);
  // If padding was given it must be exactly what completes the last quantum.
  if (body.length !== input.length && input.length % 4 !== 0) {
    throw new Base64Error(`${name} base64 has wrong padding`);
  }
  return body;
}

/** Standard alphabet, no padding: the encoding of keys, signatures and hashes in Matrix JSON. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '');
}

/** URL-safe alphabet (`-` and `_`), no padding: v4+ event IDs and v12 room IDs. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Decode standard base64, padded or not. Unused low bits of the last character are ignored
 * (the spec's own test seed `…XA1` has them set). Throws Base64Error on anything else.
 */
export function decodeBase64(input: string): Uint8Array {
  return new Uint8Array(Buffer.from(strip(input, STANDARD, 'standard'), 'base64'));
}

/** Decode URL-safe base64, padded or not. Throws Base64Error. */
export function decodeBase64Url(input: string): Uint8Array {
  return new Uint8Array(Buffer.from(strip(input, URL_SAFE, 'URL-safe'), 'base64url'));
}

/** decodeBase64 that returns undefined instead of throwing (for "if decoding fails, the check fails"). */
export function tryDecodeBase64(input: string): Uint8Array | undefined {
  try {
    return decodeBase64(input);
  } catch {
    return undefined;
  }
}
