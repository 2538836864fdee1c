import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertCanonicalJsonCompatible,
  canonicalJson,
  canonicalJsonBytes,
  CanonicalJsonError,
  compareCodePoints,
  isCanonicalJsonCompatible,
  parseStrictJson,
} from '../../server/protocol/canonical-json.ts';

// Every example of appendices.md "Canonical JSON" → "Examples", input as the JSON text given there.
const SPEC_EXAMPLES: [string, string][] = [
  ['{}', '{}'],
  ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
  ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
  ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
  [
    `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`,
    '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
  ],
  ['{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
  ['{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
  ['{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
  ['{\n    "a": null\n}', '{"a":null}'],
  ['{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
];

test('every canonical JSON example from the appendices', () => {
  for (const [input, expected] of SPEC_EXAMPLES) {
    assert.equal(canonicalJson(JSON.parse(input)), expected, input);
    assert.equal(canonicalJson(parseStrictJson(input)), expected, input);
    assert.deepEqual(canonicalJsonBytes(JSON.parse(input)), Buffer.from(expected, 'utf8'));
  }
});

test('keys sort by Unicode code point, not UTF-16 code unit', () => {
  // U+FB01 < U+1F600 as code points, but the emoji's first UTF-16 unit (0xD83D) is below 0xFB01.
  const obj = { '\u{1F600}': 1, '\uFB01': 2, a: 3, '\uE000': 4 };
  assert.equal(canonicalJson(obj), '{"a":3,"\uE000":4,"\uFB01":2,"\u{1F600}":1}');
  // Code-point order equals UTF-8 byte order.
  const keys = Object.keys(obj).sort(compareCodePoints);
  const byBytes = Object.keys(obj).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(keys, byBytes);
});

test('string escapes follow the grammar exactly', () => {
  const named: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
  for (let c = 0; c < 0x20; c++) {
    const expected = named[c] ?? `\\u00${c.toString(16).padStart(2, '0')}`;
    assert.equal(canonicalJson(String.fromCharCode(c)), `"${expected}"`, `U+${c.toString(16)}`);
  }
  assert.equal(canonicalJson('\u000b\u001f'), '"\\u000b\\u001f"'); // lower-case hex
  assert.equal(canonicalJson('"\\'), '"\\"\\\\"');
  // No redundant escapes: / and DEL, U+2028, non-ASCII stay literal (UTF-8 in the bytes).
  assert.equal(canonicalJson('/\u007f\u2028é😀'), '"/\u007f\u2028é😀"');
  assert.deepEqual(canonicalJsonBytes('é'), Buffer.from([0x22, 0xc3, 0xa9, 0x22]));
});

test('integers must be in [-(2^53)+1, 2^53-1] and floats are refused when strict', () => {
  assert.equal(canonicalJson([2 ** 53 - 1, -(2 ** 53) + 1, 0, -0]), '[9007199254740991,-9007199254740991,0,0]');
  const kind = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof CanonicalJsonError);
      return e.kind;
    }
    return 'no error';
  };
  assert.equal(kind(() => canonicalJson({ a: 2 ** 53 })), 'out_of_range');
  assert.equal(kind(() => canonicalJson({ a: -(2 ** 53) })), 'out_of_range');
  assert.equal(kind(() => canonicalJson({ a: 1.5 })), 'not_integer');
  assert.equal(kind(() => canonicalJson(NaN, { strict: false })), 'not_finite');
  assert.equal(kind(() => canonicalJson(Infinity, { strict: false })), 'not_finite');
  assert.equal(kind(() => canonicalJson([undefined])), 'not_json');
  assert.equal(kind(() => canonicalJson({ d: new Date(0) })), 'not_json');
  assert.equal(kind(() => canonicalJson('\ud800')), 'lone_surrogate');
  assert.equal(kind(() => canonicalJson('a\udc00b')), 'lone_surrogate');
  // The error names the path and maps to M_BAD_JSON.
  assert.throws(
    () => canonicalJson({ content: { list: [1, 2.5] } }),
    (e: unknown) => e instanceof CanonicalJsonError && e.path === 'content.list[1]' && e.errcode === 'M_BAD_JSON',
  );
});

test('room versions 1–5 leniency: floats and big integers are encoded, never with exponents', () => {
  assert.equal(canonicalJson({ a: 1.5, b: 2 ** 53, c: 1e21 }, { strict: false }), '{"a":1.5,"b":9007199254740992,"c":1000000000000000000000}');
});

test('undefined object members are omitted, like absent optional fields', () => {
  assert.equal(canonicalJson({ a: 1, b: undefined }), '{"a":1}');
});

test('assertCanonicalJsonCompatible reports the offending path', () => {
  assertCanonicalJsonCompatible({ a: [1, 'x', null, true, { b: -5 }] });
  assert.throws(() => assertCanonicalJsonCompatible({ a: { b: [0.1] } }), (e: unknown) => e instanceof CanonicalJsonError && e.path === 'a.b[0]');
  assert.equal(isCanonicalJsonCompatible({ x: 2 ** 60 }), false);
  assert.equal(isCanonicalJsonCompatible({ x: 'ok' }), true);
});

test('parseStrictJson refuses duplicate keys, floats, big integers and lone surrogates', () => {
  const kind = (text: string | Uint8Array, strict = true) => {
    try {
      parseStrictJson(text, { strict });
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof CanonicalJsonError, String(e));
      return e.kind;
    }
  };
  assert.equal(kind('{"a":1,"a":2}'), 'duplicate_key');
  assert.equal(kind('{"x":{"a":1,"b":{},"a":2}}'), 'duplicate_key');
  assert.equal(kind('{"a":1,"a":2}', false), 'duplicate_key');
  assert.equal(kind('{"a":1.5}'), 'not_integer');
  assert.equal(kind('{"a":1.5}', false), 'ok');
  assert.equal(kind('[9007199254740992]'), 'out_of_range');
  assert.equal(kind('[9007199254740991, -9007199254740991, 1e10, -0]'), 'ok');
  assert.equal(kind('["\\ud800"]'), 'lone_surrogate');
  assert.equal(kind('["\\ud83d\\ude00"]'), 'ok');
  assert.equal(kind('[1e400]', false), 'not_finite');
});

