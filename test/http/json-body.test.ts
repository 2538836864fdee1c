/**
 * JSON request bodies over a real socket: a body that grows past the limit without a
 * Content-Length (chunked) is refused with 413 M_TOO_LARGE, and a client that hangs up halfway
 * through its body leaves the server answering the next request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect } from 'node:net';
import { startTestServer } from '../helpers/server.ts';

test('chunked body past the limit → 413 M_TOO_LARGE; a client gone mid-body does not hurt the server', async (t) => {
  const srv = await startTestServer({ open_registration: true });
  t.after(() => srv.cleanup());
  const { port } = new URL(srv.baseUrl);

  const status = await new Promise<{ code: number; body: string; connection: string | undefined }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/_matrix/client/v3/login', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body, connection: res.headers.connection }));
    });
    req.on('error', reject);
    // No Content-Length: chunked. 2 MB in 64 KiB chunks, past the 1 MiB JSON limit.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < 32) {
        sent++;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  // The client reads its 413 (the socket is not reset under it), and the connection then closes.
  assert.equal(status.code, 413);
  assert.equal(JSON.parse(status.body).errcode, 'M_TOO_LARGE');
  assert.equal(status.connection, 'close');

  // Half a body, then the client hangs up.
  await new Promise<void>((resolve) => {
    const sock = connect(Number(port), '127.0.0.1', () => {
      sock.write('POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"type":');
      setTimeout(() => {
        sock.destroy();
        resolve();
      }, 100);
    });
  });
  const r = await fetch(`${srv.baseUrl}/_matrix/client/v3/login`, { method: 'POST', body: '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"nobody"},"password":"x"}' });
  assert.equal(r.status, 403, 'the server still answers, and with the right error');
  assert.equal(((await r.json()) as { errcode: string }).errcode, 'M_FORBIDDEN');
});
