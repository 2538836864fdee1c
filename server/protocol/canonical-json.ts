/**
 * Canonical JSON (appendices.md "Canonical JSON"): the shortest UTF-8 JSON encoding, object keys
 * sorted by Unicode code point, numbers as integers in [-(2^53)+1, 2^53-1] without exponent or
 * fraction, no `-0`, and only the escapes the grammar allows.
 *
 * Room versions 1–5 must not enforce the number rules (rooms/fragments/v1-canonical-json.md);
 * v6+ must (v6-canonical-json.md). `strict` selects which.
 */
import type { Json } from './pdu-types.ts';

/** Largest integer canonical JSON allows (2^53 - 1). */
export const MAX_SAFE_CANONICAL_INT = 2 ** 53 - 1;
/** Smallest integer canonical JSON allows (-(2^53) + 1). */
export const MIN_SAFE_CANONICAL_INT = -(2 ** 53) + 1;
/** Nesting deeper than this is refused rather than risking a stack overflow on hostile input. */
export const MAX_JSON_DEPTH = 512;

/** Which canonical JSON rule a value or text broke. */
export type CanonicalJsonErrorKind =
  | 'not_integer' // a float (v6+)
  | 'out_of_range' // an integer outside [-(2^53)+1, 2^53-1] (v6+)
  | 'not_finite' // NaN / Infinity: never JSON
  | 'lone_surrogate' // not encodable as UTF-8
  | 'not_json' // undefined, function, symbol, class instance…
  | 'duplicate_key'
  | 'too_deep'
  | 'syntax';

/** Thrown when a value cannot be encoded (or a text parsed) under the canonical JSON rules. */
export class CanonicalJsonError extends Error {
  /** Matrix error code to send to a client: spec says 400 M_BAD_JSON (M_NOT_JSON for syntax). */
  readonly errcode: 'M_BAD_JSON' | 'M_NOT_JSON';
  constructor(
    readonly kind: CanonicalJsonErrorKind,
    /** Where in the value, e.g. `content.body` or `prev_events[3]`. */
    readonly path: string,
    message: string,
  ) {
    super(path ? `${message} at ${path}` : message);
    this.name = 'CanonicalJsonError';
    this.errcode = kind === 'syntax' ? 'M_NOT_JSON' : 'M_BAD_JSON';
  }
}

/** Options of canonicalJson / canonicalJsonBytes. */
export interface CanonicalJsonOptions {
  /** v6+: reject floats and out-of-range integers instead of encoding them. Default true. */
  strict?: boolean;
}

/** Compare two strings by Unicode code point (not UTF-16 code unit, which is what `<` does). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only differs from code-unit order when one side is a surrogate (U+D800–DFFF, which encodes
    // U+10000+) and the other is U+E000–U+FFFF: surrogates must then sort last.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys && (xs ? y >= 0xe000 : x >= 0xe000)) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

const ESCAPES: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };
// Fast path: strings with no control char, quote, backslash or surrogate are copied verbatim.
const NEEDS_WORK = /[\u0000-\u001f"\\\ud800-\udfff]/;

function encodeString(s: string, path: string): string {
  if (!NEEDS_WORK.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) {
      // Grammar: dedicated escapes for b t n f r " \, lowercase \u00XX for other controls.
      out += ESCAPES[c] ?? `\\u00${c.toString(16).padStart(2, '0')}`;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) throw new CanonicalJsonError('lone_surrogate', path, 'lone UTF-16 surrogate');
      out += s[i] + s[i + 1];
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw new CanonicalJsonError('lone_surrogate', path, 'lone UTF-16 surrogate');
    } else {
      out += s[i];
    }
  }
  return out + '"';
}

function encodeNumber(n: number, strict: boolean, path: string): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError('not_finite', path, 'NaN and Infinity are not JSON');
  if (Number.isInteger(n)) {
    if (n >= MIN_SAFE_CANONICAL_INT && n <= MAX_SAFE_CANONICAL_INT) return n === 0 ? '0' : String(n); // -0 → 0
    if (strict) throw new CanonicalJsonError('out_of_range', path, `integer ${n} outside [-(2^53)+1, 2^53-1]`);
    // v1–v5 leniency: still no exponent (1e21 → digits). Precision was already lost when parsed.
    return BigInt(n).toString();
  }
  if (strict) throw new CanonicalJsonError('not_integer', path, `non-integer number ${n}`);
  // v1–v5 leniency: floats are tolerated; JavaScript's shortest round-trip form is the best we can do.
  return JSON.stringify(n);
}

function joinPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function encode(value: unknown, strict: boolean, path: string, depth: number): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value, path);
    case 'number':
      return encodeNumber(value, strict, path);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      if (value >= BigInt(MIN_SAFE_CANONICAL_INT) && value <= BigInt(MAX_SAFE_CANONICAL_INT)) return value.toString();
      if (strict) throw new CanonicalJsonError('out_of_range', path, `integer ${value} outside [-(2^53)+1, 2^53-1]`);
      return value.toString();
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_JSON_DEPTH) throw new CanonicalJsonError('too_deep', path, `nesting deeper than ${MAX_JSON_DEPTH}`);
      if (Array.isArray(value)) {
        const parts = new Array<string>(value.length);
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined) throw new CanonicalJsonError('not_json', `${path}[${i}]`, 'undefined in array');
          parts[i] = encode(item, strict, `${path}[${i}]`, depth + 1);
        }
        return `[${parts.join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('not_json', path, 'not a plain object');
      const obj = value as Record<string, unknown>;
      // Keys whose value is undefined are absent (as with JSON.stringify): optional TS fields.
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(compareCodePoints);
      const parts = keys.map((k) => `${encodeString(k, joinPath(path, k))}:${encode(obj[k], strict, joinPath(path, k), depth + 1)}`);
      return `{${parts.join(',')}}`;
    }
    default:
      throw new CanonicalJsonError('not_json', path, `${typeof value} is not JSON`);
  }
}

// Keys containing a surrogate or U+E000–U+FFFF are the only ones whose code-unit order (the
// default sort) can differ from code-point order.
const HIGH_CHAR = /[\ud800-\uffff]/;

/**
 * `encode` without the path bookkeeping (building a path string per key and array item was most
 * of the cost of hashing and signing every event). Its errors carry no path: canonicalJson then
 * runs `encode` to throw the same error with its path.
 */