test('parseStrictJson rejects malformed text as M_NOT_JSON', () => {
  for (const bad of ['', '{', '[1,]', '{"a":1,}', '[01]', "{'a':1}", '{"a":1} x', 'NaN', '"\u0001"', '"\\x"', '[tru]', '\ufeff{}', '{"a" 1}']) {
    assert.throws(
      () => parseStrictJson(bad),
      (e: unknown) => e instanceof CanonicalJsonError && e.kind === 'syntax' && e.errcode === 'M_NOT_JSON',
      JSON.stringify(bad),
    );
  }
  assert.throws(() => parseStrictJson(new Uint8Array([0x22, 0xff, 0x22])), (e: unknown) => e instanceof CanonicalJsonError && e.kind === 'syntax');
});

test('parseStrictJson returns plain data and handles escapes, bytes and __proto__', () => {
  const v = parseStrictJson(' {"s":"a\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9","n":[0,-1,true,false,null],"__proto__":{"x":1}} ');
  assert.deepEqual(Object.keys(v as object), ['s', 'n', '__proto__']);
  assert.equal((v as { s: string }).s, 'a"\\/\b\f\n\r\té');
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.equal(canonicalJson(v), '{"__proto__":{"x":1},"n":[0,-1,true,false,null],"s":"a\\"\\\\/\\b\\f\\n\\r\\té"}');
  assert.deepEqual(parseStrictJson(Buffer.from('{"日":1}')), { 日: 1 });
  assert.ok(Object.is(parseStrictJson('-0'), 0));
});

test('deep nesting is refused instead of overflowing the stack', () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  assert.throws(() => parseStrictJson(deep), (e: unknown) => e instanceof CanonicalJsonError && e.kind === 'too_deep');
  let v: unknown = [];
  for (let i = 0; i < 100_000; i++) v = [v];
  assert.throws(() => canonicalJson(v), (e: unknown) => e instanceof CanonicalJsonError && e.kind === 'too_deep');
});
