/**
 * `hearth federation`: the federation admin commands.
 *   status      destinations, failing ones and the outbound queue
 *   rotate-key  replace the signing key (the old one stays published as an old key)
 */
import { DATA_DIR_OPTIONS, dataDirUsage, parse, UsageError } from './args.ts';
import { loadConfigForCli, openDatabaseForCli } from './open-db.ts';
import { DestinationsStore } from '../storage/destinations-store.ts';
import { FederationQueueStore } from '../storage/federation-queue-store.ts';
import { rotateSigningKey } from '../services/federation/key-rotation.ts';

export const usage = `Usage: hearth federation status [--json] [--data-dir DIR]
       hearth federation rotate-key [--data-dir DIR]

status       the servers this one sends to, which are failing and why, and how much is queued
rotate-key   make a new signing key; the old one keeps being published (old_verify_keys) so
             events it signed stay verifiable. Restart Hearth to start signing with the new key.

Options:
  --json            machine-readable output (status)
${dataDirUsage()}`;

const OPTIONS = {
  json: { type: 'boolean' },
  ...DATA_DIR_OPTIONS,
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, 'federation', true);
  if (values.help || positionals.length === 0) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const [sub, ...rest] = positionals;
  if (sub !== 'status' && sub !== 'rotate-key') throw new UsageError(`federation: unknown subcommand '${sub}' (see hearth federation --help)`);
  if (rest.length) throw new UsageError(`federation ${sub}: unexpected argument '${rest[0]}'`);
  const config = await loadConfigForCli(values);
  const db = await openDatabaseForCli(config.data_dir, { mustExist: true });
  try {
    if (sub === 'rotate-key') {
      const r = await rotateSigningKey(config.data_dir, db);
      console.log(`new signing key ${r.newKeyId}; retired ${r.retired.join(', ')} (still published as old keys). Restart Hearth to use it.`);
      return 0;
    }
    const rows = await new DestinationsStore(db).all();
    const q = await new FederationQueueStore(db).countsByDestination();
    if (values.json) {
      console.log(JSON.stringify(rows.map((r) => ({ server: r.server_name, failures: r.failures, retry_at: r.retry_at || null, last_success_ts: r.last_success_ts, last_error: r.last_error, queued: q.get(r.server_name) ?? 0 }))));
      return 0;
    }
    if (rows.length === 0) console.log('no federation destinations yet');
    for (const r of rows) {
      const state = r.failures > 0 ? `failing (${r.failures}×, next try ${new Date(r.retry_at).toISOString()}): ${r.last_error ?? ''}` : 'ok';
      console.log(`${r.server_name}  ${state}  queued ${q.get(r.server_name) ?? 0}`);
    }
    return 0;
  } finally {
    await db.close();
  }
}
