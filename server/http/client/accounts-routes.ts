/** Every accounts route module (registered from routes.ts with one line). */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { registerRoutes } from './register.ts';
import { loginRoutes } from './login.ts';
import { logoutRoutes } from './logout.ts';
import { accountRoutes } from './account.ts';
import { devicesRoutes } from './devices.ts';
import { capabilitiesRoutes } from './capabilities.ts';
import { voipRoutes } from './voip.ts';
import { pushRulesRoutes } from './pushrules.ts';
import { reportRoutes } from './report-content.ts';
import { adminWhoisRoutes } from './admin-whois.ts';

export function accountsRoutes(router: Router, s: Services): void {
  registerRoutes(router, s);
  loginRoutes(router, s);
  logoutRoutes(router, s);
  accountRoutes(router, s);
  devicesRoutes(router, s);
  capabilitiesRoutes(router, s);
  voipRoutes(router, s);
  pushRulesRoutes(router, s);
  reportRoutes(router, s);
  adminWhoisRoutes(router, s);
}
