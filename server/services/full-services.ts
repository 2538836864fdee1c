/**
 * The 'full' part of the services (container.ts `load('full')`): accounts, E2EE, push rules,
 * reports, rooms and sync, federation. Media and backups are loaded before it.
 */
import type { Services } from './container.ts';
import { TokenService } from './tokens.ts';
import { DevicesService, newDeviceHooks } from './devices.ts';
import { AuthService, newAccountHooks } from './auth.ts';
import { UiaService } from './uia.ts';
import { RegistrationService } from './registration.ts';
import { RateLimiter } from './rate-limiter.ts';
import { E2eeService } from './e2ee/index.ts';
import { installE2eeSync } from './e2ee/sync-source.ts';
import { PushRulesService } from './push-rules.ts';
import { ReportsService } from './reports.ts';
import { buildRoomServices } from './rooms/build.ts';
import { FederationService } from './federation/index.ts';

export async function buildFullServices(s: Services): Promise<void> {
  s.deviceHooks = newDeviceHooks();
  s.accountHooks = newAccountHooks();
  // Rate limiting reads the clock through `s` so tests can move time.
  s.rateLimiter = new RateLimiter(s.config.rate_limits, () => s.now());
  s.tokens = new TokenService(s);
  s.devices = new DevicesService(s);
  s.auth = new AuthService(s);
  s.uia = new UiaService(s);
  s.registration = new RegistrationService(s);
  s.e2ee = await E2eeService.create({
    db: s.db,
    log: s.log,
    now: () => s.now(),
    serverName: () => s.config.server_name,
    deviceHooks: s.deviceHooks,
    accountHooks: s.accountHooks,
    devices: () => s.devices,
  });
  s.pushRules = new PushRulesService(s);
  s.reports = new ReportsService(s);
  Object.assign(
    s,
    await buildRoomServices({
      config: s.config,
      db: s.db,
      log: s.log,
      now: () => s.now(),
      shutdown: s.shutdown,
      getPushRules: (userId) => s.pushRules.getPushRules(userId),
      pushRulesChanged: s.pushRules.onChanged,
      onDeactivate: s.accountHooks.onDeactivate,
      reportChecks: s.reports.checks,
    }),
  );
  installE2eeSync(s.e2ee, s);
  s.federation = new FederationService(s);
  // Reservations by UIA sessions of an earlier run are gone with that process.
  await s.registration.tokens.resetPending();
}
