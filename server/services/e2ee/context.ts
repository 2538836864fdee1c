/** What the E2EE services need from the rest of the process (built in e2ee/index.ts). */
import type { Database } from '../../storage/db.ts';
import type { Logger } from '../../logging.ts';
import type { E2eeHooks } from './hooks.ts';

export interface E2eeContext {
  db: Database;
  log: Logger;
  now(): number;
  /** Is this user ID on this server? */
  isLocalUser(userId: string): boolean;
  /** Wakes long-polling /sync requests of these users (after a commit). */
  wake(userIds: Iterable<string>): void;
  hooks: E2eeHooks;
}
