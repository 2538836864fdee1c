import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, requestLoggerFor } from '../../server/logging.ts';

function sink(): { stream: Writable; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => out };
}

test('request lines go to the same output as other lines, at the same level', () => {
  const s = sink();
  const log = createLogger('info', s.stream);
  log.info('first');
  requestLoggerFor(log).info({ method: 'GET', path: '/x', status: 200, ms: 0.1 }, 'request');
  log.info('third');
  const lines = s.text().trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.msg), ['first', 'request', 'third']);
  assert.deepEqual([lines[1].method, lines[1].path, lines[1].status], ['GET', '/x', 200]);

  const quiet = sink();
  requestLoggerFor(createLogger('warn', quiet.stream)).info({ method: 'GET' }, 'request');
  assert.equal(quiet.text(), '');
});
