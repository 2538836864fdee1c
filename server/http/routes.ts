/**
 * Every route module, in groups by path prefix. The core group (health, /versions, .well-known)
 * is registered at start; every other group's modules are imported, and the services they need
 * loaded (`s.load`), on the first request under its prefix (issue 2: start fast, stay small when
 * idle). Add a module to the group(s) whose prefixes its paths start with; within a group the
 * modules keep the order they had in the single router this replaced (the first matching route
 * wins).
 */
import type Router from '@koa/router';
import type { Services } from '../services/container.ts';
import { healthRoutes } from './health.ts';
import { versionsRoutes } from './client/versions.ts';
import { wellKnownRoutes } from './well-known.ts';

type RouteModule = (router: Router, s: Services) => void;

export interface RouteGroup {
  name: string;
  /** Lowercased path prefixes (routing is case-insensitive); the longest matching prefix wins. */
  prefixes: string[];
  /** Imports the group's route modules and loads what they need from the services. */
  load(s: Services): Promise<RouteModule[]>;
}

/** Registered at start: cheap, and what monitoring and clients ask first. */
export function coreRoutes(router: Router, s: Services): void {
  healthRoutes(router, s);
  versionsRoutes(router, s);
  wellKnownRoutes(router, s);
}

/** Exact paths (lowercased, no trailing slash) and prefixes the core routes answer. */
export const CORE_PATHS = new Set(['/health', '/_matrix/client/versions']);
export const CORE_PREFIXES = ['/.well-known/matrix/'];

export const ROUTE_GROUPS: RouteGroup[] = [
  // The groups that need the full services import their route modules from full-part.ts (one
  // module with the services' builder: see there why).
  {
    name: 'client',
    prefixes: ['/_matrix/client/'],
    async load(s) {
      const [m] = await Promise.all([import('../full-part.ts'), s.load('full')]);
      return [
        m.accountsRoutes,
        m.mediaRoutes,
        m.clientRoomsRoutes,
        m.federationRoutes,
        m.keysRoutes,
        m.crossSigningRoutes,
        m.toDeviceRoutes,
        m.keyBackupRoutes,
        m.dehydratedDeviceRoutes,
      ];
    },
  },
  {
    name: 'federation',
    prefixes: ['/_matrix/federation/', '/_matrix/key/'],
    async load(s) {
      const [m] = await Promise.all([import('../full-part.ts'), s.load('full')]);
      return [m.serverKeysRoutes, m.federationRoutes];
    },
  },
  {
    name: 'media',
    prefixes: ['/_matrix/media/'],
    async load(s) {
      const [m] = await Promise.all([import('../full-part.ts'), s.load('full')]);
      return [m.mediaRoutes];
    },
  },
  {
    // The wizard's and dashboard's API, media admin, backups.
    name: 'hearth',
    prefixes: ['/_hearth/'],
    async load(s) {
      const [m] = await Promise.all([import('../full-part.ts'), s.load('full')]);
      return [m.mediaRoutes, m.acmeChallengeRoutes, m.setupRoutes, m.adminRoutes, m.backupRoutes];
    },
  },
  {
    // Everything else: the wizard/dashboard UI files, ACME HTTP-01 answers and the wizard's
    // reachability probe. None of it needs more than the core services and the appliance's
    // network part (the probe's nonces).
    name: 'ui',
    prefixes: ['/', '/_hearth/probe/'],
    async load(s) {
      const [acme, ui] = await Promise.all([import('./appliance/acme-challenge.ts'), import('./appliance/static-ui.ts'), s.appliance.loadNet()]);
      return [acme.acmeChallengeRoutes, ui.staticUiRoutes];
    },
  },
];
