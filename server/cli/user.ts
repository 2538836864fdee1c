/**
 * `hearth user create`: works whether or not the server is running — both write the same
 * SQLite file through WAL with BEGIN IMMEDIATE and a busy timeout, like Synapse's
 * register_new_matrix_user but without needing the server up.
 */
import { existsSync } from 'node:fs';
import { DATA_DIR_OPTIONS, dataDirUsage, parse, UsageError } from './args.ts';
import { databasePath } from '../storage/data-dir.ts';
import { loadConfigForCli, openDatabaseForCli } from './open-db.ts';
import { UsersStore, UserExistsError } from '../storage/users-store.ts';
import { MetaStore } from '../storage/meta-store.ts';
import { hashPassword } from '../services/passwords.ts';
import { isValidLocalpart } from '../services/localpart.ts';

export const usage = `Usage: hearth user create LOCALPART --password P [--admin] [--data-dir DIR]

Creates a local Matrix account (@LOCALPART:SERVER_NAME). Works while the server runs.

Options:
  --password P      the new account's password (or HEARTH_NEW_USER_PASSWORD)
  --admin           make the account a server admin
${dataDirUsage()}`;

const OPTIONS = {
  password: { type: 'string' },
  admin: { type: 'boolean' },
  ...DATA_DIR_OPTIONS,
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, 'user', true);
  if (values.help || positionals.length === 0) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const [sub, localpart, ...rest] = positionals;
  if (sub !== 'create') throw new UsageError(`user: unknown subcommand '${sub}' (see hearth user --help)`);
  if (!localpart) throw new UsageError('user create: missing LOCALPART');
  if (rest.length) throw new UsageError(`user create: unexpected argument '${rest[0]}'`);
  if (!isValidLocalpart(localpart)) {
    throw new UsageError(`user create: '${localpart}' is not a valid localpart (use a-z, 0-9, . _ = - /)`);
  }
  const password = values.password ?? process.env.HEARTH_NEW_USER_PASSWORD;
  if (!password) throw new UsageError('user create: --password is required');

  const config = await loadConfigForCli(values);
  if (!config.server_name && !existsSync(databasePath(config.data_dir))) {
    throw new Error('the server name is not set yet: finish the setup wizard or start once with --server-name');
  }
  const db = await openDatabaseForCli(config.data_dir);
  try {
    const serverName = config.server_name ?? (await new MetaStore(db).get('server_name'));
    if (!serverName) {
      throw new Error('the server name is not set yet: finish the setup wizard or start once with --server-name');
    }
    const userId = `@${localpart}:${serverName}`;
    try {
      await new UsersStore(db).create({
        userId,
        localpart,
        passwordHash: await hashPassword(password),
        admin: values.admin === true,
        now: Date.now(),
      });
    } catch (e) {
      if (e instanceof UserExistsError) throw new Error(`user ${userId} already exists`);
      throw e;
    }
    console.log(`created ${userId}${values.admin ? ' (admin)' : ''}`);
    return 0;
  } finally {
    await db.close();
  }
}
