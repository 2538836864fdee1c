/**
 * A real client: matrix-js-sdk 36 logs in, asks whoami, lists devices, refreshes its token and
 * logs out against Hearth over HTTP.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { registerUser } from '../../helpers/clients.ts';

let ts: TestServer;
// The SDK logs every request at debug level; keep test output readable.
logger.setLevel('warn');

before(async () => {
  ts = await startTestServer({ open_registration: true });
});
after(async () => {
  await ts.cleanup();
});

test('matrix-js-sdk: login, whoami, devices, capabilities, push rules, logout', async () => {
  await registerUser(ts.baseUrl, 'sdkuser', 'pw-sdkuser');
  const client = sdk.createClient({ baseUrl: ts.baseUrl });
  const flows = await client.loginFlows();
  assert.ok(flows.flows.some((f) => f.type === 'm.login.password'));

  const login = await client.loginRequest({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: 'sdkuser' },
    password: 'pw-sdkuser',
    initial_device_display_name: 'js-sdk test',
  });
  assert.equal(login.user_id, '@sdkuser:localhost');

  const authed = sdk.createClient({ baseUrl: ts.baseUrl, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
  const who = await authed.whoami();
  assert.equal(who.user_id, '@sdkuser:localhost');
  assert.equal(who.device_id, login.device_id);

  const { devices } = await authed.getDevices();
  assert.ok(devices.some((d) => d.device_id === login.device_id && d.display_name === 'js-sdk test'));
  await authed.setDeviceDetails(login.device_id, { display_name: 'renamed by sdk' });
  assert.equal((await authed.getDevice(login.device_id)).display_name, 'renamed by sdk');

  const caps = await authed.getCapabilities();
  assert.equal(caps['m.room_versions']?.default, '12');
  const rules = await authed.getPushRules();
  assert.ok(rules?.global.override?.some((r) => r.rule_id === '.m.rule.master'));

  await authed.logout(true);
  await assert.rejects(authed.whoami(), (e: { errcode?: string }) => e.errcode === 'M_UNKNOWN_TOKEN');
});

test('matrix-js-sdk: registration through its UIA helper with a registration token', async () => {
  const closed = await startTestServer();
  try {
    const { token } = await closed.server.services.registration.createRegistrationToken({ usesAllowed: 1 });
    const client = sdk.createClient({ baseUrl: closed.baseUrl });
    // The SDK's low-level register: first call gets the 401 with flows, second completes the stage.
    let session: string | undefined;
    try {
      await client.registerRequest({ username: 'sdknew', password: 'pw-sdknew' });
      assert.fail('expected UIA');
    } catch (e) {
      const data = (e as { data?: { session?: string; flows?: Array<{ stages: string[] }> } }).data;
      assert.deepEqual(data?.flows, [{ stages: ['m.login.registration_token'] }]);
      session = data?.session;
    }
    const res = await client.registerRequest({
      username: 'sdknew',
      password: 'pw-sdknew',
      auth: { type: 'm.login.registration_token', token, session } as never,
    });
    assert.equal(res.user_id, '@sdknew:localhost');
    const authed = sdk.createClient({ baseUrl: closed.baseUrl, accessToken: res.access_token, userId: res.user_id });
    assert.equal((await authed.whoami()).user_id, '@sdknew:localhost');
  } finally {
    await closed.cleanup();
  }
});