function encodeFast(value: unknown, strict: boolean, depth: number): string {
  switch (typeof value) {
    case 'string':
      return NEEDS_WORK.test(value) ? encodeString(value, '') : `"${value}"`;
    case 'number':
      return encodeNumber(value, strict, '');
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_JSON_DEPTH) throw new CanonicalJsonError('too_deep', '', `nesting deeper than ${MAX_JSON_DEPTH}`);
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined) throw new CanonicalJsonError('not_json', '', 'undefined in array');
          out += (i === 0 ? '' : ',') + encodeFast(item, strict, depth + 1);
        }
        return out + ']';
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('not_json', '', 'not a plain object');
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      let high = false;
      for (const k of keys) if (HIGH_CHAR.test(k)) high = true;
      if (high) keys.sort(compareCodePoints);
      else keys.sort();
      let out = '{';
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        out += (out.length === 1 ? '' : ',') + (NEEDS_WORK.test(k) ? encodeString(k, '') : `"${k}"`) + ':' + encodeFast(v, strict, depth + 1);
      }
      return out + '}';
    }
    default:
      // bigint, undefined, functions…: the full encoder knows what to do (and what to say).
      return encode(value, strict, '', depth);
  }
}

/**
 * Encode `value` as canonical JSON text. Encode the result as UTF-8 (see canonicalJsonBytes) before
 * hashing or signing. Throws CanonicalJsonError for values canonical JSON cannot express;
 * with `strict: false` (room versions 1–5) floats and big integers are written instead.
 */
export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  const strict = options.strict ?? true;
  try {
    return encodeFast(value, strict, 0);
  } catch (e) {
    // Again with paths, for an error that names where the value broke the rules.
    if (e instanceof CanonicalJsonError) encode(value, strict, '', 0);
    throw e;
  }
}

/** Canonical JSON as UTF-8 bytes: what is hashed and signed. */
export function canonicalJsonBytes(value: unknown, options: CanonicalJsonOptions = {}): Buffer {
  return Buffer.from(canonicalJson(value, options), 'utf8');
}

/**
 * Check an already-parsed value against the v6+ rules without building the string: only JSON
 * types, plain objects, integers in range, strings encodable as UTF-8. Throws CanonicalJsonError
 * naming the first offending path.
 */
