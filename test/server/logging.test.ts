import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, safePath } from '../../server/logging.ts';

test('request paths are logged with secret query parameters masked', () => {
  assert.equal(safePath('/_matrix/client/v3/sync?since=s1&access_token=abc'), '/_matrix/client/v3/sync?since=s1&access_token=[redacted]');
  assert.equal(safePath('/_matrix/client/v3/login'), '/_matrix/client/v3/login');
  assert.equal(safePath('/x?token=t&setup_token=s&sig=z'), '/x?token=[redacted]&setup_token=[redacted]&sig=[redacted]');
});

test('passwords, tokens and keys logged by mistake are redacted', () => {
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const log = createLogger('info', sink);
  log.info({ password: 'hunter2', body: { access_token: 'tok123', new_password: 'pw2' }, seed: 'SEED' }, 'oops');
  assert.doesNotMatch(out, /hunter2|tok123|pw2|SEED/);
  assert.match(out, /\[redacted\]/);
});
