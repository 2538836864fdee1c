/**
 * The `hearth` command. Each subcommand lives in server/cli/NAME.ts and is imported only when
 * used, so `hearth --version` or `hearth serve` never load ACME, backup or image code.
 * Exit codes: 0 success, 1 runtime failure, 2 usage error. Failures print one line on stderr.
 */
import { HEARTH_VERSION } from './version.ts';
import { UsageError } from './cli/args.ts';

interface CommandModule {
  usage: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  serve: { summary: 'run the homeserver and the setup wizard', load: () => import('./cli/serve.ts') },
  user: { summary: 'manage local accounts (user create)', load: () => import('./cli/user.ts') },
  token: { summary: 'registration tokens that let people sign up (create, list, delete)', load: () => import('./cli/token.ts') },
  config: { summary: 'list every configuration option', load: () => import('./cli/config-cmd.ts') },
  cert: { summary: 'get or check the HTTPS certificate (cert obtain, cert status)', load: () => import('./cli/cert.ts') },
  setup: { summary: 'the setup wizard\'s steps from the command line', load: () => import('./cli/setup.ts') },
  media: { summary: 'media repository admin (delete, purge-remote, stats)', load: () => import('./cli/media.ts') },
  backup: { summary: 'encrypted backups (now, list, check, drill, setup)', load: () => import('./cli/backup.ts') },
  restore: { summary: 'restore a backup into a new data directory', load: () => import('./cli/restore.ts') },
  federation: { summary: 'federation status and signing key rotation', load: () => import('./cli/federation.ts') },
};

const HELP = `Usage: hearth COMMAND [options]

Hearth ${HEARTH_VERSION}: a Matrix homeserver appliance.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`)
  .join('\n')}

Run \`hearth COMMAND --help\` for a command's options. \`hearth --version\` prints the version.`;

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    console.log(HELP);
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    console.log(HEARTH_VERSION);
    return 0;
  }
  const command = COMMANDS[first];
  if (!command) {
    console.error(`hearth: unknown command '${first}' (see hearth --help)`);
    return 2;
  }
  try {
    const mod = await command.load();
    return await mod.run(rest);
  } catch (e) {
    // By name too: the bundled commands other than serve are a bundle of their own
    // (scripts/build.mjs), with their own copy of the class.
    if (e instanceof UsageError || (e instanceof Error && e.name === 'UsageError')) {
      console.error(`hearth: ${e.message}`);
      return 2;
    }
    console.error(`hearth: ${(e as Error).message ?? e}`);
    return 1;
  }
}

/** Runs the CLI with process.argv and sets the exit code (bin/hearth.js calls this on the bundle). */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(`hearth: ${(e as Error).message ?? e}`);
      process.exitCode = 1;
    },
  );
}

// `node --import tsx server/cli.ts …` in development.
if (process.argv[1]?.endsWith('cli.ts')) runCli();
