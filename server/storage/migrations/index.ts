/**
 * The schema history, append-only: each entry's number is the schema version it produces
 * (stored in PRAGMA user_version). Never edit or reorder a landed entry; add a new one.
 */
import m0001 from './0001-init.ts';
import m0002 from './0002-accounts.ts';
import m0003 from './0003-rooms.ts';
import m0004 from './0004-media.ts';
import m0005 from './0005-appliance.ts';
import m0006 from './0006-backups.ts';
import m0007 from './0007-e2ee.ts';
import m0008 from './0008-federation.ts';
import m0008p2 from './0008-federation-p2.ts';
import m0009 from './0009-send-path.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'init', sql: m0001 },
  { version: 2, name: 'accounts', sql: m0002 },
  { version: 3, name: 'rooms', sql: m0003 },
  { version: 4, name: 'media', sql: m0004 },
  { version: 5, name: 'appliance', sql: m0005 },
  { version: 6, name: 'backups', sql: m0006 },
  { version: 7, name: 'e2ee', sql: m0007 },
  { version: 8, name: 'federation', sql: m0008 + m0008p2 },
  { version: 9, name: 'send-path', sql: m0009 },
];

export const SCHEMA_VERSION = MIGRATIONS.length;