export function assertCanonicalJsonCompatible(value: unknown, path = '', depth = 0): asserts value is Json {
  switch (typeof value) {
    case 'string':
      if (/[\ud800-\udfff]/.test(value)) encodeString(value, path); // throws only on a lone surrogate
      return;
    case 'number':
      encodeNumber(value, true, path);
      return;
    case 'boolean':
      return;
    case 'object': {
      if (value === null) return;
      if (depth >= MAX_JSON_DEPTH) throw new CanonicalJsonError('too_deep', path, `nesting deeper than ${MAX_JSON_DEPTH}`);
      if (Array.isArray(value)) {
        value.forEach((v: unknown, i) => assertCanonicalJsonCompatible(v, `${path}[${i}]`, depth + 1));
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('not_json', path, 'not a plain object');
      for (const [k, v] of Object.entries(value)) {
        if (/[\ud800-\udfff]/.test(k)) encodeString(k, joinPath(path, k));
        assertCanonicalJsonCompatible(v, joinPath(path, k), depth + 1);
      }
      return;
    }
    default:
      throw new CanonicalJsonError('not_json', path, `${typeof value} is not JSON`);
  }
}

/** Is `value` acceptable to canonical JSON under the v6+ rules? */
export function isCanonicalJsonCompatible(value: unknown): value is Json {
  try {
    assertCanonicalJsonCompatible(value);
    return true;
  } catch (e) {
    if (e instanceof CanonicalJsonError) return false;
    throw e;
  }
}


// ---------------------------------------------------------------------------------------------
// Parsing. JSON.parse silently keeps the last of duplicate keys and accepts floats; Matrix needs
// to refuse both for v6+ rooms and bad request bodies, so this is a small RFC 8259 parser.

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const SIMPLE_UNESCAPES = new Map([['"', '"'], ['\\', '\\'], ['/', '/'], ['b', '\b'], ['f', '\f'], ['n', '\n'], ['r', '\r'], ['t', '\t']]);
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Options of parseStrictJson. */
export interface ParseStrictJsonOptions {
  /** v6+: numbers must be integers in [-(2^53)+1, 2^53-1] (by value: `1e10` is 10000000000). Default true. */
  strict?: boolean;
}

/**
 * Parse JSON text (or UTF-8 bytes) refusing duplicate object keys, lone surrogates, invalid UTF-8
 * and, when strict, numbers canonical JSON cannot carry. Throws CanonicalJsonError: kind `syntax`
 * (errcode M_NOT_JSON) for malformed text, otherwise the rule broken (M_BAD_JSON).
 * For bodies whose room version is not known yet (federation /send), parse with `strict: false`
 * and let checkPdu apply the v6+ number rules per event.
 */
export function parseStrictJson(input: string | Uint8Array, options: ParseStrictJsonOptions = {}): Json {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = UTF8.decode(input);
    } catch {
      throw new CanonicalJsonError('syntax', '', 'invalid UTF-8');
    }
  }
  const strict = options.strict ?? true;
  let i = 0;
  const fail = (msg: string): never => {
    throw new CanonicalJsonError('syntax', '', `${msg} at offset ${i}`);
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  const parseString = (path: string): string => {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        const simple = e === undefined ? undefined : SIMPLE_UNESCAPES.get(e);
        if (simple !== undefined) {
          out += simple;
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else fail('bad escape');
        start = i;
      } else i++;
    }
    out += text.slice(start, i);
    i++; // closing quote
    if (/[\ud800-\udfff]/.test(out)) encodeString(out, path); // throws on a lone surrogate
    return out;
  };
  const parseValue = (path: string, depth: number): Json => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth >= MAX_JSON_DEPTH) throw new CanonicalJsonError('too_deep', path, `nesting deeper than ${MAX_JSON_DEPTH}`);
      i++;
      ws();
      if (c === '[') {
        const arr: Json[] = [];
        if (text[i] === ']') {
          i++;
          return arr;
        }
        for (;;) {
          arr.push(parseValue(`${path}[${arr.length}]`, depth + 1));
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === ']') {
            i++;
            return arr;
          } else fail('expected , or ]');
        }
      }
      const obj: { [k: string]: Json } = {};
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected string key');
        const key = parseString(path);
        const keyPath = joinPath(path, key);
        if (Object.hasOwn(obj, key)) throw new CanonicalJsonError('duplicate_key', keyPath, 'duplicate object key');
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        const v = parseValue(keyPath, depth + 1);
        // defineProperty so a "__proto__" key is data, not a prototype change.
        Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return obj;
        } else fail('expected , or }');
      }
    }
    if (c === '"') return parseString(path);
    if (text.startsWith('true', i)) return (i += 4), true;
    if (text.startsWith('false', i)) return (i += 5), false;
    if (text.startsWith('null', i)) return (i += 4), null;
    NUMBER_RE.lastIndex = i;
    const m = NUMBER_RE.exec(text);
    if (!m) return fail('unexpected character');
    i += m[0].length;
    const n = Number(m[0]);
    if (!Number.isFinite(n)) throw new CanonicalJsonError('not_finite', path, 'number overflows a double');
    if (strict) encodeNumber(n, true, path); // throws for floats / out of range
    return n === 0 ? 0 : n; // never hand out -0
  };
  const value = parseValue('', 0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return value;
}
