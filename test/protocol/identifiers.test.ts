import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkRegistrationLocalpart,
  isAcceptableUserId,
  isIPv6Literal,
  isNamespacedIdentifier,
  isOpaqueIdentifier,
  isValidUserId,
  parseEventId,
  parseRoomAlias,
  parseRoomId,
  parseServerName,
  parseUserId,
  serverNameOf,
} from '../../server/protocol/identifiers.ts';
import { getRoomVersion } from '../../server/protocol/room-versions.ts';

const V = (id: string) => getRoomVersion(id)!;
const HASH43 = 'CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o';

test('server names: the spec examples', () => {
  assert.deepEqual(parseServerName('matrix.org'), { host: 'matrix.org', kind: 'dns' });
  assert.deepEqual(parseServerName('matrix.org:8888'), { host: 'matrix.org', kind: 'dns', port: 8888 });
  assert.deepEqual(parseServerName('1.2.3.4'), { host: '1.2.3.4', kind: 'ipv4' });
  assert.deepEqual(parseServerName('1.2.3.4:1234'), { host: '1.2.3.4', kind: 'ipv4', port: 1234 });
  assert.deepEqual(parseServerName('[1234:5678::abcd]'), { host: '[1234:5678::abcd]', kind: 'ipv6' });
  assert.deepEqual(parseServerName('[1234:5678::abcd]:5678'), { host: '[1234:5678::abcd]', kind: 'ipv6', port: 5678 });
  assert.deepEqual(parseServerName('localhost'), { host: 'localhost', kind: 'dns' });
  assert.deepEqual(parseServerName('MATRIX.org'), { host: 'MATRIX.org', kind: 'dns' }); // case preserved
});

test('server names: invalid forms', () => {
  for (const bad of [
    '', ':80', 'matrix.org:', 'matrix.org:123456', 'matrix.org:8a', 'matrix.org:80:80', 'under_score.org', 'spa ce.org',
    'ünicode.org', '1.2.3.256', '[1234:5678::abcd', '1234:5678::abcd', '[1234::5678::abcd]', '[::1]x', '[12345::]',
    '[1:2:3:4:5:6:7]', '[g::1]', 'a'.repeat(256),
  ]) {
    assert.equal(parseServerName(bad), undefined, JSON.stringify(bad));
  }
  assert.ok(parseServerName('a'.repeat(255)));
});

test('IPv6 literals per RFC 3513 §2.2', () => {
  for (const ok of ['::', '::1', '1:2:3:4:5:6:7:8', '1::8', 'fe80::1:2', '::ffff:1.2.3.4', '1:2:3:4:5:6:1.2.3.4', 'ABCD::ef']) {
    assert.equal(isIPv6Literal(ok), true, ok);
  }
  for (const bad of ['1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1::', '1:::2', '1.2.3.4::', '1::2::3', '::1.2.3.256', '12345::', '1:2:3:4:5:6:7:1.2.3.4']) {
    assert.equal(isIPv6Literal(bad), false, bad);
  }
});

test('user IDs: current grammar, historical and non-compliant localparts', () => {
  assert.deepEqual(parseUserId('@alice.b=c-d/e+f_1:example.org:8448'), {
    localpart: 'alice.b=c-d/e+f_1',
    serverName: 'example.org:8448',
    grammar: 'current',
  });
  assert.equal(parseUserId('@Alice:example.org')?.grammar, 'historical');
  assert.equal(parseUserId('@al ice:example.org')?.grammar, 'non-compliant');
  assert.equal(parseUserId('@:example.org')?.grammar, 'non-compliant'); // empty is accepted historically
  assert.equal(parseUserId('@über\u0001:example.org')?.grammar, 'non-compliant');
  assert.equal(isValidUserId('@alice:example.org'), true);
  assert.equal(isValidUserId('@Alice:example.org'), false);
  assert.equal(isAcceptableUserId('@Alice:example.org'), true);
  for (const bad of ['alice:example.org', '@alice', '@alice:', '@alice:bad_host', '@a\u0000b:example.org', '@a\ud800:example.org', '#a:example.org']) {
    assert.equal(parseUserId(bad), undefined, JSON.stringify(bad));
  }
  // 255-byte limit, counted in UTF-8 bytes, sigil and domain included.
  const max = '@' + 'a'.repeat(255 - '@:example.org'.length) + ':example.org';
  assert.equal(Buffer.byteLength(max), 255);
  assert.ok(parseUserId(max));
  assert.equal(parseUserId('@a' + max.slice(1)), undefined);
  assert.equal(parseUserId('@' + 'é'.repeat(122) + ':example.org'), undefined); // 244 chars, 256 bytes
});

