/**
 * `hearth media`: media repository administration from the command line. Works while the
 * server runs (same SQLite file through WAL; file removal re-checks references, see
 * services/media/blob-files.ts).
 */
import { DATA_DIR_OPTIONS, dataDirUsage, parse, UsageError } from './args.ts';
import { loadConfigForCli, openDatabaseForCli } from './open-db.ts';
import { createLogger } from '../logging.ts';
import { MediaService } from '../services/media/media-service.ts';

export const usage = `Usage: hearth media COMMAND [options]

Commands:
  delete MXC...                 delete media (mxc://server/id), local or cached remote
  purge-remote --older-than D   delete cached remote media fetched more than D days ago
  stats                         counts and bytes stored

Options:
${dataDirUsage()}`;

const OPTIONS = {
  'older-than': { type: 'string' },
  ...DATA_DIR_OPTIONS,
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, 'media', true);
  const [sub, ...args] = positionals;
  if (values.help || !sub) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  if (!['delete', 'purge-remote', 'stats'].includes(sub)) throw new UsageError(`media: unknown command '${sub}' (see hearth media --help)`);
  const mxcs = args.map((a) => {
    const m = /^mxc:\/\/([^/]+)\/([^/]+)$/.exec(a);
    if (!m) throw new UsageError(`media ${sub}: '${a}' is not an mxc:// URI`);
    return { serverName: m[1]!, mediaId: m[2]! };
  });
  if (sub === 'delete' && mxcs.length === 0) throw new UsageError('media delete: give at least one mxc:// URI');
  if (sub !== 'delete' && mxcs.length > 0) throw new UsageError(`media ${sub}: unexpected argument '${args[0]}'`);
  let days = 0;
  if (sub === 'purge-remote') {
    if (values['older-than'] === undefined || !/^\d+(\.\d+)?$/.test(values['older-than'])) {
      throw new UsageError('media purge-remote: --older-than DAYS is required (a number of days)');
    }
    days = Number(values['older-than']);
  }

  const config = await loadConfigForCli(values);
  const db = await openDatabaseForCli(config.data_dir, { mustExist: true });
  try {
    const media = new MediaService({
      config,
      log: createLogger('silent'),
      db,
      now: Date.now,
      shutdown: new AbortController().signal,
      ownsTmp: false,
    });
    if (sub === 'delete') {
      let missing = 0;
      for (const m of mxcs) {
        if (await media.delete(m.serverName, m.mediaId)) console.log(`deleted mxc://${m.serverName}/${m.mediaId}`);
        else {
          console.error(`not found: mxc://${m.serverName}/${m.mediaId}`);
          missing++;
        }
      }
      return missing > 0 ? 1 : 0;
    }
    if (sub === 'purge-remote') {
      const n = await media.purgeRemote(days * 86_400_000);
      console.log(`deleted ${n} cached remote media item${n === 1 ? '' : 's'} older than ${days} day${days === 1 ? '' : 's'}`);
      return 0;
    }
    const st = await media.store.stats();
    console.log(`local: ${st.local} items, ${st.localBytes} bytes`);
    console.log(`remote (cached): ${st.remote} items, ${st.remoteBytes} bytes`);
    console.log(`pending uploads: ${st.pending}`);
    console.log(`on disk: ${media.files.diskUsage()} bytes`);
    return 0;
  } finally {
    await db.close();
  }
}