test('registration localparts use the current grammar only', () => {
  assert.equal(checkRegistrationLocalpart('alice', 'example.org'), undefined);
  assert.match(checkRegistrationLocalpart('', 'example.org')!, /empty/);
  assert.match(checkRegistrationLocalpart('Alice', 'example.org')!, /only contain/);
  assert.match(checkRegistrationLocalpart('a:b', 'example.org')!, /only contain/);
  assert.match(checkRegistrationLocalpart('a'.repeat(250), 'example.org')!, /255/);
});

test('room IDs: with domain before v12, hash-derived without domain in v12', () => {
  assert.deepEqual(parseRoomId('!abc:example.org'), { opaque: 'abc', serverName: 'example.org' });
  assert.deepEqual(parseRoomId('!abc:example.org', V('11')), { opaque: 'abc', serverName: 'example.org' });
  assert.equal(parseRoomId('!abc:example.org', V('12')), undefined);
  const v12 = '!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ'; // the pdu_v12 example
  assert.deepEqual(parseRoomId(v12, V('12')), { opaque: v12.slice(1) });
  assert.deepEqual(parseRoomId(v12), { opaque: v12.slice(1) });
  assert.equal(parseRoomId(v12, V('11')), undefined);
  for (const bad of ['!short', '!' + HASH43 + 'x', '!Nhcu5BS+UMnFX7hBVfVSoXiD7OgH6iRT/xyIuqDnpYQ', 'abc:example.org', '!a\u0000:example.org', '!abc:bad host']) {
    assert.equal(parseRoomId(bad), undefined, bad);
  }
});

test('event IDs per room version format', () => {
  assert.deepEqual(parseEventId('$a4ecee13e2accdadf56c1025:example.com', V('1')), { opaque: 'a4ecee13e2accdadf56c1025', serverName: 'example.com' });
  assert.equal(parseEventId('$' + HASH43, V('1')), undefined);
  assert.deepEqual(parseEventId('$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk', V('3')), { opaque: 'acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk' });
  assert.equal(parseEventId('$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk', V('4')), undefined);
  assert.deepEqual(parseEventId('$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg', V('4')), { opaque: 'Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg' });
  assert.equal(parseEventId('$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg', V('3')), undefined);
  assert.equal(parseEventId('$abc:example.com', V('4')), undefined);
  assert.ok(parseEventId('$abc:example.com'));
  assert.equal(parseEventId('$' + 'a'.repeat(250) + ':example.com'), undefined);
  assert.equal(parseEventId('abc:example.com'), undefined);
});

test('room aliases', () => {
  assert.deepEqual(parseRoomAlias('#room alias ü:example.org'), { localpart: 'room alias ü', serverName: 'example.org' });
  assert.equal(parseRoomAlias('#a:b:c'), undefined); // localpart ends at the first colon; "b:c" is not a server name
  assert.equal(parseRoomAlias('#a\u0000:example.org'), undefined);
  assert.equal(parseRoomAlias('#' + 'a'.repeat(255) + ':x.org'), undefined);
});

test('serverNameOf and the namespaced/opaque identifier grammars', () => {
  assert.equal(serverNameOf('@a:x.org'), 'x.org');
  assert.equal(serverNameOf('#a:x.org:1'), 'x.org:1');
  assert.equal(serverNameOf('!a:x.org'), 'x.org');
  assert.equal(serverNameOf('$a:x.org'), 'x.org');
  assert.equal(serverNameOf('$' + HASH43), undefined);
  assert.equal(isNamespacedIdentifier('m.login.password'), true);
  assert.equal(isNamespacedIdentifier('M.login'), false);
  assert.equal(isNamespacedIdentifier('1abc'), false);
  assert.equal(isNamespacedIdentifier('a'.repeat(256)), false);
  assert.equal(isOpaqueIdentifier('AbC-._~9'), true);
  assert.equal(isOpaqueIdentifier('a/b'), false);
  assert.equal(isOpaqueIdentifier(''), false);
});
